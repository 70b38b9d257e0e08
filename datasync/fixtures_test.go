package datasync_test

import (
	"context"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/datasync"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/storage"
)

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
	e.IIN, e.CardType, e.Status = cardtest.Ptr("123456"), cardtest.Ptr("CREDIT"), cardtest.Ptr("OPEN")
	e.NetworkIdentifier, e.OpenDate = cardtest.Ptr(3), cardtest.Ptr(opened)
	return e
}

// closing returns an entry with every create field of a CLOSED card.
func closing(last4 string) datasync.Entry {
	e := open(last4)
	e.IIN, e.Status, e.CloseDate = cardtest.Ptr("873452"), cardtest.Ptr("CLOSED"), cardtest.Ptr(closed)
	return e
}

// mustApply applies b and fails the test on an error.
func mustApply(t cardtest.TB, e *cardtest.Env, b datasync.Batch) string {
	t.Helper()
	id, err := e.Sync.Apply(context.Background(), b)
	if err != nil {
		t.Fatalf("apply %+v: %v", b.Entries, err)
	}
	return id
}

// synced returns the synced card of the example's path for last4, and
// whether there is one.
func synced(t cardtest.TB, e *cardtest.Env, account, customer, last4 string) (card.Card, bool) {
	t.Helper()
	var c card.Card
	var lookupErr error
	err := e.Store.Update(context.Background(), func(ctx context.Context, tx storage.Tx) error {
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
func mustSynced(t cardtest.TB, e *cardtest.Env, last4 string) card.Card {
	t.Helper()
	c, ok := synced(t, e, acct, cust, last4)
	if !ok {
		t.Fatalf("no synced card for last4 %s", last4)
	}
	return c
}
