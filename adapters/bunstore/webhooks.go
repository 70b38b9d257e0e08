package bunstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

var _ storage.Endpoints = (*Store)(nil)

// Webhook endpoints live in cardcore_webhook_endpoints, one row each, with
// their event types as a JSON array and their secret as it is: it is the
// key that signs the deliveries, so the relay needs it back (see the
// package doc). Like the subscriptions, each call runs on the store's own
// connections and commits at once, also on a store bound to a host's
// transaction by InTx.

// endpointRow is a webhook endpoint as stored.
type endpointRow struct {
	bun.BaseModel `bun:"table:cardcore_webhook_endpoints"`

	ID           string    `bun:"id,pk"`
	OrgID        string    `bun:"org_id"`
	URL          string    `bun:"url"`
	EventTypes   string    `bun:"event_types"`
	Description  string    `bun:"description"`
	Secret       string    `bun:"secret"`
	Enabled      bool      `bun:"enabled"`
	FailingSince time.Time `bun:"failing_since,nullzero"`
	StartAfter   int64     `bun:"start_after"`
	CreatedAt    time.Time `bun:"created_at"`
	UpdatedAt    time.Time `bun:"updated_at"`
}

func endpointRowOf(ep *storage.WebhookEndpoint) (endpointRow, error) {
	types := ep.EventTypes
	if types == nil {
		types = []events.Type{}
	}
	b, err := json.Marshal(types)
	return endpointRow{ID: ep.ID, OrgID: ep.OrgID, URL: ep.URL, EventTypes: string(b), Description: ep.Description,
		Secret: ep.Secret, Enabled: ep.Enabled, FailingSince: utc(ep.FailingSince), StartAfter: ep.StartAfter,
		CreatedAt: utc(ep.CreatedAt), UpdatedAt: utc(ep.UpdatedAt)}, err
}

func (r *endpointRow) endpoint() (storage.WebhookEndpoint, error) {
	var types []events.Type
	if err := json.Unmarshal([]byte(r.EventTypes), &types); err != nil {
		return storage.WebhookEndpoint{}, &storeError{op: "read webhook endpoint", msg: "event_types is not a JSON array: " + err.Error()}
	}
	if len(types) == 0 {
		types = nil
	}
	return storage.WebhookEndpoint{ID: r.ID, OrgID: r.OrgID, URL: r.URL, EventTypes: types, Description: r.Description,
		Secret: r.Secret, Enabled: r.Enabled, FailingSince: utc(r.FailingSince), StartAfter: r.StartAfter,
		CreatedAt: utc(r.CreatedAt), UpdatedAt: utc(r.UpdatedAt)}, nil
}

// CreateEndpoint implements storage.Endpoints: the endpoint's row and its
// subscription's, at the feed's head, in one transaction. The head is read
// first (on PostgreSQL it positions the committed events), so an event
// committed once the call began may be delivered, and none committed
// before it.
func (s *Store) CreateEndpoint(ctx context.Context, ep *storage.WebhookEndpoint) error {
	switch {
	case ep.OrgID == "":
		return card.Invalid("org_id", "must not be empty")
	case ep.URL == "":
		return card.Invalid("url", "must not be empty")
	case ep.Secret == "":
		return card.Invalid("secret", "must not be empty")
	}
	head, err := s.Head(ctx)
	if err != nil {
		return err
	}
	created := *ep
	if created.ID == "" {
		created.ID = uuid.NewString()
	}
	if created.CreatedAt.IsZero() {
		created.CreatedAt = time.Now()
	}
	if created.UpdatedAt.IsZero() {
		created.UpdatedAt = created.CreatedAt
	}
	created.StartAfter = head
	row, err := endpointRowOf(&created)
	if err != nil {
		return err
	}
	done, err := s.write(ctx, "create webhook endpoint")
	if err != nil {
		return err
	}
	defer done()
	now := s.clock()
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
INSERT INTO cardcore_subscriptions (name, cursor, token, created_at, updated_at)
VALUES (?, ?, 0, `+now+`, `+now+`)
ON CONFLICT (name) DO NOTHING`, storage.EndpointSubscription(created.ID), head)
		return err
	})
	if err != nil {
		return translate(ctx, "create webhook endpoint", err)
	}
	created.CreatedAt, created.UpdatedAt = row.CreatedAt, row.UpdatedAt
	*ep = created
	return nil
}

// Endpoints implements storage.Endpoints.
func (s *Store) Endpoints(ctx context.Context, org string) ([]storage.WebhookEndpoint, error) {
	return s.endpoints(ctx, "list webhook endpoints", "org_id = ?", org)
}

// EnabledEndpoints implements storage.Endpoints.
func (s *Store) EnabledEndpoints(ctx context.Context) ([]storage.WebhookEndpoint, error) {
	return s.endpoints(ctx, "list enabled webhook endpoints", "enabled = ?", true)
}

func (s *Store) endpoints(ctx context.Context, op, where string, arg any) ([]storage.WebhookEndpoint, error) {
	var rows []endpointRow
	if err := s.db.NewSelect().Model(&rows).Where(where, arg).OrderExpr("created_at, id").Scan(ctx); err != nil {
		return nil, translate(ctx, op, err)
	}
	out := make([]storage.WebhookEndpoint, len(rows))
	for i := range rows {
		ep, err := rows[i].endpoint()
		if err != nil {
			return nil, err
		}
		out[i] = ep
	}
	return out, nil
}

// Endpoint implements storage.Endpoints.
func (s *Store) Endpoint(ctx context.Context, org, id string) (storage.WebhookEndpoint, error) {
	var row endpointRow
	if err := s.db.NewSelect().Model(&row).Where("org_id = ? AND id = ?", org, id).Scan(ctx); err != nil {
		return storage.WebhookEndpoint{}, notFound(ctx, "webhook endpoint", id, err)
	}
	return row.endpoint()
}

// DeleteEndpoint implements storage.Endpoints.
func (s *Store) DeleteEndpoint(ctx context.Context, org, id string) error {
	done, err := s.write(ctx, "delete webhook endpoint")
	if err != nil {
		return err
	}
	defer done()
	var deleted int64
	err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*endpointRow)(nil)).Where("org_id = ? AND id = ?", org, id).Exec(ctx)
		if err != nil {
			return err
		}
		if deleted, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "DELETE FROM cardcore_subscriptions WHERE name = ?", storage.EndpointSubscription(id))
		return err
	})
	if err != nil {
		return translate(ctx, "delete webhook endpoint", err)
	}
	if deleted == 0 {
		return card.NotFound("webhook endpoint", id)
	}
	return nil
}

// SetEndpointEnabled implements storage.Endpoints.
func (s *Store) SetEndpointEnabled(ctx context.Context, org, id string, enabled bool) (storage.WebhookEndpoint, error) {
	q := s.db.NewUpdate().Model((*endpointRow)(nil)).Set("enabled = ?", enabled).Set("updated_at = ?", utc(time.Now()))
	if enabled {
		q = q.Set("failing_since = NULL")
	}
	if err := s.updateEndpoint(ctx, "enable webhook endpoint", q, org, id); err != nil {
		return storage.WebhookEndpoint{}, err
	}
	return s.Endpoint(ctx, org, id)
}

// SetEndpointFailingSince implements storage.Endpoints.
func (s *Store) SetEndpointFailingSince(ctx context.Context, org, id string, since time.Time) error {
	var v any // NULL for a zero time
	if !since.IsZero() {
		v = utc(since)
	}
	q := s.db.NewUpdate().Model((*endpointRow)(nil)).Set("failing_since = ?", v).Set("updated_at = ?", utc(time.Now()))
	return s.updateEndpoint(ctx, "record webhook endpoint failures", q, org, id)
}

// updateEndpoint runs q on endpoint id of org: card.ErrNotFound when there
// is none.
func (s *Store) updateEndpoint(ctx context.Context, op string, q *bun.UpdateQuery, org, id string) error {
	done, err := s.write(ctx, op)
	if err != nil {
		return err
	}
	defer done()
	res, err := q.Where("org_id = ? AND id = ?", org, id).Exec(ctx)
	if err != nil {
		return translate(ctx, op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(ctx, op, err)
	}
	if n != 1 {
		return card.NotFound("webhook endpoint", id)
	}
	return nil
}
