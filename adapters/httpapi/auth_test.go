package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	a := &api{cfg: Config{Secret: testSecret}, parser: newParser(func() time.Time { return now })}
	exp := now.Add(time.Hour).Unix()
	sign := func(m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(m, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hs := func(claims jwt.MapClaims) string { return sign(jwt.SigningMethodHS256, testSecret, claims) }
	minted := func(c Claims, ttl time.Duration) string {
		tok, err := MintToken(testSecret, c, ttl, now)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tc := range []struct {
		name   string
		header string
		want   *principal // nil: 401
	}{
		{"minted server", "Bearer " + minted(Claims{OrgID: "o", Server: true}, time.Hour), &principal{org: "o", server: true}},
		{"minted account", "Bearer " + minted(Claims{OrgID: "o", AccountID: "42"}, time.Hour), &principal{org: "o", account: "42"}},
		{"lower-case scheme", "bearer " + minted(Claims{OrgID: "o", Server: true}, time.Hour), &principal{org: "o", server: true}},
		{"account as a number", "Bearer " + hs(jwt.MapClaims{"org_id": "o", "exp": exp, "account_id": 42}), &principal{org: "o", account: "42"}},
		{"account with leading zeros", "Bearer " + hs(jwt.MapClaims{"org_id": "o", "exp": exp, "account_id": "0042"}), &principal{org: "o", account: "42"}},
		{"account not decimal", "Bearer " + hs(jwt.MapClaims{"org_id": "o", "exp": exp, "account_id": "acct-1"}), &principal{org: "o", account: "acct-1"}},
		{"account as a fraction", "Bearer " + hs(jwt.MapClaims{"org_id": "o", "exp": exp, "account_id": 4.5}), nil},
		{"account empty", "Bearer " + hs(jwt.MapClaims{"org_id": "o", "exp": exp, "account_id": ""}), nil},
		{"account null", "Bearer " + hs(jwt.MapClaims{"org_id": "o", "exp": exp, "account_id": nil}), nil},
		{"account and role", "Bearer " + hs(jwt.MapClaims{"org_id": "o", "exp": exp, "account_id": "1", "role": "server"}), nil},
		{"neither", "Bearer " + hs(jwt.MapClaims{"org_id": "o", "exp": exp}), nil},
		{"other role", "Bearer " + hs(jwt.MapClaims{"org_id": "o", "exp": exp, "role": "admin"}), nil},
		{"no org", "Bearer " + hs(jwt.MapClaims{"exp": exp, "role": "server"}), nil},
		{"org not a string", "Bearer " + hs(jwt.MapClaims{"org_id": 7, "exp": exp, "role": "server"}), nil},
		{"no exp", "Bearer " + hs(jwt.MapClaims{"org_id": "o", "role": "server"}), nil},
		{"expired", "Bearer " + minted(Claims{OrgID: "o", Server: true}, -time.Second), nil},
		{"other secret", "Bearer " + sign(jwt.SigningMethodHS256, []byte("another secret of at least 32 bytes"), jwt.MapClaims{"org_id": "o", "exp": exp, "role": "server"}), nil},
		{"HS512", "Bearer " + sign(jwt.SigningMethodHS512, testSecret, jwt.MapClaims{"org_id": "o", "exp": exp, "role": "server"}), nil},
		{"none", "Bearer " + sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"org_id": "o", "exp": exp, "role": "server"}), nil},
		{"garbage", "Bearer x.y.z", nil},
		{"basic", "Basic dXNlcjpwYXNz", nil},
		{"empty bearer", "Bearer ", nil},
		{"no header", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/events", nil)
			if tc.header != "" {
				r.Header.Set("Authorization", tc.header)
			}
			got, err := a.authenticate(r)
			if tc.want == nil {
				if status, _, _ := classify(err); err == nil || status != http.StatusUnauthorized {
					t.Fatalf("got %+v, %v; want a 401", got, err)
				}
				return
			}
			if err != nil || got != *tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, *tc.want)
			}
		})
	}
}

func TestMintRefuses(t *testing.T) {
	now := time.Now()
	for _, c := range []Claims{
		{OrgID: "o", AccountID: "1", Server: true},
		{OrgID: "o"},
		{AccountID: "1"},
	} {
		if tok, err := MintToken(testSecret, c, time.Hour, now); err == nil {
			t.Errorf("MintToken(%+v) = %s, want an error", c, tok)
		}
	}
}

func TestPrincipalScopes(t *testing.T) {
	server := principal{org: "o", server: true}
	account := principal{org: "o", account: "42"}
	if server.requireServer() != nil || server.mayTouch("7") != nil {
		t.Error("a server token is refused")
	}
	if account.requireServer() == nil {
		t.Error("an account token passes a server route")
	}
	if account.mayTouch("42") != nil || account.mayTouch("43") == nil {
		t.Error("an account token's scope is wrong")
	}
}
