package bunstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/cardcore/cardcore/storage/storagetest"
	"github.com/uptrace/bun"
)

// TestConformance runs the storage conformance suite on a SQLite file and,
// when CARDCORE_TEST_PG_DSN is set, on PostgreSQL.
func TestConformance(t *testing.T) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t, testdb.Open(t, kind)) })
		})
	}
}

func newStore(t *testing.T, db *bun.DB, opts ...bunstore.Option) *bunstore.Store {
	t.Helper()
	s, err := bunstore.New(t.Context(), db, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The Changes of the tests' saves: a card's creation, and a status set by
// hand.
var (
	created = events.Created(card.Create, testNow())
	updated = events.Updated(card.UpdateStatus, testNow())
)

func testNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// validCard returns a new PLASTIC card of org "org" in status CREATED.
func validCard(now time.Time) card.Card {
	return card.Card{OrgID: "org", ProgramID: 1, AccountID: "1", CustomerID: "2", Type: card.Plastic, Mode: card.Credit,
		Status: card.Created, Name: card.PlasticName, IssuingDate: now, ExpirationDate: card.MonthOf(now).AddDate(6, 0, 0),
		TrackNumber: 1, PINLength: 4, Version: 1, CreatedAt: now, UpdatedAt: now}
}

// virtualCard returns a new VIRTUAL card of org "org" and customer "c1"
// named name, in status st.
func virtualCard(name string, st card.Status) card.Card {
	now := time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC)
	return card.Card{OrgID: "org", CustomerID: "c1", AccountID: "a1", Type: card.Virtual, Status: st, Mode: card.Credit,
		Name: name, IssuingDate: now, ExpirationDate: now.AddDate(1, 0, 0), TrackNumber: 1, PINLength: 4,
		Version: 1, CreatedAt: now, UpdatedAt: now}
}

// insert saves the new card c in a transaction of its own and returns it
// with its ID and Token.
func insert(t *testing.T, s storage.Store, c card.Card) card.Card {
	t.Helper()
	if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.Save(ctx, &c, created) }); err != nil {
		t.Fatal(err)
	}
	return c
}

// feed returns the first 100 events of org "org".
func feed(t *testing.T, s storage.Store) []events.Event {
	t.Helper()
	evs, err := s.Feed(t.Context(), "org", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
