package bunstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// The table keeps an endpoint's secret as it is (the relay signs with it)
// and its event types as a JSON array, so it reads well without the
// library.
func TestEndpointRow(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := newStore(t, db)
		ep := storage.WebhookEndpoint{OrgID: "acme", URL: "https://203.0.113.10/", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
			EventTypes: []events.Type{events.CardCreated, events.CardUpdated}, Enabled: true}
		if err := s.CreateEndpoint(t.Context(), &ep); err != nil {
			t.Fatal(err)
		}
		var secret, types string
		err := db.QueryRowContext(t.Context(), "SELECT secret, event_types FROM cardcore_webhook_endpoints WHERE id = ?", ep.ID).Scan(&secret, &types)
		if err != nil {
			t.Fatal(err)
		}
		if secret != ep.Secret || types != `["create-1","update-1"]` {
			t.Errorf("stored secret %q and event_types %s", secret, types)
		}
	})
}

// A call with a cancelled context fails with the context's error, and
// creates nothing.
func TestEndpointsCancelled(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s := newStore(t, db)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ep := storage.WebhookEndpoint{OrgID: "acme", URL: "https://203.0.113.10/", Secret: "whsec_x", Enabled: true}
		if err := s.CreateEndpoint(ctx, &ep); !errors.Is(err, context.Canceled) {
			t.Errorf("CreateEndpoint with a cancelled context: %v, want context.Canceled", err)
		}
		if _, err := s.EnabledEndpoints(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("EnabledEndpoints with a cancelled context: %v, want context.Canceled", err)
		}
		if eps, err := s.Endpoints(t.Context(), "acme"); err != nil || len(eps) != 0 {
			t.Errorf("after a cancelled create: %v, %v; want no endpoint", eps, err)
		}
	})
}
