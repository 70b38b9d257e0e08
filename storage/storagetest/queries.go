package storagetest

import (
	"context"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
)

var cardsByAccountChecks = []check{
	{"FiltersByOrgAndAccountAndPages", cardsByAccountFiltersAndPages},
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
		mustEqualCards(t, "CardsByAccount, "+tc.name, tc.want, got)
	}
	mustEqualCards(t, "CardsByAccount of the other org", []card.Card{cs[2], cs[5]}, byAccount(t, s, orgB, "1001"))
	mustEqualCards(t, "CardsByAccount of an account with no cards", nil, byAccount(t, s, orgA, "4040"))
}

var successorChecks = []check{
	{"FindsTheReissuedCardWithinTheOrg", successorFindsReissuedCard},
	{"SeesItsOwnTransaction", successorSeesItsOwnTransaction},
	{"SecondSuccessorIsConflict", successorSecondIsConflict},
}

func successorFindsReissuedCard(t *testing.T, s storage.Store) {
	old := insert(t, s, NewCard(orgA))[0]
	next := NewCard(orgA)
	next.ReissuedCardID, next.TrackNumber = old.ID, 2
	next = insert(t, s, next)[0]
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
		mustEqualCard(t, "Successor", next, got)
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
	var inserted, got card.Card
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		next := NewCard(orgA)
		next.ReissuedCardID, next.TrackNumber = old.ID, 2
		if err := tx.Insert(ctx, &next); err != nil {
			return err
		}
		inserted = next
		var err error
		got, err = tx.Successor(ctx, orgA, old.ID)
		return err
	})
	mustEqualCard(t, "Successor inserted in the same transaction", inserted, got)
}

// A card has at most one successor (package storage: a broken unique rule
// is a conflict), so two concurrent reissues cannot both commit one.
func successorSecondIsConflict(t *testing.T, s storage.Store) {
	old := insert(t, s, NewCard(orgA))[0]
	next := NewCard(orgA)
	next.ReissuedCardID, next.TrackNumber = old.ID, 2
	first := insert(t, s, next)[0]
	var insertErr error
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		c := next
		insertErr = tx.Insert(ctx, &c)
		return insertErr
	})
	checkErr(t, "Insert of a second successor", insertErr, card.ErrConflict)
	checkErr(t, "Update returning that error", err, card.ErrConflict)
	got := inTx(t, s, func(ctx context.Context, tx storage.Tx) (card.Card, error) { return tx.Successor(ctx, orgA, old.ID) })
	mustEqualCard(t, "Successor after the refused second successor", first, got)
}

var virtualAliasChecks = []check{
	{"TakenOnceInserted", aliasTakenOnceInserted},
	{"TakenOnlyByLiveVirtualCards", aliasTakenOnlyByLiveVirtualCards},
	{"DuplicateIsConflict", aliasDuplicateIsConflict},
	{"AllowedBesideOtherCards", aliasAllowedBesideOtherCards},
	{"FreedByTermination", aliasFreedByTermination},
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
		if err := tx.Insert(ctx, &c); err != nil {
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

func aliasTakenOnlyByLiveVirtualCards(t *testing.T, s storage.Store) {
	temporary := virtualCard(orgA, "2001", "Gym")
	temporary.Type, temporary.CVVRotationIntervalHours = card.Temporary, nil
	canceled := virtualCard(orgA, "2001", "Old")
	canceled.Status, canceled.PreviousStatus = card.Canceled, card.Normal
	validCard(t, "the TEMPORARY card", temporary)
	validCard(t, "the CANCELED VIRTUAL card", canceled)
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
	var insertErr error
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		c := dup
		insertErr = tx.Insert(ctx, &c)
		return insertErr
	})
	checkErr(t, "Insert of a second live VIRTUAL card with the alias", insertErr, card.ErrConflict)
	checkErr(t, "Update returning that error", err, card.ErrConflict)
	mustEqualCards(t, "CardsByAccount of the refused card's account", nil, byAccount(t, s, orgA, "1002"))
}

func aliasAllowedBesideOtherCards(t *testing.T, s storage.Store) {
	insert(t, s, virtualCard(orgA, "2001", "Travel"))
	temporary := virtualCard(orgA, "2001", "Travel")
	temporary.Type, temporary.CVVRotationIntervalHours = card.Temporary, nil
	canceled := virtualCard(orgA, "2001", "Travel")
	canceled.Status, canceled.PreviousStatus = card.Canceled, card.Normal
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
			return tx.Insert(ctx, &c)
		})
		if err != nil {
			t.Errorf("Insert of %s with the alias of a live VIRTUAL card: %v", tc.what, err)
		}
	}
}

func aliasFreedByTermination(t *testing.T, s storage.Store) {
	first := insert(t, s, virtualCard(orgA, "2001", "Travel"))[0]
	canceled := first
	canceled.Status, canceled.PreviousStatus, canceled.Version = card.Canceled, card.Normal, 2
	save(t, s, canceled)
	if taken(t, s, orgA, "2001", "Travel") {
		t.Errorf("VirtualAliasTaken is true once the only card with the alias is CANCELED")
	}
	insert(t, s, virtualCard(orgA, "2001", "Travel"))
	if !taken(t, s, orgA, "2001", "Travel") {
		t.Errorf("VirtualAliasTaken is false after a new card took the freed alias")
	}
}
