package httpapi

import (
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// TestSandboxOrderOfChecks: when several errors apply to a sandbox
// request, the first of 401 (token), 400 (path id), 403, 413, 400
// (Idempotency-Key), 401 (signature), 400 (body), 404, 409 wins.
func TestSandboxOrderOfChecks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		f := newFixture(t, db)
		server := token(t, Claims{OrgID: "org-a", Server: true})
		acct := token(t, Claims{OrgID: "org-a", AccountID: "100"})
		sign := signer(f.client)
		create := "/accounts/" + uuid.NewString() + "/cards"
		key := map[string]string{"Idempotency-Key": uuid.NewString()}
		badKey := map[string]string{"Idempotency-Key": "k-1"}
		plastic := map[string]any{"type": "PLASTIC"}
		tests := []struct {
			name  string
			call  call
			field string // the error body's field
			msg   string // in its message
		}{
			{"no token beats everything", call{method: "POST", path: "/accounts/x/cards", header: badKey, body: big, want: 401}, "", "bearer token"},
			{"a bad path id beats 403", call{method: "POST", path: "/accounts/x/cards", token: acct, header: badKey, body: big, want: 400}, "accountId", "UUID"},
			{"403 beats 413", call{method: "POST", path: create, token: acct, header: badKey, body: big, want: 403}, "", "server token"},
			{"413 beats the key", call{method: "POST", path: create, token: server, header: badKey, body: big, want: 413}, "", "1 MiB"},
			{"a missing key beats the signature", call{method: "POST", path: create, token: server, body: plastic, want: 400}, "Idempotency-Key", "is required"},
			{"a non-UUID key beats the signature", call{method: "PATCH", path: "/simulator/cards/" + uuid.NewString() + "/issue", token: server, header: badKey, want: 400}, "Idempotency-Key", "must be a UUID"},
			{"the signature beats the body", call{method: "POST", path: create, token: server, header: key, body: plastic, want: 401}, "Signature-Input", "not signed"},
			{"a signature of another key", call{method: "POST", path: create, token: server, header: key, body: plastic, sign: signer(newClientKey(t, f.client.id)), want: 401}, "Signature", "bad signature"},
			{"the body beats 404 and 409", call{method: "POST", path: create, token: server, header: key, body: plastic, sign: sign, want: 400}, "type", "VIRTUAL or TEMPORARY"},
			{"the signature beats 404", call{method: "GET", path: "/cards/" + uuid.NewString(), token: server, want: 401}, "Signature-Input", "not signed"},
			{"404", call{method: "PATCH", path: "/simulator/cards/" + uuid.NewString() + "/fail", token: server, header: key, sign: sign, want: 404}, "", "not found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := send(t, f.srv.URL, tt.call)
				if got, _ := a.body["field"].(string); got != tt.field {
					t.Errorf("field %q, want %q: %s", got, tt.field, a.raw)
				}
				if msg, _ := a.body["message"].(string); !strings.Contains(msg, tt.msg) {
					t.Errorf("message %q lacks %q", msg, tt.msg)
				}
			})
		}
	})
}

func TestNewRefusesBadSandboxConfig(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		f := newFixture(t, db)
		base := f.config()
		key := newClientKey(t, "client-1")
		tests := []struct {
			name   string
			change func(c *Config)
			msg    string
		}{
			{"no client keys", func(c *Config) { c.ClientKeys = nil }, "need ClientKeys"},
			{"a short key", func(c *Config) { c.ClientKeys = map[string]ed25519.PublicKey{"k": key.pub[:16]} }, "not an ed25519 public key"},
			{"an empty keyid", func(c *Config) { c.ClientKeys = map[string]ed25519.PublicKey{"": key.pub} }, "1-64 characters"},
			{"a keyid with a control character", func(c *Config) { c.ClientKeys = map[string]ed25519.PublicKey{"a\tb": key.pub} }, "printable"},
			{"an origin with a path", func(c *Config) { c.PublicOrigin = "https://api.example.com/v1" }, "PublicOrigin"},
			{"an origin without a scheme", func(c *Config) { c.PublicOrigin = "api.example.com" }, "PublicOrigin"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				cfg := base
				tt.change(&cfg)
				if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("New: %v, want an error with %q", err, tt.msg)
				}
			})
		}
		// Without Sync and Issuance, their routes are not served.
		cfg := base
		cfg.Sync, cfg.Issuance = nil, nil
		h, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		server := token(t, Claims{OrgID: "org-a", Server: true})
		for _, k := range []call{
			{method: "GET", path: "/cards/" + uuid.NewString()},
			{method: "POST", path: "/accounts/" + uuid.NewString() + "/cards"},
			{method: "PATCH", path: "/simulator/cards/" + uuid.NewString() + "/issue"},
			{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards"},
		} {
			k.token, k.want = server, http.StatusNotFound
			if a := send(t, srv.URL, k); a.body["code"] != codeNotFound {
				t.Errorf("%s %s: %s", k.method, k.path, a.raw)
			}
		}
	})
}

// TestPublicOrigin: behind a proxy that terminates TLS, a client signs the
// public URI; with PublicOrigin set the API verifies it, without it the
// signature is refused.
func TestPublicOrigin(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		f := newFixture(t, db)
		server := token(t, Claims{OrgID: "org-a", Server: true})
		for _, tt := range []struct {
			origin string
			want   int
		}{{"https://api.example.com", http.StatusNotFound}, {"", http.StatusUnauthorized}} {
			cfg := f.config()
			cfg.PublicOrigin = tt.origin
			h, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			path := "/cards/" + uuid.NewString()
			req, err := http.NewRequest(http.MethodGet, "https://api.example.com"+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+server)
			if err := SignRequest(req, f.client.id, f.client.priv); err != nil {
				t.Fatal(err)
			}
			// The proxy forwards the request over plain HTTP.
			req.URL.Scheme, req.URL.Host = "http", strings.TrimPrefix(srv.URL, "http://")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			srv.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("PublicOrigin %q: %d, want %d (a card that does not exist, once the signature verifies)", tt.origin, resp.StatusCode, tt.want)
			}
		}
	})
}
