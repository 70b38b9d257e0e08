package storagetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// The subscriptions of the feed (events.Subscriptions): cursors, leases
// with an expiry by the store's clock, fencing, and the feed across orgs.
var subsChecks = []check{
	{"NewSubscriptionStartsAtZero", subscriptionStartsAtZero},
	{"RenewalKeepsTheToken", subscriptionRenewalKeepsToken},
	{"LiveLeaseIsHeldExpiredIsTakenOver", subscriptionTakeoverAfterExpiry},
	{"TakenOverHolderCannotMoveTheCursor", subscriptionOldHolderFenced},
	{"LapsedLeaseCannotAdvance", subscriptionLapsedLease},
	{"CursorNeverMovesBack", subscriptionCursorNeverBack},
	{"ReleaseLetsAnotherTakeOverAtOnce", subscriptionRelease},
	{"OneOfRacingAcquirersWins", subscriptionRace},
	{"DropNeedsNoLiveLeaseAndForgetsTheCursor", subscriptionDrop},
	{"AfterReadsEveryOrgInFeedOrder", subscriptionAfter},
	{"InvalidArgumentsAreRefused", subscriptionInvalid},
}

// The lease times of the checks: short enough to wait for, and long
// enough that a lease a check relies on never expires under it.
const (
	shortTTL = 300 * time.Millisecond
	longTTL  = time.Minute
)

// acquire takes the lease of subscription name for holder and fails the
// test when the store refuses.
func acquire(t *testing.T, s storage.Store, name, holder string, ttl time.Duration) events.Lease {
	t.Helper()
	l, err := s.Acquire(t.Context(), name, holder, ttl)
	if err != nil {
		t.Fatalf("Acquire(%s, %s): %v", name, holder, err)
	}
	if l.Subscription != name || l.Holder != holder || l.Expires.IsZero() {
		t.Fatalf("Acquire(%s, %s) = %+v; want the subscription, the holder and an expiry", name, holder, l)
	}
	return l
}

// refused checks that holder cannot take the lease of name.
func refused(t *testing.T, s storage.Store, name, holder string) {
	t.Helper()
	_, err := s.Acquire(t.Context(), name, holder, longTTL)
	checkErr(t, fmt.Sprintf("Acquire(%s, %s) of a live lease", name, holder), err, events.ErrLeaseHeld)
}

// advance moves l's cursor to seq, extending the lease by ttl, and fails
// the test when the store refuses.
func advance(t *testing.T, s storage.Store, l events.Lease, seq int64, ttl time.Duration) events.Lease {
	t.Helper()
	next, err := s.Advance(t.Context(), l, seq, ttl)
	if err != nil {
		t.Fatalf("Advance(%s, %s, token %d) to %d: %v", l.Subscription, l.Holder, l.Token, seq, err)
	}
	if next.Cursor != seq || next.Token != l.Token || next.Holder != l.Holder || next.Expires.IsZero() {
		t.Fatalf("Advance to %d of %+v = %+v; want the cursor at %d, the same holder and token, and an expiry", seq, l, next, seq)
	}
	return next
}

// lost checks that a move of l's cursor to seq is refused as a lost lease.
func lost(t *testing.T, s storage.Store, l events.Lease, seq int64, why string) {
	t.Helper()
	_, err := s.Advance(t.Context(), l, seq, longTTL)
	checkErr(t, fmt.Sprintf("Advance to %d %s", seq, why), err, events.ErrLeaseLost)
}

// cursorIs checks, by renewing l, the live lease, that the cursor is at
// want, and returns the renewed lease.
func cursorIs(t *testing.T, s storage.Store, l events.Lease, want int64, why string) events.Lease {
	t.Helper()
	next := acquire(t, s, l.Subscription, l.Holder, longTTL)
	if next.Token != l.Token {
		t.Fatalf("renewing the live lease %+v changed its token to %d", l, next.Token)
	}
	if next.Cursor != want {
		t.Errorf("the cursor is at %d %s, want %d", next.Cursor, why, want)
	}
	return next
}

// passStoreTime waits until the store's clock is past instant, a time the
// store gave (a lease's Expires), reading that clock through the expiry of
// a probe lease of 1ms, so the check needs no agreement between the
// store's clock and the test's.
func passStoreTime(t *testing.T, s storage.Store, instant time.Time) {
	t.Helper()
	const probeTTL = time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		probe, err := s.Acquire(t.Context(), "storagetest-clock", uuid.NewString(), probeTTL)
		switch {
		case err == nil && probe.Expires.Add(-probeTTL).After(instant):
			return
		case err != nil && !errors.Is(err, events.ErrLeaseHeld):
			t.Fatalf("Acquire of the clock probe: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the store's clock did not pass %s within 10s", instant)
}

// A subscription the store does not know is created by its first Acquire,
// with its cursor at 0; subscriptions of other names are independent.
func subscriptionStartsAtZero(t *testing.T, s storage.Store) {
	l := acquire(t, s, "sub-a", "holder-1", longTTL)
	if l.Cursor != 0 || l.Token <= 0 {
		t.Errorf("a new subscription's lease is %+v; want cursor 0 and a positive token", l)
	}
	advance(t, s, l, 3, longTTL)
	other := acquire(t, s, "sub-b", "holder-2", longTTL)
	if other.Cursor != 0 {
		t.Errorf("a second subscription starts at cursor %d, want 0", other.Cursor)
	}
	cursorIs(t, s, l, 3, "after the second subscription began")
}

// The holder of a live lease renews it: the token stays, the expiry does
// not move back, and the lease is still held against others.
func subscriptionRenewalKeepsToken(t *testing.T, s storage.Store) {
	l := acquire(t, s, "sub", "holder-1", longTTL)
	l = advance(t, s, l, 2, longTTL)
	again := acquire(t, s, "sub", "holder-1", longTTL)
	if again.Token != l.Token || again.Cursor != 2 || again.Expires.Before(l.Expires) {
		t.Errorf("renewal of %+v = %+v; want the same token, cursor 2, an expiry no sooner", l, again)
	}
	refused(t, s, "sub", "holder-2")
}

// takeOver has holder-1 take the lease of sub; holder-2 is refused while
// the lease is live. holder-1 moves the cursor to 3, cutting its lease
// short, and holder-2 takes it over once the store's clock passed its
// expiry. It returns both leases.
func takeOver(t *testing.T, s storage.Store) (old, taken events.Lease) {
	t.Helper()
	old = acquire(t, s, "sub", "holder-1", longTTL)
	refused(t, s, "sub", "holder-2")
	old = advance(t, s, old, 3, shortTTL)
	passStoreTime(t, s, old.Expires)
	taken = acquire(t, s, "sub", "holder-2", longTTL)
	return old, taken
}

// Another holder is refused while a lease is live and takes it over once
// it expired: a higher token, the cursor kept.
func subscriptionTakeoverAfterExpiry(t *testing.T, s storage.Store) {
	old, taken := takeOver(t, s)
	if taken.Token <= old.Token || taken.Cursor != 3 || !taken.Expires.After(old.Expires) {
		t.Errorf("the takeover of %+v is %+v; want a higher token, cursor 3 and a later expiry", old, taken)
	}
	refused(t, s, "sub", "holder-1")
}

// The holder whose lease was taken over moves the cursor neither forward
// nor back, and cannot release the new holder's lease.
func subscriptionOldHolderFenced(t *testing.T, s storage.Store) {
	old, taken := takeOver(t, s)
	lost(t, s, old, 7, "with a lease taken over")
	lost(t, s, old, 1, "back with a lease taken over")
	lost(t, s, old, 3, "to the cursor with a lease taken over")
	if err := s.Release(t.Context(), old); err != nil {
		t.Errorf("Release of a lease taken over: %v, want nil", err)
	}
	refused(t, s, "sub", "holder-3")
	taken = cursorIs(t, s, taken, 3, "after the old holder's moves")
	advance(t, s, taken, 5, longTTL)
}

// A lease that expired moves no cursor, even when no one took it over;
// its holder may take it again, with a new token, and only the new lease
// moves the cursor or ends with Release.
func subscriptionLapsedLease(t *testing.T, s storage.Store) {
	l := acquire(t, s, "sub", "holder-1", shortTTL)
	passStoreTime(t, s, l.Expires)
	lost(t, s, l, 2, "with an expired lease")
	again := acquire(t, s, "sub", "holder-1", longTTL)
	if again.Token <= l.Token || again.Cursor != 0 {
		t.Errorf("taking back the lapsed lease %+v gave %+v; want a higher token and cursor 0", l, again)
	}
	lost(t, s, l, 2, "with the lapsed lease after its holder took it again")
	if err := s.Release(t.Context(), l); err != nil {
		t.Errorf("Release of the lapsed lease: %v, want nil", err)
	}
	refused(t, s, "sub", "holder-2")
	advance(t, s, again, 2, longTTL)
}

// A cursor never moves back: such a move is refused as a lost lease and
// changes nothing, and the lease goes on.
func subscriptionCursorNeverBack(t *testing.T, s storage.Store) {
	l := acquire(t, s, "sub", "holder-1", longTTL)
	l = advance(t, s, l, 5, longTTL)
	lost(t, s, l, 4, "back")
	lost(t, s, l, -1, "below zero")
	l = cursorIs(t, s, l, 5, "after the refused moves")
	l = advance(t, s, l, 5, longTTL)
	advance(t, s, l, 6, longTTL)
}

// Release ends the lease at once, keeping the cursor: another holder takes
// over without waiting for the expiry, and the released lease moves
// nothing. Releasing a lease already lost is not an error.
func subscriptionRelease(t *testing.T, s storage.Store) {
	l := acquire(t, s, "sub", "holder-1", longTTL)
	l = advance(t, s, l, 4, longTTL)
	if err := s.Release(t.Context(), l); err != nil {
		t.Fatalf("Release: %v", err)
	}
	next := acquire(t, s, "sub", "holder-2", longTTL)
	if next.Token <= l.Token || next.Cursor != 4 {
		t.Errorf("the lease taken after the release is %+v; want a higher token than %d and cursor 4", next, l.Token)
	}
	lost(t, s, l, 9, "with a released lease")
	if err := s.Release(t.Context(), l); err != nil {
		t.Errorf("a second Release: %v, want nil", err)
	}
	refused(t, s, "sub", "holder-1")
	cursorIs(t, s, next, 4, "after the released lease's moves")
}

// Drop refuses a subscription whose lease is live, deletes one that is
// released or lapsed (Acquire then makes it anew, from cursor 0), and
// reports one the store lacks as not found.
func subscriptionDrop(t *testing.T, s storage.Store) {
	l := acquire(t, s, "sub", "holder-1", longTTL)
	l = advance(t, s, l, 4, longTTL)
	if err := s.Drop(t.Context(), "sub"); !errors.Is(err, events.ErrLeaseHeld) {
		t.Fatalf("Drop of a subscription with a live lease = %v, want ErrLeaseHeld", err)
	}
	cursorIs(t, s, l, 4, "after a refused Drop")
	if err := s.Release(t.Context(), l); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := s.Drop(t.Context(), "sub"); err != nil {
		t.Fatalf("Drop of a released subscription: %v", err)
	}
	if err := s.Drop(t.Context(), "sub"); !errors.Is(err, card.ErrNotFound) {
		t.Errorf("a second Drop = %v, want card.ErrNotFound", err)
	}
	lost(t, s, l, 9, "after its subscription was dropped")
	again := acquire(t, s, "sub", "holder-2", longTTL)
	if again.Cursor != 0 {
		t.Errorf("the subscription made again after a Drop is at cursor %d, want 0", again.Cursor)
	}
	short := acquire(t, s, "lapsing", "holder-1", time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if err := s.Drop(t.Context(), short.Subscription); err != nil {
		t.Errorf("Drop of a subscription whose lease lapsed: %v", err)
	}
	if err := s.Drop(t.Context(), ""); !errors.Is(err, card.ErrInvalid) {
		t.Errorf("Drop(\"\") = %v, want card.ErrInvalid", err)
	}
}

// Deliverers racing for one subscription: of holders that Acquire at
// once, exactly one gets the lease, whether the subscription is new or its
// lease expired; the others are refused, and their moves of the cursor
// with the winner's token change nothing.
func subscriptionRace(t *testing.T, s storage.Store) {
	const racers = 8
	race := func(round string) events.Lease {
		t.Helper()
		leases, errs := make([]events.Lease, racers), make([]error, racers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				leases[i], errs[i] = s.Acquire(context.Background(), "raced", fmt.Sprintf("%s-%d", round, i), longTTL)
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("%s: racers %d and %d both got the lease (tokens %d, %d)", round, winner, i, leases[winner].Token, leases[i].Token)
			case err == nil:
				winner = i
			default:
				checkErr(t, fmt.Sprintf("%s: Acquire of racer %d", round, i), err, events.ErrLeaseHeld)
			}
		}
		if winner < 0 {
			t.Fatalf("%s: no racer got the lease", round)
		}
		w := leases[winner]
		for i := range racers {
			if i != winner {
				loser := events.Lease{Subscription: "raced", Holder: fmt.Sprintf("%s-%d", round, i), Token: w.Token, Cursor: w.Cursor}
				lost(t, s, loser, w.Cursor+10, fmt.Sprintf("by the losing racer %d", i))
			}
		}
		return w
	}
	// The racers may be slow to start: the lease they race for lasts
	// longer than the race, and is cut short once it is won.
	first := race("new")
	first = advance(t, s, first, 2, shortTTL)
	passStoreTime(t, s, first.Expires)
	second := race("expired")
	if second.Token <= first.Token || second.Cursor != 2 {
		t.Errorf("the second race's lease is %+v; want a higher token than %d and cursor 2", second, first.Token)
	}
	cursorIs(t, s, second, 2, "after the losers' moves")
}

// After returns the committed events of every org in feed order, each
// with its feed position, paged by after and limit; an event of a
// transaction that rolled back is not in it.
func subscriptionAfter(t *testing.T, s storage.Store) {
	headIs(t, s, 0, "of an empty feed")
	a1, b1, b2 := newEvent(orgA, cardOfA, 1), newEvent(orgB, cardOfB, 1), newEvent(orgB, cardOfB, 2)
	a2, b3, a3 := newEvent(orgA, cardOfA, 2), newEvent(orgB, cardOfB, 3), newEvent(orgA, cardOfA, 3)
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, a1, b1) })
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, b2) })
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		if err := tx.Append(ctx, newEvent(orgA, cardOfA, 99)); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Update = %v, want the rollback", err)
	}
	update(t, s, func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, a2, b3, a3) })
	want := []events.Event{a1, b1, b2, a2, b3, a3}

	var got []events.Event
	var after int64
	for {
		page, err := s.After(t.Context(), after, 2)
		if err != nil {
			t.Fatalf("After(%d, 2): %v", after, err)
		}
		if len(page) > 2 {
			t.Fatalf("After(%d, 2) returned %d events", after, len(page))
		}
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].Seq
	}
	mustEqualEvents(t, "After in pages of 2", want, got)
	if len(got) != len(want) {
		return
	}
	headIs(t, s, got[len(got)-1].Seq, "after the last commit")
	rest, err := s.After(t.Context(), got[2].Seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	mustEqualEvents(t, "After the third event", want[3:], rest)

	// The positions are the feed's: an org's events have the same Seq in
	// its Feed.
	pos := map[string]int64{}
	for _, e := range got {
		pos[e.ID] = e.Seq
	}
	for _, org := range []string{orgA, orgB} {
		for _, e := range feedAll(t, s, org, 0, 100) {
			if pos[e.ID] != e.Seq {
				t.Errorf("event %s of %s is at %d in the Feed and %d in After", e.ID, org, e.Seq, pos[e.ID])
			}
		}
	}
}

// Acquire, Advance and After refuse what names no subscription or lease
// time, or no page, as invalid input.
func subscriptionInvalid(t *testing.T, s storage.Store) {
	ctx := t.Context()
	_, err := s.Acquire(ctx, "", "holder", longTTL)
	checkErr(t, "Acquire with no name", err, card.ErrInvalid)
	_, err = s.Acquire(ctx, "sub", "", longTTL)
	checkErr(t, "Acquire with no holder", err, card.ErrInvalid)
	_, err = s.Acquire(ctx, "sub", "holder", 0)
	checkErr(t, "Acquire with no lease time", err, card.ErrInvalid)
	l := acquire(t, s, "sub", "holder", longTTL)
	_, err = s.Advance(ctx, l, 1, 0)
	checkErr(t, "Advance with no lease time", err, card.ErrInvalid)
	cursorIs(t, s, l, 0, "after the refused Advance")
	_, err = s.After(ctx, 0, 0)
	checkErr(t, "After with limit 0", err, card.ErrInvalid)
	_, err = s.After(ctx, -1, 10)
	checkErr(t, "After -1", err, card.ErrInvalid)
}

// headIs checks the feed's head.
func headIs(t *testing.T, s storage.Store, want int64, when string) {
	t.Helper()
	head, err := s.Head(t.Context())
	if err != nil {
		t.Fatalf("Head %s: %v", when, err)
	}
	if head != want {
		t.Errorf("Head %s = %d, want %d", when, head, want)
	}
}
