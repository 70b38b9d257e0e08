package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// purgeChecks verify Store.Purge, the retention of SPEC 10.4.
var purgeChecks = []check{
	{"KeepsWhatASubscriptionHasNotPassed", purgeHeldBySubscriptions},
	{"NoSubscriptionRetentionAlone", purgeWithoutSubscriptions},
	{"KeepsYoungEvents", purgeKeepsYoung},
	{"IdempotencyKeys", purgeKeys},
}

// purgeTTL is the lease of the subscriptions of the checks.
const purgeTTL = time.Minute

// appendAged appends one event of orgA per age (how long ago it occurred),
// each in its own transaction, and returns the whole feed after them.
func appendAged(t *testing.T, s storage.Store, ages ...time.Duration) []events.Event {
	t.Helper()
	for i, age := range ages {
		e := newEvent(orgA, int64(i+1), 1)
		e.Timestamp = time.Now().UTC().Add(-age).Truncate(time.Microsecond)
		update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, e) })
	}
	return wholeFeed(t, s)
}

// wholeFeed returns every event of the feed, across orgs.
func wholeFeed(t *testing.T, s storage.Store) []events.Event {
	t.Helper()
	evs, err := s.After(t.Context(), 0, 1000)
	if err != nil {
		t.Fatalf("After(0): %v", err)
	}
	return evs
}

// subscribeAt creates subscription name with its cursor at seq.
func subscribeAt(t *testing.T, s storage.Store, name string, seq int64) {
	t.Helper()
	l, err := s.Acquire(t.Context(), name, "purge-check", purgeTTL)
	if err != nil {
		t.Fatalf("Acquire(%s): %v", name, err)
	}
	if seq > l.Cursor {
		if _, err := s.Advance(t.Context(), l, seq, purgeTTL); err != nil {
			t.Fatalf("Advance(%s, %d): %v", name, seq, err)
		}
	}
}

// purge runs Purge and fails the test on an error or another count of
// events or keys than want.
func purge(t *testing.T, s storage.Store, eventsBefore, keysBefore time.Time, limit int, want storage.PurgeResult) {
	t.Helper()
	got, err := s.Purge(t.Context(), eventsBefore, keysBefore, limit)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if got != want {
		t.Fatalf("Purge deleted %+v, want %+v", got, want)
	}
}

// checkFeed checks that the feed holds exactly the events of want, in
// order, with their positions.
func checkFeed(t *testing.T, s storage.Store, what string, want []events.Event) {
	t.Helper()
	got := wholeFeed(t, s)
	if fmt.Sprint(seqsAndIDs(got)) != fmt.Sprint(seqsAndIDs(want)) {
		t.Fatalf("%s: the feed holds %v, want %v", what, seqsAndIDs(got), seqsAndIDs(want))
	}
	org, err := s.Feed(t.Context(), orgA, 0, 1000)
	if err != nil {
		t.Fatalf("Feed: %v", err)
	}
	if fmt.Sprint(seqsAndIDs(org)) != fmt.Sprint(seqsAndIDs(want)) {
		t.Fatalf("%s: org's feed holds %v, want %v", what, seqsAndIDs(org), seqsAndIDs(want))
	}
}

func seqsAndIDs(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%d:%s", e.Seq, e.ID)
	}
	return out
}

const day = 24 * time.Hour

func purgeHeldBySubscriptions(t *testing.T, s storage.Store) {
	feed := appendAged(t, s, 5*day, 5*day, 5*day, 5*day, 5*day, 5*day)
	if len(feed) != 6 {
		t.Fatalf("the feed holds %d events, want 6", len(feed))
	}
	cutoff := time.Now().Add(-day)
	subscribeAt(t, s, "purge-a", feed[1].Seq)
	subscribeAt(t, s, "purge-b", feed[3].Seq)
	purge(t, s, cutoff, time.Time{}, 1, storage.PurgeResult{Events: 2})
	checkFeed(t, s, "purge with cursors at the 2nd and 4th events", feed[2:])

	subscribeAt(t, s, "purge-a", feed[5].Seq)
	purge(t, s, cutoff, time.Time{}, 100, storage.PurgeResult{Events: 2})
	checkFeed(t, s, "purge with cursors at the 4th and the last events", feed[4:])

	// Every cursor at the head: the head stays, so positions go on rising.
	subscribeAt(t, s, "purge-b", feed[5].Seq)
	purge(t, s, cutoff, time.Time{}, 100, storage.PurgeResult{Events: 1})
	checkFeed(t, s, "purge with every cursor at the head", feed[5:])
	purge(t, s, cutoff, time.Time{}, 100, storage.PurgeResult{})
	next := appendAged(t, s, 0)
	if len(next) != 2 || next[1].Seq <= feed[5].Seq {
		t.Fatalf("after a purge the feed holds %v, want the head %d and a new event above it", seqsAndIDs(next), feed[5].Seq)
	}
	// A new subscription at cursor 0 holds everything back.
	subscribeAt(t, s, "purge-c", 0)
	purge(t, s, time.Now().Add(time.Hour), time.Time{}, 100, storage.PurgeResult{})
	checkFeed(t, s, "purge with a cursor at 0", next)
}

func purgeWithoutSubscriptions(t *testing.T, s storage.Store) {
	feed := appendAged(t, s, 3*day, 3*day, 3*day, 3*day)
	purge(t, s, time.Time{}, time.Time{}, 100, storage.PurgeResult{})
	checkFeed(t, s, "purge with zero times", feed)
	purge(t, s, time.Now().Add(-day), time.Time{}, 3, storage.PurgeResult{Events: 3})
	checkFeed(t, s, "purge with no subscription", feed[3:])
	next := appendAged(t, s, 0)
	if len(next) != 2 || next[1].Seq <= feed[3].Seq {
		t.Fatalf("after a purge the feed holds %v, want the head %d and a new event above it", seqsAndIDs(next), feed[3].Seq)
	}
}

func purgeKeepsYoung(t *testing.T, s storage.Store) {
	feed := appendAged(t, s, 3*day, 3*day, 0, 0, 3*day, 0)
	subscribeAt(t, s, "purge-a", feed[5].Seq)
	// The old event behind young ones waits for them.
	purge(t, s, time.Now().Add(-day), time.Time{}, 1, storage.PurgeResult{Events: 2})
	checkFeed(t, s, "purge of old events before young ones", feed[2:])
	purge(t, s, time.Now().Add(-day), time.Time{}, 1, storage.PurgeResult{})
	checkFeed(t, s, "a second purge", feed[2:])
}

func purgeKeys(t *testing.T, s storage.Store) {
	keys := make([]storage.IdempotencyKey, 5)
	for i := range keys {
		keys[i] = storage.IdempotencyKey{OrgID: orgA, Scope: "purge", Key: fmt.Sprintf("key-%d", i)}
		if i == 4 {
			keys[i].OrgID = orgB
		}
		update(t, s, func(ctx context.Context, tx storage.Tx) error {
			if _, _, err := tx.Claim(ctx, keys[i], "fp"); err != nil {
				return err
			}
			return tx.Complete(ctx, keys[i], []byte(`{"ok":true}`))
		})
	}
	feed := appendAged(t, s, 3*day)
	// Records younger than keysBefore stay; events are left alone.
	purge(t, s, time.Time{}, time.Now().Add(-time.Hour), 2, storage.PurgeResult{})
	for _, k := range keys {
		if freeKey(t, s, k) {
			t.Fatalf("key %v was purged while young", k)
		}
	}
	purge(t, s, time.Time{}, time.Now().Add(time.Hour), 2, storage.PurgeResult{Keys: 5})
	checkFeed(t, s, "purge of keys only", feed)
	for _, k := range keys {
		if !freeKey(t, s, k) {
			t.Fatalf("key %v survived the purge", k)
		}
	}
}

// freeKey claims k in a transaction it rolls back and reports whether k
// was free.
func freeKey(t *testing.T, s storage.Store, k storage.IdempotencyKey) bool {
	t.Helper()
	var claimed bool
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		var err error
		if _, claimed, err = tx.Claim(ctx, k, "fp"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Claim(%v): %v", k, err)
	}
	return claimed
}
