package reissue

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
)

// Service runs the reissue use cases: the reasons catalogue and Reissue.
// It is safe for concurrent use.
type Service struct {
	store storage.Store
	cards *lifecycle.Cards
}

// New returns the reissue use cases over the store and programs that cards
// (the lifecycle use cases) were built with, sharing their clock.
func New(store storage.Store, cards *lifecycle.Cards) (*Service, error) {
	if store == nil || cards == nil {
		return nil, errors.New("reissue: New needs a store and the lifecycle use cases")
	}
	return &Service{store: store, cards: cards}, nil
}

// Options override fields of the new card; zero values keep the old card's
// (or, for the expiration date, the program's default from today).
type Options struct {
	PrintedName          string
	EmbossingCustomField string
	EmbossingGroup       string
	ContactlessEnabled   *bool
	Metadata             json.RawMessage
	PINLength            int
	ExpirationDate       string // yymm
	ValidityPeriodHours  int    // VIRTUAL and PLASTIC only
	// CVVRotationIntervalHours is the new card's CVV rotation: 0 (never
	// rotate) or 1-4320 hours; nil keeps the old card's.
	//
	// The fields of SPEC 12 are left out of the request's idempotency
	// fingerprint when zero, so a key kept by an earlier version replays.
	CVVRotationIntervalHours *int   `json:",omitempty"`
	TemplateID               string `json:",omitempty"` // at most 64 printable characters
	// Status UNNUMBERED makes the new card an issuer-numbered one (SPEC
	// 12): it starts UNNUMBERED until lifecycle.Cards.Number gives it its
	// PAN data, and needs PrintedName and Brand. Only a PLASTIC card is
	// reissued so. The zero Status is the type's initial status.
	Status card.Status `json:",omitzero"`
	// Brand is the new card's network (VISA, MASTERCARD, ELO, RUPAY or
	// PRIVATE), overriding the program's; required with UNNUMBERED.
	Brand card.Brand `json:",omitzero"`
}

// Request asks to replace card CardID of OrgID for reason ReasonID.
type Request struct {
	OrgID    string
	CardID   int64
	ReasonID int64
	Options  Options
	// IdempotencyKey, when set (at most 36 characters), replays the first
	// result for the same request; another request with the key is a
	// conflict. Keys are scoped to the org and the card.
	IdempotencyKey string
}

// Result is the outcome of a reissue.
type Result struct {
	Old card.Card // the replaced card, as it is after the reissue
	New card.Card // its successor
	// Existing is true when the card already had a successor (or the
	// idempotency key replayed): that successor is returned and nothing
	// was written.
	Existing bool
}

// Reissue replaces a card with a successor for the same account and
// customer, by SPEC section 3:
//
//   - every status but UNBOUND, UNNUMBERED and DELETED may be reissued;
//   - the old card: a terminated card keeps its status; a VIRTUAL,
//     TEMPORARY or RECURRING card, or a PLASTIC one with a must_block
//     reason, becomes CANCELED; a PLASTIC card without must_block becomes
//     REISSUED when NORMAL and keeps any other status, and is canceled
//     when its successor is activated;
//   - the new card has the old one's type, account, customer, program and
//     mode, the initial status of its type, track number + 1 and
//     reissued_card_id = the old id, with Options overriding;
//   - a card that already has a successor returns it and writes nothing.
//
// Events: Card updated for the old card when its status changed, Card
// created for the new one.
func (s *Service) Reissue(ctx context.Context, req Request) (Result, error) {
	if err := req.Options.validate(); err != nil {
		return Result{}, err
	}
	once, err := storage.NewIdempotent(req.OrgID, "reissue:card="+strconv.FormatInt(req.CardID, 10), req.IdempotencyKey, req)
	if err != nil {
		return Result{}, err
	}
	ctx = events.EnsureCorrelationID(ctx)
	// The reason is read before the transaction, unlocked: concurrent
	// reissues for one reason must not queue on its row, and a reissue
	// that overlaps a change of the reason counts as coming before it.
	reason, reasonErr := s.store.Reason(ctx, req.OrgID, req.ReasonID)
	var res Result
	err = s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		res = Result{}
		var keyConflict error
		replayed, err := once.Replay(ctx, tx, &res)
		if err == nil && replayed {
			res.Existing = true
			return nil
		}
		keyConflict = err // reported after the request's own 400s
		if err := usable(reason, reasonErr); err != nil {
			return err
		}
		if keyConflict != nil {
			return keyConflict
		}
		res, err = s.reissue(ctx, tx, req, reason)
		if err != nil {
			return err
		}
		return once.Remember(ctx, tx, res)
	})
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// Check reports the errors of req that do not depend on its card: invalid
// options or key, and an unknown or disabled reason. Reissue reports them
// too; Check lets an adapter rank them before a card that is not found.
func (s *Service) Check(ctx context.Context, req Request) error {
	if err := req.Options.validate(); err != nil {
		return err
	}
	if _, err := storage.NewIdempotent(req.OrgID, "reissue", req.IdempotencyKey, req); err != nil {
		return err
	}
	return usable(s.store.Reason(ctx, req.OrgID, req.ReasonID))
}

// usable refuses a reason that was not found or is disabled as invalid
// reason_id; other errors pass through.
func usable(r card.Reason, err error) error {
	if errors.Is(err, card.ErrNotFound) || (err == nil && !r.Enabled) {
		return card.Invalid("reason_id", "names no enabled reissue reason of the org")
	}
	return err
}

func (s *Service) reissue(ctx context.Context, tx storage.Tx, req Request, reason card.Reason) (Result, error) {
	now := s.cards.Now()
	old, err := tx.Card(ctx, req.OrgID, req.CardID)
	if err != nil {
		return Result{}, err
	}
	if succ, err := tx.Successor(ctx, old.OrgID, old.ID); err == nil {
		return Result{Old: old, New: succ, Existing: true}, nil
	} else if !errors.Is(err, card.ErrNotFound) {
		return Result{}, err
	}
	if err := lifecycle.Reissuable(&old); err != nil {
		return Result{}, err
	}
	next, err := s.successor(&old, req.Options, now)
	if err != nil {
		return Result{}, err
	}
	// A successor that starts NORMAL (a program whose PLASTIC cards need no
	// activation) is active at once, so the old card is canceled at once,
	// as activating the successor would.
	mustBlock := reason.MustBlock || next.Status == card.Normal
	// The old card is saved first: a canceled VIRTUAL card frees its alias
	// for the successor.
	if err := lifecycle.Replace(ctx, tx, &old, mustBlock, now); err != nil {
		return Result{}, err
	}
	if err := tx.Save(ctx, &next, events.Created(card.Reissue, now)); err != nil {
		return Result{}, err
	}
	return Result{Old: old, New: next}, nil
}

// successor builds the new card replacing old.
func (s *Service) successor(old *card.Card, o Options, now time.Time) (card.Card, error) {
	p, err := s.cards.Programs().Lookup(old.ProgramID)
	if err != nil {
		return card.Card{}, err
	}
	c := p.NewCard(old.OrgID, old.Type, now)
	c.AccountID, c.CustomerID, c.Mode = old.AccountID, old.CustomerID, old.Mode
	c.Name, c.PrintedName = old.Name, old.PrintedName
	c.TrackNumber, c.ReissuedCardID = old.TrackNumber+1, old.ID
	c.Metadata, c.EmbossingCustomField, c.EmbossingGroup = old.Metadata, old.EmbossingCustomField, old.EmbossingGroup
	c.PINLength, c.ContactlessEnabled = old.PINLength, old.ContactlessEnabled
	c.TransactionLimit, c.TemplateID = old.TransactionLimit, old.TemplateID
	c.CVVRotationIntervalHours = old.CVVRotationIntervalHours
	c.ValidityPeriodHours = old.ValidityPeriodHours
	if o.PrintedName != "" {
		c.PrintedName = o.PrintedName
	}
	if o.EmbossingCustomField != "" {
		c.EmbossingCustomField = o.EmbossingCustomField
	}
	if o.EmbossingGroup != "" {
		c.EmbossingGroup = o.EmbossingGroup
	}
	if o.ContactlessEnabled != nil {
		c.ContactlessEnabled = *o.ContactlessEnabled
	}
	if o.Metadata != nil {
		c.Metadata = o.Metadata
	}
	if o.PINLength != 0 {
		c.PINLength = o.PINLength
	}
	if o.ExpirationDate != "" {
		if c.ExpirationDate, err = card.ParseExpiration(o.ExpirationDate); err != nil {
			return card.Card{}, err
		}
	}
	if o.CVVRotationIntervalHours != nil {
		c.CVVRotationIntervalHours = o.CVVRotationIntervalHours
	}
	if o.TemplateID != "" {
		c.TemplateID = o.TemplateID
	}
	if o.Status == card.Unnumbered {
		if err := card.ValidateUnnumbered(c.Type); err != nil {
			return card.Card{}, err
		}
		c.Status = card.Unnumbered
	}
	if !o.Brand.IsZero() {
		c.Brand = o.Brand
	}
	if o.ValidityPeriodHours != 0 {
		if !card.ValidityApplies(c.Type) {
			return card.Card{}, card.Invalid("validity_period_hours", "applies only to VIRTUAL and PLASTIC cards")
		}
		c.ValidityPeriodHours = o.ValidityPeriodHours
	}
	if c.ValidityPeriodHours > 0 {
		c.ValidUntil = now.Add(time.Duration(c.ValidityPeriodHours) * time.Hour)
	}
	return c, c.Validate()
}

func (o *Options) validate() error {
	if o.PrintedName != "" {
		if err := card.ValidatePrintedName(o.PrintedName); err != nil {
			return err
		}
	}
	switch o.Status {
	case card.Status{}:
	case card.Unnumbered:
		if o.PrintedName == "" {
			return card.Invalid("printed_name", "is required to reissue as an UNNUMBERED card")
		}
		if o.Brand.IsZero() {
			return card.Invalid("brand", "is required to reissue as an UNNUMBERED card")
		}
	default:
		return card.Invalid("status", "may only be UNNUMBERED (an issuer-numbered new card)")
	}
	switch o.Brand {
	case card.Brand{}, card.Visa, card.Mastercard, card.Elo, card.RuPay, card.Private:
	default:
		return card.Invalid("brand", "must be VISA, MASTERCARD, ELO, RUPAY or PRIVATE")
	}
	if o.CVVRotationIntervalHours != nil {
		if err := card.ValidateCVVRotation(*o.CVVRotationIntervalHours); err != nil {
			return err
		}
	}
	if err := card.ValidateTemplateID(o.TemplateID); err != nil {
		return err
	}
	if o.EmbossingCustomField != "" {
		if err := card.ValidateEmbossingCustomField(o.EmbossingCustomField); err != nil {
			return err
		}
	}
	if o.PINLength != 0 && o.PINLength != 4 && o.PINLength != 6 {
		return card.Invalid("pin_length", "must be 4 or 6")
	}
	// The same bound as Create: beyond it the hours overflow a
	// time.Duration and valid_until would land anywhere, even in the past.
	if o.ValidityPeriodHours < 0 || o.ValidityPeriodHours > 24*366*20 {
		return card.Invalid("validity_period_hours", "must be a positive number of hours")
	}
	if o.ExpirationDate != "" {
		if _, err := card.ParseExpiration(o.ExpirationDate); err != nil {
			return err
		}
	}
	return card.ValidateMetadata(o.Metadata)
}
