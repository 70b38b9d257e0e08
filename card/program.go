package card

import (
	"fmt"
	"strconv"
	"time"
)

// Program is issuer configuration shared by the cards made under it.
type Program struct {
	ID                  int64
	BIN                 string // 6 or 8 digits
	Brand               Brand
	ExpirationMonths    int  // months from issuing to expiration; 0 means DefaultExpirationMonths
	PlasticStartsNormal bool // PLASTIC cards start NORMAL instead of CREATED
	BulkSizeLimit       int  // external ids per bulk request; 0 means DefaultBulkSizeLimit
	// MaxPINTries is the count of wrong PINs at which a card is blocked
	// (SPEC 12); 0 means DefaultMaxPINTries.
	MaxPINTries int
	// PINTriesKeepStatus leaves a card as it is when its count of wrong
	// PINs reaches MaxPINTries: the count goes on, the card is not
	// BLOCKED (Pismo's block_card_exceeds_counter = false). The default,
	// false, blocks.
	PINTriesKeepStatus bool
}

// Defaults of a program's settings.
const (
	DefaultExpirationMonths = 72
	DefaultBulkSizeLimit    = 1000
	DefaultProgramID        = 1
	DefaultMaxPINTries      = 3
	MaxMaxPINTries          = 99 // the largest MaxPINTries a program may set
)

// DefaultProgram is program 1, which always exists.
var DefaultProgram = Program{ID: DefaultProgramID, BIN: "999999", Brand: Private}

// Validate checks the program's settings.
func (p Program) Validate() error {
	switch {
	case p.ID <= 0:
		return Invalid("program_id", "must be a positive integer")
	case !digits(p.BIN) || (len(p.BIN) != 6 && len(p.BIN) != 8):
		return Invalid("bin", "must be 6 or 8 digits")
	case p.Brand.IsZero():
		return Invalid("brand", "is required")
	case p.ExpirationMonths < 0 || p.ExpirationMonths > 240:
		return Invalid("expiration_months", "must be between 1 and 240 (0 for the default of 72)")
	case p.BulkSizeLimit < 0:
		return Invalid("bulk_size_limit", "must not be negative")
	case p.MaxPINTries < 0 || p.MaxPINTries > MaxMaxPINTries:
		return Invalid("max_pin_tries", fmt.Sprintf("must be between 1 and %d (0 for the default of %d)", MaxMaxPINTries, DefaultMaxPINTries))
	}
	return nil
}

// PINTriesLimit returns the count of wrong PINs that blocks a card,
// defaulted.
func (p Program) PINTriesLimit() int {
	if p.MaxPINTries == 0 {
		return DefaultMaxPINTries
	}
	return p.MaxPINTries
}

// BlocksOnPINTries reports whether a card whose count of wrong PINs
// reaches PINTriesLimit is blocked (the default).
func (p Program) BlocksOnPINTries() bool { return !p.PINTriesKeepStatus }

// Months returns the expiration months, defaulted.
func (p Program) Months() int {
	if p.ExpirationMonths == 0 {
		return DefaultExpirationMonths
	}
	return p.ExpirationMonths
}

// BulkLimit returns the bulk size limit, defaulted.
func (p Program) BulkLimit() int {
	if p.BulkSizeLimit == 0 {
		return DefaultBulkSizeLimit
	}
	return p.BulkSizeLimit
}

// InitialStatus is the status a new named card of type t starts in.
// Noname cards start UNBOUND and issuer-numbered cards UNNUMBERED; the use
// cases that make those set it themselves.
func (p Program) InitialStatus(t Type) Status {
	if t == Plastic && !p.PlasticStartsNormal {
		return Created
	}
	return Normal
}

// Programs is the program catalogue, keyed by id. It is configuration, read
// only after construction.
type Programs map[int64]Program

// NewPrograms validates ps and returns the catalogue, with DefaultProgram
// added when no program 1 is given.
func NewPrograms(ps ...Program) (Programs, error) {
	out := Programs{DefaultProgramID: DefaultProgram}
	for _, p := range ps {
		if err := p.Validate(); err != nil {
			return nil, err
		}
		out[p.ID] = p
	}
	return out, nil
}

// Lookup returns program id, or a not found error naming it.
func (ps Programs) Lookup(id int64) (Program, error) {
	p, ok := ps[id]
	if !ok {
		return Program{}, NotFound("program", strconv.FormatInt(id, 10))
	}
	return p, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// NewCard is the one constructor of a new card: a card of type t under
// the program, made at now for org. It has the program's initial status
// for t, Mode CREDIT, issuing date now, an expiration at the program's
// months from now's month, track number 1, PIN length 4, contactless on,
// version 1, and PLASTIC cards the name PLASTIC. The use case then sets the
// owner and the options, a status of its own where it has one (UNBOUND for
// noname cards, PENDING for sandbox issuance), and validates the card.
func (p Program) NewCard(org string, t Type, now time.Time) Card {
	c := Card{
		OrgID: org, ProgramID: p.ID, Type: t, Mode: Credit, Status: p.InitialStatus(t),
		IssuingDate: now, ExpirationDate: MonthOf(now).AddDate(0, p.Months(), 0),
		TrackNumber: 1, PINLength: 4, ContactlessEnabled: true,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if t == Plastic {
		c.Name = PlasticName
	}
	return c
}
