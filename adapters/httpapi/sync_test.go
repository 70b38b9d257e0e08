package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestSyncEntry(t *testing.T) {
	e, err := syncEntry(2, json.RawMessage(`{"sourceAccountId":"a","sourceCustomerId":"c","last4":"2345","iin":"123456",
		"cardType":"CREDIT","status":"CLOSED","networkIdentifier":"5","openDate":"2017-01-01T08:00:00Z",
		"closeDate":"2023-04-06T08:00:00.5-03:00","extra":[1]}`))
	if err != nil {
		t.Fatal(err)
	}
	closed := time.Date(2023, 4, 6, 11, 0, 0, 5e8, time.UTC)
	if e.Index != 2 || e.SourceAccountID != "a" || e.SourceCustomerID != "c" || e.Last4 != "2345" || *e.IIN != "123456" ||
		*e.CardType != "CREDIT" || *e.Status != "CLOSED" || *e.NetworkIdentifier != 5 || !e.CloseDate.Equal(closed) ||
		!e.OpenDate.Equal(time.Date(2017, 1, 1, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("entry %+v", e)
	}
	e, err = syncEntry(0, json.RawMessage(`{"last4":"2345","networkIdentifier":3,"closeDate":null,"iin":null}`))
	if err != nil || *e.NetworkIdentifier != 3 || e.CloseDate != nil || e.IIN != nil || e.Status != nil {
		t.Errorf("entry %+v, %v: want networkIdentifier 3 and absent nulls", e, err)
	}

	for _, tt := range []struct{ raw, field string }{
		{`[]`, "cards[1]"},
		{`null`, "cards[1]"},
		{`"card"`, "cards[1]"},
		{`{"last4": 2345}`, "cards[1].last4"},
		{`{"sourceAccountId": {"id": 1}}`, "cards[1].sourceAccountId"},
		{`{"networkIdentifier": "three"}`, "cards[1].networkIdentifier"},
		{`{"networkIdentifier": 3.5}`, "cards[1].networkIdentifier"},
		{`{"networkIdentifier": -3}`, "cards[1].networkIdentifier"},
		{`{"networkIdentifier": " 3"}`, "cards[1].networkIdentifier"},
		{`{"networkIdentifier": true}`, "cards[1].networkIdentifier"},
		{`{"networkIdentifier": 99999999999999999999}`, "cards[1].networkIdentifier"},
		{`{"openDate": "2017-01-01"}`, "cards[1].openDate"},
		{`{"closeDate": 1680768000}`, "cards[1].closeDate"},
		{`{"status": ["OPEN"]}`, "cards[1].status"},
	} {
		_, err := syncEntry(1, json.RawMessage(tt.raw))
		status, body, _ := classify(err)
		if status != http.StatusBadRequest || body.Field != tt.field || !strings.HasPrefix(body.Message, tt.field) {
			t.Errorf("syncEntry(%s) = %d %+v, want 400 naming %s", tt.raw, status, body, tt.field)
		}
	}
}

// TestSyncOrderOfChecks: 401, then the path ids (400), then 403, 413 and
// the body (400).
func TestSyncOrderOfChecks(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		server := serverTok(t, "org-a")
		acc := accountTok(t, "org-a", "100")
		long := strings.Repeat("x", 65)
		e.checkPrecedence(t, []precedence{
			{"no token", call{method: "PUT", path: "/v2/data/customers/" + long + "/accounts/a/cards", body: big, want: 401}, "", ""},
			{"a bad path id beats 403", call{method: "PUT", path: "/v2/data/customers/" + long + "/accounts/a/cards", token: acc, body: big, want: 400}, "sourceCustomerId", ""},
			{"a bad account id", call{method: "PUT", path: "/v2/data/customers/c/accounts/%01/cards", token: server, want: 400}, "sourceAccountId", ""},
			{"403 beats 413", call{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards", token: acc, body: big, want: 403}, "", ""},
			{"413", call{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards", token: server, body: big, want: 413}, "", ""},
			{"no cards", call{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards", token: server, body: `{"cards": []}`, want: 400}, "cards", ""},
			{"cards not a list", call{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards", token: server, body: `{"cards": {}}`, want: 400}, "cards", ""},
		})
	})
}

// exerciseSync runs the card data sync route (SPEC section 8).
func exerciseSync(t *testing.T, c *contract) {
	do := func(k call) answer { t.Helper(); return c.do(t, k) }
	server := serverTok(t, "org-a")
	acc := accountTok(t, "org-a", "100")
	path := "/v2/data/customers/afa2r21-25f9/accounts/42c57311-25f9-4501-b9db-e78afa73c0e3/cards"
	entry := func(kv ...any) map[string]any {
		e := map[string]any{"sourceAccountId": "42c57311-25f9-4501-b9db-e78afa73c0e3", "sourceCustomerId": "afa2r21-25f9"}
		for i := 0; i < len(kv); i += 2 {
			e[kv[i].(string)] = kv[i+1]
		}
		return e
	}
	batch := func(es ...map[string]any) map[string]any { return map[string]any{"cards": es} }

	// The document's example: one card created OPEN, one CLOSED.
	created := do(call{method: "PUT", path: path, token: server, want: 200, body: batch(
		entry("last4", "2345", "iin", "123456", "cardType", "CREDIT", "status", "OPEN", "networkIdentifier", 3,
			"openDate", "2017-01-01T08:00:00Z", "closeDate", nil),
		entry("last4", "6789", "iin", "873452", "cardType", "CREDIT", "status", "CLOSED", "networkIdentifier", "3",
			"openDate", "2017-01-01T08:00:00Z", "closeDate", "2023-04-06T08:00:00Z"))})
	if _, err := uuid.Parse(str(t, created.body, "requestId")); err != nil {
		t.Errorf("requestId: %s", created.raw)
	}
	do(call{method: "PUT", path: path, token: server, want: 200, body: batch(
		entry("last4", "2345", "status", "CLOSED", "closeDate", "2024-01-01T00:00:00Z"))})
	reopen := do(call{method: "PUT", path: path, token: server, want: 409, body: batch(
		entry("last4", "1111", "iin", "123456", "cardType", "DEBIT", "status", "OPEN", "networkIdentifier", 4, "openDate", "2020-01-01T00:00:00Z"),
		entry("last4", "6789", "status", "OPEN"))})
	if str(t, reopen.body, "current_status") != "CANCELED" {
		t.Errorf("reopening a CLOSED card: %s", reopen.raw)
	}
	noClose := do(call{method: "PUT", path: path, token: server, want: 400, body: batch(
		entry("last4", "1111", "iin", "123456", "cardType", "DEBIT", "status", "OPEN", "networkIdentifier", 4, "openDate", "2020-01-01T00:00:00Z"),
		entry("last4", "2222", "iin", "123456", "cardType", "DEBIT", "status", "CLOSED", "networkIdentifier", 4, "openDate", "2020-01-01T00:00:00Z"))})
	if str(t, noClose.body, "field") != "cards[1].closeDate" {
		t.Errorf("CLOSED without closeDate: %s", noClose.raw)
	}
	other := do(call{method: "PUT", path: path, token: server, want: 400, body: batch(
		map[string]any{"sourceAccountId": "another", "sourceCustomerId": "afa2r21-25f9", "last4": "2345"})})
	if str(t, other.body, "field") != "cards[0].sourceAccountId" {
		t.Errorf("an entry of another account: %s", other.raw)
	}
	badType := do(call{method: "PUT", path: path, token: server, want: 400, breaksDoc: true, body: batch(
		entry("last4", "2345", "networkIdentifier", "three"))})
	if str(t, badType.body, "field") != "cards[0].networkIdentifier" {
		t.Errorf("a networkIdentifier that is not a number: %s", badType.raw)
	}
	do(call{method: "PUT", path: path, token: acc, body: batch(entry("last4", "2345")), want: 403})
	do(call{method: "PUT", path: path, body: batch(entry("last4", "2345")), want: 401})
	do(call{method: "PUT", path: path, token: server, body: big, want: 413, breaksDoc: true})
}
