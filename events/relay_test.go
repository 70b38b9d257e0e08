package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// appendEvents commits n events for card id, versions 1..n, one
// transaction each.
func appendEvents(t *testing.T, s storage.Store, id int64, n int) {
	t.Helper()
	for v := 1; v <= n; v++ {
		e, err := events.New(t.Context(), events.CardUpdated, "org", map[string]int{"version": v}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.CardID = id
		if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, e) }); err != nil {
			t.Fatal(err)
		}
	}
}

func version(t *testing.T, e events.Event) int {
	var d struct{ Version int }
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.Version
}

// The relay delivers every committed event in outbox order; a failed
// publish stops it at that event, which is delivered again on the next
// pass before any later one (at least once, never out of order).
func TestRelay(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s, err := bunstore.New(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		appendEvents(t, s, 7, 5)
		var got []int
		failAt := 3
		pub := events.PublisherFunc(func(_ context.Context, e events.Event) error {
			v := version(t, e)
			if v == failAt {
				failAt = 0 // fail once
				return errors.New("broker down")
			}
			got = append(got, v)
			return nil
		})
		r, err := events.NewRelay(s, pub, events.WithBatch(2))
		if err != nil {
			t.Fatal(err)
		}
		n, err := r.Flush(t.Context())
		if err == nil || n != 2 {
			t.Fatalf("first Flush = %d, %v; want 2 delivered and the broker's error", n, err)
		}
		if n, err := r.Flush(t.Context()); err != nil || n != 3 {
			t.Fatalf("second Flush = %d, %v; want the 3 left", n, err)
		}
		if fmt.Sprint(got) != "[1 2 3 4 5]" {
			t.Fatalf("delivered versions %v, want [1 2 3 4 5]", got)
		}
		if left, err := s.Pending(t.Context(), 10); err != nil || len(left) != 0 {
			t.Fatalf("outbox still holds %d events (%v)", len(left), err)
		}
		if n, err := r.Flush(t.Context()); err != nil || n != 0 {
			t.Fatalf("Flush of an empty outbox = %d, %v", n, err)
		}
	})
}

// Run relays until its context ends, reporting failures to onError.
func TestRelayRun(t *testing.T) {
	s, err := bunstore.New(t.Context(), testdb.Open(t, "sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	appendEvents(t, s, 1, 3)
	delivered := make(chan events.Event, 10)
	calls := 0
	pub := events.PublisherFunc(func(_ context.Context, e events.Event) error {
		calls++
		if calls == 1 {
			return errors.New("first try fails")
		}
		delivered <- e
		return nil
	})
	r, err := events.NewRelay(s, pub, events.WithInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errs := make(chan error, 10)
	done := make(chan error)
	go func() { done <- r.Run(ctx, func(err error) { errs <- err }) }()
	for i := 1; i <= 3; i++ {
		select {
		case e := <-delivered:
			if v := version(t, e); v != i {
				t.Fatalf("delivery %d is version %d", i, v)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the relay did not deliver")
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	if len(errs) == 0 {
		t.Fatal("the failed publish was not reported to onError")
	}
}

func TestNewRelayRefusesBadSettings(t *testing.T) {
	pub := events.PublisherFunc(func(context.Context, events.Event) error { return nil })
	if _, err := events.NewRelay(nil, pub); err == nil {
		t.Error("NewRelay accepted a nil outbox")
	}
	s, err := bunstore.New(t.Context(), testdb.Open(t, "sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.NewRelay(s, nil); err == nil {
		t.Error("NewRelay accepted a nil publisher")
	}
	if _, err := events.NewRelay(s, pub, events.WithBatch(0)); err == nil {
		t.Error("NewRelay accepted a batch of 0")
	}
}
