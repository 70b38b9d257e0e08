package issuance

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
)

// Service runs the sandbox-style issuance use cases of SPEC section 9:
// create a card whose issuance is pending, issue it, fail it, read it. It
// is safe for concurrent use.
type Service struct {
	store       storage.Store
	cards       *lifecycle.Cards
	provisioner Provisioner
}

// New returns the issuance use cases over the store, programs and clock
// that cards (the lifecycle use cases) were built with, issuing PCI data
// through p.
func New(store storage.Store, cards *lifecycle.Cards, p Provisioner) (*Service, error) {
	if store == nil || cards == nil || p == nil {
		return nil, errors.New("issuance: New needs a store, the lifecycle use cases and a provisioner")
	}
	return &Service{store: store, cards: cards, provisioner: p}, nil
}

// aliasPrefix starts the alias of every card the sandbox makes.
const aliasPrefix = "sandbox-"

// createRequest is what an idempotency key is bound to.
type createRequest struct {
	AccountID string    `json:"account_id"`
	Type      card.Type `json:"type"`
}

// Create makes a card of type VIRTUAL or TEMPORARY for account accountID
// (a UUID) whose issuance is pending: status PENDING, no PCI data yet. It
// emits Card created. A non-empty idempotencyKey (at most 36 characters),
// scoped to the org, this operation and the account, replays the first
// result and writes nothing; the same key with another type is a conflict.
func (s *Service) Create(ctx context.Context, org, accountID string, t card.Type, idempotencyKey string) (card.Card, error) {
	account, err := canonicalUUID("accountId", accountID)
	if err != nil {
		return card.Card{}, err
	}
	if t != card.Virtual && t != card.Temporary {
		return card.Card{}, card.Invalid("type", "must be VIRTUAL or TEMPORARY: this API issues no physical cards")
	}
	key, fp, err := lifecycle.IdempotencyFor(org, "sandbox_create_card:account="+account, idempotencyKey,
		createRequest{AccountID: account, Type: t})
	if err != nil {
		return card.Card{}, err
	}
	ctx = events.EnsureCorrelationID(ctx)
	var out card.Card
	err = s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		if key.Key != "" {
			replay, done, err := lifecycle.Replay(ctx, tx, key, fp)
			if err != nil {
				return err
			}
			if done {
				out = card.Card{}
				return json.Unmarshal(replay, &out)
			}
		}
		now := s.cards.Now()
		p, err := s.cards.Programs().Lookup(card.DefaultProgramID)
		if err != nil {
			return err
		}
		c, err := s.newCard(ctx, tx, org, account, t, p, now)
		if err != nil {
			return err
		}
		if err := lifecycle.Persist(ctx, tx, &c, events.CardCreated, events.OpCreation, now); err != nil {
			return err
		}
		out = c
		return lifecycle.Remember(ctx, tx, key, c)
	})
	if err != nil {
		return card.Card{}, err
	}
	return out, nil
}

// aliasTries bounds the tokens drawn for a VIRTUAL card whose alias, made
// from the token, the customer already uses.
const aliasTries = 4

// newCard returns the PENDING card Create stores, with a token whose alias
// the customer's live VIRTUAL cards do not use yet.
func (s *Service) newCard(ctx context.Context, tx storage.Tx, org, account string, t card.Type, p card.Program, now time.Time) (card.Card, error) {
	c := card.Card{
		OrgID: org, ProgramID: p.ID, AccountID: account, CustomerID: account,
		Type: t, Mode: card.Credit, Status: card.Pending,
		IssuingDate: now, ExpirationDate: card.MonthOf(now).AddDate(0, p.Months(), 0),
		TrackNumber: 1, PINLength: 4, ContactlessEnabled: true,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if t == card.Virtual {
		never := 0
		c.CVVRotationIntervalHours = &never
	}
	for range aliasTries {
		c.Token = uuid.NewString()
		c.Name = aliasPrefix + c.Token[:8]
		if t != card.Virtual {
			return c, c.Validate()
		}
		taken, err := tx.VirtualAliasTaken(ctx, org, account, c.Name)
		if err != nil {
			return card.Card{}, err
		}
		if !taken {
			return c, c.Validate()
		}
	}
	return card.Card{}, &card.ConflictError{Operation: "create", Reason: "no free sandbox alias was drawn for the customer's VIRTUAL card"}
}

// Issue completes the issuance of a PENDING card: it becomes NORMAL (and
// activated), and when it has no PCI data yet the provisioner issues it in
// the same transaction. It emits Card updated. A card that is not PENDING
// is a conflict.
func (s *Service) Issue(ctx context.Context, org, token string) (card.Card, error) {
	return s.settle(ctx, org, token, card.Normal)
}

// Fail ends the issuance of a PENDING card as failed: it becomes CANCELED.
// It emits Card updated. A card that is not PENDING is a conflict.
func (s *Service) Fail(ctx context.Context, org, token string) (card.Card, error) {
	return s.settle(ctx, org, token, card.Canceled)
}

// settle moves card token out of PENDING through the issuance operation.
func (s *Service) settle(ctx context.Context, org, token string, to card.Status) (card.Card, error) {
	token, err := canonicalUUID("cardId", token)
	if err != nil {
		return card.Card{}, err
	}
	ctx = events.EnsureCorrelationID(ctx)
	var out card.Card
	err = s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		now := s.cards.Now()
		c, err := tx.CardByToken(ctx, org, token)
		if err != nil {
			return err
		}
		if _, err := lifecycle.Apply(&c, lifecycle.Issuance, to, now); err != nil {
			return err
		}
		if to == card.Normal {
			c.ActivationDate = now
			if err := s.provision(ctx, &c); err != nil {
				return err
			}
		}
		if err := c.Validate(); err != nil {
			return err
		}
		if err := lifecycle.Persist(ctx, tx, &c, events.CardUpdated, events.OpIssuance, now); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return card.Card{}, err
	}
	return out, nil
}

// provision issues c's PCI data under its program, unless c has some: a
// PAN once issued is never replaced.
func (s *Service) provision(ctx context.Context, c *card.Card) error {
	if c.PANHash != "" {
		return nil
	}
	p, err := s.cards.Programs().Lookup(c.ProgramID)
	if err != nil {
		return err
	}
	return s.provisioner.Provision(ctx, c, p)
}

// Get returns the card of org whose token is token.
func (s *Service) Get(ctx context.Context, org, token string) (card.Card, error) {
	token, err := canonicalUUID("cardId", token)
	if err != nil {
		return card.Card{}, err
	}
	return s.store.CardByToken(ctx, org, token)
}

// canonicalUUID parses a UUID the way the API's ids are written (also in
// upper case) and returns its canonical lower-case form.
func canonicalUUID(field, s string) (string, error) {
	u, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return "", card.Invalid(field, "must be a UUID")
	}
	return u.String(), nil
}
