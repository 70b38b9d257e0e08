package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// The read side of the outbox: the feed of one org that followers read
// (Store.Feed), and the feed across orgs that subscriptions deliver
// (Subscriptions.After).
var feedChecks = []check{
	{"CommitOrderPagingAndOrgScope", feedCommitOrder},
	{"FollowerMissesNothingAcrossOverlappingTransactions", feedOverlapping},
	{"FollowerSeesEveryEventOnceUnderConcurrentWriters", feedConcurrentWriters},
	{"AfterInCommitOrderWithEveryField", afterInCommitOrder},
	{"AfterPagesByCursorAndLimit", afterPagesByCursor},
}

// The ids of the cards the events of the feed and outbox checks describe.
// The outbox keeps the events of cards it does not hold, so the checks
// append them without storing the cards, whose creation would add
// events of its own.
const (
	cardOfA = 101
	cardOfB = 202
)

// feedAll follows org's feed from after in pages of limit until a page
// comes back empty.
func feedAll(t *testing.T, s storage.Store, org string, after int64, limit int) []events.Event {
	t.Helper()
	var all []events.Event
	for {
		page, err := s.Feed(t.Context(), org, after, limit)
		if err != nil {
			t.Fatalf("Feed(%s, %d, %d): %v", org, after, limit, err)
		}
		if len(page) == 0 {
			return all
		}
		for _, e := range page {
			if e.Seq <= after {
				t.Fatalf("Feed(%s, %d) returned seq %d, not above after", org, after, e.Seq)
			}
			after = e.Seq
		}
		all = append(all, page...)
	}
}

// Events committed one transaction after another come back in that order,
// with strictly rising positions, paged by after and limit, and only those
// of the org asked for.
func feedCommitOrder(t *testing.T, s storage.Store) {
	var want []events.Event
	for v := range int64(5) {
		ea, eb := newEvent(orgA, cardOfA, v+1), newEvent(orgB, cardOfB, v+1)
		update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, ea, eb) })
		want = append(want, ea)
	}
	got := feedAll(t, s, orgA, 0, 2)
	mustEqualEvents(t, "Feed of org A", want, got)
	if len(got) == len(want) {
		rest, err := s.Feed(t.Context(), orgA, got[1].Seq, 100)
		if err != nil {
			t.Fatal(err)
		}
		mustEqualEvents(t, "Feed after the second event", want[2:], rest)
		if empty, err := s.Feed(t.Context(), orgA, got[len(got)-1].Seq, 100); err != nil || len(empty) != 0 {
			t.Fatalf("Feed after the last event = %d events, %v; want none", len(empty), err)
		}
	}
	if bs := feedAll(t, s, orgB, 0, 100); len(bs) != 5 {
		t.Fatalf("Feed of org B holds %d events, want 5", len(bs))
	}
}

// A transaction that appended first but commits last must not be skipped
// by a follower that read in between: whatever order the store gives the
// two events, the follower sees both exactly once.
func feedOverlapping(t *testing.T, s storage.Store) {
	first, second := newEvent(orgA, cardOfA, 1), newEvent(orgA, cardOfA+1, 1)
	appended, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 2)
	go func() {
		done <- s.Update(context.Background(), func(ctx context.Context, tx storage.Tx) error {
			if err := tx.Append(ctx, first); err != nil {
				return err
			}
			close(appended)
			<-release
			return nil
		})
	}()
	<-appended
	secondDone := make(chan error, 1)
	go func() {
		secondDone <- s.Update(context.Background(), func(ctx context.Context, tx storage.Tx) error {
			return tx.Append(ctx, second)
		})
	}()
	// On a store with row locks the second transaction commits now; on a
	// single-writer store it waits for the first.
	select {
	case err := <-secondDone:
		if err != nil {
			t.Fatal(err)
		}
		secondDone <- nil
	case <-time.After(300 * time.Millisecond):
	}
	seen := feedAll(t, s, orgA, 0, 100)
	var after int64
	if len(seen) > 0 {
		after = seen[len(seen)-1].Seq
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-secondDone; err != nil {
		t.Fatal(err)
	}
	seen = append(seen, feedAll(t, s, orgA, after, 100)...)
	ids := map[string]int{}
	for _, e := range seen {
		ids[e.ID]++
	}
	if len(seen) != 2 || ids[first.ID] != 1 || ids[second.ID] != 1 {
		t.Fatalf("the follower saw %d events %v; want each of the two events once", len(seen), ids)
	}
}

// Writers change cards concurrently, each change with its event, while a
// follower reads the feed from the start: in the end it has seen every
// event exactly once, the cards' creations too, with rising positions, and
// each card's events in version order.
func feedConcurrentWriters(t *testing.T, s storage.Store) {
	cards := insert(t, s, NewCard(orgA), NewCard(orgA), NewCard(orgA))
	const writers, changes = 8, 6
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var seen []events.Event
	var followErr error
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		var after int64
		for {
			page, err := s.Feed(context.Background(), orgA, after, 7)
			if err != nil {
				followErr = err
				return
			}
			for _, e := range page {
				after = e.Seq
			}
			seen = append(seen, page...)
			if len(page) == 0 {
				select {
				case <-stop:
					rest, err := s.Feed(context.Background(), orgA, after, 1000)
					if err != nil {
						followErr = err
					}
					seen = append(seen, rest...)
					return
				case <-time.After(2 * time.Millisecond):
				}
			}
		}
	}()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range changes {
				id := cards[(w+i)%len(cards)].ID
				err := s.Update(context.Background(), func(ctx context.Context, tx storage.Tx) error {
					c, err := tx.Card(ctx, orgA, id)
					if err != nil {
						return err
					}
					c.Version++
					if c.Status == card.Blocked {
						c.Status = card.Created
					} else {
						c.Status = card.Blocked
					}
					return saveCard(ctx, tx, &c)
				})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-followed
	if followErr != nil {
		t.Fatal(followErr)
	}
	if len(seen) != len(cards)+writers*changes {
		t.Fatalf("the follower saw %d events, want %d", len(seen), len(cards)+writers*changes)
	}
	ids := map[string]bool{}
	last := map[int64]int64{}
	var prev int64
	for _, e := range seen {
		if ids[e.ID] {
			t.Fatalf("event %s seen twice", e.ID)
		}
		ids[e.ID] = true
		if e.Seq <= prev {
			t.Fatalf("positions do not rise: %d after %d", e.Seq, prev)
		}
		prev = e.Seq
		var d struct{ Version int64 }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Version != last[e.CardID]+1 {
			t.Fatalf("card %d: event of version %d after version %d", e.CardID, d.Version, last[e.CardID])
		}
		last[e.CardID] = d.Version
	}
}

// Events come back in the order they were appended, within a transaction
// and across transactions committed one after the other, with every field
// of the envelope, for every org, with or without a card.
func afterInCommitOrder(t *testing.T, s storage.Store) {
	e1, e2, e3 := newEvent(orgA, cardOfA, 1), newEvent(orgA, cardOfA, 2), newEvent(orgA, cardOfA, 3)
	cancellation := events.Event{
		ID:            uuid.NewString(),
		Domain:        events.Domain,
		Type:          events.NonameCancellation,
		SchemaVersion: events.SchemaVersion,
		OrgID:         orgB,
		CID:           "cid-" + uuid.NewString(),
		Timestamp:     time.Date(2030, 5, 6, 7, 8, 9, 123456000, time.UTC),
		Data:          json.RawMessage(`{"bulk_id": "bulk-1", "cancel_type": "FULL", "card_ids": [3, 1, 2]}`),
	}
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.Append(ctx, e1); err != nil {
			return err
		}
		return tx.Append(ctx, e2, e3)
	})
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, cancellation) })
	mustEqualEvents(t, "After(0)", []events.Event{e1, e2, e3, cancellation}, feedFrom0(t, s, 10))
}

// A subscription reads the feed a page at a time: After returns at most
// limit events, strictly above the cursor it is given, and nothing once
// the cursor is at the head, which Head reports.
func afterPagesByCursor(t *testing.T, s storage.Store) {
	var evs []events.Event
	for v := range int64(5) {
		org := orgA
		if v == 2 {
			org = orgB
		}
		evs = append(evs, newEvent(org, cardOfA, v+1))
	}
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, evs...) })
	after := func(cursor int64, limit int) []events.Event {
		t.Helper()
		got, err := s.After(t.Context(), cursor, limit)
		if err != nil {
			t.Fatalf("After(%d, %d): %v", cursor, limit, err)
		}
		return got
	}
	first := after(0, 2)
	mustEqualEvents(t, "After(0, 2)", evs[:2], first)
	if len(first) != 2 {
		return
	}
	rest := after(first[1].Seq, 10)
	mustEqualEvents(t, "After the second event", evs[2:], rest)
	if len(rest) != 3 {
		return
	}
	mustEqualEvents(t, "After the fourth event", evs[4:], after(rest[1].Seq, 10))
	mustEqualEvents(t, "After the last event", nil, after(rest[2].Seq, 10))
	head, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if head != rest[2].Seq {
		t.Errorf("Head = %d, want the last event's position %d", head, rest[2].Seq)
	}
	for _, bad := range []struct {
		after int64
		limit int
	}{{-1, 10}, {0, 0}, {0, -1}} {
		if _, err := s.After(t.Context(), bad.after, bad.limit); !errors.Is(err, card.ErrInvalid) {
			t.Errorf("After(%d, %d) = %v, want card.ErrInvalid", bad.after, bad.limit, err)
		}
	}
}
