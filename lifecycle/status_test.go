package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/storage"
)

func TestActivate(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		plastic := mustCreate(t, e, request(card.Plastic, ""))
		e.Clock.Advance(time.Hour)
		now := e.Clock.Now()
		c, err := e.Cards.Activate(t.Context(), org, plastic.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != card.Normal || c.PreviousStatus != card.Created || c.Version != 2 || !c.ActivationDate.Equal(now) {
			t.Fatalf("activated card: %s (previous %s) version %d activated %v", c.Status, c.PreviousStatus, c.Version, c.ActivationDate)
		}
		if got := e.Card(t, org, c.ID); !got.ActivationDate.Equal(now) || got.Status != card.Normal {
			t.Fatalf("stored card: %s activated %v", got.Status, got.ActivationDate)
		}
		es := e.WantEvents(t, org, 2).ByCard()[c.ID]
		if d := es[1].Card; d.OperationType != card.Activate.OperationType() || d.CardStatus != "NORMAL" || d.CardPreviousStatus != "CREATED" || d.ActivationDate == "" {
			t.Fatalf("activation event: %+v", d)
		}

		_, err = e.Cards.Activate(t.Context(), org, plastic.ID)
		cardtest.WantConflictOn(t, err, plastic.ID, card.Normal)
		virtual := mustCreate(t, e, request(card.Virtual, "online"))
		_, err = e.Cards.Activate(t.Context(), org, virtual.ID)
		cardtest.WantConflictOn(t, err, virtual.ID, card.Normal)
		blocked := stored(card.Blocked, now, 1)
		e.Insert(t, &blocked)
		_, err = e.Cards.Activate(t.Context(), org, blocked.ID)
		cardtest.WantConflictOn(t, err, blocked.ID, card.Blocked)
		e.WantEvents(t, org, 3) // 2 creates and the activation
		if got := e.Card(t, org, blocked.ID); got.Status != card.Blocked || got.Version != 1 || !got.ActivationDate.IsZero() {
			t.Fatalf("a refused activation changed the card: %+v", got)
		}
	})
}

// Activating a reissued card cancels its predecessor unless that one is
// already terminated, in the same transaction, with an event each.
func TestActivateCancelsPredecessor(t *testing.T) {
	for _, status := range []card.Status{card.Normal, card.Reissued, card.Blocked, card.Pending, card.Warning, card.Inoperative, card.Created, card.Lost, card.Canceled, card.Expired} {
		t.Run(status.String(), func(t *testing.T) {
			cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
				now := e.Clock.Now()
				old := stored(status, now, 1)
				e.Insert(t, &old)
				succ := stored(card.Created, now, 2)
				succ.ReissuedCardID, succ.TrackNumber = old.ID, old.TrackNumber+1
				e.Insert(t, &succ)
				e.Clock.Advance(time.Hour)

				c, err := e.Cards.Activate(t.Context(), org, succ.ID)
				if err != nil || c.Status != card.Normal {
					t.Fatalf("activate the successor: %s, %v", c.Status, err)
				}
				got := e.Card(t, org, old.ID)
				evs := e.Outbox(t, org).ByCard()
				if status.Terminated() {
					if got.Status != status || got.Version != 1 || len(evs[old.ID]) != 0 {
						t.Fatalf("terminated predecessor changed: %s version %d, %d events", got.Status, got.Version, len(evs[old.ID]))
					}
					return
				}
				if got.Status != card.Canceled || got.PreviousStatus != status || got.Version != 2 {
					t.Fatalf("predecessor: %s (previous %s) version %d, want CANCELED from %s", got.Status, got.PreviousStatus, got.Version, status)
				}
				if es := evs[old.ID]; len(es) != 1 || es[0].Card.OperationType != card.SuccessorActivated.OperationType() || es[0].Card.CardStatus != "CANCELED" {
					t.Fatalf("predecessor events: %+v", es)
				}
				if es := evs[succ.ID]; len(es) != 1 || es[0].Card.OperationType != card.Activate.OperationType() {
					t.Fatalf("successor events: %+v", es)
				}
			})
		})
	}
}

func TestRenewValidity(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		req := request(card.Virtual, "renewed")
		req.ValidityPeriodHours = 48
		c := mustCreate(t, e, req)
		e.Clock.Advance(72 * time.Hour)
		if res, err := e.Cards.Sweep(t.Context()); err != nil || res.Inoperative != 1 {
			t.Fatalf("sweep: %+v, %v", res, err)
		}
		e.Clock.Advance(time.Hour)
		now := e.Clock.Now()
		got, err := e.Cards.RenewValidity(t.Context(), org, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != card.Normal || got.PreviousStatus != card.Inoperative || got.Version != 3 || !got.ValidUntil.Equal(now.Add(48*time.Hour)) {
			t.Fatalf("renewed INOPERATIVE card: %s (previous %s) version %d until %v", got.Status, got.PreviousStatus, got.Version, got.ValidUntil)
		}
		es := e.WantEvents(t, org, 3).ByCard()[c.ID]
		if d := es[2].Card; d.OperationType != card.RenewValidity.OperationType() || d.CardStatus != "NORMAL" || d.Version != 3 {
			t.Fatalf("renewal event: %+v", d)
		}

		// Other statuses keep theirs; valid_until is recomputed all the same.
		if _, err := e.Cards.UpdateStatus(t.Context(), org, c.ID, card.Blocked); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Hour)
		got, err = e.Cards.RenewValidity(t.Context(), org, c.ID)
		if err != nil || got.Status != card.Blocked || got.PreviousStatus != card.Normal || got.Version != 5 ||
			!got.ValidUntil.Equal(e.Clock.Now().Add(48*time.Hour)) {
			t.Fatalf("renewed BLOCKED card: %+v, %v", got, err)
		}
		if stored := e.Card(t, org, c.ID); !stored.ValidUntil.Equal(got.ValidUntil) || stored.Version != 5 {
			t.Fatalf("stored card: version %d until %v", stored.Version, stored.ValidUntil)
		}
		e.WantEvents(t, org, 5)
	})
}

func TestRenewValidityStopsAtExpiration(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		req := request(card.Plastic, "")
		req.ExpirationDate, req.ValidityPeriodHours = "2604", 24
		c := mustCreate(t, e, req)
		e.Clock.Advance(time.Date(2026, time.April, 30, 20, 0, 0, 0, time.UTC).Sub(e.Clock.Now()))
		got, err := e.Cards.RenewValidity(t.Context(), org, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC); !got.ValidUntil.Equal(want) {
			t.Fatalf("valid until %v, want the end of the expiration month %v", got.ValidUntil, want)
		}
	})
}

func TestRenewValidityRefusals(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		temporary := mustCreate(t, e, request(card.Temporary, "trip"))
		_, err := e.Cards.RenewValidity(t.Context(), org, temporary.ID)
		cardtest.WantConflictOn(t, err, temporary.ID, card.Normal)

		req := request(card.Virtual, "lost")
		req.ValidityPeriodHours = 24
		lost := mustCreate(t, e, req)
		if _, err := e.Cards.UpdateStatus(t.Context(), org, lost.ID, card.Lost); err != nil {
			t.Fatal(err)
		}
		_, err = e.Cards.RenewValidity(t.Context(), org, lost.ID)
		cardtest.WantConflictOn(t, err, lost.ID, card.Lost)
		if got := e.Card(t, org, lost.ID); got.Version != 2 || !got.ValidUntil.Equal(lost.ValidUntil) {
			t.Fatalf("a refused renewal changed the card: version %d until %v", got.Version, got.ValidUntil)
		}

		// Past its expiration month, before the sweep has made it EXPIRED.
		req = request(card.Virtual, "expired")
		req.ExpirationDate, req.ValidityPeriodHours = "2604", 24
		expired := mustCreate(t, e, req)
		e.Clock.Advance(time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC).Sub(e.Clock.Now()))
		_, err = e.Cards.RenewValidity(t.Context(), org, expired.ID)
		cardtest.WantConflictOn(t, err, expired.ID, card.Normal)
		e.WantEvents(t, org, 4)
	})
}

// INOPERATIVE is set only by the sweep: no status may be set to it by hand.
func TestInoperativeIsNeverSetByHand(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		now := e.Clock.Now()
		var cs []*card.Card
		for i, s := range card.Statuses() {
			c := stored(s, now, i)
			cs = append(cs, &c)
		}
		e.Insert(t, cs...)
		for _, c := range cs {
			got, err := e.Cards.UpdateStatus(t.Context(), org, c.ID, card.Inoperative)
			if c.Status == card.Inoperative {
				if err != nil || got.Version != 1 {
					t.Errorf("INOPERATIVE -> INOPERATIVE: version %d, %v; want a no-op", got.Version, err)
				}
				continue
			}
			var ce *card.ConflictError
			if !errors.As(err, &ce) || ce.Requested != card.Inoperative || ce.Status != c.Status {
				t.Errorf("%s -> INOPERATIVE: %v, want a conflict", c.Status, err)
			}
		}
		e.WantEvents(t, org, 0)
	})
}

func TestUpdateStatusNeedsAStatus(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		c := mustCreate(t, e, request(card.Virtual, "online"))
		_, err := e.Cards.UpdateStatus(t.Context(), org, c.ID, card.Status{})
		cardtest.WantInvalid(t, err, "status")
		e.WantEvents(t, org, 1)
	})
}

// A card is found only in its own org, by every use case.
func TestNotFoundAcrossOrgs(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		req := request(card.Plastic, "")
		req.ValidityPeriodHours = 24
		c := mustCreate(t, e, req)
		ctx := t.Context()
		ops := map[string]func(org string, id int64) error{
			"get":      func(o string, id int64) error { _, err := e.Cards.Get(ctx, o, id); return err },
			"update":   func(o string, id int64) error { _, err := e.Cards.UpdateStatus(ctx, o, id, card.Blocked); return err },
			"activate": func(o string, id int64) error { _, err := e.Cards.Activate(ctx, o, id); return err },
			"renew":    func(o string, id int64) error { _, err := e.Cards.RenewValidity(ctx, o, id); return err },
		}
		for name, op := range ops {
			for _, target := range []struct {
				org string
				id  int64
			}{{"org-2", c.ID}, {org, c.ID + 1000}} {
				err := op(target.org, target.id)
				var nf *card.NotFoundError
				if !errors.Is(err, card.ErrNotFound) || !errors.As(err, &nf) || nf.Kind != "card" {
					t.Errorf("%s card %d of %s: %v, want not found", name, target.id, target.org, err)
				}
			}
		}
		cs, err := e.Cards.ListByAccount(ctx, "org-2", "acct-1", storage.Page{Limit: 10})
		if err != nil || len(cs) != 0 {
			t.Errorf("org-2 lists %d cards of acct-1 (%v)", len(cs), err)
		}
		if got, err := e.Cards.Get(ctx, org, c.ID); err != nil || got.ID != c.ID || got.Version != 1 {
			t.Fatalf("get in its own org: %+v, %v", got, err)
		}
		e.WantEvents(t, org, 1)
	})
}

func TestListByAccount(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		var ids []int64
		for i := range 5 {
			ids = append(ids, mustCreate(t, e, request(card.Virtual, fmt.Sprintf("card %d", i))).ID)
		}
		other := request(card.Virtual, "elsewhere")
		other.AccountID = "acct-2"
		mustCreate(t, e, other)
		var got []int64
		page := storage.Page{Limit: 2}
		for {
			cs, err := e.Cards.ListByAccount(t.Context(), org, "acct-1", page)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				got = append(got, c.ID)
			}
			if len(cs) < page.Limit {
				break
			}
			page.After = cs[len(cs)-1].ID
		}
		if fmt.Sprint(got) != fmt.Sprint(ids) {
			t.Fatalf("listed %v, want %v", got, ids)
		}
		for _, limit := range []int{0, -1, 1001} {
			_, err := e.Cards.ListByAccount(t.Context(), org, "acct-1", storage.Page{Limit: limit})
			cardtest.WantInvalid(t, err, "limit")
		}
	})
}

// BenchmarkUpdateStatus toggles random cards among 1,000 between BLOCKED
// and NORMAL through the use case, each toggle a transaction with its
// event, from 1 and from 16 goroutines.
func BenchmarkUpdateStatus(b *testing.B) {
	cardtest.Benchmark(b, func(b *testing.B, e *cardtest.Env) {
		now := e.Clock.Now()
		cs := make([]*card.Card, 1000)
		for i := range cs {
			c := virtual(card.Normal, now, i)
			cs[i] = &c
		}
		e.Insert(b, cs...)
		var toggles [1000]atomic.Uint32
		toggle := func(ctx context.Context) error {
			i := rand.IntN(len(cs))
			to := card.Blocked
			if toggles[i].Add(1)%2 == 0 {
				to = card.Normal
			}
			_, err := e.Cards.UpdateStatus(ctx, org, cs[i].ID, to)
			return err
		}
		for _, goroutines := range []int{1, 16} {
			b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) { cardtest.Ops(b, goroutines, toggle) })
		}
	})
}
