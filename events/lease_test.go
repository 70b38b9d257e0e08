package events_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/uptrace/bun"
)

// renewals stands between a deliverer and the store and, while cut off,
// keeps the deliverer's renewals from the store: they fail, or, when
// pretend is set, seem to succeed without reaching the store, as a
// deliverer paused, or with a stale view of the database, would see. The
// deliverer's next Advance reaches the store again, and the test records
// how the store answered it.
type renewals struct {
	events.Subscriptions
	pretend bool
	cut     atomic.Bool
	mu      sync.Mutex
	last    events.Lease
	advance collected[error]
}

var errCutOff = errors.New("test: the store is out of reach")

func (r *renewals) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (events.Lease, error) {
	if r.cut.Load() {
		if !r.pretend {
			return events.Lease{}, errCutOff
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.last, nil
	}
	l, err := r.Subscriptions.Acquire(ctx, name, holder, ttl)
	if err == nil {
		r.mu.Lock()
		r.last = l
		r.mu.Unlock()
	}
	return l, err
}

func (r *renewals) Advance(ctx context.Context, l events.Lease, seq int64, ttl time.Duration) (events.Lease, error) {
	r.cut.Store(false)
	next, err := r.Subscriptions.Advance(ctx, l, seq, ttl)
	r.advance.add(err)
	return next, err
}

func (r *renewals) advances() []error { return r.advance.list() }

// A deliverer whose lease was taken over while its destination worked on
// a batch cannot move the cursor: it stops, reports ErrLeaseLost, and
// waits. The deliverer that took over resumes at the cursor, so the
// consumer misses nothing and gets nothing out of order; only the batch in
// flight may arrive twice. When its renewals fail, the old holder cancels
// the batch as soon as its lease may have expired, and makes no Advance;
// when they seem to succeed but never reach the store, the store refuses
// its Advance.
func TestDelivererTakenOverCannotMoveTheCursor(t *testing.T) {
	for name, pretend := range map[string]bool{"RenewalsFail": false, "RenewalsLost": true} {
		t.Run(name, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, db *bun.DB) { takenOver(t, db, pretend) })
		})
	}
}

func takenOver(t *testing.T, db *bun.DB, pretend bool) {
	s := openStore(t, db)
	want := commit(t, s, "org", 1, 1, 10)
	to := &consumer{}
	subsA := &renewals{Subscriptions: s, pretend: pretend}
	entered, release := make(chan struct{}), make(chan struct{})
	var blocked atomic.Bool
	// A's destination blocks on the third event, the first time, with A
	// cut off from the store.
	blockThird := func(ctx context.Context, e events.Event) error {
		if e.ID != want[2].ID || !blocked.CompareAndSwap(false, true) {
			return nil
		}
		subsA.cut.Store(true)
		close(entered)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	errsA := &errorLog{}
	cfgA := config("A", 4, errsA)
	cfgA.LeaseTTL = 300 * time.Millisecond
	a := newDeliverer(t, subsA, "sub", &sink{holder: "A", to: to, before: blockThird}, cfgA)
	stopA := start(t, a)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("A did not start delivering")
	}
	b := newDeliverer(t, s, "sub", &sink{holder: "B", to: to}, config("B", 4, nil))
	stopB := start(t, b)
	eventually(t, "B takes over and delivers every event", func() bool { return len(to.ids("B")) == len(want) })
	close(release)
	eventually(t, "A reports its lease lost", func() bool { return errsA.has(events.ErrLeaseLost) })
	subsA.cut.Store(false)
	more := commit(t, s, "org", 1, 11, 2)
	eventually(t, "B delivers the events committed after the takeover", func() bool { return len(to.ids("B")) == len(want)+2 })
	stopA()
	stopB()
	want = append(want, more...)

	advances := subsA.advances()
	switch {
	case pretend && (len(advances) != 1 || !errors.Is(advances[0], events.ErrLeaseLost)):
		t.Errorf("A's Advances got %v from the store, want one, refused as ErrLeaseLost", advances)
	case !pretend && len(advances) != 0:
		t.Errorf("A made Advances %v after it could not renew its lease, want none", advances)
	}
	if a.Delivered() != 0 || a.Cursor() != 0 {
		t.Errorf("A counts %d events delivered and its cursor at %d; want 0 and 0, as it moved nothing", a.Delivered(), a.Cursor())
	}
	if ids := to.ids("B"); !slices.Equal(ids, idsOf(want)) {
		t.Errorf("B delivered %v, want every event once, in order, from the cursor", ids)
	}
	// The consumer's first sight of each event follows the feed; the only
	// events seen twice are those of A's batch in flight.
	var firsts []string
	seen := map[string]int{}
	for _, d := range to.deliveries() {
		if seen[d.e.ID] == 0 {
			firsts = append(firsts, d.e.ID)
		}
		seen[d.e.ID]++
	}
	if !slices.Equal(firsts, idsOf(want)) {
		t.Errorf("the consumer first saw %v, want %v", firsts, idsOf(want))
	}
	inFlight := idsOf(want[:4])
	for id, n := range seen {
		if n > 1 && !slices.Contains(inFlight, id) {
			t.Errorf("event %s arrived %d times and was not in A's batch in flight", id, n)
		}
	}
	// The store's cursor is B's.
	l, err := s.Acquire(t.Context(), "sub", "C", time.Minute)
	if err != nil || l.Cursor != b.Cursor() {
		t.Errorf("the next holder finds the cursor at %d (%v), want B's %d", l.Cursor, err, b.Cursor())
	}
}

// A destination slower than the lease time is no reason to lose the
// lease: the deliverer renews it while the destination works, so the
// batch is acknowledged once, and not handed over again and again.
func TestDelivererKeepsItsLeaseThroughASlowBatch(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := openStore(t, db)
		want := commit(t, s, "org", 1, 1, 3)
		to := &consumer{}
		errs := &errorLog{}
		cfg := config("one", 4, errs)
		cfg.LeaseTTL = time.Second // renewals have 2/3 of it to get through on a loaded machine
		slow := func(context.Context, events.Event) error { time.Sleep(cfg.LeaseTTL / 2); return nil }
		d := newDeliverer(t, s, "sub", &sink{holder: "one", to: to, before: slow}, cfg)
		stop := start(t, d)
		eventually(t, "the batch is acknowledged", func() bool { return d.Delivered() == 3 })
		stop()
		if got := to.ids(""); !slices.Equal(got, idsOf(want)) || errs.has(events.ErrLeaseLost) {
			t.Errorf("delivered %v, errors %v; want each event once and no lease lost", got, errs)
		}
	})
}
