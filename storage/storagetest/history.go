package storagetest

import (
	"context"
	"errors"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// A card's history (Store.CardEvents, SPEC 10.5).
var historyChecks = []check{
	{"VersionOrderPagingAndScope", historyVersionOrder},
	{"UncommittedEventsAreNotInTheHistory", historyCommittedOnly},
	{"RefusesBadArguments", historyBadArguments},
}

// cardHistory reads the history of card id of org, failing the test on an
// error.
func cardHistory(t *testing.T, s storage.Store, org string, id, after int64, limit int) []events.Event {
	t.Helper()
	evs, err := s.CardEvents(t.Context(), org, id, after, limit)
	if err != nil {
		t.Fatalf("CardEvents(%s, %d, %d, %d): %v", org, id, after, limit, err)
	}
	return evs
}

// A card's events come back in version order, after the version asked
// for, at most limit of them, with the Seq the feed gives them; another
// card's events and another org's are not among them.
func historyVersionOrder(t *testing.T, s storage.Store) {
	const other = cardOfA + 1
	var want []events.Event
	for v := range int64(5) {
		ea := newEvent(orgA, cardOfA, v+1)
		eo := newEvent(orgA, other, v+1)
		eb := newEvent(orgB, cardOfA, v+1) // same id, another org
		update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, eo, ea, eb) })
		want = append(want, ea)
	}
	got := cardHistory(t, s, orgA, cardOfA, 0, 100)
	mustEqualEvents(t, "CardEvents of the card", want, got)
	feed := feedAll(t, s, orgA, 0, 100)
	seqs := map[string]int64{}
	for _, e := range feed {
		seqs[e.ID] = e.Seq
	}
	for _, e := range got {
		if seqs[e.ID] != e.Seq {
			t.Errorf("CardEvents gave event %s Seq %d; the feed gives it %d", e.ID, e.Seq, seqs[e.ID])
		}
	}
	mustEqualEvents(t, "CardEvents after version 2, limit 2", want[2:4], cardHistory(t, s, orgA, cardOfA, 2, 2))
	mustEqualEvents(t, "CardEvents after version 4", want[4:], cardHistory(t, s, orgA, cardOfA, 4, 2))
	if rest := cardHistory(t, s, orgA, cardOfA, 5, 10); len(rest) != 0 {
		t.Errorf("CardEvents after the last version = %d events; want none", len(rest))
	}
	if none := cardHistory(t, s, orgA, 999, 0, 10); len(none) != 0 {
		t.Errorf("CardEvents of a card with no event = %d events; want none", len(none))
	}
}

// Events of a transaction that rolled back are never in the history.
func historyCommittedOnly(t *testing.T, s storage.Store) {
	kept := newEvent(orgA, cardOfA, 1)
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, kept) })
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		if err := tx.Append(ctx, newEvent(orgA, cardOfA, 2)); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update = %v; want the rollback error", err)
	}
	mustEqualEvents(t, "CardEvents after a rollback", []events.Event{kept}, cardHistory(t, s, orgA, cardOfA, 0, 10))
}

// A limit below 1 or a negative version is invalid input.
func historyBadArguments(t *testing.T, s storage.Store) {
	for _, c := range []struct {
		after int64
		limit int
	}{{0, 0}, {0, -1}, {-1, 10}} {
		if _, err := s.CardEvents(t.Context(), orgA, cardOfA, c.after, c.limit); !errors.Is(err, card.ErrInvalid) {
			t.Errorf("CardEvents(after %d, limit %d) = %v; want card.ErrInvalid", c.after, c.limit, err)
		}
	}
}
