package httpapi

import (
	"bytes"
	"crypto/ed25519"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// config is a copy of e's configuration.
func (e *env) config() Config {
	cfg := e.cfg
	cfg.ClientKeys = maps.Clone(cfg.ClientKeys)
	return cfg
}

// TestSandboxOrderOfChecks: when several errors apply to a sandbox
// request, the first of 401 (token), 400 (path id), 403, 413, 400
// (Idempotency-Key), 401 (signature), 400 (body), 404, 409 wins.
func TestSandboxOrderOfChecks(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		server := serverTok(t, "org-a")
		acc := accountTok(t, "org-a", "100")
		sign := e.key.sign
		create := "/accounts/" + uuid.NewString() + "/cards"
		key := []string{"Idempotency-Key", uuid.NewString()}
		badKey := []string{"Idempotency-Key", "k-1"}
		plastic := map[string]any{"type": "PLASTIC"}
		e.checkPrecedence(t, []precedence{
			{"no token beats everything", call{method: "POST", path: "/accounts/x/cards", header: badKey, body: big, want: 401}, "", "bearer token"},
			{"a bad path id beats 403", call{method: "POST", path: "/accounts/x/cards", token: acc, header: badKey, body: big, want: 400}, "accountId", "UUID"},
			{"403 beats 413", call{method: "POST", path: create, token: acc, header: badKey, body: big, want: 403}, "", "server token"},
			{"413 beats the key", call{method: "POST", path: create, token: server, header: badKey, body: big, want: 413}, "", "1 MiB"},
			{"a missing key beats the signature", call{method: "POST", path: create, token: server, body: plastic, want: 400}, "Idempotency-Key", "is required"},
			{"a non-UUID key beats the signature", call{method: "PATCH", path: "/simulator/cards/" + uuid.NewString() + "/issue", token: server, header: badKey, want: 400}, "Idempotency-Key", "must be a UUID"},
			{"the signature beats the body", call{method: "POST", path: create, token: server, header: key, body: plastic, want: 401}, "Signature-Input", "not signed"},
			{"a signature of another key", call{method: "POST", path: create, token: server, header: key, body: plastic, sign: newClientKey(t, e.key.id).sign, want: 401}, "Signature", "bad signature"},
			{"the body beats 404 and 409", call{method: "POST", path: create, token: server, header: key, body: plastic, sign: sign, want: 400}, "type", "VIRTUAL or TEMPORARY"},
			{"the signature beats 404", call{method: "GET", path: "/cards/" + uuid.NewString(), token: server, want: 401}, "Signature-Input", "not signed"},
			{"404", call{method: "PATCH", path: "/simulator/cards/" + uuid.NewString() + "/fail", token: server, header: key, sign: sign, want: 404}, "", "not found"},
		})
	})
}

func TestNewRefusesBadSandboxConfig(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		base, key := e.config(), e.key
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
				if _, err := New(e.core, cfg); err == nil || !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("New: %v, want an error with %q", err, tt.msg)
				}
			})
		}
		// Without Sync and Issuance, their routes are not served.
		core := *e.core
		core.Sync, core.Issuance = nil, nil
		h, err := New(&core, base)
		if err != nil {
			t.Fatal(err)
		}
		without := e.serving(t, h)
		server := serverTok(t, "org-a")
		for _, k := range []call{
			{method: "GET", path: "/cards/" + uuid.NewString()},
			{method: "POST", path: "/accounts/" + uuid.NewString() + "/cards"},
			{method: "PATCH", path: "/simulator/cards/" + uuid.NewString() + "/issue"},
			{method: "PUT", path: "/v2/data/customers/c/accounts/a/cards"},
		} {
			k.token, k.want = server, http.StatusNotFound
			if a := without.send(t, k); a.body["code"] != codeNotFound {
				t.Errorf("%s %s: %s", k.method, k.path, a.raw)
			}
		}
	})
}

// TestPublicOrigin: behind a proxy that terminates TLS, a client signs the
// public URI; with PublicOrigin set the API verifies it, without it the
// signature is refused.
func TestPublicOrigin(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		server := serverTok(t, "org-a")
		for _, tt := range []struct {
			origin string
			want   int
		}{{"https://api.example.com", http.StatusNotFound}, {"", http.StatusUnauthorized}} {
			cfg := e.config()
			cfg.PublicOrigin = tt.origin
			h, err := New(e.core, cfg)
			if err != nil {
				t.Fatal(err)
			}
			behind := e.serving(t, h)
			path := "/cards/" + uuid.NewString()
			req, err := http.NewRequest(http.MethodGet, "https://api.example.com"+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+server)
			if err := SignRequest(req, e.key.id, e.key.priv); err != nil {
				t.Fatal(err)
			}
			// The proxy forwards the request over plain HTTP.
			req.URL.Scheme, req.URL.Host = "http", strings.TrimPrefix(behind.url, "http://")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("PublicOrigin %q: %d, want %d (a card that does not exist, once the signature verifies)", tt.origin, resp.StatusCode, tt.want)
			}
		}
	})
}

// exerciseSandbox runs the sandbox routes (SPEC section 9), signed.
func exerciseSandbox(t *testing.T, c *contract) {
	do := func(k call) answer { t.Helper(); return c.do(t, k) }
	server := serverTok(t, "org-a")
	acc := accountTok(t, "org-a", "100")
	sign := c.e.key.sign
	stranger := newClientKey(t, "stranger").sign
	account := uuid.NewString()
	create := "/accounts/" + account + "/cards"
	key := func(k string) []string { return []string{"Idempotency-Key", k} }
	virtual := map[string]any{"type": "VIRTUAL"}

	k1 := uuid.NewString()
	first := do(call{method: "POST", path: create, token: server, header: key(k1), body: virtual, sign: sign, want: 201})
	if str(t, first.body, "status") != "PENDING" || str(t, first.body, "accountId") != account || first.body["last4"] != nil {
		t.Errorf("new sandbox card: %s", first.raw)
	}
	id := str(t, first.body, "id")
	if r := do(call{method: "POST", path: create, token: server, header: key(k1), body: virtual, sign: sign, want: 201}); !bytes.Equal(r.raw, first.raw) {
		t.Errorf("replay answered\n%s\nthe first answer was\n%s", r.raw, first.raw)
	}
	do(call{method: "POST", path: create, token: server, header: key(k1), body: map[string]any{"type": "TEMPORARY"}, sign: sign, want: 409})
	plastic := do(call{method: "POST", path: create, token: server, header: key(uuid.NewString()), body: map[string]any{"type": "PLASTIC"},
		sign: sign, want: 400, breaksDoc: true})
	if str(t, plastic.body, "field") != "type" {
		t.Errorf("PLASTIC: %s", plastic.raw)
	}
	noKey := do(call{method: "POST", path: create, token: server, body: virtual, sign: sign, want: 400, breaksDoc: true})
	if str(t, noKey.body, "field") != "Idempotency-Key" {
		t.Errorf("no Idempotency-Key: %s", noKey.raw)
	}
	do(call{method: "POST", path: create, token: server, header: key("not-a-uuid"), body: virtual, sign: sign, want: 400, breaksDoc: true})
	do(call{method: "POST", path: "/accounts/42/cards", token: server, header: key(uuid.NewString()), body: virtual, sign: sign, want: 400, breaksDoc: true})
	unsigned := do(call{method: "POST", path: create, token: server, header: key(uuid.NewString()), body: virtual, want: 401, breaksDoc: true})
	if str(t, unsigned.body, "field") != "Signature-Input" {
		t.Errorf("unsigned: %s", unsigned.raw)
	}
	do(call{method: "POST", path: create, token: server, header: key(uuid.NewString()), body: virtual, sign: stranger, want: 401})
	do(call{method: "POST", path: create, token: acc, header: key(uuid.NewString()), body: virtual, sign: sign, want: 403})
	do(call{method: "POST", path: create, header: key(uuid.NewString()), body: virtual, sign: sign, want: 401})
	do(call{method: "POST", path: create, token: server, header: key(uuid.NewString()), body: big, sign: sign, want: 413, breaksDoc: true})

	// Issue, and read the issued card.
	issue := "/simulator/cards/" + id + "/issue"
	k2 := uuid.NewString()
	do(call{method: "PATCH", path: issue, token: server, header: key(k2), sign: sign, want: 202})
	cardPath := "/cards/" + id
	issued := do(call{method: "GET", path: cardPath, token: server, sign: sign, want: 200})
	if str(t, issued.body, "status") != "NORMAL" || len(str(t, issued.body, "last4")) != 4 || str(t, issued.body, "brand") == "" {
		t.Errorf("issued card: %s", issued.raw)
	}
	if r := do(call{method: "PATCH", path: issue, token: server, header: key(k2), sign: sign, want: 202}); len(r.raw) != 0 {
		t.Errorf("issue replay answered a body: %s", r.raw)
	}
	do(call{method: "PATCH", path: issue, token: server, header: key(k2), body: map[string]any{}, sign: sign, want: 409})
	again := do(call{method: "PATCH", path: issue, token: server, header: key(uuid.NewString()), sign: sign, want: 409})
	if str(t, again.body, "current_status") != "NORMAL" {
		t.Errorf("issuing an issued card: %s", again.raw)
	}
	missing := uuid.NewString()
	// refused sends the refusals of a simulator action on card id: an
	// unknown card, a path id not a UUID, a stranger's signature, an account
	// token, no token, a body over the limit.
	refused := func(action, id string) {
		do(call{method: "PATCH", path: "/simulator/cards/" + missing + "/" + action, token: server, header: key(uuid.NewString()), sign: sign, want: 404})
		do(call{method: "PATCH", path: "/simulator/cards/42/" + action, token: server, header: key(uuid.NewString()), sign: sign, want: 400, breaksDoc: true})
		for _, k := range []call{
			{token: server, sign: stranger, want: 401},
			{token: acc, sign: sign, want: 403},
			{sign: sign, want: 401},
			{token: server, body: big, sign: sign, want: 413},
		} {
			k.method, k.path, k.header = "PATCH", "/simulator/cards/"+id+"/"+action, key(uuid.NewString())
			do(k)
		}
	}
	refused("issue", id)

	// Fail another card.
	temp := do(call{method: "POST", path: create, token: server, header: key(uuid.NewString()), body: map[string]any{"type": "TEMPORARY"}, sign: sign, want: 201})
	fail := "/simulator/cards/" + str(t, temp.body, "id") + "/fail"
	do(call{method: "PATCH", path: fail, token: server, header: key(uuid.NewString()), sign: sign, want: 202})
	failed := do(call{method: "GET", path: "/cards/" + str(t, temp.body, "id"), token: server, sign: sign, want: 200})
	if str(t, failed.body, "status") != "CANCELED" || failed.body["last4"] != nil {
		t.Errorf("failed card: %s", failed.raw)
	}
	do(call{method: "PATCH", path: fail, token: server, header: key(uuid.NewString()), sign: sign, want: 409})
	refused("fail", str(t, temp.body, "id"))

	do(call{method: "GET", path: "/cards/42", token: server, sign: sign, want: 400, breaksDoc: true})
	do(call{method: "GET", path: cardPath, token: server, want: 401, breaksDoc: true})
	do(call{method: "GET", path: cardPath, token: acc, sign: sign, want: 403})
	do(call{method: "GET", path: "/cards/" + missing, token: server, sign: sign, want: 404})
	do(call{method: "GET", path: cardPath, token: serverTok(t, "org-b"), sign: sign, want: 404})
}
