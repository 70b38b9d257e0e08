package httpapi

import (
	"bytes"
	"net/http"
	"testing"
)

// testReissue: what a reissue does to the old card and its successor, by
// type and reason, and its idempotency key (SPEC 3, 7.1).
func (e *env) testReissue(t *testing.T) {
	srv, acc := tokens(t, "o-reissue")
	keep := e.createReason(t, srv, "Damaged", false, true)
	block := e.createReason(t, srv, "Stolen", true, true)
	off := e.createReason(t, srv, "Old reason", false, false)
	reissue := func(tok string, id int64, reason int64, hdr ...string) answer {
		return e.do(t, "POST", cardPath(cust, acct, id)+"/reissue", tok, map[string]any{"reason_id": reason}, hdr...)
	}

	// A NORMAL PLASTIC card reissued without must_block becomes REISSUED
	// and is canceled when its successor is activated.
	pid := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	e.do(t, "PUT", cardPath(cust, acct, pid)+"/activate", acc, nil).wantCode(t, http.StatusOK)
	n := reissue(acc, pid, keep).wantReissued(t)
	nid := integer(t, n, "id")
	if nid == pid || integer(t, n, "track_number") != 2 || str(t, n, "status") != "CREATED" || str(t, n, "type") != "PLASTIC" {
		t.Errorf("successor: %v", n)
	}
	if s := e.status(t, cardPath(cust, acct, pid), acc); s != "REISSUED" {
		t.Errorf("old card status %s, want REISSUED", s)
	}
	got := e.do(t, "GET", cardPath(cust, acct, nid), acc, nil).wantCard(t, http.StatusOK)
	if integer(t, got, "reissued_card_id") != pid || integer(t, got, "track_number") != 2 {
		t.Errorf("successor get: %v", got)
	}
	// Reissuing again returns the same successor, whatever the reason.
	for _, reason := range []int64{keep, block} {
		if again := reissue(srv, pid, reason).wantReissued(t); integer(t, again, "id") != nid {
			t.Errorf("second reissue made card %d, want the successor %d", integer(t, again, "id"), nid)
		}
	}
	evs := e.allEvents(t, srv)
	if c := eventsOf(t, evs, "create-1", nid); len(c) != 1 || integer(t, c[0].data, "reissued_card_id") != pid {
		t.Errorf("successor create-1 events: %v", c)
	}
	if u := eventsOf(t, evs, "update-1", pid); len(u) != 2 || str(t, u[1].data, "card_status") != "REISSUED" {
		t.Errorf("old card update-1 events: %v", u)
	}
	e.do(t, "PUT", cardPath(cust, acct, nid)+"/activate", acc, nil).wantCode(t, http.StatusOK)
	if s := e.status(t, cardPath(cust, acct, pid), acc); s != "CANCELED" {
		t.Errorf("old card status %s after the successor's activation, want CANCELED", s)
	}

	// A VIRTUAL card is canceled at once; must_block cancels a PLASTIC one.
	vid := integer(t, e.createCard(t, acc, acct, cust, virtual("Reissue me")), "id")
	if s := str(t, reissue(acc, vid, keep).wantReissued(t), "status"); s != "NORMAL" {
		t.Errorf("VIRTUAL successor status %s, want NORMAL", s)
	}
	if s := e.status(t, cardPath(cust, acct, vid), acc); s != "CANCELED" {
		t.Errorf("reissued VIRTUAL card %s, want CANCELED", s)
	}
	bid := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	reissue(acc, bid, block).wantReissued(t)
	if s := e.status(t, cardPath(cust, acct, bid), acc); s != "CANCELED" {
		t.Errorf("PLASTIC card reissued with must_block: %s, want CANCELED", s)
	}

	// Unknown or disabled reason: 400 naming reason_id.
	fresh := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	reissue(acc, fresh, 987654).wantErr(t, http.StatusBadRequest, "reason_id")
	reissue(acc, fresh, off).wantErr(t, http.StatusBadRequest, "reason_id")

	// UNBOUND, UNNUMBERED and DELETED cards are not reissued.
	del := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	e.do(t, "PUT", cardPath(cust, acct, del)+"/status", acc, map[string]any{"status": "DELETED"}).wantCode(t, http.StatusOK)
	reissue(acc, del, keep).wantConflict(t, "DELETED", "")

	// Idempotency key: replay, conflict with another request, scoped to the card.
	first := reissue(acc, fresh, keep, "x-idempotency-key", "rk-1")
	first.wantReissued(t)
	again := reissue(acc, fresh, keep, "x-idempotency-key", "rk-1")
	if again.status != http.StatusOK || !bytes.Equal(again.raw, first.raw) {
		t.Errorf("reissue replay: got %s, want 200 %s", again, first.raw)
	}
	reissue(acc, fresh, block, "x-idempotency-key", "rk-1").wantErr(t, http.StatusConflict, "")
	e.do(t, "POST", cardPath(cust, acct, fresh)+"/reissue", acc,
		map[string]any{"reason_id": keep, "printed_name": "Other Name"}, "x-idempotency-key", "rk-1").
		wantErr(t, http.StatusConflict, "")
	second := integer(t, e.createCard(t, acc, acct, cust, plastic()), "id")
	s := reissue(acc, second, keep, "x-idempotency-key", "rk-1").wantReissued(t)
	if integer(t, s, "id") == integer(t, first.obj(t), "id") {
		t.Errorf("key rk-1 on card %d replayed card %d's reissue", second, fresh)
	}
}
