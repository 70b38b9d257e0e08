package storagetest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

var feedChecks = []check{
	{"CommitOrderPagingAndOrgScope", feedCommitOrder},
	{"FollowerMissesNothingAcrossOverlappingTransactions", feedOverlapping},
	{"FollowerSeesEveryEventOnceUnderConcurrentWriters", feedConcurrentWriters},
}

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
	a := insert(t, s, NewCard(orgA))[0]
	b := insert(t, s, NewCard(orgB))[0]
	var want []events.Event
	for v := range int64(5) {
		ea, eb := newEvent(orgA, a.ID, v+1), newEvent(orgB, b.ID, v+1)
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
	c1 := insert(t, s, NewCard(orgA))[0]
	c2 := insert(t, s, NewCard(orgA))[0]
	first, second := newEvent(orgA, c1.ID, 1), newEvent(orgA, c2.ID, 1)
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
// follower reads the feed: in the end it has seen every event exactly once,
// with rising positions, and each card's events in version order.
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
					if err := tx.Save(ctx, &c); err != nil {
						return err
					}
					return tx.Append(ctx, newEvent(orgA, c.ID, c.Version))
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
	if len(seen) != writers*changes {
		t.Fatalf("the follower saw %d events, want %d", len(seen), writers*changes)
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
		if d.Version != last[e.CardID]+1 && !(last[e.CardID] == 0 && d.Version == 2) {
			t.Fatalf("card %d: event of version %d after version %d", e.CardID, d.Version, last[e.CardID])
		}
		last[e.CardID] = d.Version
	}
}
