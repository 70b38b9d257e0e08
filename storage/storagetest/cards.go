package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// The reads of cards: storage.Cards inside a transaction, and the Store's
// own reads (Card, CardByToken, CardsByAccount). The unique rules a read
// relies on (one successor, one live VIRTUAL alias, one synced card per
// key) are checked here with their reads.
var cardsChecks = []check{
	{"CardOtherOrgIsNotFound", cardOtherOrgIsNotFound},
	{"CardMissingIsNotFound", cardMissingIsNotFound},
	{"CardByTokenFindsTheCardOfTheOrg", cardByTokenFindsTheCard},
	{"CardByTokenOtherOrgOrMissingIsNotFound", cardByTokenOtherOrgOrMissing},
	{"CardByLast4FindsTheSyncedCardOfTheKey", cardByLast4FindsTheKey},
	{"CardByLast4IgnoresCardsNotSynced", cardByLast4IgnoresCardsNotSynced},
	{"CardByLast4SecondSyncedCardOfAKeyIsConflict", cardByLast4SecondIsConflict},
	{"SuccessorFindsTheReissuedCardWithinTheOrg", successorFindsReissuedCard},
	{"SuccessorSeesItsOwnTransaction", successorSeesItsOwnTransaction},
	{"SuccessorSecondIsConflict", successorSecondIsConflict},
	{"VirtualAliasTakenOnceInserted", aliasTakenOnceInserted},
	{"VirtualAliasTakenOnlyByLiveVirtualCards", aliasTakenOnlyByLiveVirtualCards},
	{"VirtualAliasDuplicateIsConflict", aliasDuplicateIsConflict},
	{"VirtualAliasAllowedBesideOtherCards", aliasAllowedBesideOtherCards},
	{"VirtualAliasFreedByTermination", aliasFreedByTermination},
	{"CardsByAccountFiltersByOrgAndAccountAndPages", cardsByAccountFiltersAndPages},
}

func cardOtherOrgIsNotFound(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	checkCardNotFound(t, s, orgB, c.ID)
}

func cardMissingIsNotFound(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	checkCardNotFound(t, s, orgA, c.ID+1000)
}

// checkCardNotFound checks that both Store.Card and Tx.Card report card id
// of org as not found.
func checkCardNotFound(t *testing.T, s storage.Store, org string, id int64) {
	t.Helper()
	checkNotFound(t, s, "Card",
		func(ctx context.Context) (card.Card, error) { return s.Card(ctx, org, id) },
		func(ctx context.Context, tx storage.Tx) (card.Card, error) { return tx.Card(ctx, org, id) })
}

// Store.CardByToken and Tx.CardByToken find a card by its token, in the
// inserting transaction too, and return it whole.
func cardByTokenFindsTheCard(t *testing.T, s storage.Store) {
	pred := insert(t, s, NewCard(orgA))[0]
	other := insert(t, s, NewCard(orgA))[0]
	want, inserting := saveAndRead(t, s, saveCard, fullCard(orgA, pred.ID), func(ctx context.Context, tx storage.Tx, c card.Card) (card.Card, error) {
		return tx.CardByToken(ctx, orgA, c.Token)
	})
	mustEqual(t, "Tx.CardByToken in the inserting transaction", want, inserting)
	got, err := s.CardByToken(t.Context(), orgA, want.Token)
	if err != nil {
		t.Fatalf("Store.CardByToken: %v", err)
	}
	mustEqual(t, "Store.CardByToken after commit", want, got)
	got = inTx(t, s, func(ctx context.Context, tx storage.Tx) (card.Card, error) {
		return tx.CardByToken(ctx, orgA, other.Token)
	})
	mustEqual(t, "Tx.CardByToken of another card", other, got)
}

func cardByTokenOtherOrgOrMissing(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	for _, tc := range []struct{ name, org, token string }{
		{"a card of another org", orgB, c.Token},
		{"a token with no card", orgA, uuid.NewString()},
		{"an empty token", orgA, ""},
	} {
		checkNotFound(t, s, "CardByToken of "+tc.name,
			func(ctx context.Context) (card.Card, error) { return s.CardByToken(ctx, tc.org, tc.token) },
			func(ctx context.Context, tx storage.Tx) (card.Card, error) {
				return tx.CardByToken(ctx, tc.org, tc.token)
			})
	}
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
	err := errIn(t, s, func(ctx context.Context, tx storage.Tx) error {
		var err error
		c, err = tx.CardByLast4(ctx, org, account, customer, last4)
		return err
	})
	return c, err
}

// CardByLast4 finds the synced card whose org, account, customer and last
// four digits are all the key's, in the inserting transaction too; a key
// that differs in any of them finds nothing.
func cardByLast4FindsTheKey(t *testing.T, s storage.Store) {
	c := syncedCard(orgA, "acct-1", "cust-1", "1234")
	c.CloseDate, c.Status = c.IssuingDate.Add(time.Hour), card.Canceled
	validCard(t, "syncedCard", c)
	insert(t, s,
		syncedCard(orgA, "acct-1", "cust-1", "1235"),
		syncedCard(orgA, "acct-1", "cust-2", "1234"),
		syncedCard(orgA, "acct-2", "cust-1", "1234"),
		syncedCard(orgB, "acct-1", "cust-1", "1234"))
	want, inserting := saveAndRead(t, s, saveCard, c, func(ctx context.Context, tx storage.Tx, _ card.Card) (card.Card, error) {
		return tx.CardByLast4(ctx, orgA, "acct-1", "cust-1", "1234")
	})
	mustEqual(t, "Tx.CardByLast4 in the inserting transaction", want, inserting)
	got, err := byLast4(t, s, orgA, "acct-1", "cust-1", "1234")
	if err != nil {
		t.Fatalf("Tx.CardByLast4 after commit: %v", err)
	}
	mustEqual(t, "Tx.CardByLast4 after commit", want, got)
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
	insert(t, s, plain, plain)
	_, err := byLast4(t, s, orgA, "acct-1", "cust-1", "1234")
	checkErr(t, "Tx.CardByLast4 of a key only cards not synced have", err, card.ErrNotFound)
	want := insert(t, s, syncedCard(orgA, "acct-1", "cust-1", "1234"))[0]
	got, err := byLast4(t, s, orgA, "acct-1", "cust-1", "1234")
	if err != nil {
		t.Fatalf("Tx.CardByLast4 beside cards not synced: %v", err)
	}
	mustEqual(t, "Tx.CardByLast4 beside cards not synced", want, got)
}

// saveRefused checks that Save of the new card c is a conflict, in a
// transaction that then fails.
func saveRefused(t *testing.T, s storage.Store, what string, c card.Card) {
	t.Helper()
	conflicts(t, s, "Save of "+what, func(ctx context.Context, tx storage.Tx) error {
		try := c
		return saveCard(ctx, tx, &try)
	})
}

// A second synced card of one key is refused as a conflict, whatever its
// status, and nothing of its transaction is kept.
func cardByLast4SecondIsConflict(t *testing.T, s storage.Store) {
	first := insert(t, s, syncedCard(orgA, "acct-1", "cust-1", "1234"))[0]
	second := syncedCard(orgA, "acct-1", "cust-1", "1234")
	second.Status = card.Canceled
	saveRefused(t, s, "a second synced card of the key", second)
	got, err := byLast4(t, s, orgA, "acct-1", "cust-1", "1234")
	if err != nil {
		t.Fatalf("Tx.CardByLast4 after the refused Save: %v", err)
	}
	mustEqual(t, "Tx.CardByLast4 after the refused Save", first, got)
	if n := len(byAccount(t, s, orgA, "acct-1")); n != 1 {
		t.Errorf("the account holds %d cards after the refused Save, want 1", n)
	}
}

// successorOf returns a new card of orgA that reissues card id.
func successorOf(id int64) card.Card {
	c := NewCard(orgA)
	c.ReissuedCardID, c.TrackNumber = id, 2
	return c
}

func successorFindsReissuedCard(t *testing.T, s storage.Store) {
	old := insert(t, s, NewCard(orgA))[0]
	next := insert(t, s, successorOf(old.ID))[0]
	unrelated := insert(t, s, NewCard(orgA))[0]
	var got card.Card
	var err, lastErr, unrelatedErr, otherOrgErr, missingErr error
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		got, err = tx.Successor(ctx, orgA, old.ID)
		_, lastErr = tx.Successor(ctx, orgA, next.ID)
		_, unrelatedErr = tx.Successor(ctx, orgA, unrelated.ID)
		_, otherOrgErr = tx.Successor(ctx, orgB, old.ID)
		_, missingErr = tx.Successor(ctx, orgA, unrelated.ID+1000)
		return nil
	})
	if err != nil {
		t.Errorf("Successor of a reissued card: %v", err)
	} else {
		mustEqual(t, "Successor", next, got)
	}
	checkErr(t, "Successor of the newest card", lastErr, card.ErrNotFound)
	checkErr(t, "Successor of a card never reissued", unrelatedErr, card.ErrNotFound)
	checkErr(t, "Successor in another org", otherOrgErr, card.ErrNotFound)
	checkErr(t, "Successor of a missing card", missingErr, card.ErrNotFound)
}

// A reissue checks for a successor after it has locked the old card, and
// may have inserted one in the same transaction.
func successorSeesItsOwnTransaction(t *testing.T, s storage.Store) {
	old := insert(t, s, NewCard(orgA))[0]
	inserted, got := saveAndRead(t, s, saveCard, successorOf(old.ID), func(ctx context.Context, tx storage.Tx, _ card.Card) (card.Card, error) {
		return tx.Successor(ctx, orgA, old.ID)
	})
	mustEqual(t, "Successor inserted in the same transaction", inserted, got)
}

// A card has at most one successor (package storage: a broken unique rule
// is a conflict), so two concurrent reissues cannot both commit one.
func successorSecondIsConflict(t *testing.T, s storage.Store) {
	old := insert(t, s, NewCard(orgA))[0]
	first := insert(t, s, successorOf(old.ID))[0]
	saveRefused(t, s, "a second successor", successorOf(old.ID))
	got := inTx(t, s, func(ctx context.Context, tx storage.Tx) (card.Card, error) { return tx.Successor(ctx, orgA, old.ID) })
	mustEqual(t, "Successor after the refused second successor", first, got)
}

// taken reports VirtualAliasTaken in a transaction of its own.
func taken(t *testing.T, s storage.Store, org, customer, alias string) bool {
	t.Helper()
	return inTx(t, s, func(ctx context.Context, tx storage.Tx) (bool, error) {
		return tx.VirtualAliasTaken(ctx, org, customer, alias)
	})
}

func aliasTakenOnceInserted(t *testing.T, s storage.Store) {
	if taken(t, s, orgA, "2001", "Travel") {
		t.Errorf("VirtualAliasTaken is true before any card")
	}
	takenInTx := inTx(t, s, func(ctx context.Context, tx storage.Tx) (bool, error) {
		c := virtualCard(orgA, "2001", "Travel")
		if err := saveCard(ctx, tx, &c); err != nil {
			return false, err
		}
		return tx.VirtualAliasTaken(ctx, orgA, "2001", "Travel")
	})
	if !takenInTx {
		t.Errorf("VirtualAliasTaken is false in the transaction that inserted the card")
	}
	if !taken(t, s, orgA, "2001", "Travel") {
		t.Errorf("VirtualAliasTaken is false after commit")
	}
	for _, tc := range []struct{ what, org, customer, alias string }{
		{"another customer", orgA, "2002", "Travel"},
		{"another org", orgB, "2001", "Travel"},
		{"another alias", orgA, "2001", "Groceries"},
	} {
		if taken(t, s, tc.org, tc.customer, tc.alias) {
			t.Errorf("VirtualAliasTaken is true for %s", tc.what)
		}
	}
}

// notLiveVirtual returns a TEMPORARY card and a CANCELED VIRTUAL card of
// orgA for customer 2001, named alias: neither holds the alias.
func notLiveVirtual(t *testing.T, alias string) (temporary, canceled card.Card) {
	t.Helper()
	temporary = virtualCard(orgA, "2001", alias)
	temporary.Type, temporary.CVVRotationIntervalHours = card.Temporary, nil
	canceled = virtualCard(orgA, "2001", alias)
	canceled.Status, canceled.PreviousStatus = card.Canceled, card.Normal
	validCard(t, "the TEMPORARY card", temporary)
	validCard(t, "the CANCELED VIRTUAL card", canceled)
	return temporary, canceled
}

func aliasTakenOnlyByLiveVirtualCards(t *testing.T, s storage.Store) {
	temporary, _ := notLiveVirtual(t, "Gym")
	_, canceled := notLiveVirtual(t, "Old")
	insert(t, s, temporary, canceled, NewCard(orgA))
	for _, alias := range []string{"Gym", "Old", card.PlasticName} {
		if taken(t, s, orgA, "2001", alias) {
			t.Errorf("VirtualAliasTaken(%q) is true, but no live VIRTUAL card has that alias", alias)
		}
	}
}

// The rule is per customer, not per account: a second account of the same
// customer does not make room for a second alias.
func aliasDuplicateIsConflict(t *testing.T, s storage.Store) {
	insert(t, s, virtualCard(orgA, "2001", "Travel"))
	dup := virtualCard(orgA, "2001", "Travel")
	dup.AccountID = "1002"
	saveRefused(t, s, "a second live VIRTUAL card with the alias", dup)
	mustEqualAll(t, "CardsByAccount of the refused card's account", nil, byAccount(t, s, orgA, "1002"))
}

func aliasAllowedBesideOtherCards(t *testing.T, s storage.Store) {
	insert(t, s, virtualCard(orgA, "2001", "Travel"))
	temporary, canceled := notLiveVirtual(t, "Travel")
	for _, tc := range []struct {
		what string
		c    card.Card
	}{
		{"a VIRTUAL card of another customer", virtualCard(orgA, "2002", "Travel")},
		{"a VIRTUAL card in another org", virtualCard(orgB, "2001", "Travel")},
		{"a TEMPORARY card", temporary},
		{"a terminated VIRTUAL card", canceled},
		{"a PLASTIC card", NewCard(orgA)},
		{"a second PLASTIC card", NewCard(orgA)},
	} {
		validCard(t, tc.what, tc.c)
		err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			c := tc.c
			return saveCard(ctx, tx, &c)
		})
		if err != nil {
			t.Errorf("Save of %s with the alias of a live VIRTUAL card: %v", tc.what, err)
		}
	}
}

func aliasFreedByTermination(t *testing.T, s storage.Store) {
	first := insert(t, s, virtualCard(orgA, "2001", "Travel"))[0]
	canceled := first
	canceled.Status, canceled.PreviousStatus, canceled.Version = card.Canceled, card.Normal, 2
	saveAll(t, s, saveCard, canceled)
	if taken(t, s, orgA, "2001", "Travel") {
		t.Errorf("VirtualAliasTaken is true once the only card with the alias is CANCELED")
	}
	insert(t, s, virtualCard(orgA, "2001", "Travel"))
	if !taken(t, s, orgA, "2001", "Travel") {
		t.Errorf("VirtualAliasTaken is false after a new card took the freed alias")
	}
}

func cardsByAccountFiltersAndPages(t *testing.T, s storage.Store) {
	of := func(org, account string) card.Card {
		c := NewCard(org)
		c.AccountID = account
		return c
	}
	// Interleaved, so the account's ids have gaps that other cards fill.
	cs := insert(t, s,
		of(orgA, "1001"), of(orgA, "1002"), of(orgB, "1001"),
		of(orgA, "1001"), of(orgA, "1001"), of(orgB, "1001"),
		of(orgA, "1002"), of(orgA, "1001"), of(orgA, "1001"))
	want := []card.Card{cs[0], cs[3], cs[4], cs[7], cs[8]}
	for _, tc := range []struct {
		name string
		page storage.Page
		want []card.Card
	}{
		{"every card", storage.Page{Limit: 100}, want},
		{"the first card", storage.Page{Limit: 1}, want[:1]},
		{"two cards after the second", storage.Page{After: want[1].ID, Limit: 2}, want[2:4]},
		{"after the id of another account's card", storage.Page{After: cs[1].ID, Limit: 100}, want[1:]},
		{"after the last card", storage.Page{After: want[4].ID, Limit: 100}, nil},
	} {
		got, err := s.CardsByAccount(t.Context(), orgA, "1001", tc.page)
		if err != nil {
			t.Errorf("CardsByAccount, %s: %v", tc.name, err)
			continue
		}
		mustEqualAll(t, "CardsByAccount, "+tc.name, tc.want, got)
	}
	mustEqualAll(t, "CardsByAccount of the other org", []card.Card{cs[2], cs[5]}, byAccount(t, s, orgB, "1001"))
	mustEqualAll(t, "CardsByAccount of an account with no cards", nil, byAccount(t, s, orgA, "4040"))
}
