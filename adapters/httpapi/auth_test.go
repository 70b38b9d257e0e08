package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"hash"
	"net/http"
	"net/http/httptest"
	"strings"
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
	minted := func(c Claims, ttl time.Duration) string { return mintToken(t, testSecret, c, ttl, now) }
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

// testTokens: every way a token is missing or invalid is 401 (SPEC 7, 7.1).
func (e *env) testTokens(t *testing.T) {
	const org = "o-tok"
	srv, acc := tokens(t, org)
	id := integer(t, e.createCard(t, srv, acct, cust, virtual("Tok")), "id")
	path := cardPath(cust, acct, id)

	// Controls: the minted tokens work, and so does a hand-signed copy, so
	// the 401s below come from the claims, not from the signing.
	e.do(t, "GET", path, srv, nil).wantCode(t, http.StatusOK)
	e.do(t, "GET", path, acc, nil).wantCode(t, http.StatusOK)
	accHdr, accClaims := jwtParts(t, acc)
	if accHdr["alg"] != "HS256" {
		t.Errorf("MintToken alg = %v, want HS256", accHdr["alg"])
	}
	e.do(t, "GET", path, signJWT(t, "HS256", testSecret, accHdr, accClaims), nil).wantCode(t, http.StatusOK)
	_, srvClaims := jwtParts(t, srv)

	without := func(m map[string]any, k string) map[string]any {
		out := map[string]any{}
		for key, v := range m {
			if key != k {
				out[key] = v
			}
		}
		return out
	}
	both := without(srvClaims, "")
	both["account_id"] = acct
	if _, ok := both["role"]; !ok {
		both["role"] = "server"
	}
	cases := map[string]string{
		"missing":           "",
		"expired":           mintToken(t, testSecret, Claims{OrgID: org, AccountID: acct}, time.Hour, time.Now().Add(-2*time.Hour)),
		"expired server":    mintToken(t, testSecret, Claims{OrgID: org, Server: true}, time.Minute, time.Now().Add(-time.Hour)),
		"other secret":      mintToken(t, []byte("another-secret-of-at-least-32-bytes!!"), Claims{OrgID: org, Server: true}, time.Hour, time.Now()),
		"garbage":           "not.a.token",
		"HS512":             signJWT(t, "HS512", testSecret, accHdr, accClaims),
		"none":              signJWT(t, "none", nil, accHdr, accClaims),
		"account and role":  signJWT(t, "HS256", testSecret, accHdr, both),
		"no org_id":         signJWT(t, "HS256", testSecret, accHdr, without(accClaims, "org_id")),
		"no org_id, server": signJWT(t, "HS256", testSecret, accHdr, without(srvClaims, "org_id")),
		"no exp":            signJWT(t, "HS256", testSecret, accHdr, without(accClaims, "exp")),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			e.do(t, "GET", path, tok, nil).wantErr(t, http.StatusUnauthorized, "")
			e.do(t, "GET", "/events", tok, nil).wantErr(t, http.StatusUnauthorized, "")
		})
	}
	t.Run("not bearer", func(t *testing.T) {
		r := e.do(t, "GET", path, "", nil, "Authorization", "Basic "+srv)
		r.wantErr(t, http.StatusUnauthorized, "")
	})
	t.Run("every route", func(t *testing.T) {
		for _, rt := range []struct{ method, path string }{
			{"POST", "/wallet/v2/cards"},
			{"GET", path},
			{"PUT", path + "/status"},
			{"PUT", path + "/activate"},
			{"POST", path + "/reissue"},
			{"GET", "/wallet/v1/reissue-reasons"},
			{"POST", "/wallet/v1/reissue-reasons"},
			{"POST", "/cards/v1/bulks"},
			{"GET", "/cards/v1/bulks/b1"},
			{"PUT", "/cards/v1/bulks/b1"},
			{"POST", "/cards/v1/bulks/b1/start"},
			{"POST", "/cards/v1/bulks/b1/cancel"},
			{"PUT", v2Path(id) + "/noname/bind"},
			{"POST", v2Path(id) + "/noname/bind"},
			{"GET", v2Path(id)},
			{"PATCH", v2Path(id)},
			{"PUT", v2Path(id) + "/number"},
			{"POST", v2Path(id) + "/password-tries/increase"},
			{"POST", v2Path(id) + "/password-tries/reset"},
			{"GET", "/events"},
		} {
			e.do(t, rt.method, rt.path, "", "{}").wantErr(t, http.StatusUnauthorized, "")
		}
	})
}

// testAccess: 403 for account tokens outside their account or on server
// routes, 404 for cards outside the org or the path (SPEC 7, 7.1).
func (e *env) testAccess(t *testing.T) {
	const org = "o-access"
	srv, acc := tokens(t, org)
	other := accountTok(t, org, otherAcc)
	id := integer(t, e.createCard(t, srv, acct, cust, plastic()), "id")
	path := cardPath(cust, acct, id)
	status := map[string]any{"status": "BLOCKED"}

	t.Run("403", func(t *testing.T) {
		e.do(t, "GET", path, other, nil).wantErr(t, http.StatusForbidden, "")
		e.do(t, "PUT", path+"/status", other, status).wantErr(t, http.StatusForbidden, "")
		e.do(t, "PUT", path+"/activate", other, nil).wantErr(t, http.StatusForbidden, "")
		e.do(t, "POST", path+"/reissue", other, map[string]any{"reason_id": 1}).wantErr(t, http.StatusForbidden, "")
		e.do(t, "POST", "/wallet/v2/cards", acc, virtual("Elsewhere"), "x-account-id", otherAcc, "x-customer-id", cust).
			wantErr(t, http.StatusForbidden, "")
		e.do(t, "PUT", v2Path(id)+"/noname/bind", acc, `{}`, "x-account-id", otherAcc, "x-customer-id", cust).
			wantErr(t, http.StatusForbidden, "")
		e.do(t, "POST", v2Path(id)+"/noname/bind", acc, `{}`, "x-account-id", otherAcc, "x-customer-id", cust).
			wantErr(t, http.StatusForbidden, "")
		for _, rt := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/wallet/v1/reissue-reasons", nil},
			{"POST", "/wallet/v1/reissue-reasons", map[string]any{"description": "Broken", "type": "BROKEN", "must_block": true, "must_charge": false, "cost": 0, "enabled": true}},
			{"POST", "/cards/v1/bulks", map[string]any{"program_id": 1, "external_ids": []string{"a"}}},
			{"GET", "/cards/v1/bulks/b1", nil},
			{"PUT", "/cards/v1/bulks/b1", map[string]any{"external_ids": []string{"b"}}},
			{"POST", "/cards/v1/bulks/b1/start", nil},
			{"POST", "/cards/v1/bulks/b1/cancel", map[string]any{"cancel_type": "FULL"}},
			{"GET", v2Path(id), nil},
			{"GET", "/events", nil},
		} {
			e.do(t, rt.method, rt.path, acc, rt.body).wantErr(t, http.StatusForbidden, "")
		}
	})
	t.Run("own account", func(t *testing.T) {
		e.do(t, "GET", path, acc, nil).wantCard(t, http.StatusOK)
	})
	t.Run("404", func(t *testing.T) {
		foreign := serverTok(t, "o-access-other")
		for _, c := range []struct {
			name, tok, path string
		}{
			{"unknown card", srv, cardPath(cust, acct, 987654321)},
			{"other org", foreign, path},
			{"other account", srv, cardPath(cust, otherAcc, id)},
			{"other customer", srv, cardPath(otherCus, acct, id)},
			{"account token, own account, card of another", other, cardPath(cust, otherAcc, id)},
		} {
			t.Run(c.name, func(t *testing.T) {
				e.do(t, "GET", c.path, c.tok, nil).wantErr(t, http.StatusNotFound, "")
				e.do(t, "PUT", c.path+"/status", c.tok, status).wantErr(t, http.StatusNotFound, "")
				e.do(t, "PUT", c.path+"/activate", c.tok, nil).wantErr(t, http.StatusNotFound, "")
			})
		}
		e.do(t, "GET", v2Path(987654321), srv, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "GET", v2Path(id), foreign, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "PUT", v2Path(987654321)+"/noname/bind", srv, `{}`, "x-account-id", acct, "x-customer-id", cust).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "PUT", v2Path(id)+"/noname/bind", foreign, `{}`, "x-account-id", acct, "x-customer-id", cust).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "GET", "/cards/v1/bulks/no-such-bulk", srv, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "POST", "/cards/v1/bulks/no-such-bulk/start", srv, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "PUT", "/cards/v1/bulks/no-such-bulk", srv, map[string]any{"external_ids": []string{"z"}}).
			wantErr(t, http.StatusNotFound, "")
		e.do(t, "POST", "/cards/v1/bulks/no-such-bulk/cancel", srv, map[string]any{"cancel_type": "FULL"}).
			wantErr(t, http.StatusNotFound, "")
		// The card is untouched by all of the above.
		if s := e.status(t, path, srv); s != "CREATED" {
			t.Errorf("card status %s after refused requests, want CREATED", s)
		}
	})
}

// jwtParts decodes a token's header and claims (numbers as json.Number).
func jwtParts(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts, want 3", tok, len(parts))
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("token part %q: %v", s, err)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatalf("token part %s: %v", b, err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

// signJWT builds a token by hand: alg HS256, HS512 or none.
func signJWT(t *testing.T, alg string, secret []byte, header, claims map[string]any) string {
	t.Helper()
	h := map[string]any{}
	for k, v := range header {
		h[k] = v
	}
	h["alg"] = alg
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(h) + "." + enc(claims)
	var mac hash.Hash
	switch alg {
	case "HS256":
		mac = hmac.New(sha256.New, secret)
	case "HS512":
		mac = hmac.New(sha512.New, secret)
	case "none":
		return input + "."
	default:
		t.Fatalf("signJWT: alg %s", alg)
	}
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
