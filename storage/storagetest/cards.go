package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

var insertChecks = []check{
	{"AssignsIncreasingIDs", insertAssignsIncreasingIDs},
	{"SetsTokenWhenEmpty", insertSetsTokenWhenEmpty},
	{"KeepsGivenToken", insertKeepsGivenToken},
	{"StoresEveryField", insertStoresEveryField},
	{"StoresUnsetFields", insertStoresUnsetFields},
}

// Ids are assigned by the store, above every id assigned before, across
// orgs and transactions, and a rolled-back insert does not hold them back.
func insertAssignsIncreasingIDs(t *testing.T, s storage.Store) {
	first := insert(t, s, NewCard(orgA), NewCard(orgA), NewCard(orgB))
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		c := NewCard(orgA)
		if err := tx.Insert(ctx, &c); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update of a rolled-back insert: got %v, want %v", err, errRollback)
	}
	second := insert(t, s, NewCard(orgB), NewCard(orgA))
	var last int64
	for i, c := range append(first, second...) {
		if c.ID <= last {
			t.Errorf("card %d inserted got id %d, want above %d", i, c.ID, last)
		}
		last = c.ID
	}
}

func insertSetsTokenWhenEmpty(t *testing.T, s storage.Store) {
	cs := insert(t, s, NewCard(orgA), NewCard(orgA))
	for _, c := range cs {
		if _, err := uuid.Parse(c.Token); err != nil {
			t.Errorf("card %d: Insert set Token %q, want a UUID", c.ID, c.Token)
		}
		if got := load(t, s, orgA, c.ID).Token; got != c.Token {
			t.Errorf("card %d: stored Token %q, Insert set %q", c.ID, got, c.Token)
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
		t.Errorf("Insert changed the given Token %q to %q", want.Token, got.Token)
	}
	if stored := load(t, s, orgA, got.ID).Token; stored != want.Token {
		t.Errorf("stored Token %q, want the given %q", stored, want.Token)
	}
}

// What Insert stores is what Card returns, field by field: inside the
// inserting transaction and after its commit.
func insertStoresEveryField(t *testing.T, s storage.Store) {
	pred := insert(t, s, NewCard(orgA))[0]
	want := fullCard(orgA, pred.ID)
	validCard(t, "fullCard", want)
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; name != "ID" && v.Field(i).IsZero() {
			t.Fatalf("storagetest: fullCard leaves %s unset; set it so the round trip covers it", name)
		}
	}
	var inserted, inTx card.Card
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		c := want
		if err := tx.Insert(ctx, &c); err != nil {
			return err
		}
		inserted = c
		var err error
		inTx, err = tx.Card(ctx, orgA, c.ID)
		return err
	})
	want.ID = inserted.ID
	mustEqualCard(t, "the card after Insert", want, inserted)
	mustEqualCard(t, "Tx.Card in the inserting transaction", want, inTx)
	mustEqualCard(t, "Card after commit", want, load(t, s, orgA, want.ID))
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
		mustEqualCard(t, "Card after commit", want, load(t, s, orgA, want.ID))
	}
}

var cardChecks = []check{
	{"OtherOrgIsNotFound", cardOtherOrgIsNotFound},
	{"MissingIsNotFound", cardMissingIsNotFound},
}

func cardOtherOrgIsNotFound(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	checkNotFound(t, s, orgB, c.ID)
}

func cardMissingIsNotFound(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	checkNotFound(t, s, orgA, c.ID+1000)
}

// checkNotFound checks that both Store.Card and Tx.Card report card id of
// org as not found.
func checkNotFound(t *testing.T, s storage.Store, org string, id int64) {
	t.Helper()
	_, err := s.Card(t.Context(), org, id)
	checkErr(t, "Store.Card", err, card.ErrNotFound)
	var txErr error
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		_, txErr = tx.Card(ctx, org, id)
		return nil
	})
	checkErr(t, "Tx.Card", txErr, card.ErrNotFound)
}

var saveChecks = []check{
	{"NextVersion", saveNextVersion},
	{"StaleOrSkippedVersionIsConflict", saveStaleOrSkippedVersionIsConflict},
	{"SeveralSavesInOneTransaction", saveSeveralSavesInOneTransaction},
	{"OtherOrgOrMissingWritesNothing", saveOtherOrgOrMissingWritesNothing},
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
	save(t, s, next)
	mustEqualCard(t, "Card after Save", next, load(t, s, orgA, c.ID))

	cleared := next
	cleared.Status, cleared.PreviousStatus = card.Blocked, card.Normal
	cleared.PrintedName = ""
	cleared.Metadata = nil
	cleared.ActivationDate = time.Time{}
	cleared.CVVRotationIntervalHours = nil
	cleared.Version = 3
	save(t, s, cleared)
	mustEqualCard(t, "Card after a Save that clears fields", cleared, load(t, s, orgA, c.ID))
}

// A Save whose version is not the stored one plus one is refused as a
// conflict and writes nothing; the transaction goes on and commits.
func saveStaleOrSkippedVersionIsConflict(t *testing.T, s storage.Store) {
	c := insert(t, s, NewCard(orgA))[0]
	stored := c
	stored.Status, stored.PreviousStatus, stored.Version = card.Normal, card.Created, 2
	save(t, s, stored)
	for _, tc := range []struct {
		name    string
		version int64
	}{
		{"the stored version", 2},
		{"an older version", 1},
		{"a skipped version", 4},
	} {
		try := stored
		try.Status, try.PreviousStatus, try.Version = card.Canceled, card.Normal, tc.version
		var saveErr error
		update(t, s, func(ctx context.Context, tx storage.Tx) error {
			c := try
			saveErr = tx.Save(ctx, &c)
			return nil
		})
		checkErr(t, "Save with "+tc.name, saveErr, card.ErrConflict)
		mustEqualCard(t, "Card after a Save with "+tc.name, stored, load(t, s, orgA, c.ID))
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
	var inTx card.Card
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		for _, next := range []card.Card{v2, v3} {
			if err := tx.Save(ctx, &next); err != nil {
				return err
			}
		}
		var err error
		inTx, err = tx.Card(ctx, orgA, c.ID)
		return err
	})
	mustEqualCard(t, "Tx.Card after two Saves in its transaction", v3, inTx)
	mustEqualCard(t, "Card after commit", v3, load(t, s, orgA, c.ID))
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
		var saveErr error
		update(t, s, func(ctx context.Context, tx storage.Tx) error {
			c := try
			saveErr = tx.Save(ctx, &c)
			return nil
		})
		switch {
		case saveErr == nil:
			t.Errorf("Save of %s succeeded, want an error wrapping card.ErrNotFound or card.ErrConflict", tc.name)
		case !errors.Is(saveErr, card.ErrNotFound) && !errors.Is(saveErr, card.ErrConflict):
			t.Errorf("Save of %s: got %q, want an error wrapping card.ErrNotFound or card.ErrConflict", tc.name, saveErr)
		}
	}
	mustEqualCard(t, "Card after the refused Saves", c, load(t, s, orgA, c.ID))
	_, err := s.Card(t.Context(), orgB, c.ID)
	checkErr(t, "Card of the other org after the refused Save", err, card.ErrNotFound)
	_, err = s.Card(t.Context(), orgA, missing.ID)
	checkErr(t, "Card of the missing id after the refused Save", err, card.ErrNotFound)
}
