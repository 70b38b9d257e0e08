package reissue_test

import (
	"fmt"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/internal/spec"
	"github.com/cardcore/cardcore/reissue"
)

// TestReissueScenarios reissues a card of every type, in every one of the
// 19 statuses, for a reason with and without must_block, and checks the
// old card, the new card and the outbox against SPEC section 3 (package
// spec). Each case works in an org of its own, so its catalogue, cards and
// events are apart.
func TestReissueScenarios(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
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

func scenario(t *testing.T, e *cardtest.Env, orgID string, typ card.Type, mustBlock bool, from card.Status) {
	reason := newReason(t, e, orgID, mustBlock)
	old := stored(orgID, typ, from, 1)
	e.Insert(t, &old)
	before := e.Card(t, orgID, old.ID)

	res, err := e.Reissue.Reissue(t.Context(), reissue.Request{OrgID: orgID, CardID: old.ID, ReasonID: reason.ID})

	refused, wantOld := spec.ReissueOld(typ.String(), mustBlock, from)
	if refused {
		if ce := cardtest.WantConflict(t, err, "reissue"); ce.CardID != old.ID || ce.Status != from || ce.Operation == "" {
			t.Fatalf("the conflict names card %d in %s (operation %q), want card %d in %s", ce.CardID, ce.Status, ce.Operation, old.ID, from)
		}
		if n := e.CountCards(t, orgID); n != 1 {
			t.Fatalf("a refused reissue left %d cards", n)
		}
		cardtest.SameCard(t, "the refused card", e.Card(t, orgID, old.ID), before)
		e.WantEvents(t, orgID, 0)
		return
	}
	if err != nil {
		t.Fatalf("reissue: %v", err)
	}
	if res.Existing {
		t.Fatal("a first reissue says Existing")
	}

	// The old card.
	gotOld := e.Card(t, orgID, old.ID)
	cardtest.SameCard(t, "the result's old card", res.Old, gotOld)
	changed := wantOld != from.String()
	if gotOld.Status.String() != wantOld {
		t.Fatalf("old card: %s, want %s", gotOld.Status, wantOld)
	}
	if changed {
		if gotOld.PreviousStatus != from || gotOld.Version != 2 {
			t.Fatalf("old card: previous %s version %d, want %s and 2", gotOld.PreviousStatus, gotOld.Version, from)
		}
	} else {
		cardtest.SameCard(t, "the unchanged old card", gotOld, before)
	}

	// The new card.
	if n := e.CountCards(t, orgID); n != 2 {
		t.Fatalf("the org has %d cards after a reissue, want 2", n)
	}
	next := e.Card(t, orgID, res.New.ID)
	cardtest.SameCard(t, "the result's new card", res.New, next)
	if next.ID == old.ID || next.Type != typ || next.AccountID != old.AccountID || next.CustomerID != old.CustomerID ||
		next.ProgramID != old.ProgramID || next.Mode != old.Mode || next.Name != old.Name {
		t.Fatalf("new card %+v does not match the old %+v in type, account, customer, program, mode or name", next, old)
	}
	if next.Status.String() != spec.NewStatus(typ.String()) || !next.PreviousStatus.IsZero() {
		t.Fatalf("new card: %s (previous %s), want %s", next.Status, next.PreviousStatus, spec.NewStatus(typ.String()))
	}
	if next.TrackNumber != old.TrackNumber+1 || next.ReissuedCardID != old.ID || next.Version != 1 {
		t.Fatalf("new card: track %d reissued_card_id %d version %d; want %d, %d, 1",
			next.TrackNumber, next.ReissuedCardID, next.Version, old.TrackNumber+1, old.ID)
	}
	if !next.IssuingDate.Equal(cardtest.T0) {
		t.Fatalf("new card issued %v, want %v", next.IssuingDate, cardtest.T0)
	}

	// The events: Card updated for the old card when its status changed,
	// Card created for the new one, nothing else.
	want := 1
	if changed {
		want = 2
	}
	evs := e.WantEvents(t, orgID, want).ByCard()
	created := evs[next.ID]
	cardtest.WantTypes(t, next.ID, created, events.CardCreated)
	d := created[0].Card
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
	cardtest.WantTypes(t, old.ID, updated, events.CardUpdated)
	if u := updated[0].Card; u.CardStatus != wantOld || u.CardPreviousStatus != from.String() || u.Version != 2 || u.TrackNumber != old.TrackNumber {
		t.Fatalf("update-1 data %+v, want %s from %s at version 2", u, wantOld, from)
	}
	if updated[0].CID != created[0].CID {
		t.Fatalf("one reissue's events carry two correlation ids: %s and %s", updated[0].CID, created[0].CID)
	}
}
