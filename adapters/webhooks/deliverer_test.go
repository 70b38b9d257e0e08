package webhooks_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/webhooks"
	"github.com/cardcore/cardcore/events"
)

// memorySubscriptions is one subscription's cursor and lease over a fixed
// feed, in memory: enough for one deliverer, and a place to observe every
// move of the cursor as it happens. The deliverer's own tests (package
// events) run it against the real stores.
type memorySubscriptions struct {
	mu    sync.Mutex
	feed  []events.Event
	lease events.Lease
	// moved, when set, is told of every move of the cursor.
	moved func(seq int64)
}

func (m *memorySubscriptions) Acquire(_ context.Context, name, holder string, ttl time.Duration) (events.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lease.Holder != "" && m.lease.Holder != holder && time.Now().Before(m.lease.Expires) {
		return events.Lease{}, events.ErrLeaseHeld
	}
	if m.lease.Holder != holder {
		m.lease.Token++
	}
	m.lease.Subscription, m.lease.Holder, m.lease.Expires = name, holder, time.Now().Add(ttl)
	return m.lease, nil
}

func (m *memorySubscriptions) Advance(_ context.Context, l events.Lease, seq int64, ttl time.Duration) (events.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l.Token != m.lease.Token || l.Holder != m.lease.Holder || seq < m.lease.Cursor {
		return events.Lease{}, events.ErrLeaseLost
	}
	m.lease.Cursor, m.lease.Expires = seq, time.Now().Add(ttl)
	if m.moved != nil {
		m.moved(seq)
	}
	return m.lease, nil
}

func (m *memorySubscriptions) Release(_ context.Context, l events.Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l.Token == m.lease.Token {
		m.lease.Holder = ""
	}
	return nil
}

func (m *memorySubscriptions) Drop(context.Context, string) error {
	return errors.New("memorySubscriptions: Drop is not used by a deliverer")
}

func (m *memorySubscriptions) After(_ context.Context, after int64, limit int) ([]events.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []events.Event
	for _, e := range m.feed {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memorySubscriptions) Head(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.feed) == 0 {
		return 0, nil
	}
	return m.feed[len(m.feed)-1].Seq, nil
}

func (m *memorySubscriptions) cursor() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lease.Cursor
}

// quickRetries is the webhook destination with its schedule shortened, so
// the deliverer's retries take milliseconds instead of minutes.
type quickRetries struct{ *webhooks.Destination }

func (quickRetries) Backoff(int) time.Duration { return 20 * time.Millisecond }

// TestDelivererRunsTheWebhook drives the destination with the deliverer of
// package events, as the relay does: a receiver that fails, times out and
// then succeeds gets every event of the feed, in seq order, each accepted
// once, and the cursor never passes an event before the receiver took it.
func TestDelivererRunsTheWebhook(t *testing.T) {
	secret := webhooks.NewSecret()
	rc := newReceiver(t, secret, ok, ok, fail, fail, ok, hang, ok, fail)
	ep := endpoint(rc.srv.URL, secret)
	evs := append(feed("acme", 0, 6), feed("globex", 6, 2)...)
	evs = append(evs, feed("acme", 8, 4)...)
	subs := &memorySubscriptions{feed: evs}
	subs.moved = func(seq int64) {
		got := rc.acceptedIDs()
		for _, e := range evs {
			if e.Seq <= seq && ep.Selects(e) && !slices.Contains(got, e.ID) {
				t.Errorf("the cursor moved to %d before the receiver took seq %d", seq, e.Seq)
			}
		}
	}
	dest := newDestination(t, ep, webhooks.WithAllowPrivate(true), webhooks.WithTimeout(200*time.Millisecond))
	var errs []error
	var errMu sync.Mutex
	d, err := events.NewDeliverer(subs, "webhook:"+ep.ID, quickRetries{dest}, events.DelivererConfig{
		Batch: 4, Idle: 10 * time.Millisecond, Select: ep.Selects,
		OnError: func(err error) { errMu.Lock(); errs = append(errs, err); errMu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	last := evs[len(evs)-1].Seq
	deadline := time.Now().Add(10 * time.Second)
	for subs.cursor() < last && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if subs.cursor() != last {
		t.Fatalf("cursor %d, want %d", subs.cursor(), last)
	}
	var want []string
	for _, e := range evs {
		if ep.Selects(e) {
			want = append(want, e.ID)
		}
	}
	if got := rc.acceptedIDs(); !slices.Equal(got, want) {
		t.Fatalf("received %v\nwant      %v", got, want)
	}
	errMu.Lock()
	defer errMu.Unlock()
	if len(errs) != 4 {
		t.Errorf("the deliverer reported %d failures, want 4 (two 500s, a timeout, a 500): %v", len(errs), errs)
	}
	if d.Delivered() != int64(len(want)) {
		t.Errorf("Delivered = %d, want %d", d.Delivered(), len(want))
	}
}
