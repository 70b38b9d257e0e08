package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
)

// The reissue reasons catalogue (storage.ReasonWriter, and the Store's
// Reason and Reasons).
var reasonChecks = []check{
	{"InsertAssignsIncreasingIDs", reasonInsertAssignsIncreasingIDs},
	{"InsertStoresEveryField", reasonInsertStoresEveryField},
	{"OtherOrgOrMissingIsNotFound", reasonOtherOrgOrMissingIsNotFound},
	{"ListFiltersByOrgAndEnabledAndPages", reasonsFilterAndPage},
	{"SaveOverwrites", reasonSaveOverwrites},
	{"SaveOtherOrgOrMissingIsNotFound", reasonSaveOtherOrgOrMissingIsNotFound},
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

// insertReasons saves new reasons in one transaction and returns them with
// their IDs set.
func insertReasons(t *testing.T, s storage.Store, rs ...card.Reason) []card.Reason {
	t.Helper()
	for i, r := range rs {
		validReason(t, fmt.Sprintf("reason %d of the batch", i), r)
	}
	return saveAll(t, s, saveReason, rs...)
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

// reasons lists the reasons of org, enabled or not, on one page.
func reasons(t *testing.T, s storage.Store, org string) []card.Reason {
	t.Helper()
	rs, err := s.Reasons(t.Context(), org, nil, storage.Page{Limit: 100})
	if err != nil {
		t.Fatalf("Reasons(%s): %v", org, err)
	}
	return rs
}

// Ids are assigned by the store, above every id assigned before, across
// orgs and transactions, and a rolled-back insert does not hold them back.
func reasonInsertAssignsIncreasingIDs(t *testing.T, s storage.Store) {
	first := insertReasons(t, s, newReason(orgA, "BROKEN", true), newReason(orgA, "LOST", true), newReason(orgB, "BROKEN", true))
	rolledBack(t, s, func(ctx context.Context, tx storage.Tx) error {
		r := newReason(orgA, "STOLEN", true)
		return tx.SaveReason(ctx, &r)
	})
	second := insertReasons(t, s, newReason(orgB, "LOST", false), newReason(orgA, "DAMAGED", false))
	var last int64
	for i, r := range append(first, second...) {
		if r.ID <= last {
			t.Errorf("reason %d inserted got id %d, want above %d", i, r.ID, last)
		}
		last = r.ID
	}
	for _, r := range append(first, second...) {
		mustEqual(t, "Reason after commit", r, loadReason(t, s, r.OrgID, r.ID))
	}
}

// What SaveReason of a new reason stores is what Reason returns, field by
// field: Tx.Reason inside the inserting transaction, Store.Reason after its
// commit. Times come back as the same instants, in UTC, to the microsecond.
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
	mustSetEveryField(t, "the full reason", want)
	plain := newReason(orgA, "LOST", false)
	plain.MustBlock, plain.MustCharge, plain.Cost = false, false, "0"
	validReason(t, "the plain reason", plain)
	for _, w := range []card.Reason{want, plain} {
		inserted, inTx := saveAndRead(t, s, saveReason, w, func(ctx context.Context, tx storage.Tx, r card.Reason) (card.Reason, error) {
			return tx.Reason(ctx, orgA, r.ID)
		})
		w.ID = inserted.ID
		if w.ID <= 0 {
			t.Errorf("SaveReason set ID %d, want a positive id", w.ID)
		}
		mustEqual(t, "the reason after SaveReason", w, inserted)
		mustEqual(t, "Tx.Reason in the inserting transaction", w, inTx)
		mustEqual(t, "Reason after commit", w, loadReason(t, s, orgA, w.ID))
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
		checkNotFound(t, s, "Reason of "+tc.what,
			func(ctx context.Context) (card.Reason, error) { return s.Reason(ctx, tc.org, tc.id) },
			func(ctx context.Context, tx storage.Tx) (card.Reason, error) { return tx.Reason(ctx, tc.org, tc.id) })
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
		mustEqualAll(t, "Reasons, "+tc.name, tc.want, got)
	}
	mustEqualAll(t, "Reasons of the other org", []card.Reason{rs[1], rs[4]}, reasons(t, s, orgB))
	mustEqualAll(t, "Reasons of an org with no reasons", nil, reasons(t, s, "org-empty"))
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
	inTx := inTx(t, s, func(ctx context.Context, tx storage.Tx) (card.Reason, error) {
		c := next
		if err := tx.SaveReason(ctx, &c); err != nil {
			return card.Reason{}, err
		}
		return tx.Reason(ctx, orgA, r.ID)
	})
	mustEqual(t, "Tx.Reason after SaveReason in its transaction", next, inTx)
	mustEqual(t, "Reason after SaveReason", next, loadReason(t, s, orgA, r.ID))

	back := next
	back.MustBlock, back.MustCharge, back.Enabled = true, true, true
	back.Cost = "7"
	back.UpdatedAt = next.UpdatedAt.Add(time.Minute)
	saveAll(t, s, saveReason, back)
	mustEqual(t, "Reason after a second SaveReason", back, loadReason(t, s, orgA, r.ID))
	mustEqual(t, "another reason after SaveReason", other, loadReason(t, s, orgA, other.ID))
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
		err := errIn(t, s, func(ctx context.Context, tx storage.Tx) error { r := try; return tx.SaveReason(ctx, &r) })
		checkErr(t, "SaveReason of "+tc.name, err, card.ErrNotFound)
	}
	mustEqual(t, "Reason after the refused SaveReasons", r, loadReason(t, s, orgA, r.ID))
	_, err := s.Reason(t.Context(), orgB, r.ID)
	checkErr(t, "Reason of the other org after the refused SaveReason", err, card.ErrNotFound)
	_, err = s.Reason(t.Context(), orgA, missing.ID)
	checkErr(t, "Reason of the missing id after the refused SaveReason", err, card.ErrNotFound)
	mustEqualAll(t, "Reasons of "+orgA+" after the refused SaveReasons", []card.Reason{r}, reasons(t, s, orgA))
	mustEqualAll(t, "Reasons of "+orgB+" after the refused SaveReasons", nil, reasons(t, s, orgB))
}
