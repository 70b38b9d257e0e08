package datasync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// Entry is one card of a batch, as the "Update cards" API sends it. A nil
// pointer is a field the entry leaves out: an update keeps the card's
// value. SourceAccountID, SourceCustomerID and Last4 are always required.
type Entry struct {
	Index                             int // the entry's position in the request, as errors name it: cards[Index].field
	SourceAccountID, SourceCustomerID string
	Last4                             string
	IIN                               *string    // 6 or 8 digits, kept as the card's BIN
	CardType                          *string    // CREDIT, DEBIT, COMBO or MULTIPLE: the card's mode
	Status                            *string    // OPEN or CLOSED
	NetworkIdentifier                 *int       // 3 MASTERCARD, 4 VISA, 5 DISCOVER, 6 AMEX
	OpenDate, CloseDate               *time.Time // the issuing date; when the card was closed
}

// Batch is one request: the entries of an account and customer, named by
// the request's path, applied all or none.
type Batch struct {
	OrgID, SourceAccountID, SourceCustomerID string
	Entries                                  []Entry
}

// Service applies card data sync batches. It is safe for concurrent use.
type Service struct {
	store storage.Store
	cards *lifecycle.Cards
}

// New returns the card data sync over the store and the clock that cards
// (the lifecycle use cases) were built with.
func New(store storage.Store, cards *lifecycle.Cards) (*Service, error) {
	if store == nil || cards == nil {
		return nil, errors.New("datasync: New needs a store and the lifecycle use cases")
	}
	return &Service{store: store, cards: cards}, nil
}

// Statuses of the system of record.
const (
	statusOpen   = "OPEN"   // the card is NORMAL
	statusClosed = "CLOSED" // the card is CANCELED
)

// Apply creates or updates the batch's cards in one transaction and
// returns a new request id (a UUID), which is also the correlation id of
// the batch's events unless ctx carries one. Either every entry is applied
// or none is: an error leaves no card and no event. Invalid input is a
// *card.InvalidError whose Field names the entry, e.g. "cards[1].closeDate"
// (a path id: "sourceAccountId"); reopening a CLOSED card is a
// *card.ConflictError. An invalid entry anywhere in the batch is reported
// rather than a conflict.
func (s *Service) Apply(ctx context.Context, b Batch) (requestID string, err error) {
	if err := b.validate(); err != nil {
		return "", err
	}
	requestID = uuid.NewString()
	if _, ok := events.CorrelationID(ctx); !ok {
		ctx = events.WithCorrelationID(ctx, requestID)
	}
	err = s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		now := s.cards.Now()
		var refusal error
		for i := range b.Entries {
			refused, err := applyEntry(ctx, tx, b.OrgID, &b.Entries[i], now)
			if err != nil {
				return err
			}
			// A refused entry changes nothing and the batch goes on, so
			// that an invalid entry further on is reported first.
			if refusal == nil {
				refusal = refused
			}
		}
		return refusal
	})
	if err != nil {
		return "", err
	}
	return requestID, nil
}

// applyEntry creates or updates the card of one entry. A status change
// the transition table refuses comes back as refused, with the card left
// as it was; err is any other error, which ends the batch.
func applyEntry(ctx context.Context, tx storage.Tx, org string, e *Entry, now time.Time) (refused, err error) {
	c, err := tx.CardByLast4(ctx, org, e.SourceAccountID, e.SourceCustomerID, e.Last4)
	if errors.Is(err, card.ErrNotFound) {
		return nil, create(ctx, tx, org, e, now)
	}
	if err != nil {
		return nil, err
	}
	return update(ctx, tx, &c, e, now)
}

// create makes the synced card of an entry that names no card yet.
func create(ctx context.Context, tx storage.Tx, org string, e *Entry, now time.Time) error {
	for _, f := range []struct {
		name    string
		present bool
	}{
		{"iin", e.IIN != nil}, {"cardType", e.CardType != nil}, {"status", e.Status != nil},
		{"networkIdentifier", e.NetworkIdentifier != nil}, {"openDate", e.OpenDate != nil},
	} {
		if !f.present {
			return e.invalid(f.name, "is required to create a card")
		}
	}
	c := card.DefaultProgram.NewCard(org, card.Plastic, now)
	c.AccountID, c.CustomerID = e.SourceAccountID, e.SourceCustomerID
	c.Status, c.Last4, c.Synced = statusOf(*e.Status), e.Last4, true
	// The system of record keeps the card's dates: a synced card has no
	// expiration of cardcore's, so the sweep never expires it.
	c.ExpirationDate = time.Time{}
	e.set(&c)
	if err := e.check(&c); err != nil {
		return err
	}
	return tx.Save(ctx, &c, events.Created(card.Sync, now))
}

// update changes the fields the entry gives, the status through the
// transition table, and writes nothing when nothing differs.
func update(ctx context.Context, tx storage.Tx, c *card.Card, e *Entry, now time.Time) (refused, err error) {
	changed := e.set(c)
	moved := false
	if e.Status != nil {
		from, to := c.Status, statusOf(*e.Status)
		if moved, err = lifecycle.Apply(c, card.UpdateStatus, to, now); err != nil {
			var ce *card.ConflictError
			if !errors.As(err, &ce) {
				return nil, err
			}
			return e.refusal(ce, from, to), nil
		}
	}
	if e.CloseDate != nil && c.Status != card.Canceled {
		return nil, e.invalid("closeDate", "is given only for a CLOSED card")
	}
	if err := e.check(c); err != nil {
		return nil, err
	}
	if !moved && !changed {
		return nil, nil
	}
	if !moved {
		lifecycle.Touch(c, now)
	}
	return nil, tx.Save(ctx, c, events.Updated(card.Sync, now))
}

// statusOf maps a validated status of the system of record to the card's.
func statusOf(s string) card.Status {
	if s == statusClosed {
		return card.Canceled
	}
	return card.Normal
}

// brands maps a network identifier, the first digit of the PAN, to the
// card's brand, as the "Update cards" document has it (3-MC, 4-V, 5-D,
// 6-AXP).
var brands = map[int]card.Brand{3: card.Mastercard, 4: card.Visa, 5: card.Discover, 6: card.Amex}

// set writes the entry's fields but the status into c and reports whether
// any value differs. The entry is validated: its values parse.
func (e *Entry) set(c *card.Card) (changed bool) {
	if e.IIN != nil && c.BIN != *e.IIN {
		c.BIN, changed = *e.IIN, true
	}
	if e.CardType != nil {
		if m, _ := card.ParseMode(*e.CardType); c.Mode != m {
			c.Mode, changed = m, true
		}
	}
	if e.NetworkIdentifier != nil {
		if b := brands[*e.NetworkIdentifier]; c.Brand != b {
			c.Brand, changed = b, true
		}
	}
	if e.OpenDate != nil {
		if t := lifecycle.Instant(*e.OpenDate); !c.IssuingDate.Equal(t) {
			c.IssuingDate, changed = t, true
		}
	}
	if e.CloseDate != nil {
		if t := lifecycle.Instant(*e.CloseDate); !c.CloseDate.Equal(t) {
			c.CloseDate, changed = t, true
		}
	}
	return changed
}

// check validates the card an entry made or changed, naming the entry's
// field when a rule of card.Validate breaks.
func (e *Entry) check(c *card.Card) error {
	err := c.Validate()
	var ie *card.InvalidError
	if !errors.As(err, &ie) {
		return err
	}
	if ie.Field == "close_date" && e.CloseDate == nil {
		return e.invalid("openDate", "must not be after the card's closeDate")
	}
	if ie.Field == "close_date" {
		return e.invalid("closeDate", "must not be before the card's openDate")
	}
	if f, ok := entryFields[ie.Field]; ok {
		return e.invalid(f, ie.Rule)
	}
	return e.invalid(ie.Field, ie.Rule)
}

// entryFields names the card's fields as an entry spells them.
var entryFields = map[string]string{
	"account_id": "sourceAccountId", "customer_id": "sourceCustomerId", "last_4_digits": "last4",
	"bin": "iin", "mode": "cardType", "brand": "networkIdentifier", "status": "status",
	"issuing_date": "openDate", "close_date": "closeDate",
}

// refusal is the conflict of a status change the transition table refused.
func (e *Entry) refusal(ce *card.ConflictError, from, to card.Status) error {
	out := *ce
	out.Operation = card.Sync.String()
	if from == card.Canceled && to == card.Normal {
		out.Reason = "a CLOSED card is never reopened"
	}
	out.Reason = fmt.Sprintf("cards[%d]: %s", e.Index, out.Reason)
	return &out
}

// invalid is an *card.InvalidError naming the entry's field.
func (e *Entry) invalid(field, rule string) error {
	return card.Invalid(fmt.Sprintf("cards[%d].%s", e.Index, field), rule)
}
