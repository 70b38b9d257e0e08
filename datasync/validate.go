package datasync

import (
	"time"

	"github.com/cardcore/cardcore/card"
)

// validate checks what a batch says on its own, before the store is read:
// the path's ids, then each entry in order.
func (b *Batch) validate() error {
	if err := card.ValidateRef("org_id", b.OrgID); err != nil {
		return err
	}
	if err := card.ValidateRef("sourceAccountId", b.SourceAccountID); err != nil {
		return err
	}
	if err := card.ValidateRef("sourceCustomerId", b.SourceCustomerID); err != nil {
		return err
	}
	if len(b.Entries) == 0 {
		return card.Invalid("cards", "must hold at least one card")
	}
	for i := range b.Entries {
		if err := b.Entries[i].validate(b); err != nil {
			return err
		}
	}
	return nil
}

// validate checks an entry's fields, in the order the document lists them.
func (e *Entry) validate(b *Batch) error {
	switch {
	case e.SourceAccountID == "":
		return e.invalid("sourceAccountId", "is required")
	case e.SourceAccountID != b.SourceAccountID:
		return e.invalid("sourceAccountId", "must be the sourceAccountId of the path")
	case e.SourceCustomerID == "":
		return e.invalid("sourceCustomerId", "is required")
	case e.SourceCustomerID != b.SourceCustomerID:
		return e.invalid("sourceCustomerId", "must be the sourceCustomerId of the path")
	case len(e.Last4) != 4 || !digits(e.Last4):
		return e.invalid("last4", "must be 4 digits")
	case e.IIN != nil && ((len(*e.IIN) != 6 && len(*e.IIN) != 8) || !digits(*e.IIN)):
		return e.invalid("iin", "must be 6 or 8 digits")
	}
	if e.CardType != nil {
		if _, err := card.ParseMode(*e.CardType); err != nil {
			return e.invalid("cardType", "must be CREDIT, DEBIT, COMBO or MULTIPLE")
		}
	}
	closed := e.Status != nil && *e.Status == statusClosed
	switch {
	case e.Status != nil && *e.Status != statusOpen && !closed:
		return e.invalid("status", "must be OPEN or CLOSED")
	case e.NetworkIdentifier != nil && brands[*e.NetworkIdentifier].IsZero():
		return e.invalid("networkIdentifier", "must be 3 (MASTERCARD), 4 (VISA), 5 (DISCOVER) or 6 (AMEX)")
	case e.OpenDate != nil && !plausible(*e.OpenDate):
		return e.invalid("openDate", "must be a date and time between the years 1 and 9999")
	case e.CloseDate != nil && !plausible(*e.CloseDate):
		return e.invalid("closeDate", "must be a date and time between the years 1 and 9999")
	case closed && e.CloseDate == nil:
		return e.invalid("closeDate", "is required when status is CLOSED")
	case e.Status != nil && !closed && e.CloseDate != nil:
		return e.invalid("closeDate", "is given only for a CLOSED card")
	case e.OpenDate != nil && e.CloseDate != nil && e.CloseDate.Before(*e.OpenDate):
		return e.invalid("closeDate", "must not be before openDate")
	}
	return nil
}

// plausible reports whether t is a date the stores keep: not the zero
// time, within the years 1 to 9999 once in UTC.
func plausible(t time.Time) bool {
	y := t.UTC().Year()
	return !t.IsZero() && y >= 1 && y <= 9999
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
