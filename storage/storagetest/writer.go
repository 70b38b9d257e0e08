package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// The writes of cards (storage.CardWriter): Save of a new card (an
// insert), Save over a stored version, SaveNew of a batch, each with the
// event of its change, and Append of events about no one card.
var writerChecks = []check{
	{"InsertAssignsIncreasingIDs", insertAssignsIncreasingIDs},
	{"InsertSetsTokenWhenEmpty", insertSetsTokenWhenEmpty},
	{"InsertKeepsGivenToken", insertKeepsGivenToken},
	{"InsertStoresEveryField", insertStoresEveryField},
	{"InsertStoresUnsetFields", insertStoresUnsetFields},
	{"SaveNextVersion", saveNextVersion},
	{"SaveStaleOrSkippedVersionIsConflict", saveStaleOrSkippedVersionIsConflict},
	{"SaveSeveralSavesInOneTransaction", saveSeveralSavesInOneTransaction},
	{"SaveOtherOrgOrMissingWritesNothing", saveOtherOrgOrMissingWritesNothing},
	{"SaveAppendsTheEventOfEachChangeInOrder", saveAppendsTheEventOfEachChange},
	{"SaveNewSetsIDsAndTokensOfALargeBatch", saveNewSetsIDsAndTokens},
	{"SaveNewStoresEveryField", saveNewStoresEveryField},
	{"SaveNewAppendsAnEventPerCardInOrder", saveNewAppendsAnEventPerCard},
	{"SaveNewDuplicateExternalIDIsConflict", saveNewDuplicateExternalIDIsConflict},
	{"SaveNewDuplicateAliasIsConflict", saveNewDuplicateAliasIsConflict},
}

// Ids are assigned by the store, above every id assigned before, across
// orgs and transactions, and a rolled-back insert does not hold them back.
func insertAssignsIncreasingIDs(t *testing.T, s storage.Store) {
	first := insert(t, s, NewCard(orgA), NewCard(orgA), NewCard(orgB))
	rolledBack(t, s, func(ctx context.Context, tx storage.Tx) error {
		c := NewCard(orgA)
		return saveCard(ctx, tx, &c)
	})
	second := insert(t, s, NewCard(orgB), NewCard(orgA))
	var last int64
	for i, c := range append(first, second...) {
		if c.ID <= last {
			t.Errorf("card %d inserted got id %d, want above %d", i, c.ID, last)
		}
		last = c.ID
	}
}

// rolledBack runs fn, then rolls its transaction back.
func rolledBack(t *testing.T, s storage.Store, fn txFunc) {
	t.Helper()
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update rolled back: got %v, want %v", err, errRollback)
	}
}

func insertSetsTokenWhenEmpty(t *testing.T, s storage.Store) {
	cs := insert(t, s, NewCard(orgA), NewCard(orgA))
	for _, c := range cs {
		if _, err := uuid.Parse(c.Token); err != nil {
			t.Errorf("card %d: Save set Token %q, want a UUID", c.ID, c.Token)
		}
		if got := load(t, s, orgA, c.ID).Token; got != c.Token {
			t.Errorf("card %d: stored Token %q, Save set %q", c.ID, got, c.Token)
		}
	}
	if cs[0].Token == cs[1].Token {
		t.Errorf("two cards got the same Token %q", cs[0].Token)
	}
}

func insertKeepsGivenToken(t *testing.T, s storage.Store) {
	want := NewCard(orgA)
	want.Token = uuid.NewString()
	got := insert(t, s, want)[0]
	if got.Token != want.Token {
		t.Errorf("Save changed the given Token %q to %q", want.Token, got.Token)
	}
	if stored := load(t, s, orgA, got.ID).Token; stored != want.Token {
		t.Errorf("stored Token %q, want the given %q", stored, want.Token)
	}
}

// What Save of a new card stores is what Card returns, field by field:
// inside the inserting transaction and after its commit.
func insertStoresEveryField(t *testing.T, s storage.Store) {
	pred := insert(t, s, NewCard(orgA))[0]
	want := fullCard(orgA, pred.ID)
	validCard(t, "fullCard", want)
	mustSetEveryField(t, "fullCard", want)
	inserted, inTx := saveAndRead(t, s, saveCard, want, func(ctx context.Context, tx storage.Tx, c card.Card) (card.Card, error) {
		return tx.Card(ctx, orgA, c.ID)
	})
	want.ID = inserted.ID
	mustEqual(t, "the card after Save", want, inserted)
	mustEqual(t, "Tx.Card in the inserting transaction", want, inTx)
	mustEqual(t, "Card after commit", want, load(t, s, orgA, want.ID))
}

// Unset fields come back unset: nil Metadata stays nil, zero times stay
// zero, and a CVV rotation of 0 ("never") stays apart from none at all.
func insertStoresUnsetFields(t *testing.T, s storage.Store) {
	plain, virtual := NewCard(orgA), virtualCard(orgA, "2001", "Groceries")
	validCard(t, "NewCard", plain)
	validCard(t, "virtualCard", virtual)
	cs := insert(t, s, plain, virtual)
	for i, want := range []card.Card{plain, virtual} {
		want.ID, want.Token = cs[i].ID, cs[i].Token
		mustEqual(t, "Card after commit", want, load(t, s, orgA, want.ID))
	}
}

// Save stores the whole card over the stored one: changed fields and
// cleared ones alike.
func saveNextVersion(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	next := c
	next.Status, next.PreviousStatus = card.Normal, card.Created
	next.ActivationDate = c.IssuingDate.Add(90*time.Minute + 7*time.Microsecond)
	next.PrintedName = "JOHN DOE"
	next.Metadata = json.RawMessage(`{"activated_by": "app"}`)
	day := 24
	next.CVVRotationIntervalHours = &day
	next.UpdatedAt = next.ActivationDate
	next.Version = 2
	saveAll(t, s, saveCard, next)
	mustEqual(t, "Card after Save", next, load(t, s, orgA, c.ID))

	cleared := next
	cleared.Status, cleared.PreviousStatus = card.Blocked, card.Normal
	cleared.PrintedName = ""
	cleared.Metadata = nil
	cleared.ActivationDate = time.Time{}
	cleared.CVVRotationIntervalHours = nil
	cleared.Version = 3
	saveAll(t, s, saveCard, cleared)
	mustEqual(t, "Card after a Save that clears fields", cleared, load(t, s, orgA, c.ID))
}

// staleVersions are the versions a save over version 2 must refuse.
var staleVersions = []struct {
	name    string
	version int64
}{
	{"the stored version", 2},
	{"an older version", 1},
	{"a skipped version", 4},
}

// A Save whose version is not the stored one plus one is refused as a
// conflict and writes nothing, no event either; the transaction goes on
// and commits.
func saveStaleOrSkippedVersionIsConflict(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	stored := c
	stored.Status, stored.PreviousStatus, stored.Version = card.Normal, card.Created, 2
	saveAll(t, s, saveCard, stored)
	outbox := feedFrom0(t, s, 100)
	for _, tc := range staleVersions {
		try := stored
		try.Status, try.PreviousStatus, try.Version = card.Canceled, card.Normal, tc.version
		err := errIn(t, s, func(ctx context.Context, tx storage.Tx) error { c := try; return saveCard(ctx, tx, &c) })
		checkErr(t, "Save with "+tc.name, err, card.ErrConflict)
		mustEqual(t, "Card after a Save with "+tc.name, stored, load(t, s, orgA, c.ID))
		mustEqualEvents(t, "the feed after a Save with "+tc.name, outbox, feedFrom0(t, s, 100))
	}
}

// Within a transaction, Save compares with what the transaction itself
// stored, and Tx.Card reads it.
func saveSeveralSavesInOneTransaction(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	v2 := c
	v2.Status, v2.PreviousStatus, v2.Version = card.Normal, card.Created, 2
	v3 := v2
	v3.Status, v3.PreviousStatus, v3.Version = card.Blocked, card.Normal, 3
	inTx := inTx(t, s, func(ctx context.Context, tx storage.Tx) (card.Card, error) {
		for _, next := range []card.Card{v2, v3} {
			if err := saveCard(ctx, tx, &next); err != nil {
				return card.Card{}, err
			}
		}
		return tx.Card(ctx, orgA, c.ID)
	})
	mustEqual(t, "Tx.Card after two Saves in its transaction", v3, inTx)
	mustEqual(t, "Card after commit", v3, load(t, s, orgA, c.ID))
}

// Save finds the stored card by id and org: a card of another org with the
// same id, or an id with no card, is refused and nothing is written.
func saveOtherOrgOrMissingWritesNothing(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	otherOrg := c
	otherOrg.OrgID = orgB
	missing := c
	missing.ID = c.ID + 1000
	for _, tc := range []struct {
		name string
		c    card.Card
	}{
		{"the id of a card of another org", otherOrg},
		{"an id with no card", missing},
	} {
		try := tc.c
		try.Status, try.PreviousStatus, try.Version = card.Canceled, card.Created, 2
		err := errIn(t, s, func(ctx context.Context, tx storage.Tx) error { c := try; return saveCard(ctx, tx, &c) })
		checkErr(t, "Save of "+tc.name, err, card.ErrNotFound, card.ErrConflict)
	}
	mustEqual(t, "Card after the refused Saves", c, load(t, s, orgA, c.ID))
	_, err := s.Card(t.Context(), orgB, c.ID)
	checkErr(t, "Card of the other org after the refused Save", err, card.ErrNotFound)
	_, err = s.Card(t.Context(), orgA, missing.ID)
	checkErr(t, "Card of the missing id after the refused Save", err, card.ErrNotFound)
}

// eventOf is the event ch describes of c, as a store must append it, with
// the correlation id cid; its event ID is the store's, taken from got.
func eventOf(t *testing.T, ch events.Change, c card.Card, cid string, got events.Event) events.Event {
	t.Helper()
	e, err := ch.For(events.WithCorrelationID(t.Context(), cid), &c)
	if err != nil {
		t.Fatalf("Change.For(card %d): %v", c.ID, err)
	}
	if _, err := uuid.Parse(got.ID); err != nil {
		t.Errorf("the event of card %d has ID %q, want a UUID", c.ID, got.ID)
	}
	e.ID = got.ID
	return e
}

// Save appends the event its Change describes of the card as stored (its
// ID and Token set on a new card), with the transaction's correlation id,
// in the order of the transaction's calls, Append's events among them.
func saveAppendsTheEventOfEachChange(t *testing.T, s storage.Store) {
	const cid = "cid-of-the-use-case"
	ctx := events.WithCorrelationID(t.Context(), cid)
	created := events.Created(card.Create, time.Date(2030, 1, 2, 3, 4, 5, 678000, time.UTC))
	blocked := events.Updated(card.UpdateStatus, created.At.Add(time.Hour))
	cancellation := newEvent(orgA, 0, 0)
	cancellation.Type, cancellation.CardID = events.NonameCancellation, 0
	var inserted, saved card.Card
	err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		inserted = NewCard(orgA)
		if err := tx.Save(ctx, &inserted, created); err != nil {
			return err
		}
		if err := tx.Append(ctx, cancellation); err != nil {
			return err
		}
		saved = inserted
		saved.Status, saved.PreviousStatus, saved.Version = card.Blocked, card.Created, 2
		return tx.Save(ctx, &saved, blocked)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := feedFrom0(t, s, 10)
	if len(got) != 3 {
		t.Fatalf("the outbox holds %d events after two Saves and an Append, want 3", len(got))
	}
	want := []events.Event{eventOf(t, created, inserted, cid, got[0]), cancellation, eventOf(t, blocked, saved, cid, got[2])}
	mustEqualEvents(t, "the feed after two Saves and an Append", want, got)
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

// started is the Change of the cards of a noname bulk.
var started = events.Created(card.StartBulk, time.Date(2030, 6, 7, 8, 9, 10, 0, time.UTC))

// saveNew saves cs with SaveNew in a transaction of its own and returns
// them as the store left them.
func saveNew(t *testing.T, s storage.Store, cs []card.Card) []card.Card {
	t.Helper()
	return inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]card.Card, error) {
		out := slices.Clone(cs)
		return out, tx.SaveNew(ctx, out, started)
	})
}

// SaveNew sets distinct, increasing ids, above those assigned before, and a
// distinct UUID Token on each card of a batch larger than a store's
// statement batch (a given Token is kept, as Save keeps it); every card
// reads back as it was given.
func saveNewSetsIDsAndTokens(t *testing.T, s storage.Store) {
	const n = 1234
	before := insert(t, s, NewCard(orgA))[0]
	bulk := insertBulks(t, s, newBulk(orgA))[0].ID
	cs := nonameBatch(orgA, bulk, "ext-", n)
	given := uuid.NewString()
	cs[777].Token = given
	for i, c := range cs {
		validCard(t, fmt.Sprintf("card %d of the batch", i), c)
	}
	got := saveNew(t, s, cs)
	last := before.ID
	tokens := make(map[string]int, n)
	for i, c := range got {
		if c.ID <= last {
			t.Errorf("card %d of the batch got id %d, want above %d", i, c.ID, last)
		}
		last = c.ID
		if _, err := uuid.Parse(c.Token); err != nil {
			t.Errorf("card %d of the batch: SaveNew set Token %q, want a UUID", i, c.Token)
		}
		if j, dup := tokens[c.Token]; dup {
			t.Errorf("cards %d and %d of the batch got the same Token %q", j, i, c.Token)
		}
		tokens[c.Token] = i
	}
	if got[777].Token != given {
		t.Errorf("SaveNew changed the given Token %q to %q", given, got[777].Token)
	}
	if t.Failed() {
		return
	}
	for i := range got {
		want := cs[i]
		want.ID, want.Token = got[i].ID, got[i].Token
		mustEqual(t, fmt.Sprintf("Card of card %d of the batch", i), want, load(t, s, orgA, want.ID))
		if t.Failed() {
			return
		}
	}
	mustEqualCounts(t, "BulkView after SaveNew", map[card.Status]int{card.Unbound: n}, bulkCounts(t, s, orgA, bulk))
}

// A batch of cards with every field set, bound or not, reads back field by
// field: inside the inserting transaction and after its commit.
func saveNewStoresEveryField(t *testing.T, s storage.Store) {
	pred := insert(t, s, NewCard(orgA))[0]
	want := []card.Card{fullCard(orgA, pred.ID), virtualCard(orgA, "2001", "Groceries"), unboundCard(orgA, "ext-1")}
	for _, c := range want {
		validCard(t, "card of the batch", c)
	}
	var inserted, inTx []card.Card
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		cs := slices.Clone(want)
		if err := tx.SaveNew(ctx, cs, started); err != nil {
			return err
		}
		inserted, inTx = cs, nil
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
		mustEqual(t, "the card after SaveNew", want[i], inserted[i])
		mustEqual(t, "Tx.Card in the inserting transaction", want[i], inTx[i])
		mustEqual(t, "Card after commit", want[i], load(t, s, orgA, want[i].ID))
	}
}

// SaveNew appends the event of each card, as its Change describes the
// card as stored, in the order of the cards, after the events appended
// before it in the transaction.
func saveNewAppendsAnEventPerCard(t *testing.T, s storage.Store) {
	const cid = "cid-of-the-bulk"
	first := newEvent(orgA, 0, 0)
	first.CardID = 0
	var cs []card.Card
	err := s.Update(events.WithCorrelationID(t.Context(), cid), func(ctx context.Context, tx storage.Tx) error {
		if err := tx.Append(ctx, first); err != nil {
			return err
		}
		cs = nonameBatch(orgA, uuid.NewString(), "ext-", 7)
		return tx.SaveNew(ctx, cs, started)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := feedFrom0(t, s, 100)
	if len(got) != len(cs)+1 {
		t.Fatalf("the outbox holds %d events after an Append and a SaveNew of %d cards, want %d", len(got), len(cs), len(cs)+1)
	}
	want := []events.Event{first}
	for i, c := range cs {
		want = append(want, eventOf(t, started, c, cid, got[i+1]))
	}
	mustEqualEvents(t, "the feed after SaveNew", want, got)
}

// A batch that holds a card with the (bulk, external id) of another card,
// in the batch or stored before, is a card.ErrConflict; the transaction
// that returns it stores none of the batch, and none of its events.
func saveNewDuplicateExternalIDIsConflict(t *testing.T, s storage.Store) {
	bulk := insertBulks(t, s, newBulk(orgA))[0].ID
	stored := saveNew(t, s, nonameBatch(orgA, bulk, "old-", 3))
	outbox := feedFrom0(t, s, 100)
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
		conflicts(t, s, "SaveNew of "+tc.name, func(ctx context.Context, tx storage.Tx) error {
			return tx.SaveNew(ctx, slices.Clone(tc.cs), started)
		})
		mustEqualCounts(t, "BulkView after the refused SaveNew of "+tc.name,
			map[card.Status]int{card.Unbound: 3}, bulkCounts(t, s, orgA, bulk))
		mustEqualEvents(t, "the feed after the refused SaveNew of "+tc.name, outbox, feedFrom0(t, s, 100))
	}
	if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		return tx.SaveNew(ctx, nonameBatch(orgA, uuid.NewString(), "old-", 3), started)
	}); err != nil {
		t.Errorf("SaveNew of the external ids of a bulk's cards into another bulk: %v", err)
	}
}

// SaveNew stores cards as Save does: a second live VIRTUAL card with the
// same alias for the customer is a card.ErrConflict.
func saveNewDuplicateAliasIsConflict(t *testing.T, s storage.Store) {
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
		conflicts(t, s, "SaveNew of "+tc.name, func(ctx context.Context, tx storage.Tx) error {
			return tx.SaveNew(ctx, slices.Clone(tc.cs), started)
		})
		mustEqualAll(t, "CardsByAccount of the refused cards' account", nil, byAccount(t, s, orgA, "1002"))
	}
}
