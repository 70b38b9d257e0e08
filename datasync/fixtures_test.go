package datasync_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/datasync"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// t0 is the time of the test clock, which stands still; it has
// microseconds, the precision the stores keep.
var t0 = time.Date(2026, time.March, 15, 10, 20, 30, 123456000, time.UTC)

const org = "org-1"

// The path of the document's example.
const (
	acct = "42c57311-25f9-4501-b9db-e78afa73c0e3"
	cust = "afa2r21-25f9-4501-b9db-e78afa73c0e3"
)

// Dates of the document's example.
var (
	opened = time.Date(2017, time.January, 1, 8, 0, 0, 0, time.UTC)
	closed = time.Date(2023, time.April, 6, 8, 0, 0, 0, time.UTC)
)

// fataler is what the helpers need of a test: *testing.T and *rapid.T
// both have it.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// env is a store on a real database with the lifecycle use cases and the
// card data sync over it.
type env struct {
	db    *bun.DB
	store *bunstore.Store
	cards *lifecycle.Cards
	sync  *datasync.Service
}

func newEnv(t fataler, db *bun.DB) *env {
	t.Helper()
	store, err := bunstore.New(context.Background(), db)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	cards, err := lifecycle.NewCards(store, nil, lifecycle.WithClock(func() time.Time { return t0 }))
	if err != nil {
		t.Fatalf("lifecycle use cases: %v", err)
	}
	svc, err := datasync.New(store, cards)
	if err != nil {
		t.Fatalf("card data sync: %v", err)
	}
	return &env{db: db, store: store, cards: cards, sync: svc}
}

// each runs f on a fresh env per database (PostgreSQL only when
// CARDCORE_TEST_PG_DSN is set).
func each(t *testing.T, f func(t *testing.T, e *env)) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) { f(t, newEnv(t, db)) })
}

func ptr[T any](v T) *T { return &v }

// batch returns a batch of the example's path with entries, numbered in
// order.
func batch(entries ...datasync.Entry) datasync.Batch {
	for i := range entries {
		entries[i].Index = i
	}
	return datasync.Batch{OrgID: org, SourceAccountID: acct, SourceCustomerID: cust, Entries: entries}
}

// key returns an entry of the example's path for last4 with no other
// field: an update that changes nothing.
func key(last4 string) datasync.Entry {
	return datasync.Entry{SourceAccountID: acct, SourceCustomerID: cust, Last4: last4}
}

// open returns an entry with every create field of an OPEN card.
func open(last4 string) datasync.Entry {
	e := key(last4)
	e.IIN, e.CardType, e.Status = ptr("123456"), ptr("CREDIT"), ptr("OPEN")
	e.NetworkIdentifier, e.OpenDate = ptr(3), ptr(opened)
	return e
}

// closing returns an entry with every create field of a CLOSED card.
func closing(last4 string) datasync.Entry {
	e := open(last4)
	e.IIN, e.Status, e.CloseDate = ptr("873452"), ptr("CLOSED"), ptr(closed)
	return e
}

// mustApply applies b and fails the test on an error.
func mustApply(t fataler, e *env, b datasync.Batch) string {
	t.Helper()
	id, err := e.sync.Apply(context.Background(), b)
	if err != nil {
		t.Fatalf("apply %+v: %v", b.Entries, err)
	}
	return id
}

// synced returns the synced card of the example's path for last4, and
// whether there is one.
func synced(t fataler, e *env, account, customer, last4 string) (card.Card, bool) {
	t.Helper()
	var c card.Card
	var lookupErr error
	err := e.store.Update(context.Background(), func(ctx context.Context, tx storage.Tx) error {
		c, lookupErr = tx.CardByLast4(ctx, org, account, customer, last4)
		return nil
	})
	if err != nil {
		t.Fatalf("read the synced card %s: %v", last4, err)
	}
	if lookupErr != nil && !isNotFound(lookupErr) {
		t.Fatalf("read the synced card %s: %v", last4, lookupErr)
	}
	return c, lookupErr == nil
}

// mustSynced returns the synced card of the example's path for last4.
func mustSynced(t fataler, e *env, last4 string) card.Card {
	t.Helper()
	c, ok := synced(t, e, acct, cust, last4)
	if !ok {
		t.Fatalf("no synced card for last4 %s", last4)
	}
	return c
}

// event is an event of the feed with its card data decoded.
type event struct {
	events.Event
	card events.CardData
}

// feed returns every event of the org in the outbox, in outbox order. It
// reads the outbox rather than the feed, which on PostgreSQL holds events
// back while any transaction of the server (another test's) is open.
func feed(t fataler, e *env, orgID string) []event {
	t.Helper()
	evs, err := e.store.Pending(context.Background(), 100000)
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	var out []event
	for _, ev := range evs {
		if ev.OrgID != orgID {
			continue
		}
		var d events.CardData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatalf("event %s: %v", ev.ID, err)
		}
		out = append(out, event{ev, d})
	}
	return out
}

// countCards counts the cards of the org in the table, synced or not.
func countCards(t fataler, e *env, orgID string) int {
	t.Helper()
	n, err := e.db.NewSelect().TableExpr("cardcore_cards").Where("org_id = ?", orgID).Count(context.Background())
	if err != nil {
		t.Fatalf("count cards: %v", err)
	}
	return int(n)
}
