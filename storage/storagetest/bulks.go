package storagetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// The noname bulks (storage.BulkWriter, and the Store's Bulk and
// BulkView): the bulks themselves, their UNBOUND cards here, their
// external ids in externalids.go.
var bulkChecks = []check{
	{"InsertSetsIDWhenEmpty", bulkInsertSetsIDWhenEmpty},
	{"InsertKeepsGivenID", bulkInsertKeepsGivenID},
	{"InsertStoresEveryField", bulkInsertStoresEveryField},
	{"OtherOrgOrMissingIsNotFound", bulkOtherOrgOrMissingIsNotFound},
	{"SaveNextVersion", bulkSaveNextVersion},
	{"SaveStaleOrSkippedVersionIsConflict", bulkSaveStaleOrSkippedVersionIsConflict},
	{"SaveOtherOrgOrMissingWritesNothing", bulkSaveOtherOrgOrMissingWritesNothing},
	{"CountsByStatus", bulkCountsByStatus},
	{"UnboundCardsFiltersByOrgBulkStatusAndExternalIDs", unboundCardsFilter},
	{"UnboundCardsPages", unboundCardsPages},
	{"ExternalIDsAppendInOrderAcrossCalls", externalIDsAppendInOrder},
	{"ExternalIDsDuplicateIsConflictAndAddsNothing", externalIDsDuplicateIsConflict},
	{"ExternalIDsSameIDInTwoBulks", externalIDsSameIDInTwoBulks},
	{"ExternalIDsPaging", externalIDsPaging},
	{"ExternalIDsLargeLists", externalIDsLargeLists},
	{"ExternalIDsPositionsCountTheIDs", externalIDsPositionsCount},
	{"ProcessingBulksOfEveryOrg", processingBulksOfEveryOrg},
}

// newBulk returns a new bulk of org in status CREATED, as the use case
// makes it before SaveBulk: program 1, no external ids yet, PIN length
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

// insertBulks saves new bulks in one transaction and returns them as the
// store left them (ID set).
func insertBulks(t *testing.T, s storage.Store, bs ...card.Bulk) []card.Bulk {
	t.Helper()
	return saveAll(t, s, saveBulk, bs...)
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

func bulkInsertSetsIDWhenEmpty(t *testing.T, s storage.Store) {
	bs := insertBulks(t, s, newBulk(orgA), newBulk(orgA))
	for _, b := range bs {
		if _, err := uuid.Parse(b.ID); err != nil {
			t.Errorf("SaveBulk set ID %q, want a UUID", b.ID)
			continue
		}
		mustEqual(t, "Bulk after commit", b, loadBulk(t, s, orgA, b.ID))
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
		t.Errorf("SaveBulk changed the given ID %q to %q", want.ID, got.ID)
	}
	mustEqual(t, "Bulk after commit", want, loadBulk(t, s, orgA, want.ID))
}

// What SaveBulk of a new bulk stores is what Bulk returns, field by field, in every
// status: Tx.Bulk inside the inserting transaction, Store.Bulk after its
// commit.
func bulkInsertStoresEveryField(t *testing.T, s storage.Store) {
	created := time.Date(2030, 4, 5, 6, 7, 8, 123456000, time.UTC)
	full := card.Bulk{
		OrgID:              orgA,
		ProgramID:          7,
		Status:             card.BulkStarted,
		ExternalIDs:        1234,
		CardsMade:          1000,
		PINLength:          6,
		ContactlessEnabled: true,
		Version:            1,
		CreatedAt:          created,
		UpdatedAt:          created.Add(36*time.Hour + 654321*time.Microsecond),
	}
	mustSetEveryField(t, "the full bulk", full)
	var wants []card.Bulk
	for _, st := range []card.BulkStatus{card.BulkCreated, card.BulkProcessing, card.BulkStarted, card.BulkCanceled} {
		b := full
		b.Status = st
		wants = append(wants, b)
	}
	plain := newBulk(orgA)
	plain.ContactlessEnabled = false
	wants = append(wants, plain)
	for _, want := range wants {
		inserted, inTx := saveAndRead(t, s, saveBulk, want, func(ctx context.Context, tx storage.Tx, b card.Bulk) (card.Bulk, error) {
			return tx.Bulk(ctx, orgA, b.ID)
		})
		want.ID = inserted.ID
		what := fmt.Sprintf("the %s bulk", want.Status)
		mustEqual(t, what+" after SaveBulk", want, inserted)
		mustEqual(t, "Tx.Bulk of "+what+" in the inserting transaction", want, inTx)
		mustEqual(t, "Bulk of "+what+" after commit", want, loadBulk(t, s, orgA, want.ID))
	}
}

// Store.Bulk and Tx.Bulk find a bulk by id within its org only.
func bulkOtherOrgOrMissingIsNotFound(t *testing.T, s storage.Store) {
	b := insertBulks(t, s, newBulk(orgA))[0]
	for _, tc := range []struct{ what, org, id string }{
		{"a bulk of another org", orgB, b.ID},
		{"an id with no bulk", orgA, uuid.NewString()},
	} {
		checkNotFound(t, s, "Bulk of "+tc.what,
			func(ctx context.Context) (card.Bulk, error) { return s.Bulk(ctx, tc.org, tc.id) },
			func(ctx context.Context, tx storage.Tx) (card.Bulk, error) { return tx.Bulk(ctx, tc.org, tc.id) })
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
	inTx := inTx(t, s, func(ctx context.Context, tx storage.Tx) (card.Bulk, error) {
		for _, next := range []card.Bulk{v2, v3} {
			if err := tx.SaveBulk(ctx, &next); err != nil {
				return card.Bulk{}, err
			}
		}
		return tx.Bulk(ctx, orgA, b.ID)
	})
	mustEqual(t, "Tx.Bulk after two SaveBulks in its transaction", v3, inTx)
	mustEqual(t, "Bulk after commit", v3, loadBulk(t, s, orgA, b.ID))

	v4 := v3
	v4.Status, v4.ContactlessEnabled, v4.UpdatedAt, v4.Version = card.BulkCanceled, true, v3.UpdatedAt.Add(time.Hour), 4
	saveAll(t, s, saveBulk, v4)
	mustEqual(t, "Bulk after a SaveBulk in a later transaction", v4, loadBulk(t, s, orgA, b.ID))
	mustEqual(t, "another bulk after SaveBulk", other, loadBulk(t, s, orgA, other.ID))
}

// A SaveBulk whose version is not the stored one plus one is refused as a
// conflict and writes nothing; the transaction goes on and commits.
func bulkSaveStaleOrSkippedVersionIsConflict(t *testing.T, s storage.Store) {
	b := insertBulks(t, s, newBulk(orgA))[0]
	stored := b
	stored.Status, stored.ExternalIDs, stored.Version = card.BulkStarted, 2, 2
	saveAll(t, s, saveBulk, stored)
	for _, tc := range staleVersions {
		try := stored
		try.Status, try.ExternalIDs, try.Version = card.BulkCanceled, 5, tc.version
		err := errIn(t, s, func(ctx context.Context, tx storage.Tx) error { b := try; return tx.SaveBulk(ctx, &b) })
		checkErr(t, "SaveBulk with "+tc.name, err, card.ErrConflict)
		mustEqual(t, "Bulk after a SaveBulk with "+tc.name, stored, loadBulk(t, s, orgA, b.ID))
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
		err := errIn(t, s, func(ctx context.Context, tx storage.Tx) error { b := try; return tx.SaveBulk(ctx, &b) })
		checkErr(t, "SaveBulk of "+tc.name, err, card.ErrNotFound, card.ErrConflict)
	}
	mustEqual(t, "Bulk after the refused SaveBulks", b, loadBulk(t, s, orgA, b.ID))
	_, err := s.Bulk(t.Context(), orgB, b.ID)
	checkErr(t, "Bulk of the other org after the refused SaveBulk", err, card.ErrNotFound)
	_, err = s.Bulk(t.Context(), orgA, missing.ID)
	checkErr(t, "Bulk of the missing id after the refused SaveBulk", err, card.ErrNotFound)
}

// bulkCounts returns the counts of BulkView of bulk id of org, and checks
// that its bulk is Bulk's.
func bulkCounts(t *testing.T, s storage.Store, org, id string) map[card.Status]int {
	t.Helper()
	b, counts, err := s.BulkView(t.Context(), org, id)
	if err != nil {
		t.Fatalf("BulkView(%s, %s): %v", org, id, err)
	}
	mustEqual(t, "the bulk of BulkView", loadBulk(t, s, org, id), b)
	return counts
}

// BulkView counts the cards of the bulk in the org by status, and no other
// card: not the cards of another bulk, nor those of another org under the
// same bulk id, nor cards of no bulk. A bulk id the org does not have is
// card.ErrNotFound, whatever cards name it.
func bulkCountsByStatus(t *testing.T, s storage.Store) {
	bs := insertBulks(t, s, newBulk(orgA), newBulk(orgA), newBulk(orgA))
	bulk, otherBulk, empty := bs[0].ID, bs[1].ID, bs[2].ID
	cs := []card.Card{
		inBulk(orgA, bulk, "e1", card.Unbound), inBulk(orgA, otherBulk, "e1", card.Unbound),
		inBulk(orgA, bulk, "e2", card.Normal), inBulk(orgA, bulk, "e3", card.Unbound),
		NewCard(orgA), inBulk(orgB, bulk, "e9", card.Unbound),
		inBulk(orgA, bulk, "e4", card.Canceled), inBulk(orgA, bulk, "e5", card.Unbound),
		inBulk(orgA, otherBulk, "e2", card.Canceled), inBulk(orgA, bulk, "e6", card.Canceled),
	}
	for i, c := range cs {
		validCard(t, fmt.Sprintf("card %d", i), c)
	}
	insert(t, s, cs...)
	mustEqualCounts(t, "BulkView of the bulk",
		map[card.Status]int{card.Unbound: 3, card.Normal: 1, card.Canceled: 2}, bulkCounts(t, s, orgA, bulk))
	mustEqualCounts(t, "BulkView of the other bulk",
		map[card.Status]int{card.Unbound: 1, card.Canceled: 1}, bulkCounts(t, s, orgA, otherBulk))
	mustEqualCounts(t, "BulkView of a bulk without cards", map[card.Status]int{}, bulkCounts(t, s, orgA, empty))
	_, _, err := s.BulkView(t.Context(), orgB, bulk)
	checkErr(t, "BulkView of the bulk id in the other org", err, card.ErrNotFound)
	_, _, err = s.BulkView(t.Context(), orgA, "no-such-bulk")
	checkErr(t, "BulkView of a bulk id no org has", err, card.ErrNotFound)
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
	cs := []card.Card{
		inBulk(orgA, bulk, "e1", card.Unbound), inBulk(orgA, otherBulk, "e1", card.Unbound),
		inBulk(orgA, bulk, "e2", card.Unbound), inBulk(orgA, bulk, "n1", card.Normal),
		inBulk(orgA, bulk, "e3", card.Unbound), inBulk(orgB, bulk, "b1", card.Unbound),
		inBulk(orgA, bulk, "c1", card.Canceled), NewCard(orgA),
		inBulk(orgA, bulk, "e4", card.Unbound), inBulk(orgA, bulk, "u1", card.Unnumbered),
		inBulk(orgA, otherBulk, "e5", card.Unbound), inBulk(orgA, bulk, "e5", card.Unbound),
		inBulk(orgA, bulk, "e6", card.Unbound),
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
		mustEqualAll(t, "UnboundCards, "+tc.name, tc.want, unboundCards(t, s, orgA, bulk, tc.externalIDs, 0, 100))
	}
	mustEqualAll(t, "UnboundCards of the bulk id in the other org", nil,
		unboundCards(t, s, orgB, bulk, []string{"e1", "e2"}, 0, 100))
	if got := unboundCards(t, s, orgB, bulk, nil, 0, 100); len(got) != 1 || got[0].ExternalID != "b1" {
		t.Errorf("UnboundCards of the bulk id in the other org: got %v, want its one card b1", cardIDs(got))
	}
	mustEqualAll(t, "UnboundCards of a bulk with no cards", nil, unboundCards(t, s, orgA, uuid.NewString(), nil, 0, 100))
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
		mustEqualAll(t, "UnboundCards, "+tc.name, tc.want, unboundCards(t, s, orgA, bulk, tc.externalIDs, tc.afterID, tc.limit))
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
	mustEqualAll(t, "UnboundCards read in pages of 4", unbound, all)
}

// ExternalIDs skips exactly the first after ids: positions are 1, 2, 3...
// in the order the ids were added, across calls of AddExternalIDs, so a
// bulk start resumes from its count of cards made.
func externalIDsPositionsCount(t *testing.T, s storage.Store) {
	bulk := uuid.NewString()
	addExternalIDs(t, s, bulk, "g", "f", "e")
	addExternalIDs(t, s, uuid.NewString(), "z1", "z2")
	addExternalIDs(t, s, bulk, "d", "c", "b", "a")
	all := []string{"g", "f", "e", "d", "c", "b", "a"}
	update(t, s, func(ctx context.Context, tx storage.Tx) error {
		for k := 0; k <= len(all); k++ {
			ids, _, err := tx.ExternalIDs(ctx, bulk, int64(k), 100)
			if err != nil {
				return err
			}
			mustEqualIDs(t, fmt.Sprintf("ExternalIDs(after %d)", k), all[k:], ids)
		}
		return nil
	})
}

// ProcessingBulks lists the PROCESSING bulks of every org, by id, with
// their count of cards made, and no bulk in another status.
func processingBulksOfEveryOrg(t *testing.T, s storage.Store) {
	var want []card.Bulk
	for i, st := range []card.BulkStatus{card.BulkProcessing, card.BulkCreated, card.BulkProcessing, card.BulkStarted, card.BulkCanceled} {
		org := orgA
		if i%2 == 1 || i == 2 {
			org = orgB
		}
		b := newBulk(org)
		b.Status, b.ExternalIDs, b.CardsMade = st, 10, i
		b = insertBulks(t, s, b)[0]
		if st == card.BulkProcessing {
			want = append(want, b)
		}
	}
	slices.SortFunc(want, func(a, b card.Bulk) int { return strings.Compare(a.ID, b.ID) })
	got, err := s.ProcessingBulks(t.Context())
	if err != nil {
		t.Fatalf("ProcessingBulks: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("ProcessingBulks returned %d bulks, want the %d PROCESSING ones: %+v", len(got), len(want), got)
	}
	for i := range want {
		mustEqual(t, fmt.Sprintf("ProcessingBulks[%d]", i), want[i], got[i])
	}
}
