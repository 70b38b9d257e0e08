package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/golang-jwt/jwt/v5"
)

// serverRole is the role claim of a server token.
const serverRole = "server"

// tokenClaims are the claims of a bearer token as they travel: org_id, exp,
// and either account_id or role "server".
type tokenClaims struct {
	OrgID     string       `json:"org_id"`
	AccountID accountClaim `json:"account_id,omitzero"`
	Role      *string      `json:"role,omitempty"`
	jwt.RegisteredClaims
}

// accountClaim is the account_id claim: a JSON string, or a JSON integer
// (Pismo's account ids are integers), held as its decimal string.
type accountClaim struct {
	id  string
	set bool // the claim is present, even if invalid
}

func (a accountClaim) IsZero() bool { return !a.set }

func (a accountClaim) MarshalJSON() ([]byte, error) { return json.Marshal(a.id) }

func (a *accountClaim) UnmarshalJSON(b []byte) error {
	a.set = true
	if bytes.Equal(b, []byte("null")) {
		return errors.New("account_id is null")
	}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &a.id)
	}
	if !isDigits(string(b)) {
		return errors.New("account_id must be a string or an integer")
	}
	a.id = string(b)
	return nil
}

// Validate is called by jwt after the registered claims are checked: the
// org is required, and exactly one of account_id and role "server".
func (c *tokenClaims) Validate() error {
	if err := card.ValidateRef("org_id", c.OrgID); err != nil {
		return err
	}
	switch {
	case c.AccountID.set && c.Role != nil:
		return errors.New("a token carries account_id or role, not both")
	case c.AccountID.set:
		return card.ValidateRef("account_id", c.AccountID.id)
	case c.Role != nil && *c.Role == serverRole:
		return nil
	case c.Role != nil:
		return errors.New(`the only role is "server"`)
	}
	return errors.New("a token carries account_id or role")
}

// principal is the caller a valid token names.
type principal struct {
	org     string
	account string // canonical decimal when it is one; "" for a server token
	server  bool
}

// authenticate checks the bearer token of r: HS256, signed with the secret,
// not expired, with valid claims. Any failure is a 401.
func (a *api) authenticate(r *http.Request) (principal, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return principal{}, errUnauthorized("a bearer token is required")
	}
	var c tokenClaims
	_, err := a.parser.ParseWithClaims(strings.TrimSpace(tok), &c, func(*jwt.Token) (any, error) {
		return a.cfg.Secret, nil
	})
	if err != nil {
		// The parser's message names what failed (expired, signature,
		// method); it never echoes the token.
		return principal{}, errUnauthorized("the bearer token is invalid: " + tokenProblem(err))
	}
	p := principal{org: c.OrgID, server: c.Role != nil}
	if !p.server {
		p.account = c.AccountID.id
		if id, ok := decimalID(p.account); ok {
			p.account = id
		}
	}
	return p, nil
}

// tokenProblem names why a token was refused, in a few words.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "a required claim is missing"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "only HS256 tokens are accepted"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "not valid yet"
	}
	return "bad claims"
}

func newParser(now func() time.Time) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(now),
	)
}

// mint signs c as an HS256 token expiring ttl after now. An account token
// carries account_id as a string.
func mint(secret []byte, c Claims, ttl time.Duration, now time.Time) (string, error) {
	tc := tokenClaims{OrgID: c.OrgID, RegisteredClaims: jwt.RegisteredClaims{
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	switch {
	case c.Server && c.AccountID != "":
		return "", errors.New("httpapi: a token is for an account or for the server, not both")
	case c.Server:
		role := serverRole
		tc.Role = &role
	case c.AccountID != "":
		tc.AccountID = accountClaim{id: c.AccountID, set: true}
	default:
		return "", errors.New("httpapi: a token needs an account or the server role")
	}
	if err := tc.Validate(); err != nil {
		return "", err
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, &tc).SignedString(secret)
}

// requireServer refuses account tokens on the routes that need a server
// token.
func (p principal) requireServer() error {
	if !p.server {
		return errForbidden("this route needs a server token")
	}
	return nil
}

// mayTouch refuses an account token on another account.
func (p principal) mayTouch(account string) error {
	if !p.server && p.account != account {
		return errForbidden("the token's account may not touch account " + account)
	}
	return nil
}
