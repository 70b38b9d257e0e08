package webhooks

import (
	"slices"
	"strings"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
)

// EventTypes are the event types an endpoint may ask for: those the
// library emits.
var EventTypes = []events.Type{events.CardCreated, events.CardUpdated, events.CustomerBound, events.NonameCancellation}

// ParseEventTypes checks the event types an org asks for at registration:
// each one the library emits, none twice. None means all. The error is a
// *card.InvalidError on "event_types".
func ParseEventTypes(names []string) ([]events.Type, error) {
	var out []events.Type
	for _, n := range names {
		t := events.Type(n)
		if !slices.Contains(EventTypes, t) {
			known := make([]string, len(EventTypes))
			for i, k := range EventTypes {
				known[i] = string(k)
			}
			return nil, card.Invalid("event_types", "unknown event type "+quote(n)+"; the event types are "+strings.Join(known, ", "))
		}
		if slices.Contains(out, t) {
			return nil, card.Invalid("event_types", "event type "+quote(n)+" is listed twice")
		}
		out = append(out, t)
	}
	return out, nil
}

// quote quotes a name for a message, cut to a sane length.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + s + `"`
}

// FromStored is the endpoint a store keeps (storage.Endpoints) as this
// package delivers to it.
func FromStored(r storage.WebhookEndpoint) Endpoint {
	return Endpoint{ID: r.ID, OrgID: r.OrgID, URL: r.URL, EventTypes: slices.Clone(r.EventTypes), Description: r.Description,
		Secret: r.Secret, Enabled: r.Enabled, FailingSince: r.FailingSince, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}
