package noname

import (
	"context"
	"errors"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
)

// BindRequest binds noname card CardID to an account and customer.
type BindRequest struct {
	OrgID       string
	CardID      int64
	AccountID   string
	CustomerID  string
	PrintedName string // optional
	// ReissuedCardID, when set, names a card of the same account that the
	// noname card replaces, as a PLASTIC reissue without must_block.
	ReissuedCardID int64
}

// BindResult is the bound card and, when it replaced one, the replaced card.
type BindResult struct {
	Card     card.Card
	Replaced *card.Card
}

// Bind moves an UNBOUND card to CREATED with the account and customer (and
// printed name) and emits Customer bound to noname card. A card that is not
// UNBOUND is a conflict; of concurrent binds of one card exactly one wins.
//
// With ReissuedCardID the noname card becomes that card's successor: its
// reissued_card_id and track number follow, and the old card's fate is
// that of a reissue without must_block (a NORMAL PLASTIC card becomes
// REISSUED and is canceled when the noname card is activated; a VIRTUAL,
// TEMPORARY or RECURRING card is canceled; others keep their status), with
// Card updated when its status changes. The old card must belong to the
// same account, be eligible for reissue and have no successor yet, else
// conflict. A card of another account is refused exactly as one that does
// not exist: the conflict names neither its status nor its account.
func (s *Service) Bind(ctx context.Context, req BindRequest) (BindResult, error) {
	if err := card.ValidateRef("account_id", req.AccountID); err != nil {
		return BindResult{}, err
	}
	if err := card.ValidateRef("customer_id", req.CustomerID); err != nil {
		return BindResult{}, err
	}
	if req.PrintedName != "" {
		if err := card.ValidatePrintedName(req.PrintedName); err != nil {
			return BindResult{}, err
		}
	}
	if req.ReissuedCardID != 0 && req.ReissuedCardID == req.CardID {
		return BindResult{}, card.Invalid("reissued_card_id", "must name another card")
	}
	ctx = events.EnsureCorrelationID(ctx)
	var res BindResult
	err := s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		res = BindResult{}
		now := s.cards.Now()
		c, err := tx.Card(ctx, req.OrgID, req.CardID)
		if err != nil {
			return err
		}
		if _, err := lifecycle.Apply(&c, card.Bind, card.Created, now); err != nil {
			return err
		}
		c.AccountID, c.CustomerID = req.AccountID, req.CustomerID
		if req.PrintedName != "" {
			c.PrintedName = req.PrintedName
		}
		if req.ReissuedCardID != 0 {
			old, err := s.replace(ctx, tx, &c, req, now)
			if err != nil {
				return err
			}
			res.Replaced = old
		}
		if err := c.Validate(); err != nil {
			return err
		}
		if err := tx.Save(ctx, &c, events.Change{Type: events.CustomerBound, Operation: card.Bind, At: now}); err != nil {
			return err
		}
		res.Card = c
		return nil
	})
	if err != nil {
		return BindResult{}, err
	}
	return res, nil
}

// replace makes c the successor of req.ReissuedCardID and applies the
// reissue outcome to the old card.
func (s *Service) replace(ctx context.Context, tx storage.Tx, c *card.Card, req BindRequest, now time.Time) (*card.Card, error) {
	old, err := tx.Card(ctx, req.OrgID, req.ReissuedCardID)
	if err != nil && !errors.Is(err, card.ErrNotFound) {
		return nil, err
	}
	// A card of another account is refused in the words of one that does
	// not exist, without its status, so that an account learns nothing
	// about the cards of others (SPEC 11). A card of no account (a noname
	// card never bound) is no one's: Reissuable refuses it.
	if err != nil || (old.AccountID != "" && old.AccountID != req.AccountID) {
		return nil, &card.ConflictError{CardID: req.ReissuedCardID, Operation: card.Bind.String(),
			Reason: "account " + req.AccountID + " has no such card to replace"}
	}
	if err := lifecycle.Reissuable(&old); err != nil {
		return nil, err
	}
	if _, err := tx.Successor(ctx, old.OrgID, old.ID); err == nil {
		return nil, &card.ConflictError{CardID: old.ID, Operation: card.Bind.String(), Status: old.Status,
			Reason: "the card to replace already has a successor"}
	} else if !errors.Is(err, card.ErrNotFound) {
		return nil, err
	}
	c.ReissuedCardID = old.ID
	c.TrackNumber = old.TrackNumber + 1
	if err := lifecycle.Replace(ctx, tx, &old, false, now); err != nil {
		return nil, err
	}
	return &old, nil
}
