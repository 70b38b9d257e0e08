package webhooks

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
)

// Endpoint is a webhook endpoint registered by an org: where its events
// go, which of them, and the secret that signs them.
type Endpoint struct {
	ID          string
	OrgID       string
	URL         string
	EventTypes  []events.Type // the event types delivered; empty means all
	Description string
	// Secret signs the deliveries: "whsec_" and the base64 of 24 to 64
	// random bytes (NewSecret). The receiver keeps a copy to verify them.
	Secret string
	// Enabled is false once the endpoint was disabled (by its owner, or
	// for failing too long): a disabled endpoint gets nothing.
	Enabled bool
	// FailingSince is when the current run of failed deliveries began; zero
	// while deliveries succeed.
	FailingSince time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Selects reports whether e is for ep: an event of ep's org whose type ep
// asked for (every type when EventTypes is empty).
func (ep Endpoint) Selects(e events.Event) bool {
	if e.OrgID != ep.OrgID {
		return false
	}
	return len(ep.EventTypes) == 0 || slices.Contains(ep.EventTypes, e.Type)
}

// String names the endpoint by its id and host, leaving out the secret and
// the URL's path, query and credentials, so that an endpoint in a log
// line leaks nothing.
func (ep Endpoint) String() string {
	return fmt.Sprintf("endpoint %s (%s)", ep.ID, hostOf(ep.URL))
}

// The secret is "whsec_" and base64 (standard, padded) of its key: 32
// random bytes, within the 24 to 64 the Standard Webhooks specification
// asks for.
const (
	secretPrefix = "whsec_"
	secretBytes  = 32
	minKey       = 24
	maxKey       = 64
)

// NewSecret returns a new random endpoint secret, "whsec_" and the base64
// of 32 random bytes.
func NewSecret() string {
	key := make([]byte, secretBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails: it crashes the program instead
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// endpointKey decodes an endpoint's secret, which must have the format
// NewSecret makes.
func endpointKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, card.Invalid("secret", `must start with "whsec_"`)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(key) < minKey || len(key) > maxKey {
		return nil, card.Invalid("secret", `must be "whsec_" and the base64 of 24 to 64 bytes`)
	}
	return key, nil
}
