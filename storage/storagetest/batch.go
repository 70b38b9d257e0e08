package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

var insertCardsChecks = []check{
	{"SetsIDsAndTokensOfALargeBatch", insertCardsSetsIDsAndTokens},
	{"StoresEveryField", insertCardsStoresEveryField},
	{"DuplicateExternalIDIsConflict", insertCardsDuplicateExternalIDIsConflict},
	{"DuplicateAliasIsConflict", insertCardsDuplicateAliasIsConflict},
}

// nonameBatch returns n valid UNBOUND cards of org in bulk, with the
// external ids prefix followed by a number.
func nonameBatch(org, bulk, prefix string, n int) []card.Card {
	cs := make([]card.Card, n)
	for i := range cs {
		cs[i] = unboundCard(org, fmt.Sprintf("%s%05d", prefix, i))
		cs[i].BulkID = bulk
	}
	return cs
}

// insertCards inserts cs with InsertCards in a transaction of its own and
// returns them as the store left them.
func insertCards(t *testing.T, s storage.Store, cs []card.Card) []card.Card {
	t.Helper()
	cs = slices.Clone(cs)
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.InsertCards(ctx, cs) })
	return cs
}

// InsertCards sets distinct, increasing ids, above those assigned before,
// and a distinct UUID Token on each card of a batch larger than a store's
// statement batch (a given Token is kept, as Insert keeps it); every card
// reads back as it was given.
func insertCardsSetsIDsAndTokens(t *testing.T, s storage.Store) {
	const n = 1234
	before := insert(t, s, NewCard(orgA))[0]
	bulk := uuid.NewString()
	cs := nonameBatch(orgA, bulk, "ext-", n)
	given := uuid.NewString()
	cs[777].Token = given
	for i, c := range cs {
		validCard(t, fmt.Sprintf("card %d of the batch", i), c)
	}
	got := insertCards(t, s, cs)
	last := before.ID
	tokens := make(map[string]int, n)
	for i, c := range got {
		if c.ID <= last {
			t.Errorf("card %d of the batch got id %d, want above %d", i, c.ID, last)
		}
		last = c.ID
		if _, err := uuid.Parse(c.Token); err != nil {
			t.Errorf("card %d of the batch: InsertCards set Token %q, want a UUID", i, c.Token)
		}
		if j, dup := tokens[c.Token]; dup {
			t.Errorf("cards %d and %d of the batch got the same Token %q", j, i, c.Token)
		}
		tokens[c.Token] = i
	}
	if got[777].Token != given {
		t.Errorf("InsertCards changed the given Token %q to %q", given, got[777].Token)
	}
	if t.Failed() {
		return
	}
	for i := range got {
		want := cs[i]
		want.ID, want.Token = got[i].ID, got[i].Token
		mustEqualCard(t, fmt.Sprintf("Card of card %d of the batch", i), want, load(t, s, orgA, want.ID))
		if t.Failed() {
			return
		}
	}
	mustEqualCounts(t, "BulkCounts after InsertCards", map[card.Status]int{card.Unbound: n}, bulkCounts(t, s, orgA, bulk))
}

// A batch of cards with every field set, bound or not, reads back field by
// field: inside the inserting transaction and after its commit.
func insertCardsStoresEveryField(t *testing.T, s storage.Store) {
	pred := insert(t, s, NewCard(orgA))[0]
	full := fullCard(orgA, pred.ID)
	plain := virtualCard(orgA, "2001", "Groceries")
	noname := unboundCard(orgA, "ext-1")
	for _, c := range []card.Card{full, plain, noname} {
		validCard(t, "card of the batch", c)
	}
	want := []card.Card{full, plain, noname}
	var inserted, inTx []card.Card
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		cs := slices.Clone(want)
		if err := tx.InsertCards(ctx, cs); err != nil {
			return err
		}
		inserted = cs
		for _, c := range cs {
			got, err := tx.Card(ctx, orgA, c.ID)
			if err != nil {
				return err
			}
			inTx = append(inTx, got)
		}
		return nil
	})
	for i := range want {
		want[i].ID = inserted[i].ID
		if want[i].Token == "" {
			want[i].Token = inserted[i].Token
		}
		mustEqualCard(t, "the card after InsertCards", want[i], inserted[i])
		mustEqualCard(t, "Tx.Card in the inserting transaction", want[i], inTx[i])
		mustEqualCard(t, "Card after commit", want[i], load(t, s, orgA, want[i].ID))
	}
}

// A batch that holds a card with the (bulk, external id) of another card,
// in the batch or stored before, is a card.ErrConflict; the transaction
// that returns it stores none of the batch.
func insertCardsDuplicateExternalIDIsConflict(t *testing.T, s storage.Store) {
	bulk := uuid.NewString()
	stored := insertCards(t, s, nonameBatch(orgA, bulk, "old-", 3))
	inBatch := nonameBatch(orgA, bulk, "new-", 600)
	inBatch[550].ExternalID = inBatch[10].ExternalID
	withStored := nonameBatch(orgA, bulk, "new-", 600)
	withStored[0].ExternalID = stored[1].ExternalID
	late := nonameBatch(orgA, bulk, "new-", 600)
	late[599].ExternalID = stored[2].ExternalID
	for _, tc := range []struct {
		name string
		cs   []card.Card
	}{
		{"a batch with one external id twice", inBatch},
		{"a batch whose first card has a stored card's external id", withStored},
		{"a batch whose last card has a stored card's external id", late},
	} {
		var insertErr error
		err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			insertErr = tx.InsertCards(ctx, slices.Clone(tc.cs))
			return insertErr
		})
		checkErr(t, "InsertCards of "+tc.name, insertErr, card.ErrConflict)
		checkErr(t, "Update returning that error", err, card.ErrConflict)
		mustEqualCounts(t, "BulkCounts after the refused InsertCards of "+tc.name,
			map[card.Status]int{card.Unbound: 3}, bulkCounts(t, s, orgA, bulk))
	}
	other := nonameBatch(orgA, uuid.NewString(), "old-", 3)
	if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		return tx.InsertCards(ctx, other)
	}); err != nil {
		t.Errorf("InsertCards of the external ids of a bulk's cards into another bulk: %v", err)
	}
}

// InsertCards stores cards as Insert does: a second live VIRTUAL card with
// the same alias for the customer is a card.ErrConflict.
func insertCardsDuplicateAliasIsConflict(t *testing.T, s storage.Store) {
	insert(t, s, virtualCard(orgA, "2001", "Travel"))
	for _, tc := range []struct {
		name string
		cs   []card.Card
	}{
		{"a batch with a stored card's alias", []card.Card{virtualCard(orgA, "2002", "Travel"), virtualCard(orgA, "2001", "Travel")}},
		{"a batch with one alias twice", []card.Card{virtualCard(orgA, "2003", "Gym"), virtualCard(orgA, "2003", "Gym")}},
	} {
		for i := range tc.cs {
			tc.cs[i].AccountID = "1002"
		}
		var insertErr error
		err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			insertErr = tx.InsertCards(ctx, tc.cs)
			return insertErr
		})
		checkErr(t, "InsertCards of "+tc.name, insertErr, card.ErrConflict)
		checkErr(t, "Update returning that error", err, card.ErrConflict)
		mustEqualCards(t, "CardsByAccount of the refused cards' account", nil, byAccount(t, s, orgA, "1002"))
	}
}

var unboundCardsChecks = []check{
	{"FiltersByOrgBulkStatusAndExternalIDs", unboundCardsFilter},
	{"Pages", unboundCardsPages},
	{"LockHoldsOffWriters", unboundCardsLockHoldsOffWriters},
}

// unboundCards calls UnboundCards in a transaction of its own.
func unboundCards(t *testing.T, s storage.Store, org, bulk string, externalIDs []string, afterID int64, limit int) []card.Card {
	t.Helper()
	return inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]card.Card, error) {
		return tx.UnboundCards(ctx, org, bulk, externalIDs, afterID, limit)
	})
}

// unboundFixture stores, interleaved, the UNBOUND cards of a bulk in orgA
// (returned, by ascending id) and cards UnboundCards must leave out: the
// bulk's cards in other statuses, UNBOUND cards of another bulk with the
// same external ids, an UNBOUND card of the bulk id in orgB, and a card of
// no bulk.
func unboundFixture(t *testing.T, s storage.Store) (bulk string, unbound []card.Card) {
	t.Helper()
	bulk, otherBulk := uuid.NewString(), uuid.NewString()
	of := func(org, bulkID, ext string, st card.Status) card.Card {
		c := unboundCard(org, ext)
		c.BulkID, c.Status = bulkID, st
		switch {
		case st == card.Normal:
			c.AccountID, c.CustomerID, c.PreviousStatus = "1001", "2001", card.Unbound
		case st == card.Unnumbered:
			c.PrintedName = "JANE DOE"
		case st.Terminated():
			c.PreviousStatus = card.Unbound
		}
		return c
	}
	cs := []card.Card{
		of(orgA, bulk, "e1", card.Unbound), of(orgA, otherBulk, "e1", card.Unbound),
		of(orgA, bulk, "e2", card.Unbound), of(orgA, bulk, "n1", card.Normal),
		of(orgA, bulk, "e3", card.Unbound), of(orgB, bulk, "b1", card.Unbound),
		of(orgA, bulk, "c1", card.Canceled), NewCard(orgA),
		of(orgA, bulk, "e4", card.Unbound), of(orgA, bulk, "u1", card.Unnumbered),
		of(orgA, otherBulk, "e5", card.Unbound), of(orgA, bulk, "e5", card.Unbound),
		of(orgA, bulk, "e6", card.Unbound),
	}
	for i, c := range cs {
		validCard(t, fmt.Sprintf("card %d of the fixture", i), c)
	}
	cs = insert(t, s, cs...)
	return bulk, []card.Card{cs[0], cs[2], cs[4], cs[8], cs[11], cs[12]}
}

// UnboundCards returns the UNBOUND cards of the bulk in the org, by
// ascending id; a nil externalIDs keeps them all, an empty one none, a
// list only those with one of its external ids.
func unboundCardsFilter(t *testing.T, s storage.Store) {
	bulk, unbound := unboundFixture(t, s)
	for _, tc := range []struct {
		name        string
		externalIDs []string
		want        []card.Card
	}{
		{"no filter", nil, unbound},
		{"an empty filter", []string{}, nil},
		{"a filter of one id", []string{"e3"}, unbound[2:3]},
		{"a filter out of order, with ids of cards left out and of no card",
			[]string{"e5", "n1", "c1", "u1", "b1", "missing", "e2"}, []card.Card{unbound[1], unbound[4]}},
		{"a filter of only left-out ids", []string{"n1", "c1", "u1", "b1"}, nil},
	} {
		mustEqualCards(t, "UnboundCards, "+tc.name, tc.want, unboundCards(t, s, orgA, bulk, tc.externalIDs, 0, 100))
	}
	mustEqualCards(t, "UnboundCards of the bulk id in the other org", nil,
		unboundCards(t, s, orgB, bulk, []string{"e1", "e2"}, 0, 100))
	if got := unboundCards(t, s, orgB, bulk, nil, 0, 100); len(got) != 1 || got[0].ExternalID != "b1" {
		t.Errorf("UnboundCards of the bulk id in the other org: got %v, want its one card b1", cardIDs(got))
	}
	mustEqualCards(t, "UnboundCards of a bulk with no cards", nil, unboundCards(t, s, orgA, uuid.NewString(), nil, 0, 100))
}

// UnboundCards returns at most limit cards with id > afterID, with or
// without a filter.
func unboundCardsPages(t *testing.T, s storage.Store) {
	bulk, unbound := unboundFixture(t, s)
	filter := []string{"e6", "e1", "e4", "e2", "n1"}
	filtered := []card.Card{unbound[0], unbound[1], unbound[3], unbound[5]}
	for _, tc := range []struct {
		name        string
		externalIDs []string
		afterID     int64
		limit       int
		want        []card.Card
	}{
		{"the first card", nil, 0, 1, unbound[:1]},
		{"two cards after the second", nil, unbound[1].ID, 2, unbound[2:4]},
		{"after the id of a left-out card", nil, unbound[1].ID + 1, 100, unbound[2:]},
		{"after the last card", nil, unbound[5].ID, 100, nil},
		{"the first two filtered cards", filter, 0, 2, filtered[:2]},
		{"filtered cards after the second", filter, filtered[1].ID, 1, filtered[2:3]},
		{"filtered cards after an unfiltered one", filter, unbound[2].ID, 100, filtered[2:]},
		{"filtered cards after the last", filter, filtered[3].ID, 100, nil},
	} {
		mustEqualCards(t, "UnboundCards, "+tc.name, tc.want, unboundCards(t, s, orgA, bulk, tc.externalIDs, tc.afterID, tc.limit))
	}
	// Reading page after page returns each card once.
	var all []card.Card
	var after int64
	for range len(unbound) + 1 {
		page := unboundCards(t, s, orgA, bulk, nil, after, 4)
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
	mustEqualCards(t, "UnboundCards read in pages of 4", unbound, all)
}

// UnboundCards locks the cards it returns like Card: while a transaction
// holds them, no other transaction changes one; the holder's Save then
// succeeds.
func unboundCardsLockHoldsOffWriters(t *testing.T, s storage.Store) {
	bulk, unbound := unboundFixture(t, s)
	target := unbound[2]
	var held []card.Card
	firstErr, secondErr, overlapped := contend(t, s,
		func(ctx context.Context, tx storage.Tx) error {
			var err error
			held, err = tx.UnboundCards(ctx, orgA, bulk, nil, 0, 100)
			if err == nil && !slices.Contains(cardIDs(held), target.ID) {
				err = fmt.Errorf("UnboundCards returned %v, without card %d", cardIDs(held), target.ID)
			}
			return err
		},
		func(ctx context.Context, tx storage.Tx) error {
			i := slices.Index(cardIDs(held), target.ID)
			bound := held[i]
			bound.AccountID, bound.CustomerID = "1001", "2001"
			bound.Status, bound.PreviousStatus = card.Normal, card.Unbound
			bound.Version++
			return tx.Save(ctx, &bound)
		},
		func(ctx context.Context, tx storage.Tx) error {
			cur, err := tx.Card(ctx, orgA, target.ID)
			if err != nil {
				return err
			}
			next := cur
			next.PreviousStatus, next.Status = cur.Status, card.Canceled
			next.Version++
			return tx.Save(ctx, &next)
		})
	if overlapped && secondErr == nil {
		t.Errorf("a second transaction changed card %d while another held it through UnboundCards", target.ID)
	}
	if firstErr != nil {
		t.Errorf("the transaction that held the card through UnboundCards could not save it: %v", firstErr)
	}
	if secondErr != nil && !errors.Is(secondErr, card.ErrConflict) {
		t.Errorf("the second transaction: %v, want success or an error wrapping card.ErrConflict", secondErr)
	}
	want := int64(1)
	for _, err := range []error{firstErr, secondErr} {
		if err == nil {
			want++
		}
	}
	if got := load(t, s, orgA, target.ID).Version; got != want {
		t.Errorf("the card is at version %d, want %d", got, want)
	}
}
