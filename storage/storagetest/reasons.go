package storagetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
)

var reasonChecks = []check{
	{"InsertAssignsIncreasingIDs", reasonInsertAssignsIncreasingIDs},
	{"InsertStoresEveryField", reasonInsertStoresEveryField},
	{"OtherOrgOrMissingIsNotFound", reasonOtherOrgOrMissingIsNotFound},
	{"ListFiltersByOrgAndEnabledAndPages", reasonsFilterAndPage},
	{"SaveOverwrites", reasonSaveOverwrites},
	{"SaveOtherOrgOrMissingIsNotFound", reasonSaveOtherOrgOrMissingIsNotFound},
	{"LockHoldsOffWriters", reasonLockHoldsOffWriters},
}

// newReason returns a valid reason of org of type typ: blocking, charged,
// costing 12.50, created and updated now (UTC, to the microsecond a store
// keeps). ID is left for the store.
func newReason(org, typ string, enabled bool) card.Reason {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return card.Reason{
		OrgID:       org,
		Description: "Reason " + typ,
		Type:        typ,
		MustBlock:   true,
		MustCharge:  true,
		Cost:        "12.50",
		Enabled:     enabled,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
}

// validReason fails the test when r breaks a field rule.
func validReason(t *testing.T, what string, r card.Reason) {
	t.Helper()
	if err := r.Validate(); err != nil {
		t.Fatalf("storagetest: %s is not a valid reason: %v", what, err)
	}
}

// insertReasons inserts rs in one transaction and returns them with their
// IDs set.
func insertReasons(t *testing.T, s storage.Store, rs ...card.Reason) []card.Reason {
	t.Helper()
	return inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]card.Reason, error) {
		out := make([]card.Reason, 0, len(rs))
		for i, r := range rs {
			validReason(t, fmt.Sprintf("reason %d of the batch", i), r)
			if err := tx.InsertReason(ctx, &r); err != nil {
				return nil, fmt.Errorf("insert reason %d of the batch: %w", i, err)
			}
			out = append(out, r)
		}
		return out, nil
	})
}

// loadReason returns reason id of org, read outside any transaction.
func loadReason(t *testing.T, s storage.Store, org string, id int64) card.Reason {
	t.Helper()
	r, err := s.Reason(t.Context(), org, id)
	if err != nil {
		t.Fatalf("Reason(%s, %d): %v", org, id, err)
	}
	return r
}

// saveReason saves r in its own transaction.
func saveReason(t *testing.T, s storage.Store, r card.Reason) {
	t.Helper()
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.SaveReason(ctx, &r) })
}

// mustEqualReason reports the fields where got differs from want.
func mustEqualReason(t *testing.T, what string, want, got card.Reason) {
	t.Helper()
	if d := diffFields(want, got); len(d) > 0 {
		t.Errorf("%s (reason %d) differs from what was stored:\n\t%s", what, want.ID, strings.Join(d, "\n\t"))
	}
}

// mustEqualReasons checks that got holds the reasons of want, in that order.
func mustEqualReasons(t *testing.T, what string, want, got []card.Reason) {
	t.Helper()
	if !slices.Equal(reasonIDs(want), reasonIDs(got)) {
		t.Errorf("%s: got reasons %v, want %v", what, reasonIDs(got), reasonIDs(want))
		return
	}
	for i := range want {
		mustEqualReason(t, what, want[i], got[i])
	}
}

func reasonIDs(rs []card.Reason) []int64 {
	ids := make([]int64, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// Ids are assigned by the store, above every id assigned before, across
// orgs and transactions, and a rolled-back insert does not hold them back.
func reasonInsertAssignsIncreasingIDs(t *testing.T, s storage.Store) {
	first := insertReasons(t, s, newReason(orgA, "BROKEN", true), newReason(orgA, "LOST", true), newReason(orgB, "BROKEN", true))
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		r := newReason(orgA, "STOLEN", true)
		if err := tx.InsertReason(ctx, &r); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update of a rolled-back reason insert: got %v, want %v", err, errRollback)
	}
	second := insertReasons(t, s, newReason(orgB, "LOST", false), newReason(orgA, "DAMAGED", false))
	var last int64
	for i, r := range append(first, second...) {
		if r.ID <= last {
			t.Errorf("reason %d inserted got id %d, want above %d", i, r.ID, last)
		}
		last = r.ID
	}
	for _, r := range append(first, second...) {
		mustEqualReason(t, "Reason after commit", r, loadReason(t, s, r.OrgID, r.ID))
	}
}

// What InsertReason stores is what Reason returns, field by field: Tx.Reason
// inside the inserting transaction, Store.Reason after its commit. Times
// come back as the same instants, in UTC, to the microsecond.
func reasonInsertStoresEveryField(t *testing.T, s storage.Store) {
	created := time.Date(2030, 4, 5, 6, 7, 8, 123456000, time.UTC)
	want := card.Reason{
		OrgID:       orgA,
		Description: "Carte cassée ✓ (chip)",
		Type:        "CHIP_BROKEN_2",
		MustBlock:   true,
		MustCharge:  true,
		Cost:        "1234.56",
		Enabled:     true,
		CreatedAt:   created,
		UpdatedAt:   created.Add(36*time.Hour + 654321*time.Microsecond),
	}
	validReason(t, "the full reason", want)
	v := reflect.ValueOf(want)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; name != "ID" && v.Field(i).IsZero() {
			t.Fatalf("storagetest: the full reason leaves %s unset; set it so the round trip covers it", name)
		}
	}
	plain := newReason(orgA, "LOST", false)
	plain.MustBlock, plain.MustCharge, plain.Cost = false, false, "0"
	validReason(t, "the plain reason", plain)
	var inserted, inTx [2]card.Reason
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		for i, r := range []card.Reason{want, plain} {
			if err := tx.InsertReason(ctx, &r); err != nil {
				return err
			}
			inserted[i] = r
			var err error
			if inTx[i], err = tx.Reason(ctx, orgA, r.ID); err != nil {
				return err
			}
		}
		return nil
	})
	for i, w := range []card.Reason{want, plain} {
		w.ID = inserted[i].ID
		if w.ID <= 0 {
			t.Errorf("InsertReason set ID %d, want a positive id", w.ID)
		}
		mustEqualReason(t, "the reason after InsertReason", w, inserted[i])
		mustEqualReason(t, "Tx.Reason in the inserting transaction", w, inTx[i])
		mustEqualReason(t, "Reason after commit", w, loadReason(t, s, orgA, w.ID))
	}
}

// Store.Reason and Tx.Reason find a reason by id within its org only.
func reasonOtherOrgOrMissingIsNotFound(t *testing.T, s storage.Store) {
	r := insertReasons(t, s, newReason(orgA, "BROKEN", true))[0]
	for _, tc := range []struct {
		what string
		org  string
		id   int64
	}{
		{"a reason of another org", orgB, r.ID},
		{"an id with no reason", orgA, r.ID + 1000},
	} {
		_, err := s.Reason(t.Context(), tc.org, tc.id)
		checkErr(t, "Store.Reason of "+tc.what, err, card.ErrNotFound)
		var txErr error
		update(t, s, func(ctx context.Context, tx storage.Tx) error {
			_, txErr = tx.Reason(ctx, tc.org, tc.id)
			return nil
		})
		checkErr(t, "Tx.Reason of "+tc.what, txErr, card.ErrNotFound)
	}
}

func reasonsFilterAndPage(t *testing.T, s storage.Store) {
	// Interleaved, so the org's ids have gaps that the other org fills.
	rs := insertReasons(t, s,
		newReason(orgA, "A1", true), newReason(orgB, "B1", true), newReason(orgA, "A2", false),
		newReason(orgA, "A3", true), newReason(orgB, "B2", false), newReason(orgA, "A4", false),
		newReason(orgA, "A5", true))
	all := []card.Reason{rs[0], rs[2], rs[3], rs[5], rs[6]}
	enabled := []card.Reason{rs[0], rs[3], rs[6]}
	disabled := []card.Reason{rs[2], rs[5]}
	yes, no := true, false
	for _, tc := range []struct {
		name    string
		enabled *bool
		page    storage.Page
		want    []card.Reason
	}{
		{"every reason", nil, storage.Page{Limit: 100}, all},
		{"the first reason", nil, storage.Page{Limit: 1}, all[:1]},
		{"two reasons after the second", nil, storage.Page{After: all[1].ID, Limit: 2}, all[2:4]},
		{"after the id of another org's reason", nil, storage.Page{After: rs[1].ID, Limit: 100}, all[1:]},
		{"after the last reason", nil, storage.Page{After: all[4].ID, Limit: 100}, nil},
		{"enabled reasons", &yes, storage.Page{Limit: 100}, enabled},
		{"the first enabled reason", &yes, storage.Page{Limit: 1}, enabled[:1]},
		{"enabled reasons after the first one", &yes, storage.Page{After: enabled[0].ID, Limit: 100}, enabled[1:]},
		{"one enabled reason after a disabled one", &yes, storage.Page{After: rs[2].ID, Limit: 1}, enabled[1:2]},
		{"disabled reasons", &no, storage.Page{Limit: 100}, disabled},
		{"disabled reasons after the first one", &no, storage.Page{After: disabled[0].ID, Limit: 100}, disabled[1:]},
		{"disabled reasons after the last one", &no, storage.Page{After: disabled[1].ID, Limit: 100}, nil},
	} {
		got, err := s.Reasons(t.Context(), orgA, tc.enabled, tc.page)
		if err != nil {
			t.Errorf("Reasons, %s: %v", tc.name, err)
			continue
		}
		mustEqualReasons(t, "Reasons, "+tc.name, tc.want, got)
	}
	got, err := s.Reasons(t.Context(), orgB, nil, storage.Page{Limit: 100})
	if err != nil {
		t.Fatalf("Reasons of the other org: %v", err)
	}
	mustEqualReasons(t, "Reasons of the other org", []card.Reason{rs[1], rs[4]}, got)
	got, err = s.Reasons(t.Context(), "org-empty", nil, storage.Page{Limit: 100})
	if err != nil {
		t.Fatalf("Reasons of an org with no reasons: %v", err)
	}
	mustEqualReasons(t, "Reasons of an org with no reasons", nil, got)
}

// SaveReason stores the whole reason over the stored one, within a
// transaction and across them; Tx.Reason reads what the transaction saved.
func reasonSaveOverwrites(t *testing.T, s storage.Store) {
	r := insertReasons(t, s, newReason(orgA, "BROKEN", true))[0]
	other := insertReasons(t, s, newReason(orgA, "LOST", true))[0]
	next := r
	next.Description = "Broken, replaced for free"
	next.Type = "BROKEN_FREE"
	next.MustBlock, next.MustCharge, next.Enabled = false, false, false
	next.Cost = "0.00"
	next.UpdatedAt = r.UpdatedAt.Add(time.Hour + 5*time.Microsecond)
	validReason(t, "the changed reason", next)
	var inTx card.Reason
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		c := next
		if err := tx.SaveReason(ctx, &c); err != nil {
			return err
		}
		var err error
		inTx, err = tx.Reason(ctx, orgA, r.ID)
		return err
	})
	mustEqualReason(t, "Tx.Reason after SaveReason in its transaction", next, inTx)
	mustEqualReason(t, "Reason after SaveReason", next, loadReason(t, s, orgA, r.ID))

	back := next
	back.MustBlock, back.MustCharge, back.Enabled = true, true, true
	back.Cost = "7"
	back.UpdatedAt = next.UpdatedAt.Add(time.Minute)
	saveReason(t, s, back)
	mustEqualReason(t, "Reason after a second SaveReason", back, loadReason(t, s, orgA, r.ID))
	mustEqualReason(t, "another reason after SaveReason", other, loadReason(t, s, orgA, other.ID))
}

// SaveReason finds the stored reason by id and org: a reason of another org
// with the same id, or an id with no reason, is card.ErrNotFound and
// nothing is written.
func reasonSaveOtherOrgOrMissingIsNotFound(t *testing.T, s storage.Store) {
	r := insertReasons(t, s, newReason(orgA, "BROKEN", true))[0]
	otherOrg := r
	otherOrg.OrgID = orgB
	missing := r
	missing.ID = r.ID + 1000
	for _, tc := range []struct {
		name string
		r    card.Reason
	}{
		{"the id of a reason of another org", otherOrg},
		{"an id with no reason", missing},
	} {
		try := tc.r
		try.Description, try.Enabled = "Changed", false
		var saveErr error
		update(t, s, func(ctx context.Context, tx storage.Tx) error {
			r := try
			saveErr = tx.SaveReason(ctx, &r)
			return nil
		})
		checkErr(t, "SaveReason of "+tc.name, saveErr, card.ErrNotFound)
	}
	mustEqualReason(t, "Reason after the refused SaveReasons", r, loadReason(t, s, orgA, r.ID))
	_, err := s.Reason(t.Context(), orgB, r.ID)
	checkErr(t, "Reason of the other org after the refused SaveReason", err, card.ErrNotFound)
	_, err = s.Reason(t.Context(), orgA, missing.ID)
	checkErr(t, "Reason of the missing id after the refused SaveReason", err, card.ErrNotFound)
	for _, org := range []string{orgA, orgB} {
		got, err := s.Reasons(t.Context(), org, nil, storage.Page{Limit: 100})
		if err != nil {
			t.Fatalf("Reasons(%s): %v", org, err)
		}
		want := []card.Reason{r}
		if org == orgB {
			want = nil
		}
		mustEqualReasons(t, "Reasons of "+org+" after the refused SaveReasons", want, got)
	}
}

// While a transaction holds a reason it loaded with Tx.Reason, no other
// transaction changes it; the holder's SaveReason then succeeds.
func reasonLockHoldsOffWriters(t *testing.T, s storage.Store) {
	r := insertReasons(t, s, newReason(orgA, "BROKEN", true))[0]
	var held card.Reason
	firstErr, secondErr, overlapped := contend(t, s,
		func(ctx context.Context, tx storage.Tx) error {
			var err error
			held, err = tx.Reason(ctx, orgA, r.ID)
			return err
		},
		func(ctx context.Context, tx storage.Tx) error {
			next := held
			next.Description = "first"
			return tx.SaveReason(ctx, &next)
		},
		func(ctx context.Context, tx storage.Tx) error {
			cur, err := tx.Reason(ctx, orgA, r.ID)
			if err != nil {
				return err
			}
			if cur.Description != "first" {
				return fmt.Errorf("the second transaction read description %q, want the committed %q", cur.Description, "first")
			}
			cur.Description = "second"
			return tx.SaveReason(ctx, &cur)
		})
	if overlapped && secondErr == nil {
		t.Errorf("a second transaction changed reason %d while another held it", r.ID)
	}
	if firstErr != nil {
		t.Errorf("the transaction that held the reason could not save it: %v", firstErr)
	}
	if secondErr != nil {
		t.Errorf("the second transaction: %v", secondErr)
	}
	if got := loadReason(t, s, orgA, r.ID).Description; firstErr == nil && secondErr == nil && got != "second" {
		t.Errorf("the reason has description %q after both transactions, want the later %q", got, "second")
	}
}
