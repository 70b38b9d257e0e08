package reissue_test

import (
	"fmt"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/reissue"
)

const racers = 16

// race runs req from racers goroutines released at once and returns their
// results, failing on any error.
func race(t *testing.T, e *cardtest.Env, req reissue.Request) []reissue.Result {
	t.Helper()
	results := make([]reissue.Result, racers)
	errs := cardtest.Race(racers, func(g int) (err error) {
		results[g], err = e.Reissue.Reissue(t.Context(), req)
		return err
	})
	for g, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", g, err)
		}
	}
	return results
}

// TestConcurrentReissues has 16 goroutines reissue one card at once, for
// each kind of old-card outcome: exactly one successor is made, every
// caller gets it, and the outbox holds its one create-1 and at most one
// update-1 for the old card.
func TestConcurrentReissues(t *testing.T) {
	cases := []struct {
		typ       card.Type
		status    card.Status
		mustBlock bool
		want      card.Status // the old card's status after
	}{
		{card.Plastic, card.Normal, false, card.Reissued},
		{card.Plastic, card.Normal, true, card.Canceled},
		{card.Plastic, card.Blocked, false, card.Blocked},
		{card.Virtual, card.Normal, false, card.Canceled},
		{card.Temporary, card.Lost, true, card.Lost},
	}
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		for i, tc := range cases {
			t.Run(fmt.Sprintf("%s %s must_block=%t", tc.typ, tc.status, tc.mustBlock), func(t *testing.T) {
				orgID := fmt.Sprintf("race-%d", i)
				old := stored(orgID, tc.typ, tc.status, i)
				e.Insert(t, &old)
				reason := newReason(t, e, orgID, tc.mustBlock)
				results := race(t, e, reissue.Request{OrgID: orgID, CardID: old.ID, ReasonID: reason.ID})
				existing := 0
				for g, r := range results {
					if r.New.ID != results[0].New.ID || r.New.ReissuedCardID != old.ID {
						t.Fatalf("goroutine %d got successor %d (of %d), goroutine 0 got %d", g, r.New.ID, r.New.ReissuedCardID, results[0].New.ID)
					}
					if r.Existing {
						existing++
					}
				}
				if existing != racers-1 {
					t.Fatalf("%d callers were told the successor already existed, want %d", existing, racers-1)
				}
				checkOneSuccessor(t, e, orgID, old, results[0].New.ID, tc.want)
			})
		}
	})
}

// checkOneSuccessor fails unless old has exactly the successor succ, old
// is in status want, and the outbox holds succ's create-1 and, only when
// old's status changed, one update-1 for it.
func checkOneSuccessor(t *testing.T, e *cardtest.Env, orgID string, old card.Card, succ int64, want card.Status) {
	t.Helper()
	if n := e.CountCards(t, orgID); n != 2 {
		t.Fatalf("the org has %d cards, want the old one and one successor", n)
	}
	if got := e.Card(t, orgID, succ); got.ReissuedCardID != old.ID || got.Version != 1 {
		t.Fatalf("successor %+v", got)
	}
	o := e.Card(t, orgID, old.ID)
	if o.Status != want {
		t.Fatalf("the old card is %s, want %s", o.Status, want)
	}
	updates := 0
	if want != old.Status {
		updates = 1
	}
	evs := e.WantEvents(t, orgID, 1+updates).ByCard()
	cardtest.WantTypes(t, succ, evs[succ], events.CardCreated)
	if updates == 1 {
		cardtest.WantTypes(t, old.ID, evs[old.ID], events.CardUpdated)
		if o.Version != 2 || evs[old.ID][0].Card.Version != 2 {
			t.Fatalf("the old card is at version %d, its event at %d; want 2", o.Version, evs[old.ID][0].Card.Version)
		}
	}
}

// TestConcurrentReissuesWithOneKey has 16 goroutines send one keyed
// request at once: all get the same result, one of them made it.
func TestConcurrentReissuesWithOneKey(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		old := stored(org, card.Plastic, card.Normal, 1)
		e.Insert(t, &old)
		reason := newReason(t, e, org, false)
		req := reissue.Request{OrgID: org, CardID: old.ID, ReasonID: reason.ID, IdempotencyKey: "one-key",
			Options: reissue.Options{PrintedName: "MARY ANN"}}
		results := race(t, e, req)
		first := -1
		for g, r := range results {
			if !r.Existing {
				if first >= 0 {
					t.Fatalf("goroutines %d and %d both made a successor", first, g)
				}
				first = g
			}
		}
		if first < 0 {
			t.Fatal("no goroutine made the successor")
		}
		for g, r := range results {
			cardtest.SameCard(t, fmt.Sprintf("goroutine %d's new card", g), r.New, results[first].New)
			cardtest.SameCard(t, fmt.Sprintf("goroutine %d's old card", g), r.Old, results[first].Old)
		}
		if results[first].New.PrintedName != "MARY ANN" {
			t.Fatalf("the successor is named %q", results[first].New.PrintedName)
		}
		checkOneSuccessor(t, e, org, old, results[first].New.ID, card.Reissued)
	})
}
