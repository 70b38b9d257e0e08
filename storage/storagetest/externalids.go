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

// addExternalIDs adds ids to bulk in a transaction of its own.
func addExternalIDs(t *testing.T, s storage.Store, bulk string, ids ...string) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.AddExternalIDs(ctx, bulk, ids) })
}

// readExternalIDs reads every external id of bulk through tx, in pages of
// limit, checking that each page's next position moves the reading on.
func readExternalIDs(ctx context.Context, tx storage.Tx, bulk string, limit int) ([]string, error) {
	var all []string
	var after int64
	for pages := 0; ; pages++ {
		if pages > 10000 {
			return nil, errors.New("ExternalIDs never returned an empty page")
		}
		ids, next, err := tx.ExternalIDs(ctx, bulk, after, limit)
		if err != nil {
			return nil, fmt.Errorf("ExternalIDs(%s, %d, %d): %w", bulk, after, limit, err)
		}
		if len(ids) > limit {
			return nil, fmt.Errorf("ExternalIDs(%s, %d, %d) returned %d ids, more than the limit", bulk, after, limit, len(ids))
		}
		if len(ids) == 0 {
			if next != after {
				return nil, fmt.Errorf("ExternalIDs(%s, %d, %d) returned no id and next = %d, want next = after", bulk, after, limit, next)
			}
			return all, nil
		}
		all = append(all, ids...)
		after = next
	}
}

// externalIDs returns every external id of bulk, read in one transaction in
// pages of limit.
func externalIDs(t *testing.T, s storage.Store, bulk string, limit int) []string {
	t.Helper()
	return inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]string, error) {
		return readExternalIDs(ctx, tx, bulk, limit)
	})
}

// numbered returns n external ids, prefix followed by a number, in
// descending order so the order of insertion is not the sorted one.
func numbered(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%05d", prefix, n-i)
	}
	return ids
}

// AddExternalIDs appends after the ids the bulk holds, whether they were
// added in an earlier transaction or earlier in the same one, and
// ExternalIDs returns them in the order they were added, including those of
// its own transaction.
func externalIDsAppendInOrder(t *testing.T, s storage.Store) {
	bulk, other := uuid.NewString(), uuid.NewString()
	if got := externalIDs(t, s, bulk, 10); len(got) != 0 {
		t.Errorf("ExternalIDs of a bulk with none: got %q, want none", got)
	}
	addExternalIDs(t, s, bulk, "x3", "x1", "x2")
	addExternalIDs(t, s, other, "o1")
	var inTx []string
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.AddExternalIDs(ctx, bulk, []string{"b", "a"}); err != nil {
			return err
		}
		if err := tx.AddExternalIDs(ctx, other, []string{"o2"}); err != nil {
			return err
		}
		if err := tx.AddExternalIDs(ctx, bulk, []string{"c"}); err != nil {
			return err
		}
		var err error
		inTx, err = readExternalIDs(ctx, tx, bulk, 100)
		return err
	})
	want := []string{"x3", "x1", "x2", "b", "a", "c"}
	mustEqualIDs(t, "ExternalIDs in the adding transaction", want, inTx)
	mustEqualIDs(t, "ExternalIDs after commit", want, externalIDs(t, s, bulk, 100))
	mustEqualIDs(t, "ExternalIDs of the other bulk", []string{"o1", "o2"}, externalIDs(t, s, other, 100))
}

// An id the bulk already holds is a card.ErrConflict; a transaction that
// returns it (as the use cases do) leaves the bulk's ids as they were,
// whether the duplicate is the first id of the call or comes after more
// ids than the store writes in one statement. The bulk takes new ids
// afterwards.
func externalIDsDuplicateIsConflict(t *testing.T, s storage.Store) {
	bulk := uuid.NewString()
	stored := []string{"e1", "e2", "e3"}
	addExternalIDs(t, s, bulk, stored...)
	for _, tc := range []struct {
		name string
		ids  []string
	}{
		{"a held id alone", []string{"e2"}},
		{"a held id after new ones", []string{"n1", "n2", "e3"}},
		{"a held id before new ones", []string{"e1", "n1"}},
		{"a held id after 1,200 new ones", append(numbered("n", 1200), "e1")},
	} {
		conflicts(t, s, "AddExternalIDs of "+tc.name, func(ctx context.Context, tx storage.Tx) error {
			return tx.AddExternalIDs(ctx, bulk, tc.ids)
		})
		mustEqualIDs(t, "ExternalIDs after the refused AddExternalIDs of "+tc.name, stored, externalIDs(t, s, bulk, 100))
	}
	addExternalIDs(t, s, bulk, "n1", "e4")
	mustEqualIDs(t, "ExternalIDs after a later AddExternalIDs", append(stored, "n1", "e4"), externalIDs(t, s, bulk, 100))
}

// The same external id may be in two bulks.
func externalIDsSameIDInTwoBulks(t *testing.T, s storage.Store) {
	first, second := uuid.NewString(), uuid.NewString()
	addExternalIDs(t, s, first, "e1", "e2")
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		if err := tx.AddExternalIDs(ctx, second, []string{"e2"}); err != nil {
			return err
		}
		return tx.AddExternalIDs(ctx, first, []string{"e3"})
	})
	addExternalIDs(t, s, second, "e1", "e3")
	mustEqualIDs(t, "ExternalIDs of the first bulk", []string{"e1", "e2", "e3"}, externalIDs(t, s, first, 100))
	mustEqualIDs(t, "ExternalIDs of the second bulk", []string{"e2", "e1", "e3"}, externalIDs(t, s, second, 100))
}

// ExternalIDs returns at most limit ids after position after; next leads to
// the following page, and past the last id the page is empty with next =
// after. Ids of another bulk, added in between, do not show.
func externalIDsPaging(t *testing.T, s storage.Store) {
	bulk, other := uuid.NewString(), uuid.NewString()
	addExternalIDs(t, s, bulk, "g", "f", "e")
	addExternalIDs(t, s, other, "z1", "z2")
	addExternalIDs(t, s, bulk, "d", "c", "b", "a")
	all := []string{"g", "f", "e", "d", "c", "b", "a"}
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		ids, next, err := tx.ExternalIDs(ctx, uuid.NewString(), 0, 10)
		switch {
		case err != nil:
			t.Errorf("ExternalIDs of a bulk with none: %v", err)
		case len(ids) != 0 || next != 0:
			t.Errorf("ExternalIDs(0, 10) of a bulk with none: got %q and next = %d, want none and 0", ids, next)
		}
		var after int64
		for i, want := range [][]string{all[0:3], all[3:6], all[6:7], nil, nil} {
			ids, next, err := tx.ExternalIDs(ctx, bulk, after, 3)
			if err != nil {
				return fmt.Errorf("ExternalIDs, page %d: %w", i, err)
			}
			mustEqualIDs(t, fmt.Sprintf("ExternalIDs(%d, 3), page %d", after, i), want, ids)
			switch {
			case len(want) == 0 && next != after:
				t.Errorf("ExternalIDs(%d, 3), page %d, is empty with next = %d, want next = after", after, i, next)
			case len(want) > 0 && next <= after:
				t.Errorf("ExternalIDs(%d, 3), page %d, returned next = %d, want a position after %d", after, i, next, after)
			}
			after = next
		}
		for _, limit := range []int{1, 2, 7, 100} {
			got, err := readExternalIDs(ctx, tx, bulk, limit)
			if err != nil {
				return err
			}
			mustEqualIDs(t, fmt.Sprintf("ExternalIDs read in pages of %d", limit), all, got)
		}
		// A page that starts after the first page's next holds the rest.
		_, next, err = tx.ExternalIDs(ctx, bulk, 0, 2)
		if err != nil {
			return err
		}
		rest, _, err := tx.ExternalIDs(ctx, bulk, next, 100)
		if err != nil {
			return err
		}
		mustEqualIDs(t, "ExternalIDs after the first page of 2", all[2:], rest)
		return nil
	})
}

// Lists longer than a store's statement batch keep their order: one call
// of 2,345 ids, then a call of 678 more, read in pages of several sizes.
func externalIDsLargeLists(t *testing.T, s storage.Store) {
	bulk := uuid.NewString()
	first, second := numbered("a", 2345), numbered("b", 678)
	addExternalIDs(t, s, bulk, first...)
	mustEqualIDs(t, "ExternalIDs of 2,345 ids read in pages of 1,000", first, externalIDs(t, s, bulk, 1000))
	addExternalIDs(t, s, bulk, second...)
	all := append(slices.Clone(first), second...)
	for _, limit := range []int{499, 1000, 5000} {
		mustEqualIDs(t, fmt.Sprintf("ExternalIDs of 3,023 ids read in pages of %d", limit), all, externalIDs(t, s, bulk, limit))
	}
	// A duplicate of the first call's last id, at the end of a long call.
	dup := append(numbered("c", 777), first[len(first)-1])
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		return tx.AddExternalIDs(ctx, bulk, dup)
	})
	checkErr(t, "Update of a long AddExternalIDs with a held id", err, card.ErrConflict)
	mustEqualIDs(t, "ExternalIDs after the refused long AddExternalIDs", all, externalIDs(t, s, bulk, 1000))
}
