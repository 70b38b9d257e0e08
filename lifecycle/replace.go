package lifecycle

import (
	"context"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// Reissuable refuses the cards that cannot be replaced by a successor (a
// reissue, or a noname card bound in their place): UNBOUND, UNNUMBERED and
// DELETED cards, and a noname card terminated before it was ever bound,
// which has no account and customer for a successor.
func Reissuable(c *card.Card) error {
	switch c.Status {
	case card.Unbound, card.Unnumbered, card.Deleted:
		return &card.ConflictError{CardID: c.ID, Operation: card.Reissue.String(), Status: c.Status,
			Reason: "UNBOUND, UNNUMBERED and DELETED cards are not reissued"}
	}
	if c.AccountID == "" {
		return &card.ConflictError{CardID: c.ID, Operation: card.Reissue.String(), Status: c.Status,
			Reason: "the noname card was never bound: it has no account and customer to reissue for"}
	}
	return nil
}

// Replaced is what a successor does to the card it replaces: the status
// it moves to, and whether it moves at all. A terminated card keeps its
// status; a VIRTUAL, TEMPORARY or RECURRING card, or any card when
// mustBlock, becomes CANCELED; a NORMAL PLASTIC card becomes REISSUED (and
// is canceled when its successor is activated); any other PLASTIC card
// keeps its status.
func Replaced(c *card.Card, mustBlock bool) (to card.Status, change bool) {
	switch {
	case c.Status.Terminated():
		return c.Status, false
	case c.Type != card.Plastic || mustBlock:
		return card.Canceled, true
	case c.Status == card.Normal:
		return card.Reissued, true
	}
	return c.Status, false
}

// Replace applies Replaced to old through the transition table and saves
// it with its Card updated (operation REISSUE) when its status changes.
func Replace(ctx context.Context, tx storage.CardWriter, old *card.Card, mustBlock bool, now time.Time) error {
	to, change := Replaced(old, mustBlock)
	if !change {
		return nil
	}
	if _, err := Apply(old, card.Reissue, to, now); err != nil {
		return err
	}
	return tx.Save(ctx, old, events.Updated(card.Reissue, now))
}
