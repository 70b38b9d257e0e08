package card

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Field limits of SPEC section 1.
const (
	MaxRefLength            = 64   // account_id, customer_id
	MaxNameLength           = 50   // alias
	MinPrintedNameLength    = 2    //
	MaxPrintedNameLength    = 26   // EMV tag 5F20
	MaxMetadataBytes        = 3200 // encoded JSON
	MaxEmbossingCustomField = 1000
	MinEmbossingGroup       = 2
	MaxEmbossingGroup       = 32
	MaxExternalIDLength     = 255
	MaxTemplateIDLength     = 64
	MaxTransactionLimit     = 32 // characters of the decimal string
	MaxCVVRotationHours     = 4320
	MinPANHashLength        = 16 // an issuer's PAN hash, as characters
	MaxPANHashLength        = 128
)

// Validate checks every field rule of the card and returns the first broken
// one as an *InvalidError naming the field.
func (c *Card) Validate() error {
	if c.OrgID == "" || len(c.OrgID) > MaxRefLength || !printable(c.OrgID) {
		return Invalid("org_id", fmt.Sprintf("must be 1-%d printable characters", MaxRefLength))
	}
	if c.ProgramID <= 0 {
		return Invalid("program_id", "must be a positive integer")
	}
	if c.Token != "" {
		if _, err := uuid.Parse(c.Token); err != nil {
			return Invalid("token", "must be a UUID")
		}
	}
	if err := c.validateOwner(); err != nil {
		return err
	}
	if c.Type.IsZero() {
		return Invalid("type", "is required: PLASTIC, VIRTUAL, TEMPORARY or RECURRING")
	}
	if c.Mode.IsZero() {
		return Invalid("mode", "is required: CREDIT, DEBIT, COMBO or MULTIPLE")
	}
	if c.Status.IsZero() {
		return Invalid("status", "is required")
	}
	if c.Type == Plastic && c.Name != PlasticName {
		return Invalid("name", `is always "PLASTIC" for a PLASTIC card`)
	}
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if c.PrintedName == "" && c.Status == Unnumbered {
		return Invalid("printed_name", "is required for an UNNUMBERED card")
	}
	if c.PrintedName != "" {
		if err := ValidatePrintedName(c.PrintedName); err != nil {
			return err
		}
	}
	if c.PasswordTries < 0 {
		return Invalid("password_tries", "must not be negative")
	}
	if err := c.validateDates(); err != nil {
		return err
	}
	if c.TrackNumber < 1 {
		return Invalid("track_number", "must be at least 1")
	}
	if c.ReissuedCardID < 0 {
		return Invalid("reissued_card_id", "must be a card id")
	}
	if err := ValidateMetadata(c.Metadata); err != nil {
		return err
	}
	return c.validateOptions()
}

func (c *Card) validateOwner() error {
	if c.BulkID != "" || c.ExternalID != "" {
		if c.BulkID == "" || len(c.BulkID) > MaxRefLength || !printable(c.BulkID) {
			return Invalid("bulk_id", fmt.Sprintf("must be 1-%d printable characters on a noname card", MaxRefLength))
		}
		if err := ValidateExternalID(c.ExternalID); err != nil {
			return err
		}
	}
	if (c.AccountID == "") != (c.CustomerID == "") {
		if c.AccountID == "" {
			return Invalid("account_id", "is required with customer_id")
		}
		return Invalid("customer_id", "is required with account_id")
	}
	if c.AccountID == "" {
		if c.BulkID == "" {
			return Invalid("account_id", "is required; only a noname card may have none")
		}
		if c.Status != Unbound && c.Status != Unnumbered && !c.Status.Terminated() {
			return Invalid("account_id", "is required once a noname card is bound")
		}
		return nil
	}
	if err := ValidateRef("account_id", c.AccountID); err != nil {
		return err
	}
	return ValidateRef("customer_id", c.CustomerID)
}

func (c *Card) validateDates() error {
	if c.IssuingDate.IsZero() {
		return Invalid("issuing_date", "is required")
	}
	exp := c.ExpiresAt()
	if !exp.IsZero() && !exp.After(c.IssuingDate) {
		return Invalid("expiration_date", "must be after the issuing date")
	}
	if c.ValidityPeriodHours < 0 {
		return Invalid("validity_period_hours", "must be a positive number of hours")
	}
	if c.ValidityPeriodHours > 0 && !ValidityApplies(c.Type) {
		return Invalid("validity_period_hours", "applies only to VIRTUAL and PLASTIC cards")
	}
	if (c.ValidityPeriodHours > 0) != !c.ValidUntil.IsZero() {
		return Invalid("valid_until", "is set exactly when a validity period is")
	}
	if !c.ValidUntil.IsZero() && !exp.IsZero() && c.ValidUntil.After(exp) {
		return Invalid("validity_period_hours", "valid_until may not pass the expiration date")
	}
	if !c.CloseDate.IsZero() {
		if !c.Synced {
			return Invalid("close_date", "is kept for synced cards only")
		}
		if c.CloseDate.Before(c.IssuingDate) {
			return Invalid("close_date", "must not be before the issuing date")
		}
	}
	return nil
}

func (c *Card) validateOptions() error {
	if err := ValidateEmbossingCustomField(c.EmbossingCustomField); err != nil {
		return err
	}
	if c.EmbossingGroup != "" {
		n := utf8.RuneCountInString(c.EmbossingGroup)
		if n < MinEmbossingGroup || n > MaxEmbossingGroup || !printable(c.EmbossingGroup) {
			return Invalid("embossing_group", fmt.Sprintf("must be %d-%d printable characters", MinEmbossingGroup, MaxEmbossingGroup))
		}
	}
	if c.PINLength != 4 && c.PINLength != 6 {
		return Invalid("pin_length", "must be 4 or 6")
	}
	if c.TransactionLimit != "" {
		if err := ValidateTransactionLimit(c.TransactionLimit); err != nil {
			return err
		}
	}
	if err := ValidateTemplateID(c.TemplateID); err != nil {
		return err
	}
	if c.Type == Virtual && c.CVVRotationIntervalHours == nil {
		return Invalid("cvv_rotation_interval_hours", "is required for a VIRTUAL card (0 = never rotate)")
	}
	if h := c.CVVRotationIntervalHours; h != nil {
		if err := ValidateCVVRotation(*h); err != nil {
			return err
		}
	}
	if c.Synced && c.Last4 == "" {
		return Invalid("last_4_digits", "is required on a synced card, which is found by it")
	}
	if c.Last4 != "" {
		if err := ValidateLast4(c.Last4); err != nil {
			return err
		}
	}
	if c.BIN != "" {
		if err := ValidateBIN(c.BIN); err != nil {
			return err
		}
	}
	return nil
}

// ValidateUnnumbered checks that a new card of type t may start
// UNNUMBERED: only a PLASTIC card, since a numbered card becomes CREATED,
// which only the activation of a PLASTIC card makes NORMAL.
func ValidateUnnumbered(t Type) error {
	if t != Plastic {
		return Invalid("status", "UNNUMBERED applies to PLASTIC cards only: a numbered card is CREATED, which only activation, of PLASTIC cards, makes NORMAL")
	}
	return nil
}

// ValidateCVVRotation checks cvv_rotation_interval_hours: 0 (never
// rotate) or 1-4320 hours, Pismo's bounds.
func ValidateCVVRotation(h int) error {
	if h < 0 || h > MaxCVVRotationHours {
		return Invalid("cvv_rotation_interval_hours", fmt.Sprintf("must be 0 (never rotate) or 1-%d hours", MaxCVVRotationHours))
	}
	return nil
}

// ValidateTemplateID checks a template id: at most 64 printable characters.
func ValidateTemplateID(s string) error {
	if len(s) > MaxTemplateIDLength || !printable(s) {
		return Invalid("template_id", fmt.Sprintf("must be at most %d printable characters", MaxTemplateIDLength))
	}
	return nil
}

// ValidateTransactionLimit checks a transaction limit: a non-negative
// decimal string such as "1500.00", at most 32 characters.
func ValidateTransactionLimit(s string) error {
	if !decimal(s) {
		return Invalid("transaction_limit", "must be a non-negative decimal string such as \"1500.00\"")
	}
	return nil
}

// ValidateEmbossingCustomField checks the embosser's free field: at most
// 1000 characters of UTF-8, no NUL.
func ValidateEmbossingCustomField(s string) error {
	if utf8.RuneCountInString(s) > MaxEmbossingCustomField || !utf8.ValidString(s) || hasNUL(s) {
		return Invalid("embossing_custom_field", fmt.Sprintf("must be at most %d characters", MaxEmbossingCustomField))
	}
	return nil
}

// ValidateLast4 checks the last four digits of a PAN.
func ValidateLast4(s string) error {
	if len(s) != 4 || !digits(s) {
		return Invalid("last_4_digits", "must be 4 digits")
	}
	return nil
}

// ValidateBIN checks a BIN: 6 or 8 digits.
func ValidateBIN(s string) error {
	if !digits(s) || (len(s) != 6 && len(s) != 8) {
		return Invalid("bin", "must be 6 or 8 digits")
	}
	return nil
}

// ValidatePANHash checks the hash of a PAN an issuer gives when it numbers
// a card: 16-128 characters of hex, base64 or base64url (letters, digits,
// '+', '/', '=', '-', '_', ':'), and not digits alone, which would be a
// clear PAN, never stored.
func ValidatePANHash(s string) error {
	if len(s) < MinPANHashLength || len(s) > MaxPANHashLength {
		return Invalid("pan_hash", fmt.Sprintf("must be %d-%d characters", MinPANHashLength, MaxPANHashLength))
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if (b < '0' || b > '9') && (b < 'A' || b > 'Z') && (b < 'a' || b > 'z') && !strings.ContainsRune("+/=-_:", rune(b)) {
			return Invalid("pan_hash", "must hold hex, base64 or base64url characters only")
		}
	}
	if digits(s) {
		return Invalid("pan_hash", "must be a hash of the PAN, never digits alone: the clear PAN is never taken")
	}
	return nil
}

// ValidateRef checks an opaque account or customer id: 1-64 printable
// characters.
func ValidateRef(field, s string) error {
	if s == "" || len(s) > MaxRefLength || !printable(s) {
		return Invalid(field, fmt.Sprintf("must be 1-%d printable characters", MaxRefLength))
	}
	return nil
}

// ValidateName checks a card alias: 1-50 characters, valid UTF-8, no control
// characters.
func ValidateName(s string) error {
	n := utf8.RuneCountInString(s)
	if n < 1 || n > MaxNameLength || !printable(s) {
		return Invalid("name", fmt.Sprintf("must be 1-%d printable characters", MaxNameLength))
	}
	return nil
}

// ValidatePrintedName checks the name embossed on a card (EMV tag 5F20):
// 2-26 characters, ASCII letters and spaces only.
func ValidatePrintedName(s string) error {
	if len(s) < MinPrintedNameLength || len(s) > MaxPrintedNameLength {
		return Invalid("printed_name", fmt.Sprintf("must be %d-%d characters", MinPrintedNameLength, MaxPrintedNameLength))
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b != ' ' && (b < 'A' || b > 'Z') && (b < 'a' || b > 'z') {
			return Invalid("printed_name", "must hold ASCII letters and spaces only")
		}
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return Invalid("printed_name", "must not begin or end with a space")
	}
	return nil
}

// ValidateMetadata checks card metadata: nil, or a JSON object of at most
// 3200 bytes as encoded.
func ValidateMetadata(m json.RawMessage) error {
	if m == nil {
		return nil
	}
	if len(m) > MaxMetadataBytes {
		return Invalid("metadata", fmt.Sprintf("must be at most %d bytes of JSON", MaxMetadataBytes))
	}
	t := bytes.TrimLeft(m, " \t\r\n")
	if len(t) == 0 || t[0] != '{' || !json.Valid(m) {
		return Invalid("metadata", "must be a JSON object")
	}
	if !utf8.Valid(m) {
		return Invalid("metadata", "must be UTF-8, as JSON is (RFC 8259)")
	}
	if bytes.Contains(m, []byte(`\u0000`)) {
		return Invalid("metadata", "must not contain NUL characters")
	}
	return nil
}

// ValidateExternalID checks a noname card's external id: 1-255 printable
// characters.
func ValidateExternalID(s string) error {
	if s == "" || utf8.RuneCountInString(s) > MaxExternalIDLength || !printable(s) {
		return Invalid("external_id", fmt.Sprintf("must be 1-%d printable characters", MaxExternalIDLength))
	}
	return nil
}

// ParseExpiration parses a yymm expiration date ("2803" is March 2028) into
// the first instant of that month, UTC.
func ParseExpiration(yymm string) (time.Time, error) {
	if len(yymm) != 4 || !digits(yymm) {
		return time.Time{}, Invalid("expiration_date", "must be yymm, e.g. 2803")
	}
	y := 2000 + int(yymm[0]-'0')*10 + int(yymm[1]-'0')
	m := int(yymm[2]-'0')*10 + int(yymm[3]-'0')
	if m < 1 || m > 12 {
		return time.Time{}, Invalid("expiration_date", "month must be 01-12")
	}
	return time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC), nil
}

// FormatExpiration renders an expiration month as yymm; "" for zero.
func FormatExpiration(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("0601")
}

// MonthOf returns the first instant of t's month, UTC.
func MonthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

func decimal(s string) bool {
	if len(s) > MaxTransactionLimit {
		return false
	}
	dot := false
	n := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] >= '0' && s[i] <= '9':
			n++
		case s[i] == '.' && !dot && n > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return n > 0
}
