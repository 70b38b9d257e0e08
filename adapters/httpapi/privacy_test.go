package httpapi

import (
	"bytes"
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/google/uuid"
)

// TestAccountLearnsNothingOfOtherAccounts: every route an account token
// may call answers a card id of another account of its org exactly as an
// id no card has: the same status and body (but for the id), no
// current_status, no word of the other account (SPEC 11). A server token
// still gets the conflict with the card's status.
func TestAccountLearnsNothingOfOtherAccounts(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		const org = "o-privacy"
		srv, acc := tokens(t, org)
		other := accountTok(t, org, otherAcc)
		reason := e.createReason(t, srv, "Damaged", false, true)

		// The other account's cards: one it created, NORMAL, and a noname
		// card it bound, CREATED. Same customer id as the caller's, so
		// only the account differs.
		theirs := integer(t, e.createCard(t, other, otherAcc, cust, virtual("Theirs")), "id")
		bulk := str(t, e.do(t, "POST", "/cards/v1/bulks", srv,
			map[string]any{"program_id": 1, "external_ids": []string{"p-1", "p-2", "p-3"}}).want(t, http.StatusCreated), "id")
		e.do(t, "POST", "/cards/v1/bulks/"+bulk+"/start", srv, nil).wantCode(t, http.StatusAccepted)
		unbound := e.unbound(t, org, bulk)
		if len(unbound) != 3 {
			t.Fatalf("bulk made %d UNBOUND cards, want 3", len(unbound))
		}
		boundByThem, free := unbound[0], unbound[1]
		e.do(t, "POST", v2Path(boundByThem)+"/noname/bind", other, `{}`, "x-account-id", otherAcc, "x-customer-id", cust).
			wantCard(t, http.StatusAccepted)
		// An id no card has, with as many digits as neither of the above.
		const missing = 987654321

		bind := func(id int64) string { return `{"reissued_card_id":` + strconv.FormatInt(id, 10) + `}` }
		hdr := []string{"x-account-id", acct, "x-customer-id", cust}
		probes := []struct {
			name string
			do   func(id int64) answer
		}{
			{"get", func(id int64) answer { return e.do(t, "GET", cardPath(cust, acct, id), acc, nil) }},
			{"update status", func(id int64) answer {
				return e.do(t, "PUT", cardPath(cust, acct, id)+"/status", acc, map[string]any{"status": "BLOCKED"})
			}},
			{"activate", func(id int64) answer { return e.do(t, "PUT", cardPath(cust, acct, id)+"/activate", acc, nil) }},
			{"reissue", func(id int64) answer {
				return e.do(t, "POST", cardPath(cust, acct, id)+"/reissue", acc, map[string]any{"reason_id": reason},
					"x-idempotency-key", "privacy-"+strconv.FormatInt(id, 10))
			}},
			{"reissue with an unknown reason", func(id int64) answer {
				return e.do(t, "POST", cardPath(cust, acct, id)+"/reissue", acc, map[string]any{"reason_id": 99999},
					"x-idempotency-key", "privacy-bad-"+strconv.FormatInt(id, 10))
			}},
			{"history", func(id int64) answer { return e.do(t, "GET", cardPath(cust, acct, id)+"/events", acc, nil) }},
			{"v2 read", func(id int64) answer { return e.do(t, "GET", v2Path(id), acc, nil) }},
			{"update its information", func(id int64) answer {
				return e.do(t, "PATCH", v2Path(id), acc, map[string]any{"printed_name": "EVE SPY"})
			}},
			{"count a wrong PIN", func(id int64) answer { return e.do(t, "POST", v2Path(id)+"/password-tries/increase", acc, nil) }},
			{"reset its PIN tries", func(id int64) answer { return e.do(t, "POST", v2Path(id)+"/password-tries/reset", acc, nil) }},
			{"number it", func(id int64) answer {
				return e.do(t, "PUT", v2Path(id)+"/number", acc, map[string]any{"last_4_digits": "4242", "pan_hash": panHash})
			}},
			{"bind it (POST)", func(id int64) answer {
				return e.do(t, "POST", v2Path(id)+"/noname/bind", acc, `{}`, hdr...)
			}},
			{"bind it (PUT)", func(id int64) answer {
				return e.do(t, "PUT", v2Path(id)+"/noname/bind", acc, `{}`, hdr...)
			}},
			{"bind a noname card replacing it", func(id int64) answer {
				return e.do(t, "POST", v2Path(free)+"/noname/bind", acc, bind(id), hdr...)
			}},
		}
		for _, card := range []struct {
			name string
			id   int64
		}{{"a card the other account created", theirs}, {"a noname card the other account bound", boundByThem}} {
			for _, p := range probes {
				t.Run(card.name+"/"+p.name, func(t *testing.T) {
					got, want := p.do(card.id), p.do(missing)
					if got.status < 400 {
						t.Fatalf("%s: want an error", got)
					}
					sameAnswer(t, got, card.id, want, missing)
				})
			}
		}

		// The sandbox routes need a server token: an account token gets the
		// same 403 whether the card token exists or not.
		sandbox := e.send(t, call{method: "POST", path: "/accounts/" + uuid.NewString() + "/cards", token: srv,
			header: []string{"Idempotency-Key", uuid.NewString()}, body: map[string]any{"type": "VIRTUAL"},
			sign: e.key.sign, want: http.StatusCreated})
		made := struct{ ID string }{str(t, sandbox.obj(t), "id")}
		for _, p := range []struct {
			method string
			path   func(token string) string
		}{
			{"GET", func(tok string) string { return "/cards/" + tok }},
			{"PATCH", func(tok string) string { return "/simulator/cards/" + tok + "/issue" }},
			{"PATCH", func(tok string) string { return "/simulator/cards/" + tok + "/fail" }},
		} {
			send := func(tok string) answer {
				return e.send(t, call{method: p.method, path: p.path(tok), token: acc,
					header: []string{"Idempotency-Key", uuid.NewString()}, sign: e.key.sign})
			}
			got, want := send(made.ID), send(uuid.NewString())
			if got.status != http.StatusForbidden || !bytes.Equal(got.raw, want.raw) {
				t.Errorf("%s and %s, want the same 403", got, want)
			}
		}

		// Nothing changed: the other account's cards, and the noname card
		// the refused binds named.
		for id, status := range map[int64]string{theirs: "NORMAL", boundByThem: "CREATED", free: "UNBOUND"} {
			m := e.do(t, "GET", v2Path(id), srv, nil).wantCard(t, http.StatusOK)
			if str(t, m, "status") != status {
				t.Errorf("card %d is %v after the refused requests, want %s", id, m["status"], status)
			}
		}
		if s := str(t, e.do(t, "GET", cardPath(cust, otherAcc, theirs), srv, nil).wantCard(t, http.StatusOK), "status"); s != "NORMAL" {
			t.Errorf("their card is %s, want NORMAL", s)
		}

		// A server token may see every card of its org: binding a card
		// bound to another account is the conflict, with its status.
		e.do(t, "POST", v2Path(boundByThem)+"/noname/bind", srv, `{}`, hdr...).wantConflict(t, "CREATED", "")
		// And the caller's own card that is not UNBOUND is its conflict too.
		mine := integer(t, e.createCard(t, acc, acct, cust, virtual("Mine")), "id")
		e.do(t, "POST", v2Path(mine)+"/noname/bind", acc, `{}`, hdr...).wantConflict(t, "NORMAL", "")
	})
}

// sameAnswer fails unless got, an answer about card id, is want, the
// answer about card missing, once each id is written N: the same status
// and body, and no current_status or word of another account.
func sameAnswer(t *testing.T, got answer, id int64, want answer, missing int64) {
	t.Helper()
	norm := func(a answer, id int64) string {
		return regexp.MustCompile(`\b`+strconv.FormatInt(id, 10)+`\b`).ReplaceAllLiteralString(string(a.raw), "N")
	}
	if got.status != want.status || norm(got, id) != norm(want, missing) {
		t.Errorf("about a card of another account:\n  %s\nabout no card:\n  %s\nwant the same answer", got, want)
	}
	if _, ok := got.body["current_status"]; ok {
		t.Errorf("%s: carries the card's status", got)
	}
	for _, word := range []string{"another account", "belongs", "account " + otherAcc, `"` + otherAcc + `"`} {
		if bytes.Contains(got.raw, []byte(word)) {
			t.Errorf("%s: names %q", got, word)
		}
	}
}
