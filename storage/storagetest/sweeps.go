package storagetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// The sweep's reads (storage.Sweeps). That Due skips the cards another
// transaction holds is a check of concurrency.go.
var sweepsChecks = []check{
	{"DueFindsExpiredAndElapsedCards", dueFindsExpiredAndElapsedCards},
	{"DueLimitAndSweep", dueLimitAndSweep},
	{"DueInOneOrg", dueInOneOrg},
}

// dueNow is the instant the Due checks sweep at: fixed, so the dates around
// it are exact to the microsecond.
var dueNow = time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)

// month returns the first instant of a month, as ExpirationDate holds it.
func month(year int, m time.Month) time.Time { return time.Date(year, m, 1, 0, 0, 0, 0, time.UTC) }

// dated returns c issued in 2029, in status st, expiring in month exp (zero
// for none) and valid until validUntil (zero for no validity period).
func dated(c card.Card, st card.Status, exp, validUntil time.Time) card.Card {
	c.IssuingDate = time.Date(2029, 1, 15, 10, 20, 30, 123456000, time.UTC)
	c.CreatedAt, c.UpdatedAt = c.IssuingDate, c.IssuingDate
	c.Status = st
	c.ExpirationDate = exp
	c.ValidUntil = validUntil
	c.ValidityPeriodHours = 0
	if !validUntil.IsZero() {
		c.ValidityPeriodHours = 24
	}
	return c
}

type dueCase struct {
	name string
	c    card.Card
	due  bool
}

// dueCases covers each rule of Due at its edges. ExpiresAt of an
// expiration month of February 2031 is dueNow itself.
func dueCases() []dueCase {
	never, far := time.Time{}, month(2035, 1)
	elapsed := dueNow.Add(-time.Hour)
	return []dueCase{
		{"NORMAL expiring exactly now", dated(NewCard(orgA), card.Normal, month(2031, 2), never), true},
		{"CREATED and expired", dated(NewCard(orgA), card.Created, month(2031, 1), never), true},
		{"INOPERATIVE and expired", dated(NewCard(orgA), card.Inoperative, month(2031, 2), never), true},
		{"UNBOUND and expired", dated(unboundCard(orgA, "ext-due"), card.Unbound, month(2030, 12), never), true},
		{"BLOCKED and expired in another org", dated(NewCard(orgB), card.Blocked, month(2031, 2), never), true},
		{"NORMAL expiring at the end of this month", dated(NewCard(orgA), card.Normal, month(2031, 3), never), false},
		{"CANCELED and expired", dated(NewCard(orgA), card.Canceled, month(2031, 1), never), false},
		{"EXPIRED", dated(NewCard(orgA), card.Expired, month(2031, 1), never), false},
		{"NORMAL with no expiration date", dated(NewCard(orgA), card.Normal, never, never), false},
		{"NORMAL valid until exactly now", dated(NewCard(orgA), card.Normal, far, dueNow), true},
		{"REISSUED past its validity", dated(NewCard(orgA), card.Reissued, far, elapsed), true},
		{"BLOCKED past its validity", dated(NewCard(orgA), card.Blocked, far, elapsed), true},
		{"PENDING past its validity", dated(NewCard(orgA), card.Pending, far, elapsed), true},
		{"WARNING past its validity", dated(NewCard(orgB), card.Warning, far, elapsed), true},
		{"NORMAL valid one microsecond more", dated(NewCard(orgA), card.Normal, far, dueNow.Add(time.Microsecond)), false},
		{"INOPERATIVE past its validity", dated(NewCard(orgA), card.Inoperative, far, elapsed), false},
		{"CREATED past its validity", dated(NewCard(orgA), card.Created, far, elapsed), false},
		{"LOST past its validity", dated(NewCard(orgA), card.Lost, far, elapsed), false},
	}
}

// insertCases stores the cases' cards and returns them with their ids.
func insertCases(t *testing.T, s storage.Store, cases []dueCase) []dueCase {
	t.Helper()
	cs := make([]card.Card, len(cases))
	for i, tc := range cases {
		validCard(t, tc.name, tc.c)
		cs[i] = tc.c
	}
	for i, c := range insert(t, s, cs...) {
		cases[i].c = c
	}
	return cases
}

func dueFindsExpiredAndElapsedCards(t *testing.T, s storage.Store) {
	cases := insertCases(t, s, dueCases())
	got := inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]card.Card, error) {
		return tx.Due(ctx, "", dueNow, 100)
	})
	byID := make(map[int64]card.Card, len(got))
	for _, c := range got {
		if _, dup := byID[c.ID]; dup {
			t.Errorf("Due returned card %d twice", c.ID)
		}
		byID[c.ID] = c
	}
	for _, tc := range cases {
		c, found := byID[tc.c.ID]
		switch {
		case found && !tc.due:
			t.Errorf("Due returned the card %s (id %d), which is not due", tc.name, tc.c.ID)
		case !found && tc.due:
			t.Errorf("Due did not return the card %s (id %d), which is due", tc.name, tc.c.ID)
		case found:
			mustEqual(t, "Due's "+tc.name, tc.c, c)
		}
	}
}

// The sweep calls Due with its batch size until it gets fewer cards than
// that, changing each card it gets so it is no longer due. So Due returns
// exactly limit cards while more are due, and each due card once.
func dueLimitAndSweep(t *testing.T, s storage.Store) {
	const limit = 3
	var cases []dueCase
	for i := range 8 {
		if i%2 == 0 {
			cases = append(cases, dueCase{fmt.Sprint("expired ", i), dated(NewCard(orgA), card.Normal, month(2031, 1), time.Time{}), true})
		} else {
			cases = append(cases, dueCase{fmt.Sprint("elapsed ", i), dated(NewCard(orgB), card.Blocked, month(2035, 1), dueNow), true})
		}
		cases = append(cases, dueCase{fmt.Sprint("not due ", i), dated(NewCard(orgA), card.Normal, month(2035, 1), dueNow.Add(time.Hour)), false})
	}
	remaining := make(map[int64]bool)
	for _, tc := range insertCases(t, s, cases) {
		if tc.due {
			remaining[tc.c.ID] = true
		}
	}
	sweepRounds(t, s, "", limit, remaining)
}

// sweepRounds sweeps as the sweep does, calling Due for org with limit
// and changing each card it gets so it is no longer due, until Due comes
// back short; each round must get exactly limit cards while more are due,
// all of them cards of remaining, the due cards not yet swept.
func sweepRounds(t *testing.T, s storage.Store, org string, limit int, remaining map[int64]bool) {
	t.Helper()
	for round := 1; ; round++ {
		want := min(limit, len(remaining))
		batch := inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]card.Card, error) {
			due, err := tx.Due(ctx, org, dueNow, limit)
			if err != nil {
				return nil, err
			}
			for _, c := range due {
				next := c
				next.PreviousStatus, next.Status = c.Status, card.Inoperative
				op := card.ValidityElapses
				if exp := c.ExpiresAt(); !exp.IsZero() && !exp.After(dueNow) {
					next.Status, op = card.Expired, card.Expire
				}
				next.Version++
				if err := tx.Save(ctx, &next, events.Updated(op, dueNow)); err != nil {
					return nil, fmt.Errorf("save due card %d: %w", c.ID, err)
				}
			}
			return due, nil
		})
		if len(batch) != want {
			t.Fatalf("round %d: Due(org %q, limit %d) returned %d cards with %d due, want %d", round, org, limit, len(batch), len(remaining), want)
		}
		for _, c := range batch {
			if !remaining[c.ID] {
				t.Fatalf("round %d: Due(org %q) returned card %d of org %s, which is not due there or was already swept", round, org, c.ID, c.OrgID)
			}
			delete(remaining, c.ID)
		}
		if want == 0 {
			return
		}
	}
}

// dueInOneOrg: Due for one org returns the due cards of that org alone,
// and exactly limit of them while more are due there, though another
// org's due cards come first in the due order; a sweep of one org leaves
// the other's due cards due.
func dueInOneOrg(t *testing.T, s storage.Store) {
	cases := insertCases(t, s, dueCases())
	dueIn := func(org string) map[int64]bool {
		ids := make(map[int64]bool)
		for _, tc := range cases {
			if tc.due && tc.c.OrgID == org {
				ids[tc.c.ID] = true
			}
		}
		return ids
	}
	for _, org := range []string{orgA, orgB} {
		got := inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]card.Card, error) {
			return tx.Due(ctx, org, dueNow, 100)
		})
		want := dueIn(org)
		if len(want) == 0 {
			t.Fatalf("the cases hold no due card of %s", org)
		}
		mustEqualIDs(t, "Due of "+org, sortedIDs(want), sortedIDs(idSet(got)))
	}

	// orgA's expired cards expire first and its elapsed ones elapse first:
	// Due must not fill its limit with them and drop orgB's.
	var more []dueCase
	for i := range 4 {
		more = append(more,
			dueCase{fmt.Sprint("early expired ", i), dated(NewCard(orgA), card.Normal, month(2029, 6), time.Time{}), true},
			dueCase{fmt.Sprint("early elapsed ", i), dated(NewCard(orgA), card.Normal, month(2035, 1), dueNow.Add(-1000*time.Hour)), true},
			dueCase{fmt.Sprint("late expired ", i), dated(NewCard(orgB), card.Blocked, month(2031, 1), time.Time{}), true},
		)
	}
	cases = append(cases, insertCases(t, s, more)...)
	sweepRounds(t, s, orgB, 3, dueIn(orgB))
	got := inTx(t, s, func(ctx context.Context, tx storage.Tx) ([]card.Card, error) {
		return tx.Due(ctx, "", dueNow, 100)
	})
	mustEqualIDs(t, "Due of every org after a sweep of "+orgB, sortedIDs(dueIn(orgA)), sortedIDs(idSet(got)))
}

// idSet is the set of the cards' ids.
func idSet(cs []card.Card) map[int64]bool {
	ids := make(map[int64]bool, len(cs))
	for _, c := range cs {
		ids[c.ID] = true
	}
	return ids
}

// sortedIDs lists a set of ids in order, as decimal strings.
func sortedIDs(ids map[int64]bool) []string {
	out := make([]string, 0, len(ids))
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		out = append(out, strconv.FormatInt(id, 10))
	}
	return out
}
