package bunstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
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

// ListSubscriptions shows every subscription by name with its cursor, its
// lag behind the head, its last holder and whether the lease is live; a
// subscription made for a webhook endpoint, never leased, has neither.
func TestListSubscriptions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := newStore(t, db)
		for v := range 5 {
			e := orgEvent("acme", int64(v+1))
			if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, e) }); err != nil {
				t.Fatal(err)
			}
		}
		if subs, err := s.ListSubscriptions(t.Context()); err != nil || len(subs) != 0 {
			t.Fatalf("ListSubscriptions of a new store = %v, %v; want none", subs, err)
		}
		b, err := s.Acquire(t.Context(), "b-live", "holder-b", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Advance(t.Context(), b, 4, time.Minute); err != nil {
			t.Fatal(err)
		}
		a, err := s.Acquire(t.Context(), "a-released", "holder-a", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Release(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		ep := storage.WebhookEndpoint{OrgID: "acme", URL: "https://hooks.example.com/x", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Enabled: true}
		if err := s.CreateEndpoint(t.Context(), &ep); err != nil {
			t.Fatal(err)
		}
		subs, err := s.ListSubscriptions(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(subs) != 3 {
			t.Fatalf("ListSubscriptions = %+v, want 3", subs)
		}
		want := []struct {
			name   string
			cursor int64
			lag    int64
			holder string
			live   bool
		}{
			{"a-released", 0, 5, "holder-a", false},
			{"b-live", 4, 1, "holder-b", true},
			{storage.EndpointSubscription(ep.ID), 5, 0, "", false},
		}
		for i, w := range want {
			g := subs[i]
			if g.Name != w.name || g.Cursor != w.cursor || g.Lag != w.lag || g.Holder != w.holder || g.Live != w.live {
				t.Errorf("subscription %d = %+v, want %+v", i, g, w)
			}
		}
		if !subs[1].Expires.After(time.Now()) || !subs[2].Expires.IsZero() {
			t.Errorf("lease expiries %s and %s: want the live one in the future, none for the endpoint's", subs[1].Expires, subs[2].Expires)
		}
	})
}

// orgEvent is an update-1 of card 1 of org, of version v.
func orgEvent(org string, v int64) events.Event {
	return events.Event{
		ID: uuid.NewString(), Domain: events.Domain, Type: events.CardUpdated,
		SchemaVersion: events.SchemaVersion, OrgID: org, CID: uuid.NewString(),
		Timestamp: time.Now().UTC(), Data: json.RawMessage(fmt.Sprintf(`{"card_id": 1, "version": %d}`, v)), CardID: 1,
	}
}
