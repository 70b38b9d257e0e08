package bunstore

import (
	"context"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// heldTx is the PostgreSQL transaction. A change is a save of a card the
// transaction read and locked, followed by the card's event
// (lifecycle.Persist); heldTx holds the save's UPDATE back and sends it
// with the event's INSERT as one statement, one round trip fewer per
// change. The UPDATE cannot miss: the row is locked at the version it saves
// over. Every other call, and the commit, sends a held UPDATE first, so the
// transaction reads its own writes and a failure of the UPDATE (a unique
// rule) is reported at the latest by the call after Save.
type heldTx struct {
	t    *txn
	held *cardUpdate
}

var _ storage.Tx = (*heldTx)(nil)

// flush sends the held UPDATE, if any.
func (h *heldTx) flush(ctx context.Context) error {
	u := h.held
	if u == nil {
		return nil
	}
	h.held = nil
	return u.run(ctx, h.t, h.t.s.q.text.updateCard(u.cols), u.args)
}

// then runs f, a call that returns a value, after sending the held UPDATE.
func then[T any](ctx context.Context, h *heldTx, f func() (T, error)) (T, error) {
	if err := h.flush(ctx); err != nil {
		var zero T
		return zero, err
	}
	return f()
}

func (h *heldTx) Save(ctx context.Context, c *card.Card) error {
	if err := h.flush(ctx); err != nil {
		return err
	}
	u := h.t.cardUpdate(c)
	if !u.locked {
		return u.run(ctx, h.t, h.t.s.q.text.updateCard(u.cols), u.args)
	}
	h.held = &u
	return nil
}

func (h *heldTx) Append(ctx context.Context, evs ...events.Event) error {
	u := h.held
	if u == nil || len(evs) != 1 {
		if err := h.flush(ctx); err != nil {
			return err
		}
		return h.t.Append(ctx, evs...)
	}
	h.held = nil
	return u.run(ctx, h.t, h.t.s.q.text.saveWithEvent(u.cols), h.t.appendEventArgs(u.args, &evs[0]))
}

func (h *heldTx) Card(ctx context.Context, org string, id int64) (card.Card, error) {
	return then(ctx, h, func() (card.Card, error) { return h.t.Card(ctx, org, id) })
}

func (h *heldTx) CardByToken(ctx context.Context, org, token string) (card.Card, error) {
	return then(ctx, h, func() (card.Card, error) { return h.t.CardByToken(ctx, org, token) })
}

func (h *heldTx) CardByLast4(ctx context.Context, org, account, customer, last4 string) (card.Card, error) {
	return then(ctx, h, func() (card.Card, error) { return h.t.CardByLast4(ctx, org, account, customer, last4) })
}

func (h *heldTx) Successor(ctx context.Context, org string, id int64) (card.Card, error) {
	return then(ctx, h, func() (card.Card, error) { return h.t.Successor(ctx, org, id) })
}

func (h *heldTx) VirtualAliasTaken(ctx context.Context, org, customer, name string) (bool, error) {
	return then(ctx, h, func() (bool, error) { return h.t.VirtualAliasTaken(ctx, org, customer, name) })
}

func (h *heldTx) Insert(ctx context.Context, c *card.Card) error {
	if err := h.flush(ctx); err != nil {
		return err
	}
	return h.t.Insert(ctx, c)
}

func (h *heldTx) Due(ctx context.Context, now time.Time, limit int) ([]card.Card, error) {
	return then(ctx, h, func() ([]card.Card, error) { return h.t.Due(ctx, now, limit) })
}

func (h *heldTx) Claim(ctx context.Context, key storage.IdempotencyKey, fingerprint string) (storage.IdempotencyRecord, bool, error) {
	if err := h.flush(ctx); err != nil {
		return storage.IdempotencyRecord{}, false, err
	}
	return h.t.Claim(ctx, key, fingerprint)
}

func (h *heldTx) Complete(ctx context.Context, key storage.IdempotencyKey, result []byte) error {
	if err := h.flush(ctx); err != nil {
		return err
	}
	return h.t.Complete(ctx, key, result)
}

func (h *heldTx) InsertCards(ctx context.Context, cs []card.Card) error {
	if err := h.flush(ctx); err != nil {
		return err
	}
	return h.t.InsertCards(ctx, cs)
}

func (h *heldTx) Reason(ctx context.Context, org string, id int64) (card.Reason, error) {
	return then(ctx, h, func() (card.Reason, error) { return h.t.Reason(ctx, org, id) })
}

func (h *heldTx) InsertReason(ctx context.Context, r *card.Reason) error {
	if err := h.flush(ctx); err != nil {
		return err
	}
	return h.t.InsertReason(ctx, r)
}

func (h *heldTx) SaveReason(ctx context.Context, r *card.Reason) error {
	if err := h.flush(ctx); err != nil {
		return err
	}
	return h.t.SaveReason(ctx, r)
}

func (h *heldTx) Bulk(ctx context.Context, org, id string) (card.Bulk, error) {
	return then(ctx, h, func() (card.Bulk, error) { return h.t.Bulk(ctx, org, id) })
}

func (h *heldTx) InsertBulk(ctx context.Context, b *card.Bulk) error {
	if err := h.flush(ctx); err != nil {
		return err
	}
	return h.t.InsertBulk(ctx, b)
}

func (h *heldTx) SaveBulk(ctx context.Context, b *card.Bulk) error {
	if err := h.flush(ctx); err != nil {
		return err
	}
	return h.t.SaveBulk(ctx, b)
}

func (h *heldTx) AddExternalIDs(ctx context.Context, bulk string, ids []string) error {
	if err := h.flush(ctx); err != nil {
		return err
	}
	return h.t.AddExternalIDs(ctx, bulk, ids)
}

func (h *heldTx) ExternalIDs(ctx context.Context, bulk string, after int64, limit int) ([]string, int64, error) {
	if err := h.flush(ctx); err != nil {
		return nil, after, err
	}
	return h.t.ExternalIDs(ctx, bulk, after, limit)
}

func (h *heldTx) UnboundCards(ctx context.Context, org, bulk string, externalIDs []string, afterID int64, limit int) ([]card.Card, error) {
	return then(ctx, h, func() ([]card.Card, error) { return h.t.UnboundCards(ctx, org, bulk, externalIDs, afterID, limit) })
}
