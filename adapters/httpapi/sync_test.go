package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/uptrace/bun"
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
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		f := newFixture(t, db)
		server := token(t, Claims{OrgID: "org-a", Server: true})
		acct := token(t, Claims{OrgID: "org-a", AccountID: "100"})
		long := strings.Repeat("x", 65)
		for _, tt := range []struct {
			name  string
			call  call
			field string
		}{
			{"no token", call{method: "PUT", path: "/v2/data/customers/" + long + "/accounts/a/cards", body: big, want: 401}, ""},
			{"a bad path id beats 403", call{method: "PUT", path: "/v2/data/customers/" + long + "/accounts/a/cards", token: acct, body: big, want: 400}, "sourceCustomerId"},
			{"a bad account id", call{method: "PUT", path: "/v2/data/customers/c/accounts/%01/cards", token: server, want: 400}, "sourceAccountId"},
			{"403 beats 413", call{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards", token: acct, body: big, want: 403}, ""},
			{"413", call{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards", token: server, body: big, want: 413}, ""},
			{"no cards", call{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards", token: server, body: `{"cards": []}`, want: 400}, "cards"},
			{"cards not a list", call{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards", token: server, body: `{"cards": {}}`, want: 400}, "cards"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				a := send(t, f.srv.URL, tt.call)
				if got, _ := a.body["field"].(string); got != tt.field {
					t.Errorf("field %q, want %q: %s", got, tt.field, a.raw)
				}
			})
		}
	})
}
