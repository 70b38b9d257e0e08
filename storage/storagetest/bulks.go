package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

var bulkChecks = []check{
	{"InsertSetsIDWhenEmpty", bulkInsertSetsIDWhenEmpty},
	{"InsertKeepsGivenID", bulkInsertKeepsGivenID},
	{"InsertStoresEveryField", bulkInsertStoresEveryField},
	{"OtherOrgOrMissingIsNotFound", bulkOtherOrgOrMissingIsNotFound},
	{"SaveNextVersion", bulkSaveNextVersion},
	{"SaveStaleOrSkippedVersionIsConflict", bulkSaveStaleOrSkippedVersionIsConflict},
	{"SaveOtherOrgOrMissingWritesNothing", bulkSaveOtherOrgOrMissingWritesNothing},
	{"CountsByStatus", bulkCountsByStatus},
	{"LockHoldsOffWriters", bulkLockHoldsOffWriters},
}

// newBulk returns a new bulk of org in status CREATED, as the use case
// makes it before InsertBulk: program 1, no external ids yet, PIN length
// 4, contactless, version 1, created and updated now. ID is left for the
// store.
func newBulk(org string) card.Bulk {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return card.Bulk{
		OrgID:              org,
		ProgramID:          card.DefaultProgramID,
		Status:             card.BulkCreated,
		PINLength:          4,
		ContactlessEnabled: true,
		Version:            1,
		CreatedAt:          now,
		UpdatedAt:          now,
	}
}

// insertBulks inserts bs in one transaction and returns them as the store
// left them (ID set).
func insertBulks(t *testing.T, s storage.Store, bs ...card.Bulk) []card.Bulk {
	t.Helper()
	return inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]card.Bulk, error) {
		out := make([]card.Bulk, 0, len(bs))
		for i, b := range bs {
			if err := tx.InsertBulk(ctx, &b); err != nil {
				return nil, fmt.Errorf("insert bulk %d of the batch: %w", i, err)
			}
			out = append(out, b)
		}
		return out, nil
	})
}

// loadBulk returns bulk id of org, read outside any transaction.
func loadBulk(t *testing.T, s storage.Store, org, id string) card.Bulk {
	t.Helper()
	b, err := s.Bulk(t.Context(), org, id)
	if err != nil {
		t.Fatalf("Bulk(%s, %s): %v", org, id, err)
	}
	return b
}

// saveBulk saves b in its own transaction.
func saveBulk(t *testing.T, s storage.Store, b card.Bulk) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.SaveBulk(ctx, &b) })
}

// mustEqualBulk reports the fields where got differs from want.
func mustEqualBulk(t *testing.T, what string, want, got card.Bulk) {
	t.Helper()
	if d := diffFields(want, got); len(d) > 0 {
		t.Errorf("%s (bulk %s) differs from what was stored:\n\t%s", what, want.ID, strings.Join(d, "\n\t"))
	}
}

func bulkInsertSetsIDWhenEmpty(t *testing.T, s storage.Store) {
	bs := insertBulks(t, s, newBulk(orgA), newBulk(orgA))
	for _, b := range bs {
		if _, err := uuid.Parse(b.ID); err != nil {
			t.Errorf("InsertBulk set ID %q, want a UUID", b.ID)
			continue
		}
		mustEqualBulk(t, "Bulk after commit", b, loadBulk(t, s, orgA, b.ID))
	}
	if bs[0].ID == bs[1].ID {
		t.Errorf("two bulks got the same ID %q", bs[0].ID)
	}
}

func bulkInsertKeepsGivenID(t *testing.T, s storage.Store) {
	want := newBulk(orgA)
	want.ID = uuid.NewString()
	got := insertBulks(t, s, want)[0]
	if got.ID != want.ID {
		t.Errorf("InsertBulk changed the given ID %q to %q", want.ID, got.ID)
	}
	mustEqualBulk(t, "Bulk after commit", want, loadBulk(t, s, orgA, want.ID))
}

// What InsertBulk stores is what Bulk returns, field by field, in every
// status: Tx.Bulk inside the inserting transaction, Store.Bulk after its
// commit.
func bulkInsertStoresEveryField(t *testing.T, s storage.Store) {
	created := time.Date(2030, 4, 5, 6, 7, 8, 123456000, time.UTC)
	full := card.Bulk{
		OrgID:              orgA,
		ProgramID:          7,
		Status:             card.BulkStarted,
		ExternalIDs:        1234,
		PINLength:          6,
		ContactlessEnabled: true,
		Version:            1,
		CreatedAt:          created,
		UpdatedAt:          created.Add(36*time.Hour + 654321*time.Microsecond),
	}
	v := reflect.ValueOf(full)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; name != "ID" && v.Field(i).IsZero() {
			t.Fatalf("storagetest: the full bulk leaves %s unset; set it so the round trip covers it", name)
		}
	}
	var wants []card.Bulk
	for _, st := range []card.BulkStatus{card.BulkCreated, card.BulkStarted, card.BulkCanceled} {
		b := full
		b.Status = st
		wants = append(wants, b)
	}
	plain := newBulk(orgA)
	plain.ContactlessEnabled = false
	wants = append(wants, plain)
	inserted, inTx := make([]card.Bulk, len(wants)), make([]card.Bulk, len(wants))
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		for i, b := range wants {
			if err := tx.InsertBulk(ctx, &b); err != nil {
				return err
			}
			inserted[i] = b
			var err error
			if inTx[i], err = tx.Bulk(ctx, orgA, b.ID); err != nil {
				return err
			}
		}
		return nil
	})
	for i, want := range wants {
		want.ID = inserted[i].ID
		what := fmt.Sprintf("the %s bulk", want.Status)
		mustEqualBulk(t, what+" after InsertBulk", want, inserted[i])
		mustEqualBulk(t, "Tx.Bulk of "+what+" in the inserting transaction", want, inTx[i])
		mustEqualBulk(t, "Bulk of "+what+" after commit", want, loadBulk(t, s, orgA, want.ID))
	}
}

// Store.Bulk and Tx.Bulk find a bulk by id within its org only.
func bulkOtherOrgOrMissingIsNotFound(t *testing.T, s storage.Store) {
	b := insertBulks(t, s, newBulk(orgA))[0]
	for _, tc := range []struct{ what, org, id string }{
		{"a bulk of another org", orgB, b.ID},
		{"an id with no bulk", orgA, uuid.NewString()},
	} {
		_, err := s.Bulk(t.Context(), tc.org, tc.id)
		checkErr(t, "Store.Bulk of "+tc.what, err, card.ErrNotFound)
		var txErr error
		update(t, s, func(ctx context.Context, tx storage.Tx) error {
			_, txErr = tx.Bulk(ctx, tc.org, tc.id)
			return nil
		})
		checkErr(t, "Tx.Bulk of "+tc.what, txErr, card.ErrNotFound)
	}
}

// SaveBulk stores the whole bulk over the stored one, one version later,
// within a transaction and across them.
func bulkSaveNextVersion(t *testing.T, s storage.Store) {
	b := insertBulks(t, s, newBulk(orgA))[0]
	other := insertBulks(t, s, newBulk(orgA))[0]
	v2 := b
	v2.ExternalIDs, v2.PINLength, v2.ContactlessEnabled, v2.ProgramID = 3, 6, false, 9
	v2.UpdatedAt = b.UpdatedAt.Add(time.Minute + 7*time.Microsecond)
	v2.Version = 2
	v3 := v2
	v3.Status, v3.UpdatedAt, v3.Version = card.BulkStarted, v2.UpdatedAt.Add(time.Second), 3
	var inTx card.Bulk
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		for _, next := range []card.Bulk{v2, v3} {
			if err := tx.SaveBulk(ctx, &next); err != nil {
				return err
			}
		}
		var err error
		inTx, err = tx.Bulk(ctx, orgA, b.ID)
		return err
	})
	mustEqualBulk(t, "Tx.Bulk after two SaveBulks in its transaction", v3, inTx)
	mustEqualBulk(t, "Bulk after commit", v3, loadBulk(t, s, orgA, b.ID))

	v4 := v3
	v4.Status, v4.ContactlessEnabled, v4.UpdatedAt, v4.Version = card.BulkCanceled, true, v3.UpdatedAt.Add(time.Hour), 4
	saveBulk(t, s, v4)
	mustEqualBulk(t, "Bulk after a SaveBulk in a later transaction", v4, loadBulk(t, s, orgA, b.ID))
	mustEqualBulk(t, "another bulk after SaveBulk", other, loadBulk(t, s, orgA, other.ID))
}

// A SaveBulk whose version is not the stored one plus one is refused as a
// conflict and writes nothing; the transaction goes on and commits.
func bulkSaveStaleOrSkippedVersionIsConflict(t *testing.T, s storage.Store) {
	b := insertBulks(t, s, newBulk(orgA))[0]
	stored := b
	stored.Status, stored.ExternalIDs, stored.Version = card.BulkStarted, 2, 2
	saveBulk(t, s, stored)
	for _, tc := range []struct {
		name    string
		version int64
	}{
		{"the stored version", 2},
		{"an older version", 1},
		{"a skipped version", 4},
	} {
		try := stored
		try.Status, try.ExternalIDs, try.Version = card.BulkCanceled, 5, tc.version
		var saveErr error
		update(t, s, func(ctx context.Context, tx storage.Tx) error {
			b := try
			saveErr = tx.SaveBulk(ctx, &b)
			return nil
		})
		checkErr(t, "SaveBulk with "+tc.name, saveErr, card.ErrConflict)
		mustEqualBulk(t, "Bulk after a SaveBulk with "+tc.name, stored, loadBulk(t, s, orgA, b.ID))
	}
}

// SaveBulk finds the stored bulk by id and org: a bulk of another org with
// the same id, or an id with no bulk, is refused and nothing is written.
func bulkSaveOtherOrgOrMissingWritesNothing(t *testing.T, s storage.Store) {
	b := insertBulks(t, s, newBulk(orgA))[0]
	otherOrg := b
	otherOrg.OrgID = orgB
	missing := b
	missing.ID = uuid.NewString()
	for _, tc := range []struct {
		name string
		b    card.Bulk
	}{
		{"the id of a bulk of another org", otherOrg},
		{"an id with no bulk", missing},
	} {
		try := tc.b
		try.Status, try.Version = card.BulkCanceled, 2
		var saveErr error
		update(t, s, func(ctx context.Context, tx storage.Tx) error {
			b := try
			saveErr = tx.SaveBulk(ctx, &b)
			return nil
		})
		switch {
		case saveErr == nil:
			t.Errorf("SaveBulk of %s succeeded, want an error wrapping card.ErrNotFound or card.ErrConflict", tc.name)
		case !errors.Is(saveErr, card.ErrNotFound) && !errors.Is(saveErr, card.ErrConflict):
			t.Errorf("SaveBulk of %s: got %q, want an error wrapping card.ErrNotFound or card.ErrConflict", tc.name, saveErr)
		}
	}
	mustEqualBulk(t, "Bulk after the refused SaveBulks", b, loadBulk(t, s, orgA, b.ID))
	_, err := s.Bulk(t.Context(), orgB, b.ID)
	checkErr(t, "Bulk of the other org after the refused SaveBulk", err, card.ErrNotFound)
	_, err = s.Bulk(t.Context(), orgA, missing.ID)
	checkErr(t, "Bulk of the missing id after the refused SaveBulk", err, card.ErrNotFound)
}

// bulkCounts returns BulkCounts of bulk id of org.
func bulkCounts(t *testing.T, s storage.Store, org, id string) map[card.Status]int {
	t.Helper()
	counts, err := s.BulkCounts(t.Context(), org, id)
	if err != nil {
		t.Fatalf("BulkCounts(%s, %s): %v", org, id, err)
	}
	return counts
}

// mustEqualCounts checks got against want; a status absent from want must
// be absent from got, not counted as 0.
func mustEqualCounts(t *testing.T, what string, want, got map[card.Status]int) {
	t.Helper()
	if !maps.Equal(want, got) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// BulkCounts counts the cards of the bulk in the org by status, and no
// other card: not the cards of another bulk, nor those of another org
// under the same bulk id, nor cards of no bulk.
func bulkCountsByStatus(t *testing.T, s storage.Store) {
	bs := insertBulks(t, s, newBulk(orgA), newBulk(orgA), newBulk(orgA))
	bulk, otherBulk, empty := bs[0].ID, bs[1].ID, bs[2].ID
	of := func(org, bulkID, ext string, st card.Status) card.Card {
		c := unboundCard(org, ext)
		c.BulkID = bulkID
		c.Status = st
		switch {
		case st == card.Normal:
			c.AccountID, c.CustomerID, c.PreviousStatus = "1001", "2001", card.Unbound
		case st.Terminated():
			c.PreviousStatus = card.Unbound
		}
		return c
	}
	cs := []card.Card{
		of(orgA, bulk, "e1", card.Unbound), of(orgA, otherBulk, "e1", card.Unbound),
		of(orgA, bulk, "e2", card.Normal), of(orgA, bulk, "e3", card.Unbound),
		NewCard(orgA), of(orgB, bulk, "e9", card.Unbound),
		of(orgA, bulk, "e4", card.Canceled), of(orgA, bulk, "e5", card.Unbound),
		of(orgA, otherBulk, "e2", card.Canceled), of(orgA, bulk, "e6", card.Canceled),
	}
	for i, c := range cs {
		validCard(t, fmt.Sprintf("card %d", i), c)
	}
	insert(t, s, cs...)
	mustEqualCounts(t, "BulkCounts of the bulk",
		map[card.Status]int{card.Unbound: 3, card.Normal: 1, card.Canceled: 2}, bulkCounts(t, s, orgA, bulk))
	mustEqualCounts(t, "BulkCounts of the other bulk",
		map[card.Status]int{card.Unbound: 1, card.Canceled: 1}, bulkCounts(t, s, orgA, otherBulk))
	mustEqualCounts(t, "BulkCounts of the bulk id in the other org",
		map[card.Status]int{card.Unbound: 1}, bulkCounts(t, s, orgB, bulk))
	mustEqualCounts(t, "BulkCounts of a bulk without cards", map[card.Status]int{}, bulkCounts(t, s, orgA, empty))
}

// While a transaction holds a bulk it loaded with Tx.Bulk, no other
// transaction changes it; the holder's SaveBulk then succeeds.
func bulkLockHoldsOffWriters(t *testing.T, s storage.Store) {
	b := insertBulks(t, s, newBulk(orgA))[0]
	next := func(b card.Bulk) card.Bulk {
		b.ExternalIDs++
		b.Version++
		return b
	}
	var held card.Bulk
	firstErr, secondErr, overlapped := contend(t, s,
		func(ctx context.Context, tx storage.Tx) error {
			var err error
			held, err = tx.Bulk(ctx, orgA, b.ID)
			return err
		},
		func(ctx context.Context, tx storage.Tx) error {
			n := next(held)
			return tx.SaveBulk(ctx, &n)
		},
		func(ctx context.Context, tx storage.Tx) error {
			cur, err := tx.Bulk(ctx, orgA, b.ID)
			if err != nil {
				return err
			}
			n := next(cur)
			return tx.SaveBulk(ctx, &n)
		})
	if overlapped && secondErr == nil {
		t.Errorf("a second transaction changed bulk %s while another held it", b.ID)
	}
	if firstErr != nil {
		t.Errorf("the transaction that held the bulk could not save it: %v", firstErr)
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
	if got := loadBulk(t, s, orgA, b.ID); got.Version != want || got.ExternalIDs != int(want-1) {
		t.Errorf("the bulk is at version %d with %d external ids, want %d and %d", got.Version, got.ExternalIDs, want, want-1)
	}
}
