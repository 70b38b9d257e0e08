package reissue_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/reissue"
)

// SPEC section 3, copied by hand with the names the spec spells: these
// lists are the test's own, not derived from the library.
const (
	specNotReissued  = "UNBOUND UNNUMBERED DELETED"
	specTerminations = "LOST ROBBED THEFT CANCELED FRAUD DAMAGED EXPIRED DELETED BROKEN DEFECT"
)

func specIn(s card.Status, names string) bool {
	for _, n := range strings.Fields(names) {
		if n == s.String() {
			return true
		}
	}
	return false
}

// specOld is what SPEC section 3 says a reissue does to the old card:
// refused (a conflict) for UNBOUND, UNNUMBERED and DELETED; else kept when
// terminated; else CANCELED for VIRTUAL, TEMPORARY, RECURRING or with
// must_block; else (PLASTIC without must_block) REISSUED when NORMAL and
// kept otherwise.
func specOld(typ string, mustBlock bool, from card.Status) (refused bool, to string) {
	switch {
	case specIn(from, specNotReissued):
		return true, from.String()
	case specIn(from, specTerminations):
		return false, from.String()
	case typ != "PLASTIC" || mustBlock:
		return false, "CANCELED"
	case from.String() == "NORMAL":
		return false, "REISSUED"
	}
	return false, from.String()
}

// specNewStatus is the status a new card of typ starts in (SPEC section 2,
// program 1).
func specNewStatus(typ string) string {
	if typ == "PLASTIC" {
		return "CREATED"
	}
	return "NORMAL"
}

// TestReissueScenarios reissues a card of every type, in every one of the
// 19 statuses, for a reason with and without must_block, and checks the
// old card, the new card and the outbox against SPEC section 3. Each case
// works in an org of its own, so its catalogue, cards and events are apart.
func TestReissueScenarios(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		n := 0
		for _, typ := range card.Types() {
			for _, mustBlock := range []bool{false, true} {
				for _, from := range card.Statuses() {
					n++
					orgID := fmt.Sprintf("scenario-%d", n)
					t.Run(fmt.Sprintf("%s/must_block=%t/%s", typ, mustBlock, from), func(t *testing.T) {
						scenario(t, e, orgID, typ, mustBlock, from)
					})
				}
			}
		}
	})
}

func scenario(t *testing.T, e *env, orgID string, typ card.Type, mustBlock bool, from card.Status) {
	reason := newReason(t, e, orgID, mustBlock)
	old := stored(orgID, typ, from, 1)
	insert(t, e.store, &old)
	before := mustGet(t, e, orgID, old.ID)

	res, err := e.reissue.Reissue(t.Context(), reissue.Request{OrgID: orgID, CardID: old.ID, ReasonID: reason.ID})

	refused, wantOld := specOld(typ.String(), mustBlock, from)
	if refused {
		var ce *card.ConflictError
		wantConflict(t, err)
		if errors.As(err, &ce); ce.CardID != old.ID || ce.Status != from || ce.Operation == "" {
			t.Fatalf("the conflict names card %d in %s (operation %q), want card %d in %s", ce.CardID, ce.Status, ce.Operation, old.ID, from)
		}
		if n := countCards(t, e, orgID); n != 1 {
			t.Fatalf("a refused reissue left %d cards", n)
		}
		sameCard(t, "the refused card", mustGet(t, e, orgID, old.ID), before)
		wantEvents(t, e, orgID, 0)
		return
	}
	if err != nil {
		t.Fatalf("reissue: %v", err)
	}
	if res.Existing {
		t.Fatal("a first reissue says Existing")
	}

	// The old card.
	gotOld := mustGet(t, e, orgID, old.ID)
	sameCard(t, "the result's old card", res.Old, gotOld)
	changed := wantOld != from.String()
	if gotOld.Status.String() != wantOld {
		t.Fatalf("old card: %s, want %s", gotOld.Status, wantOld)
	}
	if changed {
		if gotOld.PreviousStatus != from || gotOld.Version != 2 {
			t.Fatalf("old card: previous %s version %d, want %s and 2", gotOld.PreviousStatus, gotOld.Version, from)
		}
	} else {
		sameCard(t, "the unchanged old card", gotOld, before)
	}

	// The new card.
	if n := countCards(t, e, orgID); n != 2 {
		t.Fatalf("the org has %d cards after a reissue, want 2", n)
	}
	next := mustGet(t, e, orgID, res.New.ID)
	sameCard(t, "the result's new card", res.New, next)
	if next.ID == old.ID || next.Type != typ || next.AccountID != old.AccountID || next.CustomerID != old.CustomerID ||
		next.ProgramID != old.ProgramID || next.Mode != old.Mode || next.Name != old.Name {
		t.Fatalf("new card %+v does not match the old %+v in type, account, customer, program, mode or name", next, old)
	}
	if next.Status.String() != specNewStatus(typ.String()) || !next.PreviousStatus.IsZero() {
		t.Fatalf("new card: %s (previous %s), want %s", next.Status, next.PreviousStatus, specNewStatus(typ.String()))
	}
	if next.TrackNumber != old.TrackNumber+1 || next.ReissuedCardID != old.ID || next.Version != 1 {
		t.Fatalf("new card: track %d reissued_card_id %d version %d; want %d, %d, 1",
			next.TrackNumber, next.ReissuedCardID, next.Version, old.TrackNumber+1, old.ID)
	}
	if !next.IssuingDate.Equal(t0) {
		t.Fatalf("new card issued %v, want %v", next.IssuingDate, t0)
	}

	// The events: Card updated for the old card when its status changed,
	// Card created for the new one, nothing else.
	want := 1
	if changed {
		want = 2
	}
	evs := wantEvents(t, e, orgID, want)
	created := evs[next.ID]
	wantTypes(t, next.ID, created, events.CardCreated)
	d := created[0].data
	if d.ReissuedCardID != old.ID || d.TrackNumber != old.TrackNumber+1 || d.Version != 1 ||
		d.CardStatus != next.Status.String() || d.CardType != typ.String() ||
		d.AccountID != old.AccountID || d.CustomerID != old.CustomerID || d.ProgramID != old.ProgramID {
		t.Fatalf("create-1 data %+v does not describe the new card %+v", d, next)
	}
	if !changed {
		if len(evs[old.ID]) != 0 {
			t.Fatalf("the unchanged old card has events: %v", evs[old.ID])
		}
		return
	}
	updated := evs[old.ID]
	wantTypes(t, old.ID, updated, events.CardUpdated)
	if u := updated[0].data; u.CardStatus != wantOld || u.CardPreviousStatus != from.String() || u.Version != 2 || u.TrackNumber != old.TrackNumber {
		t.Fatalf("update-1 data %+v, want %s from %s at version 2", u, wantOld, from)
	}
	if updated[0].CID != created[0].CID {
		t.Fatalf("one reissue's events carry two correlation ids: %s and %s", updated[0].CID, created[0].CID)
	}
}
