package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/card"
)

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
	h := newAPI(Config{Secret: testSecret})
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/nowhere", 404, ""},
		{"GET", "/wallet/v2/cards/", 404, ""},
		{"DELETE", "/wallet/v2/cards/1", 405, "GET, HEAD"},
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
