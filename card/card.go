package card

import (
	"encoding/json"
	"time"
)

// Card is a payment card as the library keeps it. The clear PAN is not a
// field: only its BIN, last four digits and a keyed hash are kept.
//
// A Card is a value: the use cases load it, decide, and save a new value.
// Time fields are UTC; the zero time means "not set".
type Card struct {
	ID        int64  // assigned by the store, never reused
	Token     string // UUID, the public id of APIs that use UUIDs
	OrgID     string // tenant; every lookup is scoped by it
	ProgramID int64

	AccountID  string // empty only while a noname card has not been bound
	CustomerID string

	Type           Type
	Mode           Mode
	Status         Status
	PreviousStatus Status

	Name        string // alias; always "PLASTIC" for PLASTIC cards
	PrintedName string // EMV tag 5F20

	Brand   Brand
	BIN     string
	Last4   string
	PANHash string

	IssuingDate    time.Time
	ExpirationDate time.Time // the first instant of the expiration month (yymm)
	ActivationDate time.Time

	ValidityPeriodHours int       // 0: no validity period
	ValidUntil          time.Time // zero when there is no validity period

	TrackNumber    int   // 1 for a first card, predecessor's + 1 after reissue
	ReissuedCardID int64 // the predecessor, 0 for none

	BulkID     string // noname cards only
	ExternalID string

	// Synced marks a record kept by an external system of record and
	// written by card data sync (SPEC section 8), found by its account,
	// customer and last four digits.
	Synced    bool
	CloseDate time.Time // when the system of record closed the card; synced cards only

	Metadata                 json.RawMessage `json:",omitempty"` // a JSON object or nil
	EmbossingCustomField     string
	EmbossingGroup           string
	PINLength                int // 4 or 6
	ContactlessEnabled       bool
	TransactionLimit         string // a decimal string, "" for none
	TemplateID               string
	CVVRotationIntervalHours *int // required for VIRTUAL; 0 = never rotate

	// PasswordTries counts the wrong PINs since the last reset (SPEC 12):
	// never below 0, raised by lifecycle.Cards.IncreasePINTries and set to
	// 0 by ResetPINTries. A successor starts at 0.
	PasswordTries int

	Version   int64 // 1 on creation, +1 on every change
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PlasticName is the alias every PLASTIC card carries, whatever is passed.
const PlasticName = "PLASTIC"

// Noname reports whether the card was made by a noname bulk.
func (c *Card) Noname() bool { return c.BulkID != "" }

// ExpiresAt is the instant the card expires: the first instant after its
// expiration month. Zero when the card has no expiration date.
func (c *Card) ExpiresAt() time.Time {
	if c.ExpirationDate.IsZero() {
		return time.Time{}
	}
	return c.ExpirationDate.AddDate(0, 1, 0)
}

// ValidityApplies reports whether a validity period is allowed for the type.
func ValidityApplies(t Type) bool { return t == Virtual || t == Plastic }
