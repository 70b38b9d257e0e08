package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/card"
)

// precedence is a request that several errors apply to, the status of the
// one that must win (call.want), and what its body says: the field it
// names ("" for none) and words of its message.
type precedence struct {
	name       string
	call       call
	field, msg string
}

// checkPrecedence sends each request in a subtest of its own.
func (e *env) checkPrecedence(t *testing.T, tests []precedence) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.send(t, tt.call)
			if got, _ := a.body["field"].(string); got != tt.field {
				t.Errorf("field %q, want %q: %s", got, tt.field, a.raw)
			}
			if msg, _ := a.body["message"].(string); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q lacks %q", msg, tt.msg)
			}
		})
	}
}

// testPrecedence: when several errors apply, 401, 400 for path ids, 403,
// 413, 400 for the body, 404, 409 — the first wins (SPEC 7.1).
func (e *env) testPrecedence(t *testing.T) {
	const org = "o-order"
	srv, acc := tokens(t, org)
	expired := mintToken(t, testSecret, Claims{OrgID: org, AccountID: acct}, time.Minute, time.Now().Add(-time.Hour))
	id := integer(t, e.createCard(t, srv, acct, cust, virtual("Order")), "id")
	big := []byte(`{"status":"` + strings.Repeat("B", 2<<20) + `"}`)
	bigBad := []byte(`{"status":` + strings.Repeat("[", 2<<20))

	t.Run("401 before 400 path id", func(t *testing.T) {
		for _, tok := range []string{"", expired} {
			e.do(t, "GET", cardPath("abc", "abc", "abc"), tok, nil).wantErr(t, http.StatusUnauthorized, "")
			e.do(t, "PUT", cardPath(cust, acct, "abc")+"/status", tok, `{`).wantErr(t, http.StatusUnauthorized, "")
			e.do(t, "GET", v2Path("abc"), tok, nil).wantErr(t, http.StatusUnauthorized, "")
		}
	})
	t.Run("400 path id before 403", func(t *testing.T) {
		e.do(t, "GET", cardPath(cust, otherAcc, "abc"), acc, nil).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", cardPath(cust, otherAcc, "abc")+"/status", acc, map[string]any{"status": "BLOCKED"}).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "GET", v2Path("abc"), acc, nil).wantErr(t, http.StatusBadRequest, "")
	})
	t.Run("403 before 413", func(t *testing.T) {
		e.doRaw(t, "PUT", cardPath(cust, otherAcc, id)+"/status", acc, big, false).wantErr(t, http.StatusForbidden, "")
		e.doRaw(t, "POST", "/wallet/v2/cards", acc, big, true, "x-account-id", otherAcc, "x-customer-id", cust).
			wantErr(t, http.StatusForbidden, "")
		e.doRaw(t, "POST", "/cards/v1/bulks", acc, big, false).wantErr(t, http.StatusForbidden, "")
	})
	t.Run("403 before 400 body and 404", func(t *testing.T) {
		e.do(t, "PUT", cardPath(cust, otherAcc, 987654321)+"/status", acc, `{`).wantErr(t, http.StatusForbidden, "")
	})
	t.Run("413 before 400 body", func(t *testing.T) {
		e.doRaw(t, "PUT", cardPath(cust, acct, id)+"/status", acc, bigBad, false).wantErr(t, http.StatusRequestEntityTooLarge, "")
		e.doRaw(t, "PUT", cardPath(cust, acct, 987654321)+"/status", acc, bigBad, true).wantErr(t, http.StatusRequestEntityTooLarge, "")
	})
	t.Run("400 body before 404", func(t *testing.T) {
		e.do(t, "PUT", cardPath(cust, acct, 987654321)+"/status", acc, `{`).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", cardPath(cust, acct, 987654321)+"/status", acc, map[string]any{"status": "PAUSED"}).
			wantErr(t, http.StatusBadRequest, "status")
	})
	t.Run("404 before 409", func(t *testing.T) {
		e.do(t, "PUT", cardPath(cust, acct, 987654321)+"/status", acc, map[string]any{"status": "INOPERATIVE"}).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "PUT", cardPath(otherCus, acct, id)+"/status", srv, map[string]any{"status": "INOPERATIVE"}).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "PUT", cardPath(cust, otherAcc, id)+"/activate", srv, nil).wantErr(t, http.StatusNotFound, "")
	})
}

// testBodyLimit: bodies over 1 MiB are 413 with the section 6 body,
// whether or not they announce their length.
func (e *env) testBodyLimit(t *testing.T) {
	srv, acc := tokens(t, "o-limit")
	id := integer(t, e.createCard(t, srv, acct, cust, virtual("Limit")), "id")
	sized := func(n int) []byte {
		head := `{"type":"VIRTUAL","name":"Big","cvv_rotation_interval_hours":0,"metadata":{"k":"`
		tail := `"}}`
		return []byte(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
	}
	hdr := []string{"x-account-id", acct, "x-customer-id", cust}
	for _, chunked := range []bool{false, true} {
		e.doRaw(t, "POST", "/wallet/v2/cards", acc, sized(1<<20+1), chunked, hdr...).wantErr(t, http.StatusRequestEntityTooLarge, "")
		e.doRaw(t, "POST", "/wallet/v2/cards", acc, sized(4<<20), chunked, hdr...).wantErr(t, http.StatusRequestEntityTooLarge, "")
		e.doRaw(t, "PUT", cardPath(cust, acct, id)+"/status", acc, sized(2<<20), chunked).wantErr(t, http.StatusRequestEntityTooLarge, "")
		e.doRaw(t, "POST", "/cards/v1/bulks", srv, sized(2<<20), chunked).wantErr(t, http.StatusRequestEntityTooLarge, "")
		// Exactly 1 MiB is not over the limit: the metadata rule answers.
		r := e.doRaw(t, "POST", "/wallet/v2/cards", acc, sized(1<<20), chunked, hdr...)
		r.wantErr(t, http.StatusBadRequest, "metadata")
	}
	if s := e.status(t, cardPath(cust, acct, id), srv); s != "NORMAL" {
		t.Errorf("card status %s after refused updates", s)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
		body errorBody
	}{
		{"invalid", card.Invalid("printed_name", "must be 2-26 characters"), 400,
			errorBody{Code: codeInvalid, Message: "invalid printed_name: must be 2-26 characters", Field: "printed_name"}},
		{"wrapped invalid", fmt.Errorf("create: %w", card.Invalid("name", "x")), 400,
			errorBody{Code: codeInvalid, Message: "invalid name: x", Field: "name"}},
		{"bare invalid", card.ErrInvalid, 400, errorBody{Code: codeInvalid, Message: "invalid input"}},
		{"not found", card.NotFound("card", "7"), 404, errorBody{Code: codeNotFound, Message: "card 7 not found"}},
		{"status update conflict", &card.ConflictError{CardID: 7, Operation: "update_status", Status: card.Canceled, Requested: card.Normal}, 409,
			errorBody{Code: codeConflict, Message: "conflict: update_status card 7 from CANCELED to NORMAL",
				CurrentStatus: "CANCELED", RequestedStatus: "NORMAL"}},
		{"activate conflict", &card.ConflictError{CardID: 7, Operation: "activate", Status: card.Normal}, 409,
			errorBody{Code: codeConflict, Message: "conflict: activate card 7 in status NORMAL", CurrentStatus: "NORMAL"}},
		{"bulk conflict", &card.ConflictError{Operation: "start bulk", Reason: "bulk b is STARTED, not CREATED"}, 409,
			errorBody{Code: codeConflict, Message: "conflict: start bulk: bulk b is STARTED, not CREATED"}},
		{"bare conflict", fmt.Errorf("duplicate: %w", card.ErrConflict), 409, errorBody{Code: codeConflict, Message: "duplicate: conflict"}},
		{"unauthorized", card.ErrUnauthorized, 401, errorBody{Code: codeUnauthorized, Message: "unauthorized"}},
		{"forbidden", card.ErrForbidden, 403, errorBody{Code: codeForbidden, Message: "forbidden"}},
		{"adapter's own", errTooLarge(), 413, errorBody{Code: codeTooLarge, Message: "the request body is larger than 1 MiB"}},
		{"unavailable", fmt.Errorf("bunstore: begin: the database is busy: %w", card.ErrUnavailable), 503,
			errorBody{Code: codeUnavailable, Message: "the database is busy; try again later"}},
		{"store failure", errors.New("pq: connection refused to 10.0.0.1"), 500, errorBody{Code: codeInternal, Message: "internal error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, internal := classify(tc.err)
			if status != tc.want || body != tc.body || internal != (status == 500) {
				t.Errorf("classify = %d %+v %v, want %d %+v", status, body, internal, tc.want, tc.body)
			}
		})
	}
}

func TestDecodeNamesTheField(t *testing.T) {
	type in struct {
		ReasonID    int64           `json:"reason_id"`
		Enabled     *bool           `json:"enabled"`
		ExternalIDs []string        `json:"external_ids"`
		Metadata    json.RawMessage `json:"metadata"`
		Cost        *decimalNumber  `json:"cost"`
	}
	for body, field := range map[string]string{
		`{"reason_id": "5"}`:             "reason_id",
		`{"reason_id": 1.5}`:             "reason_id",
		`{"reason_id": 1e30}`:            "reason_id",
		`{"enabled": "true"}`:            "enabled",
		`{"external_ids": "e1"}`:         "external_ids",
		`{"external_ids": ["e1", 2]}`:    "external_ids",
		`{"cost": "12.50"}`:              "cost",
		`{"reason_id": 1`:                "",
		`[]`:                             "",
		`"text"`:                         "",
		`{"reason_id": 1} trailing data`: "",
	} {
		err := decode([]byte(body), &in{})
		status, got, _ := classify(err)
		if status != http.StatusBadRequest || got.Field != field {
			t.Errorf("decode(%s) = %d %+v, want 400 naming %q", body, status, got, field)
		}
	}
	for _, body := range []string{``, `  `, `null`, `{}`, `{"unknown": [1, {"x": 2}], "reason_id": 3, "metadata": {"a": 1}, "cost": 12.50}`} {
		if err := decode([]byte(body), &in{}); err != nil {
			t.Errorf("decode(%q) = %v, want nil", body, err)
		}
	}
}

func TestRoutesAnswerErrorsAsJSON(t *testing.T) {
	h := newAPI(&cardcore.Core{}, Config{Secret: testSecret})
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nowhere", 404, ""},
		{"GET", "/wallet/v2/cards/", 404, ""},
		{"DELETE", "/wallet/v2/cards/1", 405, "GET, HEAD, PATCH"},
		{"GET", "/wallet/v2/cards/1/noname/bind", 405, "POST, PUT"},
		{"POST", "/events", 405, "GET, HEAD"},
		{"GET", "/events", 401, ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		var body errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != tc.status || body.Code == "" || body.Message == "" {
			t.Errorf("%s %s = %d %s, want %d with an error body", tc.method, tc.path, w.Code, w.Body, tc.status)
		}
		if got := w.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, ct)
		}
	}
}
