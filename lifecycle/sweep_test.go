package lifecycle_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/lifecycle"
)

func TestSweep(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		now := e.Clock.Now()
		march := time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC) // over on April 1
		withValidity := func(c card.Card, until time.Time) card.Card {
			c.ValidityPeriodHours, c.ValidUntil = 24, until
			return c
		}
		expiring := func(c card.Card) card.Card { c.ExpirationDate = march; return c }
		fixtures := []struct {
			name string
			c    card.Card
			want card.Status
		}{
			{"expiration month over", expiring(virtual(card.Normal, now, 1)), card.Expired},
			{"blocked, expiration month over", expiring(virtual(card.Blocked, now, 2)), card.Expired},
			{"created, expiration month over", expiring(stored(card.Created, now, 3)), card.Expired},
			{"validity elapsed", withValidity(virtual(card.Normal, now, 4), now.Add(24*time.Hour)), card.Inoperative},
			{"pending, validity elapsed", withValidity(virtual(card.Pending, now, 5), now.Add(24*time.Hour)), card.Inoperative},
			{"validity elapsed and expiration month over", expiring(withValidity(virtual(card.Warning, now, 6), now.Add(time.Hour))), card.Expired},
			{"inoperative, expiration month over", expiring(withValidity(stored(card.Inoperative, now, 7), now)), card.Expired},
			{"created, validity elapsed", withValidity(stored(card.Created, now, 8), now.Add(time.Hour)), card.Created},
			{"terminated", expiring(withValidity(virtual(card.Lost, now, 9), now.Add(time.Hour))), card.Lost},
			{"validity not elapsed", withValidity(virtual(card.Normal, now, 10), now.Add(24*time.Hour*60)), card.Normal},
			{"no expiration date", func() card.Card { c := virtual(card.Normal, now, 11); c.ExpirationDate = time.Time{}; return c }(), card.Normal},
			{"expiration month not over", func() card.Card {
				c := virtual(card.Normal, now, 12)
				c.ExpirationDate = time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC)
				return c
			}(), card.Normal},
		}
		cs := make([]*card.Card, len(fixtures))
		for i := range fixtures {
			cs[i] = &fixtures[i].c
		}
		e.Insert(t, cs...)
		e.Clock.Advance(time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC).Sub(now) - time.Microsecond)
		res, err := e.Cards.Sweep(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if res != (lifecycle.SweepResult{Expired: 5, Inoperative: 2}) {
			t.Errorf("sweep result %+v, want 5 expired and 2 inoperative", res)
		}
		evs := e.Outbox(t, org).ByCard()
		for _, f := range fixtures {
			got := e.Card(t, org, f.c.ID)
			es := evs[f.c.ID]
			if got.Status != f.want {
				t.Errorf("%s: %s, want %s", f.name, got.Status, f.want)
				continue
			}
			if f.want == f.c.Status {
				if got.Version != 1 || len(es) != 0 {
					t.Errorf("%s: untouched card has version %d and %d events", f.name, got.Version, len(es))
				}
				continue
			}
			op := card.ValidityElapses.OperationType()
			if f.want == card.Expired {
				op = card.Expire.OperationType()
			}
			if got.Version != 2 || got.PreviousStatus != f.c.Status || len(es) != 1 || es[0].Card.OperationType != op || es[0].Card.Version != 2 {
				t.Errorf("%s: version %d previous %s, events %+v", f.name, got.Version, got.PreviousStatus, es)
			}
		}
		if res, err := e.Cards.Sweep(t.Context()); err != nil || res != (lifecycle.SweepResult{}) {
			t.Fatalf("second sweep: %+v, %v; want nothing to do", res, err)
		}
		e.WantEvents(t, org, 7)
	})
}

// With a batch of 2, a sweep still changes every due card, in several
// transactions.
func TestSweepInBatches(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		now := e.Clock.Now()
		var cs []*card.Card
		for i := range 5 {
			c := virtual(card.Normal, now, i)
			if i < 3 {
				c.ExpirationDate = time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC)
			} else {
				c.ValidityPeriodHours, c.ValidUntil = 1, now.Add(time.Duration(i)*time.Hour)
			}
			cs = append(cs, &c)
		}
		sweepLater(t, e, cs, lifecycle.SweepResult{Expired: 3, Inoperative: 2})
		e.WantEvents(t, org, 5)
	}, cardtest.SweepBatch(2))
}

// A card both past its expiration month and past its validity is found by
// both of the store's queries; a batch holding it must not end the sweep
// while other cards are still due.
func TestSweepBatchWithACardDueTwice(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		now := e.Clock.Now()
		both := virtual(card.Normal, now, 1)
		both.ExpirationDate = time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC)
		both.ValidityPeriodHours, both.ValidUntil = 1, now.Add(time.Hour)
		cs := []*card.Card{&both}
		for i := 2; i <= 4; i++ {
			c := virtual(card.Normal, now, i)
			c.ValidityPeriodHours, c.ValidUntil = 1, now.Add(time.Duration(i)*time.Hour)
			cs = append(cs, &c)
		}
		sweepLater(t, e, cs, lifecycle.SweepResult{Expired: 1, Inoperative: 3})
	}, cardtest.SweepBatch(2))
}

// sweepLater inserts cs, moves the clock two months on and sweeps, which
// must change what want counts.
func sweepLater(t *testing.T, e *cardtest.Env, cs []*card.Card, want lifecycle.SweepResult) {
	t.Helper()
	e.Insert(t, cs...)
	e.Clock.AddMonths(2)
	res, err := e.Cards.Sweep(t.Context())
	if err != nil || res != want {
		t.Fatalf("sweep: %+v, %v; want %d expired and %d inoperative", res, err, want.Expired, want.Inoperative)
	}
}

// A sweep of one org changes that org's due cards and leaves those of
// another org due, for a sweep of every org; an empty org is invalid
// input, never every org.
func TestSweepOnlyOrg(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		now := e.Clock.Now()
		var cs []*card.Card
		for i, o := range []string{org, "org-2", org, "org-2"} {
			c := cardtest.Stored(o, card.Virtual, card.Normal, i, now)
			if i < 2 {
				c.ExpirationDate = time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC)
			} else {
				c.ValidityPeriodHours, c.ValidUntil = 1, now.Add(time.Hour)
			}
			cs = append(cs, &c)
		}
		e.Insert(t, cs...)
		e.Clock.AddMonths(2)
		if _, err := e.Cards.Sweep(t.Context(), lifecycle.OnlyOrg("")); !errors.Is(err, card.ErrInvalid) {
			t.Fatalf("sweep of org \"\": %v, want invalid input", err)
		}
		res, err := e.Cards.Sweep(t.Context(), lifecycle.OnlyOrg("org-2"))
		if err != nil || res != (lifecycle.SweepResult{Expired: 1, Inoperative: 1}) {
			t.Fatalf("sweep of org-2: %+v, %v; want 1 expired and 1 inoperative", res, err)
		}
		for _, c := range cs {
			got := e.Card(t, c.OrgID, c.ID)
			if untouched := got.Version == 1 && got.Status == card.Normal; untouched != (c.OrgID == org) {
				t.Errorf("card %d of %s is %s (version %d) after the sweep of org-2", c.ID, c.OrgID, got.Status, got.Version)
			}
		}
		e.WantEvents(t, org, 0)
		res, err = e.Cards.Sweep(t.Context())
		if err != nil || res != (lifecycle.SweepResult{Expired: 1, Inoperative: 1}) {
			t.Fatalf("sweep of every org: %+v, %v; want %s's 1 expired and 1 inoperative", res, err, org)
		}
	})
}
