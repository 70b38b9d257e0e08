package issuance

import (
	"context"
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

// createRequest is what the idempotency key of a create is bound to.
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
	once, err := storage.NewIdempotent(org, "sandbox_create_card:account="+account, idempotencyKey,
		createRequest{AccountID: account, Type: t})
	if err != nil {
		return card.Card{}, err
	}
	p, err := s.cards.Programs().Lookup(card.DefaultProgramID)
	if err != nil {
		return card.Card{}, err
	}
	return s.keyed(ctx, once, events.Created, card.Create,
		func(ctx context.Context, tx storage.Tx, now time.Time) (card.Card, error) {
			return s.newCard(ctx, tx, org, account, t, p, now)
		})
}

// keyed saves the card change makes at the clock's now, with the event
// (events.Created or events.Updated) of op, and remembers it under the
// idempotency key once, all in one store transaction. A replay of the key
// answers the card remembered with it and changes nothing.
func (s *Service) keyed(ctx context.Context, once storage.Idempotent,
	event func(card.Operation, time.Time) events.Change, op card.Operation,
	change func(ctx context.Context, tx storage.Tx, now time.Time) (card.Card, error)) (card.Card, error) {
	ctx = events.EnsureCorrelationID(ctx)
	var out card.Card
	err := s.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
		if replayed, err := once.Replay(ctx, tx, &out); err != nil || replayed {
			return err
		}
		now := s.cards.Now()
		c, err := change(ctx, tx, now)
		if err != nil {
			return err
		}
		if err := tx.Save(ctx, &c, event(op, now)); err != nil {
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

// aliasTries bounds the tokens drawn for a VIRTUAL card whose alias, made
// from the token, the customer already uses.
const aliasTries = 4

// newCard returns the PENDING card Create stores, with a token whose alias
// the customer's live VIRTUAL cards do not use yet.
func (s *Service) newCard(ctx context.Context, tx storage.Cards, org, account string, t card.Type, p card.Program, now time.Time) (card.Card, error) {
	c := p.NewCard(org, t, now)
	c.Status = card.Pending
	c.AccountID, c.CustomerID = account, account
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
	return card.Card{}, &card.ConflictError{Operation: card.Create.String(), Reason: "no free sandbox alias was drawn for the customer's VIRTUAL card"}
}

// Settlement is a request to end a card's pending issuance, as issued or
// as failed.
type Settlement struct {
	OrgID string
	Token string // the card's token, a UUID
	// IdempotencyKey, when set (at most 36 characters), makes the request
	// replayable: scoped to the org, the operation and the card, the same
	// key with the same Request answers the first result, the card as it
	// was then, and writes nothing; with another Request it is a conflict.
	IdempotencyKey string
	// Request is what the key is bound to besides the operation and the
	// card: the bytes of the caller's request as it received it (the HTTP
	// API passes the PATCH body); nil when there are none.
	Request []byte
}

// settleRequest is what the idempotency key of a settlement is bound to.
// The field keeps the name the HTTP API's records used, so keys recorded
// before still match.
type settleRequest struct {
	Request []byte `json:"body"`
}

// Issue completes the issuance of a PENDING card: it becomes NORMAL (and
// activated), and when it has no PCI data yet the provisioner issues it in
// the same transaction. It emits Card updated. A card that is not PENDING
// is a conflict.
func (s *Service) Issue(ctx context.Context, r Settlement) (card.Card, error) {
	return s.settle(ctx, r, "sandbox_issue_card", card.Normal)
}

// Fail ends the issuance of a PENDING card as failed: it becomes CANCELED.
// It emits Card updated. A card that is not PENDING is a conflict.
func (s *Service) Fail(ctx context.Context, r Settlement) (card.Card, error) {
	return s.settle(ctx, r, "sandbox_fail_card", card.Canceled)
}

// settle moves the card out of PENDING through the issuance operation, to
// status to. Its key is claimed and remembered in the transaction of the
// change, so the two commit together or not at all.
func (s *Service) settle(ctx context.Context, r Settlement, scope string, to card.Status) (card.Card, error) {
	token, err := canonicalUUID("cardId", r.Token)
	if err != nil {
		return card.Card{}, err
	}
	once, err := storage.NewIdempotent(r.OrgID, scope+":card="+token, r.IdempotencyKey, settleRequest{r.Request})
	if err != nil {
		return card.Card{}, err
	}
	return s.keyed(ctx, once, events.Updated, card.Issuance,
		func(ctx context.Context, tx storage.Tx, now time.Time) (card.Card, error) {
			c, err := tx.CardByToken(ctx, r.OrgID, token)
			if err != nil {
				return card.Card{}, err
			}
			if _, err := lifecycle.Apply(&c, card.Issuance, to, now); err != nil {
				return card.Card{}, err
			}
			if to == card.Normal {
				c.ActivationDate = now
				if err := s.provision(ctx, &c); err != nil {
					return card.Card{}, err
				}
			}
			return c, c.Validate()
		})
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
