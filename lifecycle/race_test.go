package lifecycle_test

import (
	"fmt"
	"testing"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
)

// TestConcurrentChangesOfOneCard has 16 goroutines change one card at once
// through the use cases: status updates toggling BLOCKED and NORMAL, and
// validity renewals. The store serializes them: every change gets its own
// version and its own event, and no answer disagrees with the outbox.
func TestConcurrentChangesOfOneCard(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		req := request(card.Virtual, "shared")
		req.ValidityPeriodHours = 24
		c := mustCreate(t, e, req)

		const goroutines, calls = 16, 12
		type answer struct {
			c     card.Card
			renew bool
		}
		answers := make([][]answer, goroutines)
		errs := cardtest.Race(goroutines, func(g int) error {
			for i := range calls {
				a := answer{renew: g%4 == 3 && i%2 == 0}
				var err error
				switch {
				case a.renew:
					a.c, err = e.Cards.RenewValidity(t.Context(), org, c.ID)
				case (g+i)%2 == 0:
					a.c, err = e.Cards.UpdateStatus(t.Context(), org, c.ID, card.Blocked)
				default:
					a.c, err = e.Cards.UpdateStatus(t.Context(), org, c.ID, card.Normal)
				}
				if err != nil {
					return fmt.Errorf("goroutine %d call %d: %w", g, i, err)
				}
				answers[g] = append(answers[g], a)
			}
			return nil
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}

		final := e.Card(t, org, c.ID)
		// A call that changes the card answers with the version it made; a
		// call that changes nothing answers with the version it found. So
		// the versions answered are 1..final, every one from 2 on answered
		// by the change that made it, and all answers at one version agree.
		statusAt := map[int64]card.Status{1: card.Normal}
		renewals := map[int64]bool{}
		for _, as := range answers {
			for _, a := range as {
				v := a.c.Version
				if v < 1 || v > final.Version {
					t.Fatalf("an answer has version %d, the card is at %d", v, final.Version)
				}
				if s, ok := statusAt[v]; ok && s != a.c.Status {
					t.Fatalf("two answers at version %d: %s and %s", v, s, a.c.Status)
				}
				statusAt[v] = a.c.Status
				if a.renew {
					if renewals[v] {
						t.Fatalf("two renewals answered version %d", v)
					}
					renewals[v] = true
				}
			}
		}
		changes := int64(len(statusAt) - 1)
		if final.Version != 1+changes {
			t.Fatalf("final version %d after %d changes", final.Version, changes)
		}
		if len(renewals) != goroutines/4*calls/2 {
			t.Fatalf("%d renewals changed the card, want every one of %d", len(renewals), goroutines/4*calls/2)
		}
		es := e.Outbox(t, org).ByCard()[c.ID]
		cardtest.CheckVersions(t, c.ID, es, final) // the create and one update-1 per change
		for _, ev := range es {
			if want := statusAt[ev.Card.Version]; ev.Card.CardStatus != want.String() {
				t.Fatalf("the event of version %d says %s, the answers %s", ev.Card.Version, ev.Card.CardStatus, want)
			}
		}
		t.Logf("%d calls made %d changes", goroutines*calls, changes)
	})
}

// TestConcurrentPINTries has 16 goroutines count wrong PINs on one NORMAL
// card at once, under a program that blocks at 5: every call succeeds, the
// count is the number of calls, each call answers a count of its own, and
// the card is blocked exactly once, by the call that reached 5.
func TestConcurrentPINTries(t *testing.T) {
	cardtest.Each(t, func(t *testing.T, e *cardtest.Env) {
		req := request(card.Virtual, "pins")
		req.ProgramID = fiveTries.ID
		c := mustCreate(t, e, req)

		const goroutines, calls = 16, 4
		answers := make([][]card.Card, goroutines)
		errs := cardtest.Race(goroutines, func(g int) error {
			for i := range calls {
				got, err := e.Cards.IncreasePINTries(t.Context(), org, c.ID)
				if err != nil {
					return fmt.Errorf("goroutine %d call %d: %w", g, i, err)
				}
				answers[g] = append(answers[g], got)
			}
			return nil
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		final := e.Card(t, org, c.ID)
		if final.PasswordTries != goroutines*calls || final.Version != 1+goroutines*calls || final.Status != card.Blocked {
			t.Fatalf("after %d wrong PINs: %d tries, version %d, %s", goroutines*calls, final.PasswordTries, final.Version, final.Status)
		}
		seen := map[int]bool{}
		for _, as := range answers {
			for _, a := range as {
				if seen[a.PasswordTries] || a.Version != int64(1+a.PasswordTries) {
					t.Fatalf("answer with %d tries at version %d (seen before: %v)", a.PasswordTries, a.Version, seen[a.PasswordTries])
				}
				seen[a.PasswordTries] = true
				if want := map[bool]card.Status{true: card.Blocked, false: card.Normal}[a.PasswordTries >= 5]; a.Status != want {
					t.Fatalf("answer with %d tries is %s, want %s", a.PasswordTries, a.Status, want)
				}
			}
		}
		blocked := 0
		for _, ev := range e.Outbox(t, org).ByCard()[c.ID] {
			if ev.Card.OperationType == card.PINTriesExceeded.OperationType() {
				blocked++
				if ev.Card.PasswordTries != 5 || ev.Card.CardStatus != "BLOCKED" || ev.Card.CardPreviousStatus != "NORMAL" {
					t.Errorf("the blocking event: %+v", ev.Card)
				}
			}
		}
		if blocked != 1 {
			t.Fatalf("the card was blocked %d times, want once", blocked)
		}
		cardtest.CheckVersions(t, c.ID, e.Outbox(t, org).ByCard()[c.ID], final)
	}, cardtest.Programs(fiveTries))
}
