package reissue_test

import (
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/reissue"
)

func TestActivateSuccessor(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		keep := newReason(t, e, org, false)
		activate := func(t *testing.T, id int64) card.Card {
			t.Helper()
			c, err := e.Cards.Activate(t.Context(), org, id)
			if err != nil {
				t.Fatalf("activate %d: %v", id, err)
			}
			return c
		}
		// start inserts an old PLASTIC card in status, reissues it without
		// must_block and checks the old card is then in status after.
		start := func(t *testing.T, status, after card.Status) (old, next card.Card) {
			t.Helper()
			old = plastic(t, e, status)
			res := mustReissue(t, e, reissue.Request{OrgID: org, CardID: old.ID, ReasonID: keep.ID})
			if res.Old.Status != after || res.New.Status != card.Created {
				t.Fatalf("reissue of %s: old %s, new %s; want %s and CREATED", status, res.Old.Status, res.New.Status, after)
			}
			return res.Old, res.New
		}
		t.Run("REISSUED predecessor", func(t *testing.T) {
			old, next := start(t, card.Normal, card.Reissued)
			e.Clock.Advance(time.Hour)
			got := activate(t, next.ID)
			if got.Status != card.Normal || !got.ActivationDate.Equal(e.Clock.Now()) {
				t.Fatalf("activated successor: %s at %v", got.Status, got.ActivationDate)
			}
			o := e.Card(t, org, old.ID)
			if o.Status != card.Canceled || o.PreviousStatus != card.Reissued || o.Version != 3 {
				t.Fatalf("predecessor: %s (previous %s) version %d; want CANCELED from REISSUED, version 3", o.Status, o.PreviousStatus, o.Version)
			}
			evs := e.Outbox(t, org).ByCard()
			cardtest.WantTypes(t, old.ID, evs[old.ID], events.CardUpdated, events.CardUpdated)
			if d := evs[old.ID][1].Card; d.CardStatus != "CANCELED" || d.CardPreviousStatus != "REISSUED" || d.Version != 3 {
				t.Fatalf("the predecessor's update-1: %+v", d)
			}
			cardtest.WantTypes(t, next.ID, evs[next.ID], events.CardCreated, events.CardUpdated)
			if evs[old.ID][1].CID != evs[next.ID][1].CID {
				t.Fatal("the activation and the predecessor's cancellation carry two correlation ids")
			}
		})
		t.Run("BLOCKED predecessor", func(t *testing.T) {
			old, next := start(t, card.Blocked, card.Blocked)
			if es := e.Outbox(t, org).ByCard()[old.ID]; len(es) != 0 {
				t.Fatalf("the kept BLOCKED card has events: %v", es)
			}
			if o := e.Card(t, org, old.ID); o.Status != card.Blocked || o.Version != 1 {
				t.Fatalf("before activation the predecessor is %s version %d, want BLOCKED version 1", o.Status, o.Version)
			}
			activate(t, next.ID)
			o := e.Card(t, org, old.ID)
			if o.Status != card.Canceled || o.PreviousStatus != card.Blocked || o.Version != 2 {
				t.Fatalf("predecessor: %s (previous %s) version %d; want CANCELED from BLOCKED, version 2", o.Status, o.PreviousStatus, o.Version)
			}
			evs := e.Outbox(t, org).ByCard()
			cardtest.WantTypes(t, old.ID, evs[old.ID], events.CardUpdated)
			if d := evs[old.ID][0].Card; d.CardStatus != "CANCELED" || d.Version != 2 {
				t.Fatalf("the predecessor's update-1: %+v", d)
			}
		})
		for _, terminated := range []card.Status{card.Lost, card.Expired} {
			t.Run("terminated predecessor "+terminated.String(), func(t *testing.T) {
				old, next := start(t, terminated, terminated)
				activate(t, next.ID)
				cardtest.SameCard(t, "the terminated predecessor", e.Card(t, org, old.ID), old)
				if es := e.Outbox(t, org).ByCard()[old.ID]; len(es) != 0 {
					t.Fatalf("the terminated predecessor has events: %v", es)
				}
			})
		}
		t.Run("predecessor terminated after the reissue", func(t *testing.T) {
			old, next := start(t, card.Normal, card.Reissued)
			if _, err := e.Cards.UpdateStatus(t.Context(), org, old.ID, card.Theft); err != nil {
				t.Fatal(err)
			}
			theft := e.Card(t, org, old.ID)
			activate(t, next.ID)
			cardtest.SameCard(t, "the stolen predecessor", e.Card(t, org, old.ID), theft)
			cardtest.WantTypes(t, old.ID, e.Outbox(t, org).ByCard()[old.ID], events.CardUpdated, events.CardUpdated)
		})
	})
}
