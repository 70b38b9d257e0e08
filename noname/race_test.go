package noname_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/noname"
)

// TestConcurrentBindsOfOneCard has 16 goroutines bind one noname card to
// 16 customers at once: exactly one wins, the 15 others get a conflict,
// and the stored card and its one bind_card-1 belong to the winner.
func TestConcurrentBindsOfOneCard(t *testing.T) {
	const goroutines = 16
	each(t, func(t *testing.T, e *env) {
		for _, sameAccount := range []bool{true, false} {
			t.Run(fmt.Sprintf("same account=%v", sameAccount), func(t *testing.T) {
				_, cs := startedBulk(t, e, fmt.Sprint("race-", sameAccount))
				id := cs[fmt.Sprint("race-", sameAccount)].ID
				seq := lastSeq(outbox(t, e, org))

				reqs := make([]noname.BindRequest, goroutines)
				for g := range reqs {
					reqs[g] = noname.BindRequest{OrgID: org, CardID: id,
						AccountID: "acct-shared", CustomerID: fmt.Sprintf("cust-%d", g)}
					if !sameAccount {
						reqs[g].AccountID = fmt.Sprintf("acct-%d", g)
					}
				}
				results := make([]noname.BindResult, goroutines)
				errs := make([]error, goroutines)
				start := make(chan struct{})
				var wg sync.WaitGroup
				for g := range goroutines {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						results[g], errs[g] = e.svc.Bind(t.Context(), reqs[g])
					}()
				}
				close(start)
				wg.Wait()

				winner := -1
				for g, err := range errs {
					switch {
					case err == nil && winner >= 0:
						t.Fatalf("goroutines %d and %d both bound card %d", winner, g, id)
					case err == nil:
						winner = g
					case !errors.Is(err, card.ErrConflict):
						t.Fatalf("goroutine %d: %v; want success or a conflict", g, err)
					}
				}
				if winner < 0 {
					t.Fatalf("no bind of card %d succeeded: %v", id, errs)
				}
				w := reqs[winner]
				got := mustGet(t, e, id)
				if got.Status != card.Created || got.Version != 2 || got.AccountID != w.AccountID || got.CustomerID != w.CustomerID ||
					results[winner].Card.CustomerID != w.CustomerID {
					t.Fatalf("stored %+v; want it bound to the winner %+v", got, w)
				}
				evs := since(outbox(t, e, org), seq)
				if len(evs) != 1 || evs[0].Type != events.CustomerBound || evs[0].CardID != id ||
					evs[0].card.CustomerID != w.CustomerID || evs[0].card.AccountID != w.AccountID {
					t.Fatalf("events after the race: %v; want the winner's one bind_card-1", evs)
				}
			})
		}
	})
}

// TestConcurrentBindsReplacingOneCard binds two noname cards at once, each
// naming the same card to replace: exactly one wins, the other gets a
// conflict and stays UNBOUND, and the old card has exactly one successor.
// It runs for an old card the bind changes (NORMAL PLASTIC -> REISSUED) and
// for one it leaves as it is (BLOCKED PLASTIC), where only the lock on the
// old card and the successor rule keep the two apart.
func TestConcurrentBindsReplacingOneCard(t *testing.T) {
	const rounds = 8
	each(t, func(t *testing.T, e *env) {
		_, cs := startedBulk(t, e, extIDs("n", 2*2*rounds)...)
		next := 0
		for _, status := range []card.Status{card.Normal, card.Blocked} {
			for round := range rounds {
				old := named(t, e, card.Plastic, "acct-1", status)
				seq := lastSeq(outbox(t, e, org))
				var pair [2]card.Card
				for i := range pair {
					next++
					pair[i] = cs[fmt.Sprintf("n-%d", next)]
				}
				var errs [2]error
				start := make(chan struct{})
				var wg sync.WaitGroup
				for i := range pair {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						_, errs[i] = e.svc.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: pair[i].ID,
							AccountID: "acct-1", CustomerID: fmt.Sprintf("cust-%d", i), ReissuedCardID: old.ID})
					}()
				}
				close(start)
				wg.Wait()

				what := fmt.Sprintf("%s round %d", status, round)
				winner := -1
				for i, err := range errs {
					switch {
					case err == nil && winner >= 0:
						t.Fatalf("%s: both binds replaced card %d", what, old.ID)
					case err == nil:
						winner = i
					case !errors.Is(err, card.ErrConflict):
						t.Fatalf("%s: bind %d: %v; want success or a conflict", what, i, err)
					}
				}
				if winner < 0 {
					t.Fatalf("%s: no bind succeeded: %v", what, errs)
				}
				if n := successors(t, e, org, old.ID); n != 1 {
					t.Fatalf("%s: card %d has %d successors", what, old.ID, n)
				}
				won, lost := mustGet(t, e, pair[winner].ID), mustGet(t, e, pair[1-winner].ID)
				if won.ReissuedCardID != old.ID || won.TrackNumber != 2 || won.Status != card.Created {
					t.Fatalf("%s: the winner is %+v", what, won)
				}
				if lost.Status != card.Unbound || lost.Version != 1 || lost.ReissuedCardID != 0 {
					t.Fatalf("%s: the loser is %+v", what, lost)
				}
				wantOld, oldEvents := status, 0
				if status == card.Normal {
					wantOld, oldEvents = card.Reissued, 1
				}
				evs := since(outbox(t, e, org), seq)
				if got := mustGet(t, e, old.ID); got.Status != wantOld || len(ofCard(evs, old.ID)) != oldEvents ||
					len(ofCard(evs, lost.ID)) != 0 || len(evs) != 1+oldEvents {
					t.Fatalf("%s: old card %s with %d events, %d events in all", what, got.Status, len(ofCard(evs, old.ID)), len(evs))
				}
			}
		}
	})
}

// TestConcurrentBindsAndCancel binds the cards of a bulk from 8 goroutines
// while a FULL cancel of the bulk runs, with a small batch so that the
// cancel reads its cards over several pages. Every card ends either bound
// by a bind that succeeded, untouched by the cancel, or canceled and named
// in the one noname_cancellation-1; a bind that lost got a conflict.
func TestConcurrentBindsAndCancel(t *testing.T) {
	const goroutines, perGoroutine = 8, 5
	each(t, func(t *testing.T, e *env) {
		b, cs := startedBulk(t, e, extIDs("c", goroutines*perGoroutine)...)
		seq := lastSeq(outbox(t, e, org))
		bound := make([][]int64, goroutines)
		errs := make([]error, goroutines)
		var canceled []int64
		var cancelErr error
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := range perGoroutine {
					id := cs[fmt.Sprintf("c-%d", g*perGoroutine+i+1)].ID
					_, err := e.svc.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: id,
						AccountID: fmt.Sprintf("acct-%d", g), CustomerID: fmt.Sprintf("cust-%d", g)})
					switch {
					case err == nil:
						bound[g] = append(bound[g], id)
					case !errors.Is(err, card.ErrConflict):
						errs[g] = err
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, canceled, cancelErr = e.svc.Cancel(t.Context(), org, b.ID, noname.CancelFull, nil)
		}()
		close(start)
		wg.Wait()
		if cancelErr != nil {
			t.Fatalf("cancel: %v", cancelErr)
		}
		for g, err := range errs {
			if err != nil {
				t.Fatalf("goroutine %d: %v", g, err)
			}
		}

		isBound, isCanceled := map[int64]bool{}, map[int64]bool{}
		for _, ids := range bound {
			for _, id := range ids {
				isBound[id] = true
			}
		}
		for _, id := range canceled {
			isCanceled[id] = true
		}
		evs := since(outbox(t, e, org), seq)
		cancels := ofType(evs, events.NonameCancellation)
		if len(cancels) != 1 || len(cancels[0].cancel.CardIDs) != len(canceled) {
			t.Fatalf("%d noname_cancellation-1 for one cancel of %d cards", len(cancels), len(canceled))
		}
		for _, id := range cancels[0].cancel.CardIDs {
			if !isCanceled[id] {
				t.Fatalf("noname_cancellation-1 names card %d, which the cancel did not report", id)
			}
		}
		for ext, c := range cs {
			got := mustGet(t, e, c.ID)
			es := ofCard(evs, c.ID)
			switch {
			case isBound[c.ID] && isCanceled[c.ID]:
				t.Fatalf("card %s was both bound and canceled", ext)
			case isBound[c.ID]:
				if got.Status != card.Created || got.Version != 2 || len(es) != 1 || es[0].Type != events.CustomerBound {
					t.Fatalf("bound card %s: %+v with events %v", ext, got, es)
				}
			case isCanceled[c.ID]:
				if got.Status != card.Canceled || got.PreviousStatus != card.Unbound || got.Version != 2 ||
					len(es) != 1 || es[0].Type != events.CardUpdated {
					t.Fatalf("canceled card %s: %+v with events %v", ext, got, es)
				}
			default:
				t.Fatalf("card %s is neither bound nor canceled: %+v", ext, got)
			}
		}
		t.Logf("%d cards bound, %d canceled", len(isBound), len(isCanceled))
	}, noname.WithBatch(4))
}

// TestConcurrentBulkChanges runs, at once, pairs of the same bulk change:
// two starts of one bulk, two increments adding the same external id to a
// STARTED bulk, two FULL cancels. Each time exactly one wins and the other
// gets a conflict, and the cards and events are those of one change.
func TestConcurrentBulkChanges(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		race := func(what string, f func() error) {
			t.Helper()
			var errs [2]error
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = f()
				}()
			}
			close(start)
			wg.Wait()
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("%s twice at once: %v; want one success and one conflict", what, errs)
			}
			for _, err := range errs {
				if err != nil && !errors.Is(err, card.ErrConflict) {
					t.Fatalf("%s: %v; want a conflict", what, err)
				}
			}
		}
		b := mustCreateBulk(t, e, extIDs("s", 50)...)
		race("start", func() error { _, err := e.svc.Start(t.Context(), org, b.ID); return err })
		if cs := bulkCards(t, e, org, b.ID); len(cs) != 50 || len(outbox(t, e, org)) != 50 {
			t.Fatalf("%d cards and %d events after one start of 50", len(cs), len(outbox(t, e, org)))
		}
		race("increment", func() error { _, err := e.svc.Increment(t.Context(), org, b.ID, []string{"new"}); return err })
		if v, _ := e.svc.Get(t.Context(), org, b.ID); v.ExternalIDs != 51 || v.Cards[card.Unbound] != 51 {
			t.Fatalf("after one increment: %+v", v)
		}
		seq := lastSeq(outbox(t, e, org))
		race("FULL cancel", func() error {
			_, _, err := e.svc.Cancel(t.Context(), org, b.ID, noname.CancelFull, nil)
			return err
		})
		evs := since(outbox(t, e, org), seq)
		if len(ofType(evs, events.NonameCancellation)) != 1 || len(ofType(evs, events.CardUpdated)) != 51 {
			t.Fatalf("%d events after one cancel of 51 cards", len(evs))
		}
	})
}
