package noname_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/noname"
)

// TestConcurrentBindsOfOneCard has 16 goroutines bind one noname card to
// 16 customers at once: exactly one wins, the 15 others get a conflict,
// and the stored card and its one bind_card-1 belong to the winner.
func TestConcurrentBindsOfOneCard(t *testing.T) {
	const goroutines = 16
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		for _, sameAccount := range []bool{true, false} {
			t.Run(fmt.Sprintf("same account=%v", sameAccount), func(t *testing.T) {
				_, cs := startedBulk(t, e, fmt.Sprint("race-", sameAccount))
				id := cs[fmt.Sprint("race-", sameAccount)].ID
				seq := e.Outbox(t, org).LastSeq()

				reqs := make([]noname.BindRequest, goroutines)
				for g := range reqs {
					reqs[g] = noname.BindRequest{OrgID: org, CardID: id,
						AccountID: "acct-shared", CustomerID: fmt.Sprintf("cust-%d", g)}
					if !sameAccount {
						reqs[g].AccountID = fmt.Sprintf("acct-%d", g)
					}
				}
				results := make([]noname.BindResult, goroutines)
				errs := cardtest.Race(goroutines, func(g int) (err error) {
					results[g], err = e.Noname.Bind(t.Context(), reqs[g])
					return err
				})
				winner := cardtest.OneWins(t, fmt.Sprintf("bind card %d", id), errs)
				w := reqs[winner]
				got := e.Card(t, org, id)
				if got.Status != card.Created || got.Version != 2 || got.AccountID != w.AccountID || got.CustomerID != w.CustomerID ||
					results[winner].Card.CustomerID != w.CustomerID {
					t.Fatalf("stored %+v; want it bound to the winner %+v", got, w)
				}
				evs := e.Outbox(t, org).Since(seq)
				if len(evs) != 1 || evs[0].Type != events.CustomerBound || evs[0].CardID != id ||
					evs[0].Card.CustomerID != w.CustomerID || evs[0].Card.AccountID != w.AccountID {
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
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		_, cs := startedBulk(t, e, extIDs("n", 2*2*rounds)...)
		next := 0
		for _, status := range []card.Status{card.Normal, card.Blocked} {
			for round := range rounds {
				old := named(t, e, card.Plastic, "acct-1", status)
				seq := e.Outbox(t, org).LastSeq()
				var pair [2]card.Card
				for i := range pair {
					next++
					pair[i] = cs[fmt.Sprintf("n-%d", next)]
				}
				errs := cardtest.Race(len(pair), func(i int) error {
					_, err := e.Noname.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: pair[i].ID,
						AccountID: "acct-1", CustomerID: fmt.Sprintf("cust-%d", i), ReissuedCardID: old.ID})
					return err
				})
				what := fmt.Sprintf("%s round %d", status, round)
				winner := cardtest.OneWins(t, what+": replace card "+fmt.Sprint(old.ID), errs)
				if n := successors(t, e, org, old.ID); n != 1 {
					t.Fatalf("%s: card %d has %d successors", what, old.ID, n)
				}
				won, lost := e.Card(t, org, pair[winner].ID), e.Card(t, org, pair[1-winner].ID)
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
				evs := e.Outbox(t, org).Since(seq)
				if got := e.Card(t, org, old.ID); got.Status != wantOld || len(evs.OfCard(old.ID)) != oldEvents ||
					len(evs.OfCard(lost.ID)) != 0 || len(evs) != 1+oldEvents {
					t.Fatalf("%s: old card %s with %d events, %d events in all", what, got.Status, len(evs.OfCard(old.ID)), len(evs))
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
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		b, cs := startedBulk(t, e, extIDs("c", goroutines*perGoroutine)...)
		seq := e.Outbox(t, org).LastSeq()
		bound := make([][]int64, goroutines)
		var canceled []int64
		// Goroutines 0 to 7 bind, goroutine 8 cancels.
		errs := cardtest.Race(goroutines+1, func(g int) (err error) {
			if g == goroutines {
				_, canceled, err = e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelFull, nil)
				return err
			}
			for i := range perGoroutine {
				id := cs[fmt.Sprintf("c-%d", g*perGoroutine+i+1)].ID
				_, err := e.Noname.Bind(t.Context(), noname.BindRequest{OrgID: org, CardID: id,
					AccountID: fmt.Sprintf("acct-%d", g), CustomerID: fmt.Sprintf("cust-%d", g)})
				switch {
				case err == nil:
					bound[g] = append(bound[g], id)
				case !errors.Is(err, card.ErrConflict):
					return err
				}
			}
			return nil
		})
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
		evs := e.Outbox(t, org).Since(seq)
		cancels := evs.OfType(events.NonameCancellation)
		if len(cancels) != 1 || len(cancels[0].Cancel.CardIDs) != len(canceled) {
			t.Fatalf("%d noname_cancellation-1 for one cancel of %d cards", len(cancels), len(canceled))
		}
		for _, id := range cancels[0].Cancel.CardIDs {
			if !isCanceled[id] {
				t.Fatalf("noname_cancellation-1 names card %d, which the cancel did not report", id)
			}
		}
		for ext, c := range cs {
			got := e.Card(t, org, c.ID)
			es := evs.OfCard(c.ID)
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
	}, cardtest.BulkBatch(4))
}

// TestConcurrentBulkChanges runs, at once, pairs of the same bulk change:
// two starts of one bulk, two increments adding the same external id to a
// STARTED bulk, two FULL cancels. Each time exactly one wins and the other
// gets a conflict, and the cards and events are those of one change.
func TestConcurrentBulkChanges(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		race := func(what string, f func() error) {
			t.Helper()
			cardtest.OneWins(t, what+" twice at once", cardtest.Race(2, func(int) error { return f() }))
		}
		b := mustCreateBulk(t, e, extIDs("s", 50)...)
		race("start", func() error { _, err := e.Noname.Start(t.Context(), org, b.ID); return err })
		if cs := bulkCards(t, e, org, b.ID); len(cs) != 50 || len(e.Outbox(t, org)) != 50 {
			t.Fatalf("%d cards and %d events after one start of 50", len(cs), len(e.Outbox(t, org)))
		}
		race("increment", func() error { _, err := e.Noname.Increment(t.Context(), org, b.ID, []string{"new"}); return err })
		if v, _ := e.Noname.Get(t.Context(), org, b.ID); v.ExternalIDs != 51 || v.Cards[card.Unbound] != 51 {
			t.Fatalf("after one increment: %+v", v)
		}
		seq := e.Outbox(t, org).LastSeq()
		race("FULL cancel", func() error {
			_, _, err := e.Noname.Cancel(t.Context(), org, b.ID, noname.CancelFull, nil)
			return err
		})
		evs := e.Outbox(t, org).Since(seq)
		if len(evs.OfType(events.NonameCancellation)) != 1 || len(evs.OfType(events.CardUpdated)) != 51 {
			t.Fatalf("%d events after one cancel of 51 cards", len(evs))
		}
	})
}
