package httpapi

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// A public address (RFC 5737's documentation range, which SPEC 10.3
// allows), so registration needs no DNS.
const publicHook = "https://203.0.113.10/hooks?token=abc"

var secretFormat = regexp.MustCompile(`^whsec_[A-Za-z0-9+/]+={0,2}$`)

// TestWebhookEndpoints: the webhook endpoints API of SPEC 10.3 — register,
// list without secrets, disable and enable, delete; server tokens only;
// URLs and event types checked.
func TestWebhookEndpoints(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		srv, acc := tokens(t, "o-hooks")
		const path = "/webhooks/v1/endpoints"

		created := e.do(t, "POST", path, srv, map[string]any{"url": publicHook,
			"event_types": []string{"create-1", "bind_card-1"}, "description": "ledger"}).want(t, http.StatusCreated)
		id := str(t, created, "id")
		if _, err := uuid.Parse(id); err != nil {
			t.Errorf("id %q is not a UUID", id)
		}
		secret := str(t, created, "secret")
		if !secretFormat.MatchString(secret) {
			t.Errorf("secret %q is not whsec_<base64>", secret)
		}
		if created["enabled"] != true || str(t, created, "url") != publicHook || str(t, created, "description") != "ledger" {
			t.Errorf("created: %v", created)
		}
		if types, _ := created["event_types"].([]any); len(types) != 2 || types[0] != "create-1" || types[1] != "bind_card-1" {
			t.Errorf("event_types: %v", created["event_types"])
		}
		all := e.do(t, "POST", path, srv, map[string]any{"url": "http://203.0.113.11/"}).want(t, http.StatusCreated)
		if types, ok := all["event_types"].([]any); !ok || len(types) != 0 {
			t.Errorf("an endpoint of every type answers event_types %v, want []", all["event_types"])
		}

		list := e.do(t, "GET", path, srv, nil)
		if strings.Contains(string(list.raw), "whsec_") {
			t.Errorf("the list shows a secret: %s", list.raw)
		}
		items, _ := list.want(t, http.StatusOK)["items"].([]any)
		if len(items) != 2 || items[0].(map[string]any)["id"] != id {
			t.Fatalf("list: %s", list.raw)
		}
		if other := e.do(t, "GET", path, serverTok(t, "o-hooks-other"), nil).want(t, http.StatusOK); len(other["items"].([]any)) != 0 {
			t.Errorf("another org lists %v", other)
		}

		// Refused URLs and event types.
		for _, url := range []string{"http://127.0.0.1:8080/", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/",
			"http://0.0.0.0/", "http://localhost/", "ftp://203.0.113.10/", "not a url", "", "http://192.168.1.1/"} {
			e.do(t, "POST", path, srv, map[string]any{"url": url}).wantErr(t, http.StatusBadRequest, "url")
		}
		e.do(t, "POST", path, srv, map[string]any{"url": publicHook, "event_types": []string{"delete-1"}}).
			wantErr(t, http.StatusBadRequest, "event_types")
		e.do(t, "POST", path, srv, map[string]any{"url": publicHook, "event_types": []string{"update-1", "update-1"}}).
			wantErr(t, http.StatusBadRequest, "event_types")
		e.do(t, "POST", path, srv, map[string]any{"url": publicHook, "event_types": "update-1"}).
			wantErr(t, http.StatusBadRequest, "event_types")
		e.do(t, "POST", path, srv, map[string]any{"url": publicHook, "description": strings.Repeat("x", 513)}).
			wantErr(t, http.StatusBadRequest, "description")

		// Auth: 401 first, then 403 for an account token, before the body.
		e.do(t, "POST", path, "", map[string]any{"url": publicHook}).wantErr(t, http.StatusUnauthorized, "")
		e.do(t, "POST", path, acc, map[string]any{"url": "http://127.0.0.1/"}).wantErr(t, http.StatusForbidden, "")
		e.do(t, "GET", path, acc, nil).wantErr(t, http.StatusForbidden, "")
		e.do(t, "DELETE", path+"/"+id, acc, nil).wantErr(t, http.StatusForbidden, "")
		e.do(t, "PATCH", path+"/"+id, acc, map[string]any{"enabled": false}).wantErr(t, http.StatusForbidden, "")
		e.doRaw(t, "POST", path, srv, []byte(big), false, "Content-Type", "application/json").wantErr(t, http.StatusRequestEntityTooLarge, "")

		// Disable and enable; enabling clears failing_since.
		if err := e.core.Store.SetEndpointFailingSince(t.Context(), "o-hooks", id, time.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		off := e.do(t, "PATCH", path+"/"+id, srv, map[string]any{"enabled": false}).want(t, http.StatusOK)
		if off["enabled"] != false || off["failing_since"] == nil {
			t.Errorf("disabled: %v", off)
		}
		absent(t, off, "secret")
		on := e.do(t, "PATCH", path+"/"+id, srv, map[string]any{"enabled": true}).want(t, http.StatusOK)
		if on["enabled"] != true {
			t.Errorf("enabled: %v", on)
		}
		absent(t, on, "failing_since")
		e.do(t, "PATCH", path+"/"+id, srv, map[string]any{}).wantErr(t, http.StatusBadRequest, "enabled")
		e.do(t, "PATCH", path+"/"+id, srv, map[string]any{"enabled": "yes"}).wantErr(t, http.StatusBadRequest, "enabled")
		e.do(t, "PATCH", path+"/"+id, serverTok(t, "o-hooks-other"), map[string]any{"enabled": false}).wantErr(t, http.StatusNotFound, "")

		// Delete: another org's is not found; then gone.
		e.do(t, "DELETE", path+"/"+id, serverTok(t, "o-hooks-other"), nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "DELETE", path+"/"+id, srv, nil).wantCode(t, http.StatusNoContent)
		e.do(t, "DELETE", path+"/"+id, srv, nil).wantErr(t, http.StatusNotFound, "")
		e.do(t, "PATCH", path+"/"+id, srv, map[string]any{"enabled": true}).wantErr(t, http.StatusNotFound, "")
		if rest := e.do(t, "GET", path, srv, nil).want(t, http.StatusOK)["items"].([]any); len(rest) != 1 {
			t.Errorf("after the delete the org lists %d endpoints, want 1", len(rest))
		}
	})
}

// With WebhooksAllowPrivate the server registers endpoints on private and
// loopback addresses; without it, not (TestWebhookEndpoints).
func TestWebhookEndpointsAllowPrivate(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		cfg := e.cfg
		cfg.WebhooksAllowPrivate = true
		h, err := New(e.core, cfg)
		if err != nil {
			t.Fatal(err)
		}
		private := e.serving(t, h)
		srv := serverTok(t, "o-private")
		for _, url := range []string{"http://127.0.0.1:8080/hooks", "http://10.1.2.3/", "http://localhost/"} {
			private.do(t, "POST", "/webhooks/v1/endpoints", srv, map[string]any{"url": url}).want(t, http.StatusCreated)
		}
		private.do(t, "POST", "/webhooks/v1/endpoints", srv, map[string]any{"url": "ftp://127.0.0.1/"}).
			wantErr(t, http.StatusBadRequest, "url")
	})
}

// exerciseWebhooks runs the webhook endpoint routes against the document
// (TestOpenAPI).
func exerciseWebhooks(t *testing.T, c *contract) {
	do := func(k call) answer { t.Helper(); return c.do(t, k) }
	server := serverTok(t, "org-a")
	acc := accountTok(t, "org-a", "100")
	const path = "/webhooks/v1/endpoints"
	created := do(call{method: "POST", path: path, token: server,
		body: map[string]any{"url": publicHook, "event_types": []string{"update-1"}, "description": "ledger"}, want: 201})
	id := str(t, created.body, "id")
	do(call{method: "POST", path: path, token: server, body: map[string]any{"url": "http://127.0.0.1/"}, want: 400})
	do(call{method: "POST", path: path, token: server, body: map[string]any{"url": publicHook, "event_types": []string{"nope"}}, want: 400, breaksDoc: true})
	do(call{method: "POST", path: path, token: acc, body: map[string]any{"url": publicHook}, want: 403})
	do(call{method: "POST", path: path, body: map[string]any{"url": publicHook}, want: 401})
	do(call{method: "POST", path: path, token: server, body: big, want: 413, breaksDoc: true})
	do(call{method: "GET", path: path, token: server, want: 200})
	do(call{method: "GET", path: path, token: acc, want: 403})
	do(call{method: "GET", path: path, want: 401})

	one := path + "/" + id
	missing := path + "/" + uuid.NewString()
	do(call{method: "PATCH", path: one, token: server, body: map[string]any{"enabled": false}, want: 200})
	do(call{method: "PATCH", path: one, token: server, body: map[string]any{}, want: 400, breaksDoc: true})
	do(call{method: "PATCH", path: missing, token: server, body: map[string]any{"enabled": true}, want: 404})
	do(call{method: "PATCH", path: one, token: acc, body: map[string]any{"enabled": true}, want: 403})
	do(call{method: "PATCH", path: one, body: map[string]any{"enabled": true}, want: 401})
	do(call{method: "PATCH", path: one, token: server, body: big, want: 413, breaksDoc: true})
	do(call{method: "DELETE", path: one, token: acc, want: 403})
	do(call{method: "DELETE", path: one, want: 401})
	do(call{method: "DELETE", path: one, token: server, body: big, want: 413})
	do(call{method: "DELETE", path: one, token: server, want: 204})
	do(call{method: "DELETE", path: one, token: server, want: 404})
}
