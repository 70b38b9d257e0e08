package lifecycle

import (
	"context"
	"time"

	"github.com/cardcore/cardcore/card"
)

// Numbering is the PAN data an issuer gives an UNNUMBERED card (SPEC 12):
// never the clear PAN, only what cardcore keeps of one.
type Numbering struct {
	Last4   string     // required: the PAN's last four digits
	PANHash string     // required: the issuer's hash of the PAN (card.ValidatePANHash)
	BIN     string     // optional: 6 or 8 digits
	Brand   card.Brand // optional: else the brand asked for when the card was made, else the program's
}

// Check reports the errors of n: missing or malformed last four digits or
// hash, a malformed BIN.
func (n Numbering) Check() error {
	if n.Last4 == "" {
		return card.Invalid("last_4_digits", "is required")
	}
	if err := card.ValidateLast4(n.Last4); err != nil {
		return err
	}
	if n.PANHash == "" {
		return card.Invalid("pan_hash", "is required")
	}
	if err := card.ValidatePANHash(n.PANHash); err != nil {
		return err
	}
	if n.BIN != "" {
		return card.ValidateBIN(n.BIN)
	}
	return nil
}

// Number gives an UNNUMBERED card the PAN data its issuer made (SPEC 12)
// and emits Card updated (operation PAN_UPDATE): a named card becomes
// CREATED (a PLASTIC card, activated later), a noname card UNBOUND. Any
// other status is a conflict.
func (s *Cards) Number(ctx context.Context, org string, id int64, n Numbering) (card.Card, error) {
	if err := n.Check(); err != nil {
		return card.Card{}, err
	}
	return s.change(ctx, org, id, func(c *card.Card, now time.Time) (card.Operation, error) {
		to := card.Created
		if c.Noname() {
			to = card.Unbound
		}
		if _, err := Apply(c, card.Number, to, now); err != nil {
			return card.Operation{}, err
		}
		c.Last4, c.PANHash = n.Last4, n.PANHash
		if n.BIN != "" {
			c.BIN = n.BIN
		}
		switch {
		case !n.Brand.IsZero():
			c.Brand = n.Brand
		case c.Brand.IsZero():
			c.Brand = s.programOf(c).Brand
		}
		return card.Number, nil
	})
}
