package httpapi

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testCards: a card through its statuses, as an account and a server token
// see it, and the events each change emits (SPEC 2, 7.1).
func (e *env) testCards(t *testing.T) {
	const org = "o-cards"
	srv, acc := tokens(t, org)

	// A PLASTIC card: created CREATED, named PLASTIC whatever is passed.
	p := e.createCard(t, acc, acct, cust, plastic())
	pid := integer(t, p, "id")
	for path, want := range map[string]string{
		"status": "CREATED", "type": "PLASTIC", "name": "PLASTIC", "program.id": "1",
		"account.id": acct, "customer.id": cust, "org.id": org, "mode": "CREDIT",
		"printed_name": "Mabel Syrup",
	} {
		if got := str(t, p, path); got != want {
			t.Errorf("created PLASTIC card: %s = %q, want %q", path, got, want)
		}
	}
	if n := integer(t, p, "track_number"); n != 1 {
		t.Errorf("track_number = %d, want 1", n)
	}
	path := cardPath(cust, acct, pid)

	g := e.do(t, "GET", path, acc, nil).wantCard(t, http.StatusOK)
	if integer(t, g, "id") != pid || str(t, g, "status") != "CREATED" {
		t.Errorf("get: %v", g)
	}
	e.do(t, "GET", path, srv, nil).wantCard(t, http.StatusOK)
	v2 := e.do(t, "GET", v2Path(pid), srv, nil).wantCard(t, http.StatusOK)
	if str(t, v2, "account.id") != acct || str(t, v2, "customer.id") != cust {
		t.Errorf("v2 read: %v", v2)
	}

	a := e.do(t, "PUT", path+"/activate", acc, nil).wantCard(t, http.StatusOK)
	if str(t, a, "status") != "NORMAL" {
		t.Errorf("activated card status %q, want NORMAL", str(t, a, "status"))
	}
	e.do(t, "PUT", path+"/activate", acc, nil).wantConflict(t, "NORMAL", "")

	s := e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "BLOCKED"}).wantCard(t, http.StatusOK)
	if str(t, s, "status") != "BLOCKED" || str(t, s, "previous_status") != "NORMAL" {
		t.Errorf("status update: %v", s)
	}
	e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "INOPERATIVE"}).wantConflict(t, "BLOCKED", "INOPERATIVE")

	// Setting the status a card has succeeds and emits nothing (SPEC 2).
	before := len(eventsOf(t, e.allEvents(t, srv), "update-1", pid))
	s = e.do(t, "PUT", path+"/status", srv, map[string]any{"status": "BLOCKED"}).wantCard(t, http.StatusOK)
	if str(t, s, "status") != "BLOCKED" {
		t.Errorf("same-status update: %v", s)
	}
	if after := len(eventsOf(t, e.allEvents(t, srv), "update-1", pid)); after != before {
		t.Errorf("same-status update emitted %d update-1 events", after-before)
	}

	e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "CANCELED"}).wantCard(t, http.StatusOK)
	e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "NORMAL"}).wantConflict(t, "CANCELED", "NORMAL")
	e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "BLOCKED"}).wantConflict(t, "CANCELED", "BLOCKED")
	e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "LOST"}).wantCard(t, http.StatusOK)

	// The card's events: one per change, typed and versioned (SPEC 7.1).
	evs := e.allEvents(t, srv)
	created := eventsOf(t, evs, "create-1", pid)
	updated := eventsOf(t, evs, "update-1", pid)
	if len(created) != 1 || len(updated) != 4 {
		t.Fatalf("card %d: %d create-1 and %d update-1 events, want 1 and 4", pid, len(created), len(updated))
	}
	wantStatus := []string{"CREATED", "NORMAL", "BLOCKED", "CANCELED", "LOST"}
	for i, ev := range append(created, updated...) {
		d := ev.data
		if integer(t, d, "version") != int64(i+1) || str(t, d, "card_status") != wantStatus[i] ||
			str(t, d, "card_type") != "PLASTIC" || integer(t, d, "program_id") != 1 ||
			str(t, d, "account_id") != acct || str(t, d, "customer_id") != cust {
			t.Errorf("event %d of card %d: %v", i, pid, ev.raw)
		}
		if ev.org != org || str(t, ev.raw, "domain") != "cards" || str(t, ev.raw, "cid") == "" {
			t.Errorf("event envelope: %v", ev.raw)
		}
		if _, err := time.Parse(time.RFC3339, str(t, ev.raw, "timestamp")); err != nil {
			t.Errorf("event timestamp: %v", err)
		}
	}

	// VIRTUAL cards start NORMAL; activation is for CREATED PLASTIC cards only.
	v := e.createCard(t, acc, acct, cust, virtual("Travel"))
	vid := integer(t, v, "id")
	if str(t, v, "status") != "NORMAL" || str(t, v, "type") != "VIRTUAL" || str(t, v, "name") != "Travel" {
		t.Errorf("VIRTUAL card: %v", v)
	}
	vpath := cardPath(cust, acct, vid)
	m := e.do(t, "PUT", vpath+"/activate", acc, nil).wantErr(t, http.StatusConflict, "")
	absent(t, m, "requested_status")
	e.do(t, "PUT", vpath+"/status", acc, map[string]any{"status": "INOPERATIVE"}).wantConflict(t, "NORMAL", "INOPERATIVE")

	// The alias is unique among the customer's VIRTUAL cards.
	r := e.do(t, "POST", "/wallet/v2/cards", acc, virtual("Travel"), "x-account-id", acct, "x-customer-id", cust)
	absent(t, r.wantErr(t, http.StatusConflict, ""), "requested_status")
	e.createCard(t, srv, otherAcc, otherCus, virtual("Travel"))

	for _, typ := range []string{"TEMPORARY", "RECURRING"} {
		c := e.createCard(t, srv, acct, cust, map[string]any{"type": typ, "name": "Short " + typ})
		if str(t, c, "status") != "NORMAL" || str(t, c, "type") != typ {
			t.Errorf("%s card: %v", typ, c)
		}
	}
}

// testValidation: the 400s of the card routes (SPEC 7.1).
func (e *env) testValidation(t *testing.T) {
	srv, acc := tokens(t, "o-valid")
	id := integer(t, e.createCard(t, srv, acct, cust, virtual("Valid")), "id")
	path := cardPath(cust, acct, id)
	create := func(tok string, body any, hdr ...string) answer {
		return e.do(t, "POST", "/wallet/v2/cards", tok, body, hdr...)
	}
	ids := []string{"x-account-id", acct, "x-customer-id", cust}

	t.Run("malformed JSON", func(t *testing.T) {
		create(acc, `{"type":`, ids...).wantErr(t, http.StatusBadRequest, "")
		create(acc, `not json`, ids...).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", path+"/status", acc, `{"status":"BLOCKED"`).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", path+"/reissue", acc, `[`).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", "/wallet/v1/reissue-reasons", srv, `{"description":`).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", "/cards/v1/bulks", srv, `{"external_ids":["a"`).wantErr(t, http.StatusBadRequest, "")
	})
	t.Run("wrong types", func(t *testing.T) {
		create(acc, map[string]any{"type": 5, "name": "x", "cvv_rotation_interval_hours": 0}, ids...).wantErr(t, http.StatusBadRequest, "")
		create(acc, map[string]any{"type": "VIRTUAL", "name": 12, "cvv_rotation_interval_hours": 0}, ids...).wantErr(t, http.StatusBadRequest, "")
		create(acc, map[string]any{"type": "VIRTUAL", "name": "x", "cvv_rotation_interval_hours": "24"}, ids...).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", path+"/status", acc, map[string]any{"status": 5}).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", path+"/status", acc, `["BLOCKED"]`).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", path+"/reissue", acc, map[string]any{"reason_id": "one"}).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": "a"}).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", "/wallet/v1/reissue-reasons", srv, map[string]any{
			"description": "Broken", "type": "BROKEN", "must_block": "no", "must_charge": false, "cost": 1, "enabled": true,
		}).wantErr(t, http.StatusBadRequest, "")
	})
	t.Run("unknown enum", func(t *testing.T) {
		create(acc, map[string]any{"type": "GOLD", "name": "x"}, ids...).wantErr(t, http.StatusBadRequest, "type")
		create(acc, map[string]any{"type": "VIRTUAL", "name": "x", "mode": "GOLD", "cvv_rotation_interval_hours": 0}, ids...).wantErr(t, http.StatusBadRequest, "mode")
		e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "PAUSED"}).wantErr(t, http.StatusBadRequest, "status")
		e.do(t, "PUT", path+"/status", acc, map[string]any{"status": "normal"}).wantErr(t, http.StatusBadRequest, "status")
	})
	t.Run("validity on TEMPORARY", func(t *testing.T) {
		for _, typ := range []string{"TEMPORARY", "RECURRING"} {
			create(acc, map[string]any{"type": typ, "name": "Tmp", "validity_period_hours": 24}, ids...).
				wantErr(t, http.StatusBadRequest, "validity_period_hours")
		}
	})
	t.Run("field rules", func(t *testing.T) {
		for _, c := range []struct {
			field string
			body  map[string]any
		}{
			{"printed_name", map[string]any{"type": "PLASTIC", "name": "P", "printed_name": "R2 D2"}},
			{"printed_name", map[string]any{"type": "PLASTIC", "name": "P", "printed_name": "J"}},
			{"name", map[string]any{"type": "VIRTUAL", "name": strings.Repeat("n", 51), "cvv_rotation_interval_hours": 0}},
			{"metadata", map[string]any{"type": "VIRTUAL", "name": "M", "cvv_rotation_interval_hours": 0, "metadata": []int{1}}},
			{"metadata", map[string]any{"type": "VIRTUAL", "name": "M", "cvv_rotation_interval_hours": 0, "metadata": map[string]string{"k": strings.Repeat("m", 3200)}}},
			{"pin_length", map[string]any{"type": "PLASTIC", "name": "P", "pin_length": 5}},
			{"cvv_rotation_interval_hours", map[string]any{"type": "VIRTUAL", "name": "NoCVV"}},
			{"transaction_limit", map[string]any{"type": "VIRTUAL", "name": "L", "cvv_rotation_interval_hours": 0, "transaction_limit": "ten"}},
			{"embossing_group", map[string]any{"type": "PLASTIC", "name": "P", "embossing_group": "E"}},
			{"embossing_custom_field", map[string]any{"type": "PLASTIC", "name": "P", "embossing_custom_field": strings.Repeat("e", 1001)}},
		} {
			create(acc, c.body, ids...).wantErr(t, http.StatusBadRequest, c.field)
		}
		// Idempotency keys are at most 36 characters (SPEC 3).
		create(acc, virtual("Long key"), append(ids, "x-idempotency-key", strings.Repeat("k", 37))...).
			wantErr(t, http.StatusBadRequest, "")
		reason := e.createReason(t, srv, "Broken", false, true)
		e.do(t, "POST", path+"/reissue", acc, map[string]any{"reason_id": reason}, "x-idempotency-key", strings.Repeat("k", 37)).
			wantErr(t, http.StatusBadRequest, "")
		if s := e.status(t, path, acc); s != "NORMAL" {
			t.Errorf("card status %s after a refused reissue, want NORMAL", s)
		}
		// What the rules allow: an explicit yymm expiration wins; a
		// validity period on a VIRTUAL card sets valid_until.
		c := e.createCard(t, acc, acct, cust, map[string]any{
			"type": "VIRTUAL", "name": "Dated", "cvv_rotation_interval_hours": 0, "expiration_date": "3001",
			"validity_period_hours": 48, "metadata": map[string]string{"k": "v"}, "pin_length": 6,
		})
		if str(t, c, "expiration_date") != "3001" || str(t, c, "valid_until") == "" || str(t, c, "metadata.k") != "v" {
			t.Errorf("card with explicit expiration and validity: %v", c)
		}
	})
	t.Run("path ids", func(t *testing.T) {
		for _, p := range []string{
			cardPath(cust, acct, "abc"), cardPath(cust, acct, "1x"), cardPath(cust, "abc", id),
			cardPath(cust, "4.2", id), cardPath("abc", acct, id), cardPath("-", acct, id),
		} {
			e.do(t, "GET", p, srv, nil).wantErr(t, http.StatusBadRequest, "")
			e.do(t, "PUT", p+"/status", srv, map[string]any{"status": "BLOCKED"}).wantErr(t, http.StatusBadRequest, "")
			e.do(t, "PUT", p+"/activate", srv, nil).wantErr(t, http.StatusBadRequest, "")
			e.do(t, "POST", p+"/reissue", srv, map[string]any{"reason_id": 1}).wantErr(t, http.StatusBadRequest, "")
		}
		e.do(t, "GET", v2Path("abc"), srv, nil).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "PUT", v2Path("abc")+"/noname/bind", srv, `{}`, "x-account-id", acct, "x-customer-id", cust).wantErr(t, http.StatusBadRequest, "")
		e.do(t, "POST", v2Path("abc")+"/noname/bind", srv, `{}`, "x-account-id", acct, "x-customer-id", cust).wantErr(t, http.StatusBadRequest, "")
	})
	t.Run("account headers", func(t *testing.T) {
		create(srv, virtual("NoAccount"), "x-customer-id", cust).wantErr(t, http.StatusBadRequest, "")
		create(srv, virtual("BadAccount"), "x-account-id", "abc", "x-customer-id", cust).wantErr(t, http.StatusBadRequest, "")
		create(srv, virtual("BadCustomer"), "x-account-id", acct, "x-customer-id", "abc").wantErr(t, http.StatusBadRequest, "")
	})
}

// testCreateIdempotency: a create key replays the first answer; another
// request under the key is 409; the key is scoped to the account (SPEC 7.1).
func (e *env) testCreateIdempotency(t *testing.T) {
	const org = "o-idem"
	srv, acc := tokens(t, org)
	create := func(tok, account, customer string, body any) answer {
		return e.do(t, "POST", "/wallet/v2/cards", tok, body,
			"x-account-id", account, "x-customer-id", customer, "x-idempotency-key", "key-1")
	}
	first := create(acc, acct, cust, virtual("Idem"))
	c := first.wantCard(t, http.StatusCreated)
	again := create(acc, acct, cust, virtual("Idem"))
	if again.status != http.StatusCreated || !bytes.Equal(again.raw, first.raw) {
		t.Errorf("replay: got %s, want 201 %s", again, first.raw)
	}
	create(acc, acct, cust, virtual("Other")).wantErr(t, http.StatusConflict, "")
	create(acc, acct, otherCus, virtual("Idem")).wantErr(t, http.StatusConflict, "")
	// Another account: another scope, a new card.
	n := create(srv, otherAcc, otherCus, virtual("Idem")).wantCard(t, http.StatusCreated)
	if integer(t, n, "id") == integer(t, c, "id") {
		t.Errorf("the key of account %s replayed account %s's card", acct, otherAcc)
	}

	// Another org, another route: other scopes.
	o := create(serverTok(t, "o-idem-other"), acct, cust, virtual("Idem")).wantCard(t, http.StatusCreated)
	if str(t, o, "org.id") != "o-idem-other" {
		t.Errorf("the key of org %s replayed into another org: %v", org, o)
	}
	reason := e.createReason(t, srv, "Damaged", false, true)
	re := e.do(t, "POST", cardPath(cust, acct, integer(t, c, "id"))+"/reissue", acc, map[string]any{"reason_id": reason},
		"x-idempotency-key", "key-1")
	re.wantCode(t, http.StatusOK)
	if integer(t, re.obj(t), "id") == integer(t, c, "id") {
		t.Errorf("reissue under the create key answered the created card: %s", re)
	}

	// One card and one event for the key in account 42, PLASTIC too.
	p1 := e.do(t, "POST", "/wallet/v2/cards", srv, plastic(), "x-account-id", acct, "x-customer-id", cust, "x-idempotency-key", "key-2")
	p2 := e.do(t, "POST", "/wallet/v2/cards", srv, plastic(), "x-account-id", acct, "x-customer-id", cust, "x-idempotency-key", "key-2")
	p1.wantCard(t, http.StatusCreated)
	if p2.status != http.StatusCreated || !bytes.Equal(p1.raw, p2.raw) {
		t.Errorf("PLASTIC replay: got %s, want 201 %s", p2, p1.raw)
	}
	var made int
	for _, ev := range e.allEvents(t, srv) {
		if ev.typ == "create-1" && str(t, ev.data, "account_id") == acct {
			made++
		}
	}
	if made != 3 {
		t.Errorf("%d create-1 events for account %s, want 3 (one per key, one for the reissue)", made, acct)
	}
}
