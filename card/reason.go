package card

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Reason is a reissue reason of an org's catalogue. MustBlock decides the
// fate of a PLASTIC card being replaced: canceled at once, or kept working
// until its successor is activated. MustCharge and Cost are informational.
type Reason struct {
	ID          int64 // assigned by the store
	OrgID       string
	Description string // 1-255 characters
	Type        string // an upper-case word, e.g. BROKEN
	MustBlock   bool
	MustCharge  bool
	Cost        string // a non-negative decimal, e.g. "12.50"
	Enabled     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Limits of reason fields.
const (
	MaxReasonDescription = 255
	MaxReasonType        = 32
)

// Validate checks the reason's fields.
func (r *Reason) Validate() error {
	if err := ValidateRef("org_id", r.OrgID); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(r.Description); n < 1 || n > MaxReasonDescription || !printable(r.Description) {
		return Invalid("description", fmt.Sprintf("must be 1-%d printable characters", MaxReasonDescription))
	}
	if !upperWord(r.Type) {
		return Invalid("type", fmt.Sprintf("must be an upper-case word of 1-%d letters, digits or underscores, starting with a letter", MaxReasonType))
	}
	if !decimal(r.Cost) {
		return Invalid("cost", "must be a non-negative decimal number")
	}
	return nil
}

func upperWord(s string) bool {
	if s == "" || len(s) > MaxReasonType || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if (b < 'A' || b > 'Z') && (b < '0' || b > '9') && b != '_' {
			return false
		}
	}
	return true
}
