package reissue_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/reissue"
)

func TestIdempotencyKey(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		a := stored(org, card.Plastic, card.Normal, 1)
		b := stored(org, card.Plastic, card.Normal, 2)
		e.Insert(t, &a, &b)
		reason := newReason(t, e, org, false)
		other := newReason(t, e, org, false)
		req := reissue.Request{OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1",
			Options: reissue.Options{PrintedName: "MARY ANN"}}
		first := mustReissue(t, e, req)
		if first.Existing {
			t.Fatal("the first request is Existing")
		}
		after := []card.Card{e.Card(t, org, a.ID), first.New, b}

		t.Run("replay", func(t *testing.T) {
			e.Clock.Advance(time.Hour)
			got := mustReissue(t, e, req)
			if !got.Existing {
				t.Fatal("a replay is not Existing")
			}
			cardtest.SameCard(t, "replayed new card", got.New, first.New)
			cardtest.SameCard(t, "replayed old card", got.Old, first.Old)
			unchanged(t, e, 2, after...)
		})
		t.Run("replay after the reason is disabled", func(t *testing.T) {
			if _, err := e.Reissue.UpdateReason(t.Context(), org, reason.ID, reissue.ReasonChange{Enabled: cardtest.Ptr(false)}); err != nil {
				t.Fatal(err)
			}
			got := mustReissue(t, e, req)
			cardtest.SameCard(t, "replayed new card", got.New, first.New)
			unchanged(t, e, 2, after...)
			if _, err := e.Reissue.UpdateReason(t.Context(), org, reason.ID, reissue.ReasonChange{Enabled: cardtest.Ptr(true)}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("same key, another request", func(t *testing.T) {
			for name, r := range map[string]reissue.Request{
				"other options":    {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "JOHN DOE"}},
				"no options":       {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1"},
				"other reason":     {OrgID: org, CardID: a.ID, ReasonID: other.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN"}},
				"other pin":        {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN", PINLength: 6}},
				"other metadata":   {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN", Metadata: json.RawMessage(`{}`)}},
				"other validity":   {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN", ValidityPeriodHours: 1}},
				"other expiration": {OrgID: org, CardID: a.ID, ReasonID: reason.ID, IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN", ExpirationDate: "3001"}},
			} {
				_, err := e.Reissue.Reissue(t.Context(), r)
				if !errors.Is(err, card.ErrConflict) {
					t.Fatalf("%s: %v, want a conflict", name, err)
				}
				unchanged(t, e, 2, after...)
			}
		})
		t.Run("same key, another request with a bad reason", func(t *testing.T) {
			// 400 comes before 409.
			_, err := e.Reissue.Reissue(t.Context(), reissue.Request{OrgID: org, CardID: a.ID, ReasonID: other.ID + 100, IdempotencyKey: "key-1"})
			cardtest.WantInvalid(t, err, "reason_id")
			unchanged(t, e, 2, after...)
		})
		t.Run("the key is scoped to the card", func(t *testing.T) {
			rb := req
			rb.CardID = b.ID
			got := mustReissue(t, e, rb)
			if got.Existing || got.New.ReissuedCardID != b.ID || got.New.ID == first.New.ID {
				t.Fatalf("the key on another card replayed: %+v", got)
			}
			evs := e.WantEvents(t, org, 4).ByCard()
			cardtest.WantTypes(t, got.New.ID, evs[got.New.ID], events.CardCreated)
			cardtest.WantTypes(t, b.ID, evs[b.ID], events.CardUpdated)
			// And replays there.
			again := mustReissue(t, e, rb)
			if !again.Existing || again.New.ID != got.New.ID {
				t.Fatalf("replay on the second card: %+v", again)
			}
			e.WantEvents(t, org, 4)
		})
		t.Run("the key is scoped to the org", func(t *testing.T) {
			c := stored("org-2", card.Plastic, card.Normal, 1)
			e.Insert(t, &c)
			got := mustReissue(t, e, reissue.Request{OrgID: "org-2", CardID: c.ID, ReasonID: newReason(t, e, "org-2", false).ID,
				IdempotencyKey: "key-1", Options: reissue.Options{PrintedName: "MARY ANN"}})
			if got.Existing || got.New.ReissuedCardID != c.ID {
				t.Fatalf("the key of another org replayed: %+v", got)
			}
		})
	})
}
