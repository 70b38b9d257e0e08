package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// A card's history (Store.CardEvents, SPEC 10.5).
var historyChecks = []check{
	{"VersionOrderPagingAndScope", historyVersionOrder},
	{"UncommittedEventsAreNotInTheHistory", historyCommittedOnly},
	{"CardsSavedTogetherEachHaveTheirOwn", historySavedNew},
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
// for, at most limit of them, with the Seq the feed gives them: first the
// event of its creation, then those appended for it. Another card's events
// are not among them, nor events of another org naming the card's id, and
// an id no card of the org has has no history.
func historyVersionOrder(t *testing.T, s storage.Store) {
	cs := insert(t, s, NewCard(orgA), NewCard(orgA))
	id, other := cs[0].ID, cs[1].ID
	var want []events.Event // versions 2 to 6
	for v := range int64(5) {
		ea := newEvent(orgA, id, v+2)
		eo := newEvent(orgA, other, v+2)
		eb := newEvent(orgB, id, 1) // the same id, another org, and a version a walk by version would stop at
		update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, eo, ea, eb) })
		want = append(want, ea)
	}
	got := cardHistory(t, s, orgA, id, 0, 100)
	if len(got) == 0 || got[0].Type != events.CardCreated || got[0].CardID != id {
		t.Fatalf("CardEvents of the card = %v; want its creation first", eventIDs(got))
	}
	mustEqualEvents(t, "CardEvents of the card after its creation", want, got[1:])
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
	mustEqualEvents(t, "CardEvents after version 1", want, cardHistory(t, s, orgA, id, 1, 100))
	mustEqualEvents(t, "CardEvents after version 3, limit 2", want[2:4], cardHistory(t, s, orgA, id, 3, 2))
	mustEqualEvents(t, "CardEvents after version 5", want[4:], cardHistory(t, s, orgA, id, 5, 2))
	if rest := cardHistory(t, s, orgA, id, 6, 10); len(rest) != 0 {
		t.Errorf("CardEvents after the last version = %d events; want none", len(rest))
	}
	if none := cardHistory(t, s, orgB, id, 0, 10); len(none) != 0 {
		t.Errorf("CardEvents of org %s for the id of a card of %s = %d events; want none", orgB, orgA, len(none))
	}
	if none := cardHistory(t, s, orgA, other+1000, 0, 10); len(none) != 0 {
		t.Errorf("CardEvents of an id no card has = %d events; want none", len(none))
	}
}

// Events of a transaction that rolled back are never in the history, and
// the card's next event follows the last one committed.
func historyCommittedOnly(t *testing.T, s storage.Store) {
	id := insert(t, s, NewCard(orgA))[0].ID
	kept := newEvent(orgA, id, 2)
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, kept) })
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		if err := tx.Append(ctx, newEvent(orgA, id, 3)); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update = %v; want the rollback error", err)
	}
	mustEqualEvents(t, "CardEvents after a rollback", []events.Event{kept}, cardHistory(t, s, orgA, id, 1, 10))
	next := newEvent(orgA, id, 3)
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, next) })
	mustEqualEvents(t, "CardEvents after the next event", []events.Event{kept, next}, cardHistory(t, s, orgA, id, 1, 10))
	if all := cardHistory(t, s, orgA, id, 0, 10); len(all) != 3 {
		t.Errorf("CardEvents from version 0 = %d events; want the creation and 2", len(all))
	}
}

// Each card of a SaveNew has its creation as its history, whichever
// statement of the batch wrote it (past the 5000 a multi-row statement
// writes too), and its next event follows it.
func historySavedNew(t *testing.T, s storage.Store) {
	const n = 5003
	cs := saveNew(t, s, nonameBatch(orgA, uuid.NewString(), "h-", n))
	feed := feedAll(t, s, orgA, 0, 1000)
	if len(feed) != n {
		t.Fatalf("the feed holds %d events; want the %d creations", len(feed), n)
	}
	created := map[int64]events.Event{}
	for _, e := range feed {
		created[e.CardID] = e
	}
	for _, i := range []int{0, 1, 4999, 5000, n - 1} {
		c := cs[i]
		mustEqualEvents(t, fmt.Sprintf("CardEvents of card %d of the batch", i), []events.Event{created[c.ID]}, cardHistory(t, s, orgA, c.ID, 0, 10))
		next := newEvent(orgA, c.ID, 2)
		update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, next) })
		mustEqualEvents(t, fmt.Sprintf("CardEvents of card %d of the batch after its next event", i),
			[]events.Event{created[c.ID], next}, cardHistory(t, s, orgA, c.ID, 0, 10))
	}
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
