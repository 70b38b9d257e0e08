package lifecycle_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/internal/spec"
	"github.com/cardcore/cardcore/lifecycle"
)

// TestAllowedMatchesSpec compares the library's table with the spec's for
// every operation, from and to.
func TestAllowedMatchesSpec(t *testing.T) {
	n := 0
	for _, op := range card.Operations() {
		for _, from := range card.Statuses() {
			for _, to := range card.Statuses() {
				want := spec.Allows(op, from, to) || from == to && spec.Keeps(op, from)
				if got := lifecycle.Allowed(op, from, to); got != want {
					t.Errorf("Allowed(%s, %s, %s) = %v, the spec says %v", op, from, to, got, want)
				}
				if want {
					n++
				}
			}
		}
	}
	if got := len(lifecycle.Transitions()); got != n {
		t.Errorf("Transitions() lists %d edges, the spec has %d", got, n)
	}
	var zeroOp card.Operation
	if lifecycle.Allowed(zeroOp, card.Normal, card.Blocked) || lifecycle.Allowed(card.UpdateStatus, card.Status{}, card.Blocked) ||
		lifecycle.Allowed(card.UpdateStatus, card.Normal, card.Status{}) {
		t.Error("Allowed accepts a zero operation or status")
	}
}

// TestDecide checks the order of Decide's rules: same status first (for a
// status update only), then the table's moves and stays, then a conflict
// naming both statuses.
func TestDecide(t *testing.T) {
	for _, op := range card.Operations() {
		for _, from := range card.Statuses() {
			for _, to := range card.Statuses() {
				changed, err := lifecycle.Decide(op, from, to)
				switch {
				case op == card.UpdateStatus && from == to:
					if changed || err != nil {
						t.Errorf("Decide(%s, %s, %s) = %v, %v; want no change, no error", op, from, to, changed, err)
					}
				case spec.Allows(op, from, to):
					if !changed || err != nil {
						t.Errorf("Decide(%s, %s, %s) = %v, %v; want a change", op, from, to, changed, err)
					}
				case from == to && spec.Keeps(op, from):
					if changed || err != nil {
						t.Errorf("Decide(%s, %s, %s) = %v, %v; want a stay: no change, no error", op, from, to, changed, err)
					}
				default:
					var ce *card.ConflictError
					wantRequested := card.Status{} // only a status update names the status asked for
					if op == card.UpdateStatus {
						wantRequested = to
					}
					if changed || !errors.As(err, &ce) || ce.Status != from || ce.Requested != wantRequested || ce.Operation != op.String() {
						t.Errorf("Decide(%s, %s, %s) = %v, %v; want a conflict from %s to %s", op, from, to, changed, err, from, to)
					}
				}
			}
		}
	}
}

// TestUpdateStatusEveryPair walks every (from, to) pair of the 19 statuses
// through the UpdateStatus use case on a real store, one card per pair,
// and checks the answer, the stored card and the outbox against the spec.
func TestUpdateStatusEveryPair(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		type pair struct {
			from, to card.Status
			c        card.Card
		}
		var pairs []*pair
		var fixtures []*card.Card
		now := e.Clock.Now()
		for _, from := range card.Statuses() {
			for _, to := range card.Statuses() {
				p := &pair{from: from, to: to, c: stored(from, now, len(pairs))}
				pairs = append(pairs, p)
				fixtures = append(fixtures, &p.c)
			}
		}
		e.Insert(t, fixtures...)
		e.Clock.Advance(time.Minute)
		for _, p := range pairs {
			got, err := e.Cards.UpdateStatus(t.Context(), org, p.c.ID, p.to)
			ok, changed := spec.UpdateStatus(p.from, p.to)
			switch {
			case !ok:
				var ce *card.ConflictError
				if !errors.Is(err, card.ErrConflict) || !errors.As(err, &ce) {
					t.Errorf("%s -> %s: err = %v, want a conflict", p.from, p.to, err)
				} else if ce.Status != p.from || ce.Requested != p.to || ce.CardID != p.c.ID {
					t.Errorf("%s -> %s: conflict names card %d from %s to %s", p.from, p.to, ce.CardID, ce.Status, ce.Requested)
				}
			case err != nil:
				t.Errorf("%s -> %s: %v", p.from, p.to, err)
			case got.Status != p.to || got.ID != p.c.ID:
				t.Errorf("%s -> %s: returned card %d in %s", p.from, p.to, got.ID, got.Status)
			case changed && (got.Version != 2 || got.PreviousStatus != p.from):
				t.Errorf("%s -> %s: returned version %d, previous %s", p.from, p.to, got.Version, got.PreviousStatus)
			case !changed && got.Version != 1:
				t.Errorf("%s -> %s: a no-op returned version %d", p.from, p.to, got.Version)
			}
		}
		outbox := e.Outbox(t, org).ByCard()
		for _, p := range pairs {
			c, err := e.Store.Card(t.Context(), org, p.c.ID)
			if err != nil {
				t.Fatal(err)
			}
			evs := outbox[p.c.ID]
			_, changed := spec.UpdateStatus(p.from, p.to)
			if !changed {
				if c.Status != p.from || c.Version != 1 || c.PreviousStatus != (card.Status{}) || !c.UpdatedAt.Equal(p.c.UpdatedAt) || len(evs) != 0 {
					t.Errorf("%s -> %s wrote something: stored %s (previous %s) version %d, %d events",
						p.from, p.to, c.Status, c.PreviousStatus, c.Version, len(evs))
				}
				continue
			}
			if c.Status != p.to || c.PreviousStatus != p.from || c.Version != 2 {
				t.Errorf("%s -> %s: stored %s (previous %s) version %d", p.from, p.to, c.Status, c.PreviousStatus, c.Version)
			}
			if len(evs) != 1 {
				t.Errorf("%s -> %s: %d events, want 1", p.from, p.to, len(evs))
				continue
			}
			d := evs[0].Card
			if evs[0].Type != events.CardUpdated || d.CardStatus != p.to.String() || d.CardPreviousStatus != p.from.String() ||
				d.Version != 2 || d.OperationType != card.UpdateStatus.OperationType() {
				t.Errorf("%s -> %s: event %s %+v", p.from, p.to, evs[0].Type, d)
			}
		}
		if n := len(outbox[0]); n != 0 {
			t.Errorf("%d events name no card", n)
		}
	})
}

// BenchmarkDecide measures the table lookup every status change makes, on
// the success path.
func BenchmarkDecide(b *testing.B) {
	moves := []struct{ from, to card.Status }{
		{card.Normal, card.Blocked}, {card.Blocked, card.Normal}, {card.Warning, card.Lost}, {card.Lost, card.Canceled},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := moves[i%len(moves)]
		i++
		if changed, err := lifecycle.Decide(card.UpdateStatus, m.from, m.to); !changed || err != nil {
			b.Fatalf("Decide(%s, %s) = %v, %v", m.from, m.to, changed, err)
		}
	}
}

// TestDecideDoesNotAllocate holds BenchmarkDecide's promise in the test
// run: deciding an allowed change allocates nothing.
func TestDecideDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(1000, func() {
		if changed, err := lifecycle.Decide(card.UpdateStatus, card.Normal, card.Blocked); !changed || err != nil {
			t.Fatal("NORMAL -> BLOCKED refused")
		}
	})
	if allocs != 0 {
		t.Fatalf("Decide allocates %v times per allowed change, want 0", allocs)
	}
}
