package webhooks_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/webhooks"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

func TestParseEventTypes(t *testing.T) {
	got, err := webhooks.ParseEventTypes([]string{"update-1", "create-1", "bind_card-1", "noname_cancellation-1"})
	if err != nil || !slices.Equal(got, []events.Type{events.CardUpdated, events.CardCreated, events.CustomerBound, events.NonameCancellation}) {
		t.Errorf("ParseEventTypes = %v, %v", got, err)
	}
	if got, err := webhooks.ParseEventTypes(nil); err != nil || got != nil {
		t.Errorf("no types: %v, %v; want none (all)", got, err)
	}
	for _, bad := range [][]string{{"delete-1"}, {"update-1", "update-1"}, {""}, {"UPDATE-1"}} {
		_, err := webhooks.ParseEventTypes(bad)
		var ie *card.InvalidError
		if !errors.As(err, &ie) || ie.Field != "event_types" {
			t.Errorf("ParseEventTypes(%q) = %v; want an invalid event_types", bad, err)
		}
	}
}

func TestFromStored(t *testing.T) {
	now := time.Now()
	r := storage.WebhookEndpoint{ID: "ep-1", OrgID: "acme", URL: "https://203.0.113.10/", EventTypes: []events.Type{events.CardCreated},
		Description: "d", Secret: webhooks.NewSecret(), Enabled: true, FailingSince: now, StartAfter: 7, CreatedAt: now, UpdatedAt: now}
	ep := webhooks.FromStored(r)
	if ep.ID != r.ID || ep.OrgID != r.OrgID || ep.URL != r.URL || !slices.Equal(ep.EventTypes, r.EventTypes) || ep.Description != r.Description ||
		ep.Secret != r.Secret || !ep.Enabled || !ep.FailingSince.Equal(now) || !ep.CreatedAt.Equal(now) || !ep.UpdatedAt.Equal(now) {
		t.Errorf("FromStored(%+v) = %+v", r, ep)
	}
}

func TestWithBackoff(t *testing.T) {
	ep := webhooks.Endpoint{ID: "ep-1", OrgID: "acme", URL: "https://203.0.113.10/", Secret: webhooks.NewSecret(), Enabled: true}
	d, err := webhooks.New(ep, webhooks.WithBackoff(time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for attempt, want := range map[int]time.Duration{1: time.Millisecond, 2: 2 * time.Millisecond, 9: 2 * time.Millisecond} {
		if got := d.Backoff(attempt); got != want {
			t.Errorf("Backoff(%d) = %s, want %s", attempt, got, want)
		}
	}
	for _, bad := range [][]time.Duration{{}, {0}, {time.Second, -time.Second}} {
		if _, err := webhooks.New(ep, webhooks.WithBackoff(bad...)); err == nil {
			t.Errorf("WithBackoff(%v) accepted", bad)
		}
	}
}
