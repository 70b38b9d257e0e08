package httpapi

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/cardcore/cardcore"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Config is what the reference API needs besides the use cases: the HTTP
// settings.
type Config struct {
	Secret []byte           // HS256 key of the bearer tokens; at least 32 bytes
	Logger *slog.Logger     // optional (default slog.Default()): a line per request, and failures; tokens, PANs and secrets are never logged
	Now    func() time.Time // optional clock for token expiry and signatures' created (default time.Now)

	// ClientKeys are the ed25519 public keys of the clients that sign
	// sandbox requests, by the keyid their signatures name. Required when
	// the core has Issuance.
	ClientKeys map[string]ed25519.PublicKey
	// PublicOrigin is optional: the scheme and authority clients address
	// when a proxy in front rewrites them (e.g. "https://api.example.com"
	// before a proxy that terminates TLS). Signatures' @target-uri,
	// @authority and @scheme then use it; without it they use the
	// connection's scheme and the request's Host header.
	PublicOrigin string
	// WebhooksAllowPrivate lets orgs register webhook endpoints on
	// loopback, private, link-local and unspecified addresses (SPEC 10.3;
	// cardcore serve --webhooks-allow-private). Off, such a URL is a 400.
	WebhooksAllowPrivate bool
	// TracerProvider receives a span per request (otelhttp), named
	// "<METHOD> <route pattern>". Optional: nil traces nothing, whatever
	// the global provider of package otel is.
	TracerProvider trace.TracerProvider
	// MeterProvider receives the request metrics of otelhttp, among them
	// the histogram http.server.request.duration by http.request.method,
	// http.route (the pattern) and http.response.status_code. Its
	// server.address and server.port come from the request's Host header
	// when the client sends one: a host that exports them should drop
	// those attributes with a view, as cardcore serve does. Optional: nil
	// measures nothing, whatever the global provider of package otel is.
	MeterProvider metric.MeterProvider
}

// New returns the reference HTTP API (SPEC section 7) over core's use cases
// as an http.Handler that any Go service can mount. Card data sync (SPEC
// section 8) is served when core.Sync is set, as cardcore.New sets it; the
// sandbox routes (section 9), whose requests are signed (RFC 9421) with one
// of cfg.ClientKeys, when core.Issuance is set (cardcore.WithIssuance).
func New(core *cardcore.Core, cfg Config) (http.Handler, error) {
	if core == nil || core.Store == nil || core.Cards == nil || core.Reissue == nil || core.Noname == nil {
		return nil, errors.New("httpapi: New needs a core built by cardcore.New")
	}
	if len(cfg.Secret) < 32 {
		return nil, errors.New("httpapi: the token secret must be at least 32 bytes")
	}
	if _, err := publicOrigin(cfg.PublicOrigin); err != nil {
		return nil, err
	}
	if core.Issuance != nil {
		if len(cfg.ClientKeys) == 0 {
			return nil, errors.New("httpapi: the sandbox routes (the core's Issuance) need ClientKeys to verify signed requests")
		}
		for id, k := range cfg.ClientKeys {
			if err := ValidateKeyID(id); err != nil {
				return nil, err
			}
			if len(k) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("httpapi: client key %q is not an ed25519 public key (%d bytes, want %d)", id, len(k), ed25519.PublicKeySize)
			}
		}
	}
	return newAPI(core, cfg), nil
}

// maxKeyID bounds a client key's id.
const maxKeyID = 64

// ValidateKeyID checks a client key id: 1-64 printable ASCII characters,
// as a signature's keyid parameter (a structured-field string) can carry.
func ValidateKeyID(id string) error {
	if id == "" || len(id) > maxKeyID {
		return fmt.Errorf("httpapi: a client key id is 1-%d characters, got %d", maxKeyID, len(id))
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return fmt.Errorf("httpapi: client key id %q: only printable ASCII characters", id)
		}
	}
	return nil
}

// publicOrigin parses Config.PublicOrigin: empty, or scheme and authority
// alone.
func publicOrigin(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("httpapi: PublicOrigin %q must be http:// or https:// and a host, e.g. https://api.example.com", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// Claims are what a bearer token carries: the org, and either an account
// (an account token, which may touch only that account) or the server role
// (a server token, which may call every route of its org).
type Claims struct {
	OrgID     string
	AccountID string // set for an account token
	Server    bool   // set for a server token
}

// MintToken signs claims into an HS256 token that expires ttl after now.
func MintToken(secret []byte, c Claims, ttl time.Duration, now time.Time) (string, error) {
	return mint(secret, c, ttl, now)
}
