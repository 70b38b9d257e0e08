package cardcore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/faultdb"
)

// runDeliveryFaults runs subscription delivery (a Deliverer's Flush over
// the store) under faults, as runFaults does the use cases: a reference
// flush of a new subscription counts the operations, then each fault hits
// a flush of a subscription of its own. After the fault, the events
// delivered are the feed's first ones, in order, and the cursor never
// passes an event the destination did not acknowledge; a second flush
// succeeds, delivers exactly the events after the cursor, in order, and
// leaves the cursor at the feed's head: each event delivered at least
// once, none skipped.
func runDeliveryFaults(t *testing.T, kind string, tally *faultTally) {
	e := newFaultEnv(t, kind)
	ctx := t.Context()
	plan := e.db.Plan
	const feedOrg = "feed"
	e.at(0)
	for i, name := range []string{"a", "b", "c"} {
		c := faultCreate(t, e, faultVirtual(feedOrg, name, 0, ""))
		if i < 2 {
			if _, err := e.core.Cards.UpdateStatus(ctx, feedOrg, c.ID, card.Blocked); err != nil {
				t.Fatal(err)
			}
		}
	}
	deliverer := func(name string, dest events.Destination) *events.Deliverer {
		// Batches of 2 move the cursor several times per flush; the lease
		// outlives the test, so the deliverer never renews it meanwhile.
		d, err := events.NewDeliverer(e.core.Store, name, dest, events.DelivererConfig{
			Holder: "holder-" + name, LeaseTTL: time.Minute, Batch: 2})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if _, err := deliverer("warm", &feedRecorder{}).Flush(ctx); err != nil {
		t.Fatalf("warm-up flush: %v", err)
	}
	feed := feedPositions(t, e.db)
	if len(feed) != 5 {
		t.Fatalf("the feed holds %v, want the fixture's 5 events", feed)
	}
	rec := &feedRecorder{}
	plan.Start(nil)
	n, err := deliverer("ref", rec).Flush(ctx)
	run := plan.Stop()
	if got := rec.take(); err != nil || n != len(feed) || !slices.Equal(got, feed) {
		t.Fatalf("reference flush: %d delivered (%v), error %v; want %v", n, got, err, feed)
	}
	faults := faultsOf(run, kind)
	t.Logf("%d operations (%d statements, %d commits, %d round trips), %d faults", len(run.Trace), run.Counts[faultdb.Statement],
		run.Counts[faultdb.Commit], run.Counts[faultdb.RoundTrip], len(faults))
	for i, f := range faults {
		name := fmt.Sprintf("sub-%d", i)
		rec := &feedRecorder{}
		d := deliverer(name, rec)
		plan.Start(&f)
		_, err := d.Flush(ctx)
		got := plan.Stop()
		tally.add(f, got.Fired != nil)
		where := f.String() + " (not reached)"
		if got.Fired != nil {
			where = fmt.Sprintf("%s fault at %s", f.Mode, got.Fired)
		} else {
			t.Logf("%s: this run had only %v operations by kind", where, got.Counts)
		}
		cursor := subscriptionCursor(t, e.db, name)
		first := rec.take()
		switch w := faultWant(f, got.Fired, false); {
		case !slices.Equal(first, feed[:min(len(first), len(feed))]) || len(first) > len(feed):
			t.Errorf("%s: delivered %v, want the feed's first events in order: %v", where, first, feed)
		case cursor != 0 && (len(first) == 0 || cursor > first[len(first)-1]):
			t.Errorf("%s: the cursor is at %d past the events delivered, %v", where, cursor, first)
		case err == nil && w.fails == "yes":
			t.Errorf("%s: flush answered no error, want one: %s", where, w.why)
		case err != nil && w.fails == "no":
			t.Errorf("%s: flush answered %v, want no error: %s", where, err, w.why)
		}
		if _, err := d.Flush(ctx); err != nil {
			t.Errorf("%s: the flush after it: %v", where, err)
			continue
		}
		var rest []int64
		for _, p := range feed {
			if p > cursor {
				rest = append(rest, p)
			}
		}
		if again := rec.take(); !slices.Equal(again, rest) {
			t.Errorf("%s: with the cursor at %d the next flush delivered %v, want %v", where, cursor, again, rest)
		}
		if c := subscriptionCursor(t, e.db, name); c != feed[len(feed)-1] {
			t.Errorf("%s: after the next flush the cursor is at %d, want the head %d", where, c, feed[len(feed)-1])
		}
	}
}

// feedRecorder is a destination that acknowledges every event and keeps
// their feed positions.
type feedRecorder struct {
	mu   sync.Mutex
	seqs []int64
}

func (r *feedRecorder) Deliver(_ context.Context, evs []events.Event) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range evs {
		r.seqs = append(r.seqs, e.Seq)
	}
	return len(evs), nil
}

// take returns the positions delivered since the last take.
func (r *feedRecorder) take() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seqs
	r.seqs = nil
	return out
}

// feedPositions returns the feed positions of the events, ascending: the
// outbox seq on SQLite, the sequencer's feed_pos on PostgreSQL.
func feedPositions(t *testing.T, db *faultdb.DB) []int64 {
	t.Helper()
	q := "SELECT seq FROM cardcore_outbox ORDER BY seq"
	if db.Kind == "postgres" {
		q = "SELECT feed_pos FROM cardcore_outbox WHERE feed_pos IS NOT NULL ORDER BY feed_pos"
	}
	var ps []int64
	if err := db.Direct.NewRaw(q).Scan(t.Context(), &ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

// subscriptionCursor returns the stored cursor of subscription name, 0
// when the store has no such subscription.
func subscriptionCursor(t *testing.T, db *faultdb.DB, name string) int64 {
	t.Helper()
	var c int64
	err := db.Direct.QueryRowContext(t.Context(), "SELECT cursor FROM cardcore_subscriptions WHERE name = ?", name).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}
