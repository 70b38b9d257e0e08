package bunstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// A lease's expiry is the database's time plus the lease time: on this
// machine the database's clock and the test's agree, so it falls within
// the call, whatever the process's time zone.
func TestLeaseExpiresByTheDatabaseClock(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := newStore(t, db)
		const ttl = 5 * time.Second
		before := time.Now()
		l, err := s.Acquire(t.Context(), "sub", "holder", ttl)
		after := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		// SQLite's clock keeps milliseconds.
		lo, hi := before.Add(ttl-time.Millisecond), after.Add(ttl+time.Millisecond)
		if l.Expires.Before(lo) || l.Expires.After(hi) || l.Expires.Location() != time.UTC {
			t.Errorf("Expires = %s, want in UTC between %s and %s", l.Expires, lo, hi)
		}
	})
}

// A store bound to the host's transaction keeps subscriptions on the
// store's own connections: After does not see the host's uncommitted
// events, and (where the host's transaction does not hold the database's
// one write lock, so on PostgreSQL) a lease is taken and kept whatever
// the host's transaction then does.
func TestSubscriptionsOfBoundStore(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := hostDB(t, db)
		tx := begin(t, db)
		order(t, tx, 1, "order")
		bound := s.InTx(tx)
		insert(t, bound, validCard(testNow()))
		if evs, err := bound.After(t.Context(), 0, 10); err != nil || len(evs) != 0 {
			t.Errorf("the bound store's After before the host commits: %d events, %v; want none", len(evs), err)
		}
		if db.Dialect().Name() == dialect.PG {
			if _, err := bound.Acquire(t.Context(), "sub", "holder-1", time.Minute); err != nil {
				t.Fatalf("the bound store's Acquire: %v", err)
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Acquire(t.Context(), "sub", "holder-2", time.Minute); !errors.Is(err, events.ErrLeaseHeld) {
				t.Errorf("Acquire by another holder after the host rolled back: %v, want the lease held", err)
			}
			return
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if evs, err := bound.After(t.Context(), 0, 10); err != nil || len(evs) != 1 {
			t.Errorf("the bound store's After once the host committed: %d events, %v; want 1", len(evs), err)
		}
	})
}

// A call with a cancelled context fails with the context's error.
func TestSubscriptionsCancelled(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		var s storage.Store = newStore(t, db)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := s.Acquire(ctx, "sub", "holder", time.Minute); !errors.Is(err, context.Canceled) {
			t.Errorf("Acquire with a cancelled context: %v, want context.Canceled", err)
		}
		if _, err := s.After(ctx, 0, 10); !errors.Is(err, context.Canceled) {
			t.Errorf("After with a cancelled context: %v, want context.Canceled", err)
		}
	})
}
