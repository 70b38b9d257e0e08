package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// Cards runs the lifecycle use cases: create, get, list, update status,
// activate, renew validity and the sweep. Every change goes through Apply
// and the store's Save inside one store transaction, so it commits with its events
// or not at all. Cards is safe for concurrent use.
type Cards struct {
	store      storage.Store
	programs   card.Programs
	now        func() time.Time
	sweepBatch int
}

// Option configures Cards.
type Option func(*Cards)

// WithClock sets the clock the use cases read (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *Cards) { c.now = now } }

// WithSweepBatch sets how many cards one sweep transaction changes (default 500).
func WithSweepBatch(n int) Option { return func(c *Cards) { c.sweepBatch = n } }

// NewCards returns the use cases over store with the program catalogue.
func NewCards(store storage.Store, programs card.Programs, opts ...Option) (*Cards, error) {
	if store == nil {
		return nil, errors.New("lifecycle: NewCards needs a store")
	}
	if programs == nil {
		programs, _ = card.NewPrograms()
	}
	c := &Cards{store: store, programs: programs, now: time.Now, sweepBatch: 500}
	for _, o := range opts {
		o(c)
	}
	if c.sweepBatch <= 0 {
		return nil, errors.New("lifecycle: sweep batch must be positive")
	}
	return c, nil
}

// Now returns the current time of the use cases' clock, as Instant does.
func (s *Cards) Now() time.Time { return Instant(s.now()) }

// Instant is t as the use cases record it: UTC, to the microsecond the
// stores keep.
func Instant(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Programs returns the program catalogue the use cases were given.
func (s *Cards) Programs() card.Programs { return s.programs }

// CreateRequest is a request for a new named card. Zero values take the
// defaults shown.
type CreateRequest struct {
	OrgID      string
	AccountID  string
	CustomerID string
	ProgramID  int64 // default: program 1

	Type card.Type // required
	// Status zero is the type's initial status; UNNUMBERED makes an
	// issuer-numbered card (PLASTIC, printed name required). Omitted from
	// the request's idempotency fingerprint when zero, so a key kept by an
	// earlier version still replays.
	Status      card.Status `json:",omitzero"`
	Mode        card.Mode   // default CREDIT
	Name        string      // alias, required but for PLASTIC (always "PLASTIC")
	PrintedName string

	ExpirationDate      string // yymm; default: issuing month + the program's months
	ValidityPeriodHours int    // VIRTUAL and PLASTIC only

	Metadata                 json.RawMessage
	EmbossingCustomField     string
	EmbossingGroup           string
	PINLength                int   // default 4
	ContactlessEnabled       *bool // default true
	TransactionLimit         string
	TemplateID               string
	CVVRotationIntervalHours *int // required for VIRTUAL

	// IdempotencyKey, when set, makes the request replayable: the same key
	// for the same org and account returns the first result and writes
	// nothing; with a different request it is a conflict.
	IdempotencyKey string
}

// Create makes a new card and emits Card created.
func (s *Cards) Create(ctx context.Context, req CreateRequest) (card.Card, error) {
	now := s.Now()
	c, invalid := s.newCard(req, now)
	once, err := storage.NewIdempotent(req.OrgID, "create_card:account="+req.AccountID, req.IdempotencyKey, req)
	if invalid != nil && (!once.Keyed() || err != nil) {
		return card.Card{}, invalid
	}
	if err != nil {
		return card.Card{}, err
	}
	ctx = events.EnsureCorrelationID(ctx)
	var out card.Card
	err = s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		// Save gives the card its id, and the store may run this function
		// again (a PostgreSQL serialization failure): each run saves a copy
		// of the request's card.
		c := c
		if once.Keyed() {
			var first card.Card
			replayed, err := once.Replay(ctx, tx, &first)
			if err == nil && replayed {
				out = first
				return nil
			}
			// A replay answers with the first result even when time has
			// since made the same request invalid (its expiration month is
			// over); any other request under the key is checked first, as
			// 400 comes before 409.
			if invalid != nil {
				return invalid
			}
			if err != nil {
				return err
			}
		}
		if c.Type == card.Virtual {
			taken, err := tx.VirtualAliasTaken(ctx, c.OrgID, c.CustomerID, c.Name)
			if err != nil {
				return err
			}
			if taken {
				return &card.ConflictError{Operation: card.Create.String(), Reason: "the customer already has a VIRTUAL card named " + c.Name}
			}
		}
		if err := tx.Save(ctx, &c, events.Created(card.Create, now)); err != nil {
			return err
		}
		out = c
		return once.Remember(ctx, tx, c)
	})
	if err != nil {
		return card.Card{}, err
	}
	return out, nil
}

func (s *Cards) newCard(req CreateRequest, now time.Time) (card.Card, error) {
	if req.ProgramID == 0 {
		req.ProgramID = card.DefaultProgramID
	}
	p, err := s.programs.Lookup(req.ProgramID)
	if err != nil {
		return card.Card{}, card.Invalid("program_id", "names no configured program")
	}
	if req.Type.IsZero() {
		return card.Card{}, card.Invalid("type", "is required: PLASTIC, VIRTUAL, TEMPORARY or RECURRING")
	}
	c := p.NewCard(req.OrgID, req.Type, now)
	c.AccountID, c.CustomerID = req.AccountID, req.CustomerID
	switch req.Status {
	case card.Status{}:
	case card.Unnumbered:
		if err := card.ValidateUnnumbered(req.Type); err != nil {
			return card.Card{}, err
		}
		c.Status = card.Unnumbered
	default:
		return card.Card{}, card.Invalid("status", "may only be UNNUMBERED (an issuer-numbered card); a new card otherwise starts in its type's status")
	}
	if !req.Mode.IsZero() {
		c.Mode = req.Mode
	}
	if req.Type != card.Plastic {
		c.Name = req.Name
	}
	if req.PINLength != 0 {
		c.PINLength = req.PINLength
	}
	if req.ContactlessEnabled != nil {
		c.ContactlessEnabled = *req.ContactlessEnabled
	}
	c.PrintedName, c.Metadata = req.PrintedName, req.Metadata
	c.EmbossingCustomField, c.EmbossingGroup = req.EmbossingCustomField, req.EmbossingGroup
	c.TransactionLimit, c.TemplateID = req.TransactionLimit, req.TemplateID
	c.CVVRotationIntervalHours = req.CVVRotationIntervalHours
	if req.AccountID == "" {
		return card.Card{}, card.Invalid("account_id", "is required")
	}
	if req.ExpirationDate != "" {
		if c.ExpirationDate, err = card.ParseExpiration(req.ExpirationDate); err != nil {
			return card.Card{}, err
		}
	}
	if req.ValidityPeriodHours != 0 {
		if !card.ValidityApplies(req.Type) {
			return card.Card{}, card.Invalid("validity_period_hours", "applies only to VIRTUAL and PLASTIC cards")
		}
		if req.ValidityPeriodHours < 0 || req.ValidityPeriodHours > 24*366*20 {
			return card.Card{}, card.Invalid("validity_period_hours", "must be a positive number of hours")
		}
		c.ValidityPeriodHours = req.ValidityPeriodHours
		c.ValidUntil = now.Add(time.Duration(req.ValidityPeriodHours) * time.Hour)
	}
	return c, c.Validate()
}

// Get returns card id of org.
func (s *Cards) Get(ctx context.Context, org string, id int64) (card.Card, error) {
	return s.store.Card(ctx, org, id)
}

// ListByAccount returns the account's cards by ascending id, a page at a time.
func (s *Cards) ListByAccount(ctx context.Context, org, account string, page storage.Page) ([]card.Card, error) {
	if page.Limit <= 0 || page.Limit > 1000 {
		return nil, card.Invalid("limit", "must be 1-1000")
	}
	return s.store.CardsByAccount(ctx, org, account, page)
}

// UpdateStatus sets the card's status by hand, as the transition table
// allows, and emits Card updated. Setting the status the card already has
// succeeds and writes nothing.
func (s *Cards) UpdateStatus(ctx context.Context, org string, id int64, to card.Status) (card.Card, error) {
	if to.IsZero() {
		return card.Card{}, card.Invalid("status", "is required")
	}
	return s.change(ctx, org, id, func(c *card.Card, now time.Time) (card.Operation, error) {
		changed, err := Apply(c, card.UpdateStatus, to, now)
		if !changed {
			return card.Operation{}, err
		}
		return card.UpdateStatus, nil
	})
}

// Activate makes a CREATED PLASTIC card NORMAL. When the card replaced a
// predecessor that is not terminated, the predecessor becomes CANCELED in
// the same transaction, each with its Card updated.
func (s *Cards) Activate(ctx context.Context, org string, id int64) (card.Card, error) {
	var out card.Card
	err := s.withCard(ctx, org, id, func(ctx context.Context, tx storage.Tx, c *card.Card, now time.Time) error {
		if c.Type != card.Plastic {
			return &card.ConflictError{CardID: c.ID, Operation: card.Activate.String(), Status: c.Status,
				Reason: "only PLASTIC cards are activated"}
		}
		if _, err := Apply(c, card.Activate, card.Normal, now); err != nil {
			return err
		}
		c.ActivationDate = now
		if err := tx.Save(ctx, c, events.Updated(card.Activate, now)); err != nil {
			return err
		}
		out = *c
		if c.ReissuedCardID == 0 {
			return nil
		}
		return CancelPredecessor(ctx, tx, org, c.ReissuedCardID, now)
	})
	return out, err
}

// CancelPredecessor cancels card id, whose successor was just activated,
// unless it is already terminated.
func CancelPredecessor(ctx context.Context, tx storage.Tx, org string, id int64, now time.Time) error {
	old, err := tx.Card(ctx, org, id)
	if err != nil {
		return err
	}
	if old.Status.Terminated() {
		return nil
	}
	if _, err := Apply(&old, card.SuccessorActivated, card.Canceled, now); err != nil {
		return err
	}
	return tx.Save(ctx, &old, events.Updated(card.SuccessorActivated, now))
}

// RenewValidity starts the card's validity period again from now. An
// INOPERATIVE card becomes NORMAL; other cards keep their status. The new
// valid_until never passes the expiration date: it stops there.
func (s *Cards) RenewValidity(ctx context.Context, org string, id int64) (card.Card, error) {
	return s.change(ctx, org, id, func(c *card.Card, now time.Time) (card.Operation, error) {
		if c.ValidityPeriodHours == 0 {
			return card.Operation{}, &card.ConflictError{CardID: c.ID, Operation: card.RenewValidity.String(), Status: c.Status,
				Reason: "the card has no validity period"}
		}
		if c.Status.Terminated() {
			return card.Operation{}, &card.ConflictError{CardID: c.ID, Operation: card.RenewValidity.String(), Status: c.Status,
				Reason: "a terminated card is not renewed"}
		}
		if exp := c.ExpiresAt(); !exp.IsZero() && !now.Before(exp) {
			return card.Operation{}, &card.ConflictError{CardID: c.ID, Operation: card.RenewValidity.String(), Status: c.Status,
				Reason: "the card's expiration date has passed"}
		}
		if c.Status == card.Inoperative {
			if _, err := Apply(c, card.RenewValidity, card.Normal, now); err != nil {
				return card.Operation{}, err
			}
		} else {
			Touch(c, now)
		}
		c.ValidUntil = now.Add(time.Duration(c.ValidityPeriodHours) * time.Hour)
		if exp := c.ExpiresAt(); !exp.IsZero() && c.ValidUntil.After(exp) {
			c.ValidUntil = exp
		}
		return card.RenewValidity, nil
	})
}

// change loads card id for change, lets decide change it, and saves it
// with a Card updated of the operation decide returns; the zero Operation
// means no change.
func (s *Cards) change(ctx context.Context, org string, id int64, decide func(c *card.Card, now time.Time) (card.Operation, error)) (card.Card, error) {
	var out card.Card
	err := s.withCard(ctx, org, id, func(ctx context.Context, tx storage.Tx, c *card.Card, now time.Time) error {
		op, err := decide(c, now)
		if err != nil {
			return err
		}
		out = *c
		if op.IsZero() {
			return nil
		}
		return tx.Save(ctx, c, events.Updated(op, now))
	})
	return out, err
}

// withCard runs f on card id of org, read in a store transaction, at the
// clock's now.
func (s *Cards) withCard(ctx context.Context, org string, id int64, f func(ctx context.Context, tx storage.Tx, c *card.Card, now time.Time) error) error {
	ctx = events.EnsureCorrelationID(ctx)
	return s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		now := s.Now()
		c, err := tx.Card(ctx, org, id)
		if err != nil {
			return err
		}
		return f(ctx, tx, &c, now)
	})
}

// SweepResult counts what a sweep changed.
type SweepResult struct {
	Expired     int // cards whose expiration month ended -> EXPIRED
	Inoperative int // cards whose validity period elapsed -> INOPERATIVE
}

// SweepOption narrows what Sweep covers.
type SweepOption func(*sweepScope)

// sweepScope is what a sweep covers: the cards of org, or of every org
// when org is "".
type sweepScope struct {
	org    string
	orgSet bool
}

// OnlyOrg limits a sweep to the cards of org, leaving the other orgs
// sharing the database untouched (the demo sweeps its own org only). A
// sweep without it covers every org, as a scheduled sweep should; an empty
// org is invalid input, never every org.
func OnlyOrg(org string) SweepOption {
	return func(sc *sweepScope) { sc.org, sc.orgSet = org, true }
}

// Sweep applies the system transitions due at the clock's now to the cards
// of every org (of one org with OnlyOrg): expiration passed -> EXPIRED
// (first, as it is final), then validity elapsed -> INOPERATIVE. It works
// in transactions of the sweep batch size, reading due cards through the
// store's indexes, and emits Card updated for each card. Run it on a
// schedule; concurrent sweeps on PostgreSQL skip each other's locked cards.
// The result counts the committed changes: on an error, those of the
// batches committed before it, which stay.
func (s *Cards) Sweep(ctx context.Context, opts ...SweepOption) (SweepResult, error) {
	var res SweepResult
	var scope sweepScope
	for _, o := range opts {
		o(&scope)
	}
	if scope.orgSet {
		if err := card.ValidateRef("org_id", scope.org); err != nil {
			return res, err
		}
	}
	ctx = events.EnsureCorrelationID(ctx)
	for {
		n, batch := 0, SweepResult{}
		err := s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			now := s.Now()
			due, err := tx.Due(ctx, scope.org, now, s.sweepBatch)
			if err != nil {
				return err
			}
			n = len(due)
			batch = SweepResult{}
			for i := range due {
				c := &due[i]
				op, to := card.ValidityElapses, card.Inoperative
				if exp := c.ExpiresAt(); !exp.IsZero() && !now.Before(exp) {
					op, to = card.Expire, card.Expired
				}
				if _, err := Apply(c, op, to, now); err != nil {
					return err
				}
				if err := tx.Save(ctx, c, events.Updated(op, now)); err != nil {
					return err
				}
				if to == card.Expired {
					batch.Expired++
				} else {
					batch.Inoperative++
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		// Counted once committed: the store may run the function again.
		res.Expired += batch.Expired
		res.Inoperative += batch.Inoperative
		if n < s.sweepBatch {
			return res, nil
		}
	}
}
