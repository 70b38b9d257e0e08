package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/reissue"
	"github.com/cardcore/cardcore/storage"
)

// Config is what the reference API needs: the use cases, the store (for
// the event feed) and the HS256 secret that signs tokens.
type Config struct {
	Store   storage.Store
	Cards   *lifecycle.Cards
	Reissue *reissue.Service
	Noname  *noname.Service
	Secret  []byte           // HS256 key of the bearer tokens; at least 32 bytes
	Logger  *slog.Logger     // optional; tokens, PANs and secrets are never logged
	Now     func() time.Time // optional clock for token expiry (default time.Now)
}

// New returns the reference HTTP API (SPEC section 7) as an http.Handler
// that any Go service can mount.
func New(cfg Config) (http.Handler, error) {
	if cfg.Store == nil || cfg.Cards == nil || cfg.Reissue == nil || cfg.Noname == nil {
		return nil, errors.New("httpapi: Config needs Store, Cards, Reissue and Noname")
	}
	if len(cfg.Secret) < 32 {
		return nil, errors.New("httpapi: the token secret must be at least 32 bytes")
	}
	return newAPI(cfg), nil
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
