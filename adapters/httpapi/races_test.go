package httpapi

import (
	"bytes"
	"net/http"
	"sync"
	"testing"
)

// testRaces: concurrent requests on one card or one key (SPEC 3, 4, 7.1).
func (e *env) testRaces(t *testing.T) {
	const n = 8
	srv, acc := tokens(t, "o-race")
	reason := e.createReason(t, srv, "Damaged", false, true)
	race := func(f func(i int) answer) []answer {
		out := make([]answer, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { out[i] = f(i) })
		}
		wg.Wait()
		return out
	}

	t.Run("reissue one card", func(t *testing.T) {
		id := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
		succ := map[int64]bool{}
		for _, r := range race(func(int) answer {
			return e.do(t, "POST", cardPath(cust, acct, id)+"/reissue", acc, map[string]any{"reason_id": reason})
		}) {
			if r.status != http.StatusOK {
				t.Errorf("%s: want 200", r)
				continue
			}
			succ[integer(t, r.obj(t), "id")] = true
		}
		if len(succ) != 1 {
			t.Errorf("concurrent reissues made %d successors, want 1", len(succ))
		}
	})
	t.Run("bind one card", func(t *testing.T) {
		b := e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": []string{"r1"}}).
			want(t, http.StatusCreated)
		e.do(t, "POST", "/cards/v1/bulks/"+str(t, b, "id")+"/start", srv, nil).wantCode(t, http.StatusAccepted)
		var id int64
		for _, ev := range e.allEvents(t, srv) {
			if ev.typ == "create-1" && ev.data["external_id"] == "r1" {
				id = integer(t, ev.data, "card_id")
			}
		}
		codes := map[int]int{}
		for _, r := range race(func(int) answer {
			return e.do(t, "PUT", v2Path(id)+"/noname/bind", acc, `{}`, "x-account-id", acct, "x-customer-id", cust)
		}) {
			codes[r.status]++
			if r.status == http.StatusConflict {
				r.wantConflict(t, "CREATED", "")
			}
		}
		if codes[http.StatusAccepted] != 1 || codes[http.StatusConflict] != n-1 {
			t.Errorf("concurrent binds answered %v, want one 202 and %d 409", codes, n-1)
		}
	})
	t.Run("create with one key", func(t *testing.T) {
		var first []byte
		for _, r := range race(func(int) answer {
			return e.do(t, "POST", "/wallet/v2/cards", acc, virtual("Raced"),
				"x-account-id", acct, "x-customer-id", cust, "x-idempotency-key", "race-key")
		}) {
			switch r.status {
			case http.StatusCreated:
				if first == nil {
					first = r.raw
				} else if !bytes.Equal(first, r.raw) {
					t.Errorf("two answers for one key: %s and %s", first, r.raw)
				}
			case http.StatusConflict: // the first request was still in flight
			default:
				t.Errorf("%s: want 201 or 409", r)
			}
		}
		made := 0
		for _, ev := range e.allEvents(t, srv) {
			if ev.typ == "create-1" && ev.data["card_name"] == "Raced" {
				made++
			}
		}
		if made != 1 {
			t.Errorf("one key made %d cards, want 1", made)
		}
	})
}
