package events_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/cardcore/cardcore/storage/storagetest"
	"github.com/uptrace/bun"
)

// config is a deliverer's configuration for the tests: holder, a quick
// poll, and errors sent to errs when it is not nil. Its lease is long
// enough that no pause of a loaded machine loses it: a test of takeovers
// shortens it.
func config(holder string, batch int, errs *errorLog) events.DelivererConfig {
	cfg := events.DelivererConfig{Holder: holder, LeaseTTL: 5 * time.Second, Batch: batch, Idle: 10 * time.Millisecond, Drain: 2 * time.Second}
	if errs != nil {
		cfg.OnError = errs.add
	}
	return cfg
}

func openStore(t *testing.T, db *bun.DB) *bunstore.Store {
	t.Helper()
	s, err := bunstore.New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// commit appends n events of org for card id, versions from..from+n-1,
// one transaction each, and returns them in commit order.
func commit(t *testing.T, s storage.Store, org string, id int64, from, n int) []events.Event {
	t.Helper()
	var evs []events.Event
	for v := from; v < from+n; v++ {
		e, err := events.New(context.Background(), events.CardUpdated, org, map[string]int{"version": v}, time.Now())
		if err != nil {
			t.Error(err)
			return evs
		}
		e.CardID = id
		if err := s.Update(context.Background(), func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, e) }); err != nil {
			t.Error(err)
			return evs
		}
		evs = append(evs, e)
	}
	return evs
}

// idsOf is the ids of evs, in order.
func idsOf(evs []events.Event) []string { return storagetest.IDs(evs) }

// newDeliverer is events.NewDeliverer, which must accept its arguments.
func newDeliverer(t *testing.T, subs events.Subscriptions, name string, dest events.Destination, cfg events.DelivererConfig) *events.Deliverer {
	t.Helper()
	d, err := events.NewDeliverer(subs, name, dest, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// start runs d until the returned function is called, which stops it and
// waits for Run to return.
func start(t *testing.T, d *events.Deliverer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop = func() {
		t.Helper()
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10s of its context's end")
		}
	}
	t.Cleanup(stop)
	return stop
}

// eventually fails the test unless cond holds within 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// collected is a list that goroutines append to and the test reads.
type collected[T any] struct {
	mu    sync.Mutex
	items []T
}

func (r *collected[T]) add(x T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, x)
}

// list is a copy of what was added, in order.
func (r *collected[T]) list() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.items)
}

// errorLog collects what deliverers report to OnError.
type errorLog struct{ collected[error] }

func (l *errorLog) String() string { return fmt.Sprint(l.list()) }

// has reports whether an error wrapping target was reported.
func (l *errorLog) has(target error) bool {
	return slices.ContainsFunc(l.list(), func(err error) bool { return errors.Is(err, target) })
}

// delivery is one event a sink acknowledged, and the deliverer that
// handed it over.
type delivery struct {
	holder string
	e      events.Event
}

// consumer is what the sinks of a test delivered to, in order: the system
// at the end of the subscription.
type consumer struct {
	got collected[delivery]
}

func (c *consumer) add(holder string, e events.Event) { c.got.add(delivery{holder, e}) }

func (c *consumer) deliveries() []delivery { return c.got.list() }

func (c *consumer) count() int { return len(c.got.list()) }

// ids returns the ids of the events delivered, by holder when holder is
// not empty.
func (c *consumer) ids(holder string) []string {
	var ids []string
	for _, d := range c.deliveries() {
		if holder == "" || d.holder == holder {
			ids = append(ids, d.e.ID)
		}
	}
	return ids
}

// sink is a Destination that hands each event to its consumer, after
// calling before, whose error stops the batch at that event. Its back-off
// is short.
type sink struct {
	holder string
	to     *consumer
	before func(ctx context.Context, e events.Event) error
}

func (s *sink) Deliver(ctx context.Context, evs []events.Event) (int, error) {
	for i, e := range evs {
		if s.before != nil {
			if err := s.before(ctx, e); err != nil {
				return i, err
			}
		}
		s.to.add(s.holder, e)
	}
	return len(evs), nil
}

func (s *sink) Backoff(int) time.Duration { return 20 * time.Millisecond }

// advances records the cursor moves the store accepted.
type advances struct {
	events.Subscriptions
	moves collected[int64]
}

func (a *advances) Advance(ctx context.Context, l events.Lease, seq int64, ttl time.Duration) (events.Lease, error) {
	next, err := a.Subscriptions.Advance(ctx, l, seq, ttl)
	if err == nil {
		a.moves.add(seq)
	}
	return next, err
}

func (a *advances) list() []int64 { return a.moves.list() }

// A deliverer built on a Publisher keeps the old relay's promises: every
// committed event, of every org, in commit order; a failed publish stops
// it at that event, which is published again before any later one; and
// the cursor is kept, so a deliverer started later goes on from it.
func TestDelivererPublishesInOrderAndRetries(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := openStore(t, db)
		want := commit(t, s, "org", 7, 1, 3)
		want = append(want, commit(t, s, "other-org", 8, 1, 1)...)
		want = append(want, commit(t, s, "org", 7, 4, 2)...)
		var (
			mu       sync.Mutex
			got      []string
			attempts = map[string]int{}
		)
		pub := events.PublisherFunc(func(_ context.Context, e events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			attempts[e.ID]++
			if e.ID == want[2].ID && attempts[e.ID] == 1 {
				return errors.New("broker down")
			}
			got = append(got, e.ID)
			return nil
		})
		published := func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(got)
		}
		errs := &errorLog{}
		d := newDeliverer(t, s, "relay", events.Publishing(pub), config("one", 2, errs))
		stop := start(t, d)
		eventually(t, "the deliverer publishes the 6 events", func() bool { return len(published()) == len(want) })
		if !slices.Equal(published(), idsOf(want)) {
			t.Errorf("published %v, want %v", published(), idsOf(want))
		}
		if attempts[want[2].ID] != 2 || attempts[want[3].ID] != 1 {
			t.Errorf("publish attempts: the failed event %d, the next %d; want 2 and 1", attempts[want[2].ID], attempts[want[3].ID])
		}
		if !strings.Contains(errs.String(), "broker down") {
			t.Errorf("the failed publish was not reported: %v", errs)
		}
		more := commit(t, s, "org", 7, 6, 2)
		eventually(t, "the deliverer publishes the events committed while it runs", func() bool { return len(published()) == len(want)+2 })
		stop()
		if d.Delivered() != 8 {
			t.Errorf("Delivered = %d, want 8", d.Delivered())
		}
		last := d.Cursor()

		later := commit(t, s, "org", 7, 8, 1)
		d2 := newDeliverer(t, s, "relay", events.Publishing(pub), config("two", 2, nil))
		stop2 := start(t, d2)
		eventually(t, "a deliverer started later publishes the new event", func() bool { return len(published()) == len(want)+3 })
		stop2()
		all := idsOf(slices.Concat(want, more, later))
		if !slices.Equal(published(), all) {
			t.Errorf("published %v, want %v", published(), all)
		}
		if d2.Delivered() != 1 || d2.Cursor() <= last {
			t.Errorf("the later deliverer delivered %d and is at %d; want 1, above %d", d2.Delivered(), d2.Cursor(), last)
		}
	})
}

// A destination that acknowledges part of a batch and fails: the cursor
// moves exactly past what it acknowledged, and the rest is handed to it
// again first.
func TestDelivererMovesPastTheAcknowledgedPrefix(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := openStore(t, db)
		want := commit(t, s, "org", 1, 1, 5)
		subs := &advances{Subscriptions: s}
		to := &consumer{}
		var (
			mu      sync.Mutex
			batches [][]string
		)
		failed := false
		dest := &sink{holder: "one", to: to, before: func(_ context.Context, e events.Event) error {
			if e.ID == want[2].ID && !failed {
				failed = true
				return errors.New("the third event is refused once")
			}
			return nil
		}}
		record := destinationFunc(func(ctx context.Context, evs []events.Event) (int, error) {
			mu.Lock()
			batches = append(batches, idsOf(evs))
			mu.Unlock()
			return dest.Deliver(ctx, evs)
		})
		d := newDeliverer(t, subs, "partial", record, config("one", 10, nil))
		stop := start(t, d)
		eventually(t, "every event is delivered", func() bool { return to.count() == 5 })
		stop()
		if got := to.ids(""); !slices.Equal(got, idsOf(want)) {
			t.Errorf("delivered %v, want %v", got, idsOf(want))
		}
		feed, err := s.After(t.Context(), 0, 10)
		if err != nil || len(feed) != 5 {
			t.Fatalf("After = %d events, %v", len(feed), err)
		}
		if moves := subs.list(); !slices.Equal(moves, []int64{feed[1].Seq, feed[4].Seq}) {
			t.Errorf("the cursor moved to %v, want %v: past the acknowledged prefix, then past the rest", moves, []int64{feed[1].Seq, feed[4].Seq})
		}
		mu.Lock()
		defer mu.Unlock()
		if len(batches) != 2 || !slices.Equal(batches[1], idsOf(want[2:])) {
			t.Errorf("the batches handed over were %v; want all 5, then the 3 from the refused one", batches)
		}
	})
}

// destinationFunc adapts a function to a Destination with a short
// back-off.
type destinationFunc func(ctx context.Context, evs []events.Event) (int, error)

func (f destinationFunc) Deliver(ctx context.Context, evs []events.Event) (int, error) {
	return f(ctx, evs)
}

func (destinationFunc) Backoff(int) time.Duration { return 20 * time.Millisecond }

// A destination that acknowledges more events than it was handed is
// wrong: nothing is acknowledged, the error is reported, and the batch is
// handed over again.
func TestDelivererRefusesAnImpossibleAcknowledgement(t *testing.T) {
	s := openStore(t, testdb.Open(t, "sqlite"))
	want := commit(t, s, "org", 1, 1, 2)
	var calls atomic.Int32
	dest := destinationFunc(func(_ context.Context, evs []events.Event) (int, error) {
		if calls.Add(1) == 1 {
			return len(evs) + 1, nil
		}
		return len(evs), nil
	})
	errs := &errorLog{}
	d := newDeliverer(t, s, "sub", dest, config("one", 10, errs))
	stop := start(t, d)
	eventually(t, "the batch is delivered again", func() bool { return d.Delivered() == 2 })
	stop()
	if calls.Load() != 2 || !strings.Contains(errs.String(), "acknowledged 3 of 2") {
		t.Errorf("%d calls, errors %v; want 2 calls and the impossible acknowledgement reported", calls.Load(), errs)
	}
	if feed, _ := s.After(t.Context(), 0, 10); len(feed) != len(want) || d.Cursor() != feed[1].Seq {
		t.Errorf("the cursor is at %d, want the last event's", d.Cursor())
	}
}

// Select keeps some events from the destination; the cursor moves past
// the others all the same, also when a whole batch is left out.
func TestDelivererSelectSkipsButMovesTheCursor(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := openStore(t, db)
		a1 := commit(t, s, "a", 1, 1, 1)
		commit(t, s, "b", 2, 1, 3)
		a2 := commit(t, s, "a", 1, 2, 1)
		commit(t, s, "b", 2, 4, 2) // the last batch holds none of org a's
		to := &consumer{}
		cfg := config("one", 2, nil)
		cfg.Select = func(e events.Event) bool { return e.OrgID == "a" }
		d := newDeliverer(t, s, "org-a", &sink{holder: "one", to: to}, cfg)
		feed, err := s.After(t.Context(), 0, 100)
		if err != nil || len(feed) != 7 {
			t.Fatalf("After = %d events, %v", len(feed), err)
		}
		stop := start(t, d)
		eventually(t, "the cursor reaches the last event", func() bool { return d.Cursor() == feed[6].Seq })
		stop()
		if got, want := to.ids(""), idsOf(slices.Concat(a1, a2)); !slices.Equal(got, want) {
			t.Errorf("delivered %v, want org a's %v", got, want)
		}
		if d.Delivered() != 2 {
			t.Errorf("Delivered = %d, want 2: the events left out are not counted", d.Delivered())
		}
	})
}

// Two deliverers of one subscription at once: the lease lets one deliver;
// every event arrives once, in order. When the holder's context ends it
// drains and releases, and the other takes over at the cursor: nothing is
// delivered twice, nothing is skipped.
func TestDelivererTwoAtOnceHandOver(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := openStore(t, db)
		want := commit(t, s, "org", 1, 1, 12)
		to := &consumer{}
		pace := func(context.Context, events.Event) error { time.Sleep(time.Millisecond); return nil }
		var (
			ds    = map[string]*events.Deliverer{}
			stops = map[string]func(){}
		)
		for _, h := range []string{"one", "two"} {
			d := newDeliverer(t, s, "shared", &sink{holder: h, to: to, before: pace}, config(h, 4, nil))
			ds[h] = d
		}
		for _, h := range []string{"one", "two"} {
			stops[h] = start(t, ds[h])
		}
		want = append(want, commit(t, s, "org", 1, 13, 8)...)
		eventually(t, "both deliverers together deliver the 20 events", func() bool { return to.count() >= len(want) })
		got := to.deliveries()
		first := got[0].holder
		if ids := to.ids(""); !slices.Equal(ids, idsOf(want)) {
			t.Fatalf("while both ran, the consumer got %d events %v; want the 20 once each, in order", len(ids), ids)
		}
		if ids := to.ids(first); len(ids) != len(want) {
			t.Errorf("the holder %s delivered %d of the %d events while both ran; want all, the other none", first, len(ids), len(want))
		}

		stops[first]()
		other := map[string]string{"one": "two", "two": "one"}[first]
		want = append(want, commit(t, s, "org", 1, 21, 6)...)
		eventually(t, "the other deliverer delivers the events committed after the handover", func() bool { return to.count() >= len(want) })
		stops[other]()
		if ids := to.ids(""); !slices.Equal(ids, idsOf(want)) {
			t.Errorf("after the handover the consumer got %d events; want the %d once each, in order:\n%v\n%v", len(ids), len(want), ids, idsOf(want))
		}
		if ids := to.ids(other); !slices.Equal(ids, idsOf(want[20:])) {
			t.Errorf("the deliverer that took over delivered %v, want exactly the 6 new events", ids)
		}
	})
}

// Run ends with its context: the batch in flight finishes and is
// acknowledged, then the lease is released, so another deliverer takes
// over at once from past that batch.
func TestDelivererDrainsAndReleases(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := openStore(t, db)
		want := commit(t, s, "org", 1, 1, 6)
		to := &consumer{}
		entered := make(chan struct{})
		var once sync.Once
		slow := func(context.Context, events.Event) error {
			once.Do(func() { close(entered) })
			time.Sleep(20 * time.Millisecond)
			return nil
		}
		cfg := config("one", 4, nil)
		cfg.LeaseTTL = time.Minute // only a release lets another in soon
		d := newDeliverer(t, s, "sub", &sink{holder: "one", to: to, before: slow}, cfg)
		stop := start(t, d)
		<-entered
		stop()
		if got := to.ids(""); !slices.Equal(got, idsOf(want[:4])) {
			t.Errorf("delivered %v before Run returned, want the batch in flight: %v", got, idsOf(want[:4]))
		}
		l, err := s.Acquire(t.Context(), "sub", "two", time.Minute)
		if err != nil {
			t.Fatalf("Acquire by another holder after Run returned: %v, want the lease released", err)
		}
		feed, err := s.After(t.Context(), 0, 10)
		if err != nil || l.Cursor != feed[3].Seq {
			t.Errorf("the cursor is at %d (%v), want past the drained batch", l.Cursor, err)
		}
	})
}

func TestNewDelivererRefusesBadSettings(t *testing.T) {
	s := openStore(t, testdb.Open(t, "sqlite"))
	dest := &sink{to: &consumer{}}
	for name, f := range map[string]func() (*events.Deliverer, error){
		"no store": func() (*events.Deliverer, error) {
			return events.NewDeliverer(nil, "sub", dest, events.DelivererConfig{})
		},
		"no name":        func() (*events.Deliverer, error) { return events.NewDeliverer(s, "", dest, events.DelivererConfig{}) },
		"no destination": func() (*events.Deliverer, error) { return events.NewDeliverer(s, "sub", nil, events.DelivererConfig{}) },
		"negative batch": func() (*events.Deliverer, error) {
			return events.NewDeliverer(s, "sub", dest, events.DelivererConfig{Batch: -1})
		},
		"lease under 1ms": func() (*events.Deliverer, error) {
			return events.NewDeliverer(s, "sub", dest, events.DelivererConfig{LeaseTTL: time.Microsecond})
		},
		"negative drain": func() (*events.Deliverer, error) {
			return events.NewDeliverer(s, "sub", dest, events.DelivererConfig{Drain: -time.Second})
		},
	} {
		if _, err := f(); err == nil {
			t.Errorf("NewDeliverer accepted %s", name)
		}
	}
}

// Flush delivers the backlog once and stops: in feed order, up to a
// refused event, whose failure it returns with the cursor before it; the
// next Flush starts from that event. It refuses to run while another
// deliverer holds the lease, and releases its own when it returns.
func TestDelivererFlush(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := openStore(t, db)
		want := commit(t, s, "org", 7, 1, 5)
		var (
			mu   sync.Mutex // the running deliverer publishes from its goroutine
			got  []string
			fail = want[3].ID
		)
		published := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
		pub := events.PublisherFunc(func(_ context.Context, e events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if e.ID == fail {
				fail = "" // once
				return errors.New("broker down")
			}
			got = append(got, e.ID)
			return nil
		})
		d := newDeliverer(t, s, "flush", events.Publishing(pub), config("one", 2, nil))
		n, err := d.Flush(t.Context())
		if err == nil || !strings.Contains(err.Error(), "broker down") || n != 3 {
			t.Fatalf("first Flush = %d, %v; want 3 and the broker's failure", n, err)
		}
		if got := published(); !slices.Equal(got, idsOf(want[:3])) {
			t.Fatalf("published %v, want %v", got, idsOf(want[:3]))
		}
		held := newDeliverer(t, s, "flush", events.Publishing(pub), config("other", 2, nil))
		stop := start(t, held)
		eventually(t, "the other deliverer publishes the rest", func() bool { return len(published()) == 5 })
		if n, err := d.Flush(t.Context()); !errors.Is(err, events.ErrLeaseHeld) || n != 0 {
			t.Errorf("Flush beside a running deliverer = %d, %v; want 0, ErrLeaseHeld", n, err)
		}
		stop()
		more := commit(t, s, "org", 7, 6, 3)
		if n, err := d.Flush(t.Context()); err != nil || n != 3 {
			t.Fatalf("Flush after the other stopped = %d, %v; want 3, nil", n, err)
		}
		if all, got := idsOf(slices.Concat(want, more)), published(); !slices.Equal(got, all) {
			t.Errorf("published %v, want %v", got, all)
		}
		if n, err := d.Flush(t.Context()); err != nil || n != 0 {
			t.Errorf("Flush of an empty backlog = %d, %v; want 0, nil", n, err)
		}
	})
}
