package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
)

// testBulks: a noname bulk from creation to cancel, the binding of its
// cards, and the events of each step (SPEC 4, 7.1).
func (e *env) testBulks(t *testing.T) {
	srv, acc := tokens(t, "o-bulk")

	create := e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": []string{"e1", "e2"}})
	b := create.wantBulk(t, http.StatusCreated, "CREATED", 2, map[string]int64{})
	id := str(t, b, "id")
	bpath := "/cards/v1/bulks/" + id
	// An increment before the start adds external ids, no cards.
	e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": []string{"e3"}}).wantBulk(t, http.StatusOK, "CREATED", 3, map[string]int64{})
	e.do(t, "GET", bpath, srv, nil).wantBulk(t, http.StatusOK, "CREATED", 3, map[string]int64{})
	e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": []string{"x", "y", "x"}}).
		wantErr(t, http.StatusBadRequest, "")

	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = "n" + strconv.Itoa(i)
	}
	e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": tooMany}).
		wantErr(t, http.StatusBadRequest, "")
	e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": tooMany}).wantErr(t, http.StatusBadRequest, "")
	e.do(t, "POST", "/cards/v1/bulks", srv, map[string]any{"program_id": 1, "external_ids": tooMany[:1000]}).
		wantBulk(t, http.StatusCreated, "CREATED", 1000, map[string]int64{})

	// Start: 202, and the cards and their events exist when it answers.
	e.do(t, "POST", bpath+"/start", srv, nil).wantCode(t, http.StatusAccepted)
	e.do(t, "GET", bpath, srv, nil).wantBulk(t, http.StatusOK, "STARTED", 3, map[string]int64{"UNBOUND": 3})
	e.do(t, "POST", bpath+"/start", srv, nil).wantErr(t, http.StatusConflict, "")

	// Increment: 200 with the bulk; a started bulk makes the cards at once.
	inc := e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": []string{"e4", "e5"}})
	inc.wantBulk(t, http.StatusOK, "STARTED", 5, map[string]int64{"UNBOUND": 5})
	e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": []string{"e6", "e6"}}).wantErr(t, http.StatusBadRequest, "")
	e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": []string{"e7", "e1"}}).wantErr(t, http.StatusConflict, "")
	e.do(t, "GET", bpath, srv, nil).wantBulk(t, http.StatusOK, "STARTED", 5, map[string]int64{"UNBOUND": 5})

	cardOf := map[string]int64{}
	for _, ev := range e.allEvents(t, srv) {
		if ev.typ != "create-1" {
			continue
		}
		if bid, _ := ev.data["bulk_id"].(string); bid == id {
			cardOf[str(t, ev.data, "external_id")] = integer(t, ev.data, "card_id")
			if str(t, ev.data, "card_status") != "UNBOUND" || str(t, ev.data, "card_type") != "PLASTIC" {
				t.Errorf("noname create-1: %v", ev.raw)
			}
		}
	}
	if len(cardOf) != 5 {
		t.Fatalf("create-1 events name %d cards of the bulk, want 5: %v", len(cardOf), cardOf)
	}

	// An UNBOUND card's body has no account and customer.
	r := e.do(t, "GET", v2Path(cardOf["e1"]), srv, nil)
	u := r.wantCard(t, http.StatusOK)
	absent(t, u, "account")
	absent(t, u, "customer")
	if str(t, u, "status") != "UNBOUND" || str(t, u, "type") != "PLASTIC" || str(t, u, "bulk_id") != id || str(t, u, "external_id") != "e1" {
		t.Errorf("UNBOUND card: %s", r)
	}

	// Bind: 202, visible at once, then 409.
	bind := func(method, tok string, cardID int64, body any) answer {
		return e.do(t, method, v2Path(cardID)+"/noname/bind", tok, body, "x-account-id", acct, "x-customer-id", cust)
	}
	bind("PUT", acc, cardOf["e2"], `{}`).wantCode(t, http.StatusAccepted)
	bound := e.do(t, "GET", v2Path(cardOf["e2"]), srv, nil).wantCard(t, http.StatusOK)
	if str(t, bound, "status") != "CREATED" || str(t, bound, "account.id") != acct || str(t, bound, "customer.id") != cust {
		t.Errorf("bound card: %v", bound)
	}
	e.do(t, "GET", cardPath(cust, acct, cardOf["e2"]), acc, nil).wantCard(t, http.StatusOK)
	bind("POST", acc, cardOf["e2"], `{}`).wantConflict(t, "CREATED", "")
	bind("POST", srv, cardOf["e3"], `{}`).wantCode(t, http.StatusAccepted)

	// Bind replacing a card: the old card is reissued without must_block.
	old := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	e.do(t, "PUT", cardPath(cust, acct, old)+"/activate", acc, nil).wantCode(t, http.StatusOK)
	bind("PUT", acc, cardOf["e4"], map[string]any{"reissued_card_id": old}).wantCode(t, http.StatusAccepted)
	if s := e.status(t, v2Path(old), srv); s != "REISSUED" {
		t.Errorf("replaced card status %s, want REISSUED", s)
	}
	if rid := integer(t, e.do(t, "GET", v2Path(cardOf["e4"]), srv, nil).wantCard(t, http.StatusOK), "reissued_card_id"); rid != old {
		t.Errorf("bound card reissued_card_id %d, want %d", rid, old)
	}
	evs := e.allEvents(t, srv)
	for _, x := range []string{"e2", "e3", "e4"} {
		bc := eventsOf(t, evs, "bind_card-1", cardOf[x])
		if len(bc) != 1 || str(t, bc[0].data, "account_id") != acct || str(t, bc[0].data, "customer_id") != cust ||
			str(t, bc[0].data, "card_status") != "CREATED" {
			t.Errorf("bind_card-1 of %s: %v", x, bc)
		}
	}
	if u := eventsOf(t, evs, "update-1", old); len(u) != 2 || str(t, u[1].data, "card_status") != "REISSUED" {
		t.Errorf("replaced card update-1 events: %v", u)
	}

	// The replaced card must be of the same account and have no successor.
	elsewhere := integer(t, e.createCard(t, srv, otherAcc, otherCus, plastic()), "id")
	bind("PUT", srv, cardOf["e5"], map[string]any{"reissued_card_id": elsewhere}).wantErr(t, http.StatusConflict, "")
	bind("PUT", srv, cardOf["e5"], map[string]any{"reissued_card_id": old}).wantErr(t, http.StatusConflict, "")
	if s := e.status(t, v2Path(cardOf["e5"]), srv); s != "UNBOUND" {
		t.Errorf("card %d after refused binds: %s, want UNBOUND", cardOf["e5"], s)
	}

	// Cancel PARTIAL: the bulk stays STARTED; FULL: CANCELED; bound cards untouched.
	e.do(t, "POST", bpath+"/cancel", srv, map[string]any{"cancel_type": "PARTIAL", "external_ids": []string{"e5", "e2"}}).
		wantCode(t, http.StatusAccepted)
	e.do(t, "GET", bpath, srv, nil).wantBulk(t, http.StatusOK, "STARTED", 5, map[string]int64{"UNBOUND": 1, "CREATED": 3, "CANCELED": 1})
	e.do(t, "POST", bpath+"/cancel", srv, map[string]any{"cancel_type": "FULL"}).wantCode(t, http.StatusAccepted)
	e.do(t, "GET", bpath, srv, nil).wantBulk(t, http.StatusOK, "CANCELED", 5, map[string]int64{"CREATED": 3, "CANCELED": 2})
	if s := e.status(t, v2Path(cardOf["e1"]), srv); s != "CANCELED" {
		t.Errorf("UNBOUND card after FULL cancel: %s", s)
	}
	e.do(t, "POST", bpath+"/cancel", srv, map[string]any{"cancel_type": "FULL"}).wantErr(t, http.StatusConflict, "")
	e.do(t, "POST", bpath+"/start", srv, nil).wantErr(t, http.StatusConflict, "")
	e.do(t, "PUT", bpath, srv, map[string]any{"external_ids": []string{"e9"}}).wantErr(t, http.StatusConflict, "")
	bind("PUT", srv, cardOf["e1"], `{}`).wantConflict(t, "CANCELED", "")

	var cancels []feedItem
	evs = e.allEvents(t, srv)
	for _, ev := range evs {
		if ev.typ == "noname_cancellation-1" {
			cancels = append(cancels, ev)
		}
	}
	want := []struct {
		typ  string
		card int64
	}{{"PARTIAL", cardOf["e5"]}, {"FULL", cardOf["e1"]}}
	if len(cancels) != len(want) {
		t.Fatalf("%d noname_cancellation-1 events, want 2", len(cancels))
	}
	for i, w := range want {
		d := cancels[i].data
		ids, _ := d["card_ids"].([]any)
		if str(t, d, "bulk_id") != id || str(t, d, "cancel_type") != w.typ || len(ids) != 1 || !isInteger(ids[0]) {
			t.Errorf("noname_cancellation-1 %d: %v", i, cancels[i].raw)
			continue
		}
		if got, _ := strconv.ParseInt(ids[0].(json.Number).String(), 10, 64); got != w.card {
			t.Errorf("noname_cancellation-1 %d names card %d, want %d", i, got, w.card)
		}
		if u := eventsOf(t, evs, "update-1", w.card); len(u) != 1 || str(t, u[0].data, "card_status") != "CANCELED" {
			t.Errorf("update-1 of canceled card %d: %v", w.card, u)
		}
	}
}
