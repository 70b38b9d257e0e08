package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/internal/testdb"
)

// fuzzRoutes are the routes of SPEC sections 7, 8, 9 and 12; {a}, {b} and {c}
// stand for the fuzzed path ids (customer, account, card or bulk), {q} for
// a fuzzed query. The last one is a fuzzed path of its own.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/wallet/v2/cards"},
	{"GET", "/wallet/v1/customers/{a}/accounts/{b}/cards/{c}"},
	{"PUT", "/wallet/v1/customers/{a}/accounts/{b}/cards/{c}/status"},
	{"PUT", "/wallet/v1/customers/{a}/accounts/{b}/cards/{c}/activate"},
	{"POST", "/wallet/v1/customers/{a}/accounts/{b}/cards/{c}/reissue"},
	{"GET", "/wallet/v1/reissue-reasons?{q}"},
	{"POST", "/wallet/v1/reissue-reasons"},
	{"POST", "/cards/v1/bulks"},
	{"POST", "/cards/v1/bulks/{c}/start"},
	{"PUT", "/cards/v1/bulks/{c}"},
	{"POST", "/cards/v1/bulks/{c}/cancel"},
	{"GET", "/cards/v1/bulks/{c}"},
	{"PUT", "/wallet/v2/cards/{c}/noname/bind"},
	{"POST", "/wallet/v2/cards/{c}/noname/bind"},
	{"GET", "/wallet/v2/cards/{c}"},
	{"GET", "/events?{q}"},
	{"GET", "/openapi.json"},
	{"GET", "/healthz"},
	{"PUT", "/v2/data/customers/{a}/accounts/{b}/cards"},
	{"POST", "/accounts/{b}/cards"},
	{"PATCH", "/simulator/cards/{c}/issue"},
	{"PATCH", "/simulator/cards/{c}/fail"},
	{"GET", "/cards/{c}"},
	{"PATCH", "/wallet/v2/cards/{c}"},
	{"PUT", "/wallet/v2/cards/{c}/number"},
	{"POST", "/wallet/v2/cards/{c}/password-tries/increase"},
	{"POST", "/wallet/v2/cards/{c}/password-tries/reset"},
	{"GET", "{a}"},
}

var fuzzMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// FuzzRoutes sends arbitrary requests to every route with a valid server
// or account token: whatever the method, path ids, headers and body, the
// handler answers without a panic or a 5xx, and every error answer has the
// section 6 body (SPEC 6, 7.1).
func FuzzRoutes(f *testing.F) {
	e := newEnv(f, testdb.Open(f, "sqlite"))
	const org = "o-fuzz"
	srv := serverTok(f, org)
	acc := accountTok(f, org, acct)

	// Something to find: cards 1 and 2 in account 42, a reason, a started
	// bulk with UNBOUND cards.
	ids := []string{"x-account-id", acct, "x-customer-id", cust}
	for _, body := range []string{
		`{"type":"PLASTIC","name":"P","printed_name":"Fuzz Card"}`,
		`{"type":"VIRTUAL","name":"V","cvv_rotation_interval_hours":0}`,
	} {
		e.do(f, "POST", "/wallet/v2/cards", srv, body, ids...).wantCode(f, http.StatusCreated)
	}
	e.do(f, "POST", "/wallet/v1/reissue-reasons", srv,
		`{"description":"Broken","type":"BROKEN","must_block":false,"must_charge":false,"cost":1,"enabled":true}`).wantCode(f, http.StatusCreated)
	bulk := str(f, e.do(f, "POST", "/cards/v1/bulks", srv, `{"program_id":1,"external_ids":["a","b","c"]}`).want(f, http.StatusCreated), "id")
	e.do(f, "POST", "/cards/v1/bulks/"+bulk+"/start", srv, nil).wantCode(f, http.StatusAccepted)

	f.Add(uint8(0), uint8(0), cust, acct, "1", "", []byte(`{"type":"VIRTUAL","name":"Fz","cvv_rotation_interval_hours":1}`), true)
	f.Add(uint8(0), uint8(0), cust, acct, "1", "k1", []byte(`{"type":"PLASTIC","name":"x","validity_period_hours":-1,"metadata":[]}`), false)
	f.Add(uint8(0), uint8(1), cust, acct, "1", "", []byte(nil), false)
	f.Add(uint8(0), uint8(2), cust, acct, "1", "", []byte(`{"status":"BLOCKED"}`), false)
	f.Add(uint8(0), uint8(2), cust, acct, "2", "", []byte(`{"status":"INOPERATIVE"}`), true)
	f.Add(uint8(0), uint8(2), cust, acct, "99999999999999999999", "", []byte(`{"status":null}`), true)
	f.Add(uint8(0), uint8(3), cust, acct, "1", "", []byte(``), false)
	f.Add(uint8(0), uint8(4), cust, acct, "1", "key", []byte(`{"reason_id":1,"printed_name":"A B"}`), false)
	f.Add(uint8(0), uint8(4), cust, acct, "2", "", []byte(`{"reason_id":-9223372036854775808}`), true)
	f.Add(uint8(0), uint8(5), "", "", "", "limit=50&cursor=zz&enabled=true", []byte(nil), true)
	f.Add(uint8(0), uint8(6), "", "", "", "", []byte(`{"description":"d","type":"T","must_block":true,"must_charge":false,"cost":1e400,"enabled":true}`), true)
	f.Add(uint8(0), uint8(7), "", "", "", "", []byte(`{"program_id":1,"external_ids":["z1","z2"]}`), true)
	f.Add(uint8(0), uint8(8), "", "", bulk, "", []byte(nil), true)
	f.Add(uint8(0), uint8(9), "", "", bulk, "", []byte(`{"external_ids":["d"]}`), true)
	f.Add(uint8(0), uint8(10), "", "", bulk, "", []byte(`{"cancel_type":"PARTIAL","external_ids":["a"]}`), true)
	f.Add(uint8(0), uint8(11), "", "", bulk, "", []byte(nil), true)
	f.Add(uint8(0), uint8(12), cust, acct, "3", "", []byte(`{"reissued_card_id":1}`), false)
	f.Add(uint8(0), uint8(13), "abc", acct, "4", "", []byte(`{"printed_name":"Zed"}`), true)
	f.Add(uint8(0), uint8(14), "", "", "1", "", []byte(nil), true)
	f.Add(uint8(0), uint8(15), "", "", "", "after=-1&limit=1001", []byte(nil), true)
	f.Add(uint8(0), uint8(16), "", "", "", "", []byte(nil), true)
	f.Add(uint8(0), uint8(17), "", "", "", "", []byte(nil), false)
	f.Add(uint8(0), uint8(18), "c1", "a1", "", "", []byte(`{"cards":[{"sourceAccountId":"a1","sourceCustomerId":"c1","last4":"1234",`+
		`"iin":"123456","cardType":"CREDIT","status":"CLOSED","networkIdentifier":"4","openDate":"2017-01-01T08:00:00Z","closeDate":"2018-01-01T08:00:00Z"}]}`), true)
	f.Add(uint8(0), uint8(18), "c1", "a1", "", "", []byte(`{"cards":[{"sourceAccountId":"a1","sourceCustomerId":"c1","last4":"1234","status":"OPEN"}]}`), true)
	f.Add(uint8(0), uint8(19), "", "0b6a1f7e-3c1d-4c8e-9a55-2f4b6f0e1d2c", "", "", []byte(`{"type":"VIRTUAL"}`), true)
	f.Add(uint8(0), uint8(20), "", "", "0b6a1f7e-3c1d-4c8e-9a55-2f4b6f0e1d2c", "", []byte(nil), true)
	f.Add(uint8(0), uint8(23), "/wallet/v2/cards/1/../../events", "", "", "", []byte(nil), true)
	f.Add(uint8(203), uint8(2), cust, acct, "1", "", []byte(`{"status":"BLOCKED"}`), true)

	f.Fuzz(func(t *testing.T, sel, route uint8, a, b, c, extra string, body []byte, server bool) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		method := rt.method
		if sel >= 200 {
			method = fuzzMethods[int(sel)%len(fuzzMethods)]
		}
		var target string
		if int(route)%len(fuzzRoutes) == len(fuzzRoutes)-1 {
			target = a
		} else {
			target = strings.NewReplacer("{a}", url.PathEscape(a), "{b}", url.PathEscape(b),
				"{c}", url.PathEscape(c), "{q}", extra).Replace(rt.path)
		}
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := httptest.NewRequest(method, "/", bytes.NewReader(body))
		req.URL = u
		req.RequestURI = target
		tok := acc
		if server {
			tok = srv
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-account-id", b)
		req.Header.Set("x-customer-id", a)
		if extra != "" {
			req.Header.Set("x-idempotency-key", extra)
			req.Header.Set("Idempotency-Key", extra)
		}
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s -> %d %s", method, target, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && method != "HEAD" {
			var e struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%s %s -> %d without the section 6 body: %q", method, target, rec.Code, rec.Body)
			}
		}
	})
}
