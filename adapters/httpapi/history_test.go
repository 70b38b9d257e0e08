package httpapi

import (
	"net/http"
	"reflect"
	"strconv"
	"testing"
)

// historyPage reads one page of a card's history (SPEC 10.5) and checks
// that next_after is the last event's version, or after on an empty page.
func (e *env) historyPage(tb testing.TB, path, tok, query string, after int64) ([]feedItem, int64) {
	tb.Helper()
	m := e.do(tb, "GET", path+"/events"+query, tok, nil).want(tb, http.StatusOK)
	next := integer(tb, m, "next_after")
	list, ok := m["events"].([]any)
	if !ok || len(m) != 2 {
		tb.Fatalf("history page: want {events, next_after}, got %v", m)
	}
	items := make([]feedItem, len(list))
	for i, v := range list {
		o := v.(map[string]any)
		items[i] = feedItem{seq: integer(tb, o, "seq"), id: str(tb, o, "event_id"), typ: str(tb, o, "event_type"),
			org: str(tb, o, "org_id"), data: object(tb, o, "data"), raw: o}
	}
	want := after
	if len(items) > 0 {
		want = integer(tb, items[len(items)-1].data, "version")
	}
	if next != want {
		tb.Errorf("history page %s: next_after %d, want %d", query, next, want)
	}
	return items, next
}

// TestCardHistory: GET .../cards/{cardId}/events answers the card's events
// in version order, as the feed renders them, paged by version, with the
// ownership rules of the other account routes (SPEC 10.5, 7.1).
func TestCardHistory(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		const org = "o-history"
		srv, acc := tokens(t, org)
		id := integer(t, e.createCard(t, srv, acct, cust, virtual("History")), "id")
		otherID := integer(t, e.createCard(t, srv, acct, cust, virtual("Other")), "id")
		path := cardPath(cust, acct, id)
		for _, s := range []string{"BLOCKED", "NORMAL", "BLOCKED"} {
			e.do(t, "PUT", path+"/status", acc, map[string]any{"status": s}).wantCard(t, http.StatusOK)
		}
		e.do(t, "PUT", cardPath(cust, acct, otherID)+"/status", acc, map[string]any{"status": "BLOCKED"}).wantCard(t, http.StatusOK)

		// The card's events of the feed, in the feed's order.
		var want []feedItem
		for _, ev := range e.allEvents(t, srv) {
			if ev.data != nil && isInteger(ev.data["card_id"]) && integer(t, ev.data, "card_id") == id {
				want = append(want, ev)
			}
		}
		if len(want) != 4 {
			t.Fatalf("the feed holds %d events of the card, want 4", len(want))
		}

		got, next := e.historyPage(t, path, acc, "", 0)
		if len(got) != len(want) || next != 4 {
			t.Fatalf("history: %d events, next_after %d; want %d and 4", len(got), next, len(want))
		}
		for i := range got {
			if !reflect.DeepEqual(got[i].raw, want[i].raw) {
				t.Errorf("history event %d\n%v\nthe feed renders it\n%v", i, got[i].raw, want[i].raw)
			}
			if v := integer(t, got[i].data, "version"); v != int64(i+1) {
				t.Errorf("history event %d has version %d, want %d", i, v, i+1)
			}
		}
		if got[0].typ != "create-1" || got[3].typ != "update-1" || str(t, got[3].data, "card_status") != "BLOCKED" {
			t.Errorf("history: first %s, last %s %v", got[0].typ, got[3].typ, got[3].data)
		}

		// Paged by version: a server token reads it too.
		var paged []feedItem
		after := int64(0)
		for {
			page, n := e.historyPage(t, path, srv, q("after", strconv.FormatInt(after, 10), "limit", "1"), after)
			if len(page) == 0 {
				break
			}
			if len(page) != 1 {
				t.Fatalf("limit=1 answered %d events", len(page))
			}
			paged, after = append(paged, page...), n
		}
		if len(paged) != len(want) {
			t.Errorf("paging by one: %d events, want %d", len(paged), len(want))
		}
		if page, _ := e.historyPage(t, path, acc, q("after", "2"), 2); len(page) != 2 || page[0].id != want[2].id {
			t.Errorf("after=2: %v", page)
		}
		if page, _ := e.historyPage(t, path, acc, q("after", "99", "limit", "100"), 99); len(page) != 0 {
			t.Errorf("after=99: %v", page)
		}

		// Bad query -> 400 naming the field; ownership as on the other routes.
		for bad, field := range map[string]string{
			q("after", "abc"): "after", q("after", "-1"): "after", q("after", "1.5"): "after",
			q("limit", "0"): "limit", q("limit", "101"): "limit", q("limit", "x"): "limit", q("limit", "-1"): "limit",
		} {
			e.do(t, "GET", path+"/events"+bad, acc, nil).wantErr(t, http.StatusBadRequest, field)
		}
		e.do(t, "GET", "/wallet/v1/customers/"+cust+"/accounts/"+acct+"/cards/abc/events", acc, nil).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "GET", path+"/events", "", nil).wantErr(t, http.StatusUnauthorized, "")
		e.do(t, "GET", path+"/events", accountTok(t, org, otherAcc), nil).wantErr(t, http.StatusForbidden, "")
		e.do(t, "GET", path+"/events"+q("limit", "0"), accountTok(t, org, otherAcc), nil).wantErr(t, http.StatusForbidden, "")
		e.do(t, "GET", cardPath(otherCus, acct, id)+"/events", srv, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "GET", cardPath(cust, otherAcc, id)+"/events", srv, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "GET", cardPath(cust, acct, 987654321)+"/events", acc, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "GET", path+"/events", serverTok(t, "o-history-other"), nil).wantErr(t, http.StatusNotFound, "")
	})
}
