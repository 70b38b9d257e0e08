package storagetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// The checks that run two transactions or more at once: the locks every
// role promises, and its unique rules under concurrent writers.
var concurrencyChecks = []check{
	{"UpdatesOfOneCardSerialise", concurrentUpdatesSerialise},
	{"CardLockHoldsOffWriters", cardLockHoldsOffWriters},
	{"CardByTokenLockHoldsOffWriters", cardByTokenLocks},
	{"CardByLast4LockHoldsOffWriters", cardByLast4Locks},
	{"UnboundCardsLockHoldsOffWriters", unboundCardsLockHoldsOffWriters},
	{"BulkLockHoldsOffWriters", bulkLockHoldsOffWriters},
	{"ReasonLockHoldsOffWriters", reasonLockHoldsOffWriters},
	{"DueSkipsLockedCards", dueSkipsLockedCards},
	{"ClaimWaitsForTheFirstTransaction", claimWaitsForTheFirstTransaction},
	{"ConcurrentClaimsClaimOnce", concurrentClaimsClaimOnce},
	{"ConcurrentInserts", concurrentInserts},
	{"ConcurrentAliasesInsertOnce", concurrentAliasesInsertOnce},
}

// holdFor is how long a transaction that holds a lock waits for a second
// transaction to get through it before it commits. A correct store passes
// whatever the timing; a store that does not lock fails when the second
// transaction finishes within holdFor.
const holdFor = 300 * time.Millisecond

// contend runs first in a transaction and, once first has returned (its
// locks taken), second in a transaction of its own in another goroutine.
// The first transaction then waits up to holdFor for the second to finish,
// runs then and commits. overlapped reports whether the second Update
// returned while the first transaction was still open.
func contend(t *testing.T, s storage.Store, first, then, second txFunc) (firstErr, secondErr error, overlapped bool) {
	t.Helper()
	ctx := t.Context()
	locked, done := make(chan struct{}), make(chan struct{})
	var signal sync.Once
	go func() {
		defer close(done)
		select {
		case <-locked:
			secondErr = s.Update(ctx, second)
		case <-ctx.Done():
			secondErr = ctx.Err()
		}
	}()
	firstErr = s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		overlapped = false
		if err := first(ctx, tx); err != nil {
			return err
		}
		select {
		case <-done:
			// A retry of fn after the second transaction ended: there is
			// no overlap left to observe.
		default:
			signal.Do(func() { close(locked) })
			select {
			case <-done:
				overlapped = true
			case <-time.After(holdFor):
			}
		}
		return then(ctx, tx)
	})
	signal.Do(func() { close(locked) })
	<-done
	return firstErr, secondErr, overlapped
}

// Succeeded counts the transactions of errs that committed, and fails the
// test for those that failed but as a conflict, the one refusal concurrent
// writers may get.
func Succeeded(t *testing.T, what string, errs []error) int {
	t.Helper()
	n := 0
	for i, err := range errs {
		switch {
		case err == nil:
			n++
		case !errors.Is(err, card.ErrConflict):
			t.Errorf("%s %d: %v, want success or an error wrapping card.ErrConflict", what, i, err)
		}
	}
	return n
}

// holdsOff runs contend over one stored thing (what) that first loads, and
// then and second both change, and checks the lock first holds: the second
// transaction did not change it while the first held it, the first could
// save it, and the second saved it after the first or, when mayConflict,
// failed as a conflict. It returns how many of the two saved.
func holdsOff(t *testing.T, s storage.Store, what string, mayConflict bool, first, then, second txFunc) (saves int64) {
	t.Helper()
	firstErr, secondErr, overlapped := contend(t, s, first, then, second)
	if overlapped && secondErr == nil {
		t.Errorf("a second transaction changed %s while another held it", what)
	}
	if firstErr != nil {
		t.Errorf("the transaction that held %s could not save it: %v", what, firstErr)
	}
	switch {
	case secondErr == nil:
	case !mayConflict:
		t.Errorf("the second transaction: %v, want success", secondErr)
	case !errors.Is(secondErr, card.ErrConflict):
		t.Errorf("the second transaction: %v, want success or an error wrapping card.ErrConflict", secondErr)
	}
	for _, err := range []error{firstErr, secondErr} {
		if err == nil {
			saves++
		}
	}
	return saves
}

// Updates that load a card with Tx.Card and save it one version later never
// lose an update: each succeeds, or fails as a conflict and writes nothing.
// The card's events arrive in the order of its versions. Readers running
// meanwhile never see a version go back.
func concurrentUpdatesSerialise(t *testing.T, s storage.Store) {
	const writers, readers = 16, 4
	c := NewCard(orgA)
	c.Status, c.PreviousStatus = card.Normal, card.Created
	c = insert(t, s, c)[0]
	ctx := t.Context()
	start, written := make(chan struct{}), make(chan struct{})
	writeErrs, readErrs := make([]error, writers), make([]error, readers)
	var writing, reading sync.WaitGroup
	for i := range writers {
		writing.Add(1)
		go func() {
			defer writing.Done()
			<-start
			writeErrs[i] = s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
				cur, err := tx.Card(ctx, orgA, c.ID)
				if err != nil {
					return err
				}
				next := flip(cur)
				return saveCard(ctx, tx, &next)
			})
		}()
	}
	for i := range readers {
		reading.Add(1)
		go func() {
			defer reading.Done()
			<-start
			var last int64
			for {
				got, err := s.Card(ctx, orgA, c.ID)
				if err != nil {
					readErrs[i] = err
					return
				}
				if got.Version < last {
					readErrs[i] = fmt.Errorf("version went back from %d to %d", last, got.Version)
					return
				}
				last = got.Version
				select {
				case <-written:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}()
	}
	close(start)
	writing.Wait()
	close(written)
	reading.Wait()

	successes := Succeeded(t, "writer", writeErrs)
	for i, err := range readErrs {
		if err != nil {
			t.Errorf("reader %d: %v", i, err)
		}
	}
	if successes == 0 {
		t.Fatalf("no writer succeeded")
	}
	final := load(t, s, orgA, c.ID)
	if final.Version != int64(1+successes) {
		t.Errorf("the card is at version %d after %d successful updates, want %d", final.Version, successes, 1+successes)
	}
	wantStatus := card.Normal
	if successes%2 == 1 {
		wantStatus = card.Blocked
	}
	if final.Status != wantStatus {
		t.Errorf("the card is %s after %d flips from NORMAL, want %s", final.Status, successes, wantStatus)
	}
	var versions []int64
	for _, e := range feedFrom0(t, s, 1000) {
		if e.CardID != c.ID {
			continue
		}
		var data struct{ Version int64 }
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatalf("event %s: data %s: %v", e.ID, e.Data, err)
		}
		versions = append(versions, data.Version)
	}
	want := make([]int64, 1+successes)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(versions, want) {
		t.Errorf("the card's pending events carry versions %v, want %v (its creation, then one per successful update, in Seq order)", versions, want)
	}
}

// While a transaction holds a card it loaded with Tx.Card, no other
// transaction changes the card; the holder's Save then succeeds.
func cardLockHoldsOffWriters(t *testing.T, s storage.Store) {
	lockHoldsOffWriters(t, s, normalCard(), func(ctx context.Context, tx storage.Tx, c card.Card) (card.Card, error) {
		return tx.Card(ctx, orgA, c.ID)
	})
}

// While a transaction holds a card it loaded with Tx.CardByToken, no other
// transaction changes it.
func cardByTokenLocks(t *testing.T, s storage.Store) {
	lockHoldsOffWriters(t, s, normalCard(), func(ctx context.Context, tx storage.Tx, c card.Card) (card.Card, error) {
		return tx.CardByToken(ctx, orgA, c.Token)
	})
}

// While a transaction holds a card it loaded with Tx.CardByLast4, no other
// transaction changes it.
func cardByLast4Locks(t *testing.T, s storage.Store) {
	lockHoldsOffWriters(t, s, syncedCard(orgA, "acct-1", "cust-1", "1234"), func(ctx context.Context, tx storage.Tx, _ card.Card) (card.Card, error) {
		return tx.CardByLast4(ctx, orgA, "acct-1", "cust-1", "1234")
	})
}

// normalCard returns NewCard(orgA) in status NORMAL.
func normalCard() card.Card {
	c := NewCard(orgA)
	c.Status = card.Normal
	return c
}

// lockHoldsOffWriters stores the new card c and checks that while a
// transaction holds it, loaded with lock, no other transaction changes it,
// and the holder's Save then succeeds.
func lockHoldsOffWriters(t *testing.T, s storage.Store, c card.Card, lock func(ctx context.Context, tx storage.Tx, c card.Card) (card.Card, error)) {
	t.Helper()
	c = insert(t, s, c)[0]
	var held card.Card
	saves := holdsOff(t, s, fmt.Sprint("card ", c.ID), true,
		func(ctx context.Context, tx storage.Tx) error {
			var err error
			held, err = lock(ctx, tx, c)
			return err
		},
		func(ctx context.Context, tx storage.Tx) error {
			next := flip(held)
			return saveCard(ctx, tx, &next)
		},
		func(ctx context.Context, tx storage.Tx) error {
			cur, err := tx.Card(ctx, c.OrgID, c.ID)
			if err != nil {
				return err
			}
			next := flip(cur)
			return saveCard(ctx, tx, &next)
		})
	if got := load(t, s, c.OrgID, c.ID).Version; got != c.Version+saves {
		t.Errorf("the card is at version %d, want %d", got, c.Version+saves)
	}
}

// UnboundCards locks the cards it returns like Card: while a transaction
// holds them, no other transaction changes one; the holder's Save then
// succeeds.
func unboundCardsLockHoldsOffWriters(t *testing.T, s storage.Store) {
	bulk, unbound := unboundFixture(t, s)
	target := unbound[2]
	var held []card.Card
	saves := holdsOff(t, s, fmt.Sprint("card ", target.ID, " (held through UnboundCards)"), true,
		func(ctx context.Context, tx storage.Tx) error {
			var err error
			held, err = tx.UnboundCards(ctx, orgA, bulk, nil, 0, 100)
			if err == nil && !slices.Contains(cardIDs(held), target.ID) {
				err = fmt.Errorf("UnboundCards returned %v, without card %d", cardIDs(held), target.ID)
			}
			return err
		},
		func(ctx context.Context, tx storage.Tx) error {
			bound := held[slices.Index(cardIDs(held), target.ID)]
			bound.AccountID, bound.CustomerID = "1001", "2001"
			bound.Status, bound.PreviousStatus = card.Normal, card.Unbound
			bound.Version++
			return tx.Save(ctx, &bound, events.Updated(card.Bind, bound.UpdatedAt))
		},
		func(ctx context.Context, tx storage.Tx) error {
			cur, err := tx.Card(ctx, orgA, target.ID)
			if err != nil {
				return err
			}
			next := cur
			next.PreviousStatus, next.Status = cur.Status, card.Canceled
			next.Version++
			return tx.Save(ctx, &next, events.Updated(card.CancelBulk, next.UpdatedAt))
		})
	if got := load(t, s, orgA, target.ID).Version; got != 1+saves {
		t.Errorf("the card is at version %d, want %d", got, 1+saves)
	}
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
	saves := holdsOff(t, s, "bulk "+b.ID, true,
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
	if got := loadBulk(t, s, orgA, b.ID); got.Version != 1+saves || got.ExternalIDs != int(saves) {
		t.Errorf("the bulk is at version %d with %d external ids, want %d and %d", got.Version, got.ExternalIDs, 1+saves, saves)
	}
}

// While a transaction holds a reason it loaded with Tx.Reason, no other
// transaction changes it; the holder's SaveReason then succeeds, and the
// second transaction, which has no version to conflict on, reads what the
// first saved and saves after it.
func reasonLockHoldsOffWriters(t *testing.T, s storage.Store) {
	r := insertReasons(t, s, newReason(orgA, "BROKEN", true))[0]
	var held card.Reason
	saves := holdsOff(t, s, fmt.Sprint("reason ", r.ID), false,
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
	if got := loadReason(t, s, orgA, r.ID).Description; saves == 2 && got != "second" {
		t.Errorf("the reason has description %q after both transactions, want the later %q", got, "second")
	}
}

// Due locks the cards it returns, so it never returns a card another open
// transaction holds: a store with row locks skips it, a single-writer store
// runs Due only after that transaction ends.
func dueSkipsLockedCards(t *testing.T, s storage.Store) {
	expired := dated(NewCard(orgA), card.Normal, month(2031, 1), time.Time{})
	cs := insert(t, s, expired, expired)
	lockedID, freeID := cs[0].ID, cs[1].ID
	var seen []int64
	firstErr, secondErr, overlapped := contend(t, s,
		func(ctx context.Context, tx storage.Tx) error {
			_, err := tx.Card(ctx, orgA, lockedID)
			return err
		},
		func(context.Context, storage.Tx) error { return nil },
		func(ctx context.Context, tx storage.Tx) error {
			due, err := tx.Due(ctx, "", dueNow, 100)
			seen = cardIDs(due)
			return err
		})
	if firstErr != nil || secondErr != nil {
		t.Fatalf("Update: %v; Update calling Due: %v", firstErr, secondErr)
	}
	switch {
	case overlapped && slices.Contains(seen, lockedID):
		t.Errorf("Due returned card %d while another transaction held it", lockedID)
	case overlapped && !slices.Contains(seen, freeID):
		t.Errorf("Due returned %v while another transaction held card %d, want the free card %d", seen, lockedID, freeID)
	case !overlapped && !slices.Equal(seen, []int64{lockedID, freeID}) && !slices.Equal(seen, []int64{freeID, lockedID}):
		t.Errorf("Due returned %v after the other transaction ended, want both due cards %d and %d", seen, lockedID, freeID)
	}
}

// A Claim of a key another open transaction has claimed waits for it to
// end, then returns its record.
func claimWaitsForTheFirstTransaction(t *testing.T, s storage.Store) {
	var rec storage.IdempotencyRecord
	var claimed bool
	firstErr, secondErr, overlapped := contend(t, s,
		func(ctx context.Context, tx storage.Tx) error {
			_, ok, err := tx.Claim(ctx, claimKey, "fingerprint-1")
			if err == nil && !ok {
				err = errors.New("claim of a new key returned claimed = false")
			}
			return err
		},
		func(ctx context.Context, tx storage.Tx) error { return tx.Complete(ctx, claimKey, claimResult) },
		func(ctx context.Context, tx storage.Tx) error {
			var err error
			rec, claimed, err = tx.Claim(ctx, claimKey, "fingerprint-2")
			return err
		})
	if firstErr != nil || secondErr != nil {
		t.Fatalf("the first Claim: %v; the second Claim: %v", firstErr, secondErr)
	}
	if overlapped {
		t.Errorf("a Claim returned (claimed = %v, result %q) while another open transaction held the key", claimed, rec.Result)
	}
	checkReplay(t, "the Claim that waited", rec, claimed, "fingerprint-1", claimResult)
}

// Of concurrent Claims of one new key exactly one claims it; the others
// wait for it and get its result.
func concurrentClaimsClaimOnce(t *testing.T, s storage.Store) {
	const n = 8
	claimed, recs := make([]bool, n), make([]storage.IdempotencyRecord, n)
	errs := concurrently(t, s, n, func(ctx context.Context, tx storage.Tx, i int) error {
		var err error
		recs[i], claimed[i], err = tx.Claim(ctx, claimKey, "fingerprint-1")
		if err != nil || !claimed[i] {
			return err
		}
		return tx.Complete(ctx, claimKey, claimResult)
	})
	claims := 0
	for i := range n {
		switch {
		case errs[i] != nil:
			t.Errorf("Claim %d: %v", i, errs[i])
		case claimed[i]:
			claims++
		case !bytes.Equal(recs[i].Result, claimResult):
			t.Errorf("Claim %d did not claim and got result %q, want the first result %q", i, recs[i].Result, claimResult)
		}
	}
	if claims != 1 {
		t.Errorf("%d of %d concurrent Claims of one key claimed it, want 1", claims, n)
	}
}

// concurrently runs n transactions at once, the i-th running fn with i,
// and returns their errors.
func concurrently(t *testing.T, s storage.Store, n int, fn func(ctx context.Context, tx storage.Tx, i int) error) []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return fn(ctx, tx, i) })
		}()
	}
	wg.Wait()
	return errs
}

func concurrentInserts(t *testing.T, s storage.Store) {
	const n = 8
	ids := make([]int64, n)
	errs := concurrently(t, s, n, func(ctx context.Context, tx storage.Tx, i int) error {
		c := NewCard(orgA)
		c.AccountID = fmt.Sprint("acct-", i)
		err := saveCard(ctx, tx, &c)
		ids[i] = c.ID
		return err
	})
	seen := make(map[int64]int)
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Insert %d: %v", i, errs[i])
			continue
		}
		if j, dup := seen[ids[i]]; dup {
			t.Errorf("Inserts %d and %d both got id %d", j, i, ids[i])
		}
		seen[ids[i]] = i
		if got := load(t, s, orgA, ids[i]).AccountID; got != fmt.Sprint("acct-", i) {
			t.Errorf("card %d of Insert %d has account %q, want %q", ids[i], i, got, fmt.Sprint("acct-", i))
		}
	}
}

// The alias rule holds under concurrency: of concurrent Inserts of live
// VIRTUAL cards with one alias for one customer exactly one succeeds.
func concurrentAliasesInsertOnce(t *testing.T, s storage.Store) {
	const n = 8
	errs := concurrently(t, s, n, func(ctx context.Context, tx storage.Tx, i int) error {
		c := virtualCard(orgA, "2001", "Shared")
		c.AccountID = fmt.Sprint("acct-", i)
		return saveCard(ctx, tx, &c)
	})
	inserted, stored := Succeeded(t, "Save", errs), 0
	for i := range errs {
		stored += len(byAccount(t, s, orgA, fmt.Sprint("acct-", i)))
	}
	if inserted != 1 || stored != 1 {
		t.Errorf("%d of %d concurrent Inserts of one alias succeeded and %d cards were stored, want 1 and 1", inserted, n, stored)
	}
}
