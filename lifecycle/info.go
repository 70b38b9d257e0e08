package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// InfoUpdate is a change of a card's information (SPEC 12, Pismo's "Update
// card information"). A nil field is left as it is.
type InfoUpdate struct {
	Name                 *string // the alias; ignored on a PLASTIC card, whose name is always PLASTIC
	PrintedName          *string
	EmbossingCustomField *string // "" clears it
	ContactlessEnabled   *bool
	TransactionLimit     *string         // a decimal string; a limit is changed, never removed
	Metadata             json.RawMessage // a JSON object that replaces the metadata
}

// Check reports the errors of u that do not depend on its card: each
// field given must pass the rule create applies to it. The alias is
// checked with the card, as a PLASTIC card ignores it.
func (u InfoUpdate) Check() error {
	if u.PrintedName != nil {
		if err := card.ValidatePrintedName(*u.PrintedName); err != nil {
			return err
		}
	}
	if u.EmbossingCustomField != nil {
		if err := card.ValidateEmbossingCustomField(*u.EmbossingCustomField); err != nil {
			return err
		}
	}
	if u.TransactionLimit != nil {
		if err := card.ValidateTransactionLimit(*u.TransactionLimit); err != nil {
			return err
		}
	}
	return card.ValidateMetadata(u.Metadata)
}

// UpdateInfo changes the card's printed name, alias, embossing custom
// field, contactless flag, transaction limit and metadata (SPEC 12) and
// emits Card updated (operation CARD_INFO_UPDATE). Each field given is
// checked as create checks it, and a VIRTUAL card's new alias must be free
// among the customer's VIRTUAL cards that are not terminated (else a
// conflict). A terminated card is a conflict. An update that changes
// nothing succeeds, writes nothing and emits nothing.
func (s *Cards) UpdateInfo(ctx context.Context, org string, id int64, u InfoUpdate) (card.Card, error) {
	if err := u.Check(); err != nil {
		return card.Card{}, err
	}
	var out card.Card
	err := s.withCard(ctx, org, id, func(ctx context.Context, tx storage.Tx, c *card.Card, now time.Time) error {
		if _, err := Apply(c, card.UpdateInfo, c.Status, now); err != nil {
			return err
		}
		next, err := u.applyTo(*c)
		if err != nil {
			return err
		}
		if sameInfo(c, &next) {
			out = *c
			return nil
		}
		if next.Type == card.Virtual && next.Name != c.Name {
			taken, err := tx.VirtualAliasTaken(ctx, next.OrgID, next.CustomerID, next.Name)
			if err != nil {
				return err
			}
			if taken {
				return &card.ConflictError{CardID: c.ID, Operation: card.UpdateInfo.String(), Status: c.Status,
					Reason: "the customer already has a VIRTUAL card named " + next.Name}
			}
		}
		Touch(&next, now)
		if err := tx.Save(ctx, &next, events.Updated(card.UpdateInfo, now)); err != nil {
			return err
		}
		out = next
		return nil
	})
	return out, err
}

// applyTo returns c with u's fields, the alias checked against c's type.
func (u InfoUpdate) applyTo(c card.Card) (card.Card, error) {
	if u.Name != nil && c.Type != card.Plastic {
		if err := card.ValidateName(*u.Name); err != nil {
			return c, err
		}
		c.Name = *u.Name
	}
	if u.PrintedName != nil {
		c.PrintedName = *u.PrintedName
	}
	if u.EmbossingCustomField != nil {
		c.EmbossingCustomField = *u.EmbossingCustomField
	}
	if u.ContactlessEnabled != nil {
		c.ContactlessEnabled = *u.ContactlessEnabled
	}
	if u.TransactionLimit != nil {
		c.TransactionLimit = *u.TransactionLimit
	}
	if u.Metadata != nil {
		c.Metadata = u.Metadata
	}
	return c, nil
}

// sameInfo reports whether a and b hold the same information.
func sameInfo(a, b *card.Card) bool {
	return a.Name == b.Name && a.PrintedName == b.PrintedName && a.EmbossingCustomField == b.EmbossingCustomField &&
		a.ContactlessEnabled == b.ContactlessEnabled && a.TransactionLimit == b.TransactionLimit &&
		bytes.Equal(a.Metadata, b.Metadata)
}
