package datasync_test

import (
	"context"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/storage/storagetest"
)

// Batches that create the same card at once make exactly one card: on
// PostgreSQL the losers of the race fail with a conflict (and would update
// the card if sent again); on SQLite, which has one writer, they find the
// card and change nothing.
func TestConcurrentCreatesMakeOneCard(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		const writers = 8
		errs := cardtest.Race(writers, func(int) error {
			_, err := e.Sync.Apply(context.Background(), batch(open("2345")))
			return err
		})
		if storagetest.Succeeded(t, "concurrent create", errs) == 0 {
			t.Error("no concurrent create succeeded")
		}
		if n := e.CountCards(t, org); n != 1 {
			t.Errorf("%d cards, want 1", n)
		}
		evs := e.Outbox(t, org)
		if len(evs) != 1 || evs[0].Type != events.CardCreated {
			t.Errorf("%d events, want one create-1", len(evs))
		}
		mustApply(t, e, batch(closing("2345")))
		if c := mustSynced(t, e, "2345"); c.Status != card.Canceled || c.Version != 2 {
			t.Errorf("after the race the card is %s at version %d, want CANCELED at 2", c.Status, c.Version)
		}
	})
}
