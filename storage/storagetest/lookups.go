package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

var cardByTokenChecks = []check{
	{"FindsTheCardOfTheOrg", cardByTokenFindsTheCard},
	{"OtherOrgOrMissingIsNotFound", cardByTokenOtherOrgOrMissing},
	{"LockHoldsOffWriters", cardByTokenLocks},
}

// Store.CardByToken and Tx.CardByToken find a card by its token, in the
// inserting transaction too, and return it whole.
func cardByTokenFindsTheCard(t *testing.T, s storage.Store) {
	pred := insert(t, s, NewCard(orgA))[0]
	other := insert(t, s, NewCard(orgA))[0]
	want := fullCard(orgA, pred.ID)
	var inserting card.Card
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.Insert(ctx, &want); err != nil {
			return err
		}
		var err error
		inserting, err = tx.CardByToken(ctx, orgA, want.Token)
		return err
	})
	mustEqualCard(t, "Tx.CardByToken in the inserting transaction", want, inserting)
	got, err := s.CardByToken(t.Context(), orgA, want.Token)
	if err != nil {
		t.Fatalf("Store.CardByToken: %v", err)
	}
	mustEqualCard(t, "Store.CardByToken after commit", want, got)
	got = inTx(t, s, func(ctx context.Context, tx storage.Tx) (card.Card, error) {
		return tx.CardByToken(ctx, orgA, other.Token)
	})
	mustEqualCard(t, "Tx.CardByToken of another card", other, got)
}

func cardByTokenOtherOrgOrMissing(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	for _, tc := range []struct{ name, org, token string }{
		{"a card of another org", orgB, c.Token},
		{"a token with no card", orgA, uuid.NewString()},
		{"an empty token", orgA, ""},
	} {
		_, err := s.CardByToken(t.Context(), tc.org, tc.token)
		checkErr(t, "Store.CardByToken of "+tc.name, err, card.ErrNotFound)
		var txErr error
		update(t, s, func(ctx context.Context, tx storage.Tx) error {
			_, txErr = tx.CardByToken(ctx, tc.org, tc.token)
			return nil
		})
		checkErr(t, "Tx.CardByToken of "+tc.name, txErr, card.ErrNotFound)
	}
}

// While a transaction holds a card it loaded with Tx.CardByToken, no other
// transaction changes it.
func cardByTokenLocks(t *testing.T, s storage.Store) {
	c := NewCard(orgA)
	c.Status = card.Normal
	c = insert(t, s, c)[0]
	lockHoldsOffWriters(t, s, c, func(ctx context.Context, tx storage.Tx) (card.Card, error) {
		return tx.CardByToken(ctx, orgA, c.Token)
	})
}

var cardByLast4Checks = []check{
	{"FindsTheSyncedCardOfTheKey", cardByLast4FindsTheKey},
	{"IgnoresCardsNotSynced", cardByLast4IgnoresCardsNotSynced},
	{"SecondSyncedCardOfAKeyIsConflict", cardByLast4SecondIsConflict},
	{"LockHoldsOffWriters", cardByLast4Locks},
}

// syncedCard returns a valid NORMAL synced card of org for the key, with
// no expiration date, as card data sync makes it.
func syncedCard(org, account, customer, last4 string) card.Card {
	c := NewCard(org)
	c.AccountID, c.CustomerID, c.Last4 = account, customer, last4
	c.Status, c.Synced = card.Normal, true
	c.Brand, c.BIN = card.Mastercard, "123456"
	c.ExpirationDate = time.Time{}
	return c
}

// byLast4 loads the synced card of the key in a transaction of its own.
func byLast4(t *testing.T, s storage.Store, org, account, customer, last4 string) (card.Card, error) {
	t.Helper()
	var c card.Card
	var lookupErr error
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		c, lookupErr = tx.CardByLast4(ctx, org, account, customer, last4)
		return nil
	})
	return c, lookupErr
}

// CardByLast4 finds the synced card whose org, account, customer and last
// four digits are all the key's, in the inserting transaction too; a key
// that differs in any of them finds nothing.
func cardByLast4FindsTheKey(t *testing.T, s storage.Store) {
	want := syncedCard(orgA, "acct-1", "cust-1", "1234")
	want.CloseDate, want.Status = want.IssuingDate.Add(time.Hour), card.Canceled
	validCard(t, "syncedCard", want)
	neighbours := []card.Card{
		syncedCard(orgA, "acct-1", "cust-1", "1235"),
		syncedCard(orgA, "acct-1", "cust-2", "1234"),
		syncedCard(orgA, "acct-2", "cust-1", "1234"),
		syncedCard(orgB, "acct-1", "cust-1", "1234"),
	}
	insert(t, s, neighbours...)
	var inserting card.Card
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.Insert(ctx, &want); err != nil {
			return err
		}
		var err error
		inserting, err = tx.CardByLast4(ctx, orgA, "acct-1", "cust-1", "1234")
		return err
	})
	mustEqualCard(t, "Tx.CardByLast4 in the inserting transaction", want, inserting)
	got, err := byLast4(t, s, orgA, "acct-1", "cust-1", "1234")
	if err != nil {
		t.Fatalf("Tx.CardByLast4 after commit: %v", err)
	}
	mustEqualCard(t, "Tx.CardByLast4 after commit", want, got)
	for _, key := range [][4]string{
		{orgB, "acct-2", "cust-1", "1234"},
		{orgA, "acct-1", "cust-1", "9999"},
		{orgA, "acct-3", "cust-1", "1234"},
		{orgA, "acct-1", "cust-3", "1234"},
	} {
		_, err := byLast4(t, s, key[0], key[1], key[2], key[3])
		checkErr(t, "Tx.CardByLast4 of a key with no synced card", err, card.ErrNotFound)
	}
}

// A card that is not synced is never found by CardByLast4, and does not
// keep a synced card of the same account, customer and last four digits
// from being stored.
func cardByLast4IgnoresCardsNotSynced(t *testing.T, s storage.Store) {
	plain := NewCard(orgA)
	plain.AccountID, plain.CustomerID, plain.Last4 = "acct-1", "cust-1", "1234"
	plain2 := plain
	insert(t, s, plain, plain2)
	_, err := byLast4(t, s, orgA, "acct-1", "cust-1", "1234")
	checkErr(t, "Tx.CardByLast4 of a key only cards not synced have", err, card.ErrNotFound)
	want := insert(t, s, syncedCard(orgA, "acct-1", "cust-1", "1234"))[0]
	got, err := byLast4(t, s, orgA, "acct-1", "cust-1", "1234")
	if err != nil {
		t.Fatalf("Tx.CardByLast4 beside cards not synced: %v", err)
	}
	mustEqualCard(t, "Tx.CardByLast4 beside cards not synced", want, got)
}

// A second synced card of one key is refused as a conflict, whatever its
// status, and nothing of its transaction is kept.
func cardByLast4SecondIsConflict(t *testing.T, s storage.Store) {
	first := insert(t, s, syncedCard(orgA, "acct-1", "cust-1", "1234"))[0]
	second := syncedCard(orgA, "acct-1", "cust-1", "1234")
	second.Status = card.Canceled
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		return tx.Insert(ctx, &second)
	})
	checkErr(t, "Insert of a second synced card of the key", err, card.ErrConflict)
	got, err := byLast4(t, s, orgA, "acct-1", "cust-1", "1234")
	if err != nil {
		t.Fatalf("Tx.CardByLast4 after the refused Insert: %v", err)
	}
	mustEqualCard(t, "Tx.CardByLast4 after the refused Insert", first, got)
	if n := len(byAccount(t, s, orgA, "acct-1")); n != 1 {
		t.Errorf("the account holds %d cards after the refused Insert, want 1", n)
	}
}

// While a transaction holds a card it loaded with Tx.CardByLast4, no other
// transaction changes it.
func cardByLast4Locks(t *testing.T, s storage.Store) {
	c := insert(t, s, syncedCard(orgA, "acct-1", "cust-1", "1234"))[0]
	lockHoldsOffWriters(t, s, c, func(ctx context.Context, tx storage.Tx) (card.Card, error) {
		return tx.CardByLast4(ctx, orgA, "acct-1", "cust-1", "1234")
	})
}
