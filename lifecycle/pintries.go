package lifecycle

import (
	"context"
	"time"

	"github.com/cardcore/cardcore/card"
)

// IncreasePINTries counts a wrong PIN on the card (SPEC 12) and emits Card
// updated. The count rises by one on every card with a cardholder and a
// PAN that is not terminated (CREATED, active and temporarily blocked
// cards); when it reaches the program's maximum (card.Program.MaxPINTries,
// default 3) and the program blocks on it (the default), an active card,
// NORMAL or REISSUED, becomes BLOCKED with operation PIN_TRIES_EXCEEDED;
// any other card only counts (operation PIN_TRIES_INCREASE). UNBOUND,
// UNNUMBERED and terminated cards are refused with a conflict. Concurrent
// calls on one card are serialised by its row lock: the count is the
// number of calls that succeeded, and the card is blocked once.
func (s *Cards) IncreasePINTries(ctx context.Context, org string, id int64) (card.Card, error) {
	return s.change(ctx, org, id, func(c *card.Card, now time.Time) (card.Operation, error) {
		if _, err := Apply(c, card.IncreasePINTries, c.Status, now); err != nil {
			return card.Operation{}, err
		}
		c.PasswordTries++
		p := s.programOf(c)
		if c.PasswordTries >= p.PINTriesLimit() && p.BlocksOnPINTries() && Allowed(card.PINTriesExceeded, c.Status, card.Blocked) {
			if _, err := Apply(c, card.PINTriesExceeded, card.Blocked, now); err != nil {
				return card.Operation{}, err
			}
			return card.PINTriesExceeded, nil
		}
		Touch(c, now)
		return card.IncreasePINTries, nil
	})
}

// ResetPINTries sets the card's count of wrong PINs to 0 (SPEC 12) and
// emits Card updated (operation PIN_TRIES_RESET): a BLOCKED card becomes
// NORMAL, as Pismo documents, whatever blocked it; a NORMAL, PENDING or
// WARNING card keeps its status; any other status is a conflict. A reset
// that changes nothing (the count already 0, the status kept) succeeds,
// writes nothing and emits nothing, as a status update to the same status
// does.
func (s *Cards) ResetPINTries(ctx context.Context, org string, id int64) (card.Card, error) {
	return s.change(ctx, org, id, func(c *card.Card, now time.Time) (card.Operation, error) {
		to := c.Status
		if Allowed(card.ResetPINTries, c.Status, card.Normal) {
			to = card.Normal
		}
		changed, err := Apply(c, card.ResetPINTries, to, now)
		if err != nil {
			return card.Operation{}, err
		}
		if !changed && c.PasswordTries == 0 {
			return card.Operation{}, nil
		}
		if !changed {
			Touch(c, now)
		}
		c.PasswordTries = 0
		return card.ResetPINTries, nil
	})
}

// programOf returns the program of c; a program no longer in the
// catalogue has the defaults.
func (s *Cards) programOf(c *card.Card) card.Program {
	p, err := s.programs.Lookup(c.ProgramID)
	if err != nil {
		return card.Program{ID: c.ProgramID}
	}
	return p
}
