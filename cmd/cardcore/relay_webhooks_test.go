package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/httpapi"
	"github.com/cardcore/cardcore/adapters/webhooks"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/uptrace/bun"
)

// hookReceiver is a webhook receiver that answers its first requests with
// failures (500s, and one too slow to count), then 200, and keeps the ids
// of the events it accepted, each verified with the Standard Webhooks
// library.
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	script []string // the answers of the first requests: "fail" or "hang"
	calls  int
	ids    []string
}

func newHookReceiver(t *testing.T, script ...string) *hookReceiver {
	rc := &hookReceiver{t: t, script: script}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve)) // on 127.0.0.1
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	n := rc.calls
	rc.calls++
	secret := rc.secret
	rc.mu.Unlock()
	if n < len(rc.script) {
		if rc.script[n] == "hang" {
			time.Sleep(time.Second) // past the relay's timeout
		}
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		rc.t.Errorf("the endpoint's secret: %v", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if err := wh.Verify(body, r.Header); err != nil {
		rc.t.Errorf("a delivery fails the Standard Webhooks verification: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var e struct {
		ID string `json:"event_id"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.ID != r.Header.Get("webhook-id") {
		rc.t.Errorf("the body's event_id %q is not the webhook-id %q (%v)", e.ID, r.Header.Get("webhook-id"), err)
	}
	rc.mu.Lock()
	rc.ids = append(rc.ids, e.ID)
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *hookReceiver) accepted() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.ids)
}

// register registers an endpoint of org at url through the API and
// returns its answer's status and body.
func register(t *testing.T, api http.Handler, org, url string) (int, map[string]any) {
	t.Helper()
	return apiCall(t, api, org, "POST", "/webhooks/v1/endpoints", map[string]any{"url": url})
}

// apiCall sends a request with a server token of org to api.
func apiCall(t *testing.T, api http.Handler, org, method, path string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := httpapi.MintToken(relaySecret, httpapi.Claims{OrgID: org, Server: true}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

// changes creates n cards of org, for accounts from, from+1..., and blocks
// each: 2n events.
func changes(t *testing.T, core *cardcore.Core, org string, from, n int) {
	t.Helper()
	for i := range n {
		if err := createAndBlock(t.Context(), core, org, from+i); err != nil {
			t.Fatal(err)
		}
	}
}

var relaySecret = []byte("0123456789abcdef0123456789abcdef")

// orgEvents returns the ids of org's feed events above after, in feed
// order.
func orgEvents(t *testing.T, core *cardcore.Core, org string, after int64) []string {
	t.Helper()
	feed, err := core.Store.After(t.Context(), after, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range feed {
		if e.OrgID == org {
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// The relay delivers an org's events to its webhook endpoint: a receiver
// that fails and times out first gets, once it recovers, every event of the
// org committed after the registration, in feed order, each signed so that
// the Standard Webhooks library verifies it, and none of another org's or
// of the feed's history. An endpoint on 127.0.0.1 needs the operator's
// leave, and a disabled endpoint gets nothing more.
func TestRelayWebhooks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		core, err := cardcore.New(t.Context(), db, cardcore.WithMigrations(cardcore.SkipMigrations))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = core.Close() })
		strict, err := httpapi.New(core, httpapi.Config{Secret: relaySecret, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		lenient, err := httpapi.New(core, httpapi.Config{Secret: relaySecret, Logger: slog.New(slog.DiscardHandler), WebhooksAllowPrivate: true})
		if err != nil {
			t.Fatal(err)
		}
		rc := newHookReceiver(t, "fail", "fail", "hang", "fail")
		if code, body := register(t, strict, "acme", rc.srv.URL+"/hooks"); code != http.StatusBadRequest || body["field"] != "url" {
			t.Fatalf("an endpoint on 127.0.0.1 without --webhooks-allow-private: %d %v; want 400 on url", code, body)
		}

		logs := &syncBuffer{}
		cfg := &relayConfig{holder: "test", lease: 2 * time.Second, allowPrivate: true,
			endpointsEvery: 100 * time.Millisecond, progress: 100 * time.Millisecond,
			webhookOpts: []webhooks.Option{webhooks.WithBackoff(50 * time.Millisecond), webhooks.WithTimeout(300 * time.Millisecond)}}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- runRelay(ctx, slog.New(slog.NewTextHandler(logs, nil)), core, cfg) }()
		waitFor(t, "the relay to wait for endpoints", 10*time.Second, func() bool {
			return strings.Contains(logs.String(), "waiting for endpoints")
		})

		changes(t, core, "acme", 100, 3) // history: not for an endpoint registered later
		code, created := register(t, lenient, "acme", rc.srv.URL+"/hooks")
		if code != http.StatusCreated {
			t.Fatalf("register: %d %v", code, created)
		}
		id, _ := created["id"].(string)
		rc.mu.Lock()
		rc.secret, _ = created["secret"].(string)
		rc.mu.Unlock()
		ep, err := core.Store.Endpoint(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) }))
		defer gone.Close()
		code, goneEp := register(t, lenient, "acme", gone.URL)
		if code != http.StatusCreated {
			t.Fatalf("register: %d %v", code, goneEp)
		}
		changes(t, core, "acme", 200, 5)
		changes(t, core, "globex", 300, 2)
		changes(t, core, "acme", 400, 2)
		want := orgEvents(t, core, "acme", ep.StartAfter)
		if len(want) != 14 {
			t.Fatalf("%d events of acme after the registration, want 14", len(want))
		}
		waitFor(t, "the endpoint to get its events", 15*time.Second, func() bool { return len(rc.accepted()) >= len(want) })
		if got := rc.accepted(); !slices.Equal(got, want) {
			t.Fatalf("the endpoint accepted\n%v\nwant, in feed order,\n%v", got, want)
		}
		waitFor(t, "the success to clear failing_since", 5*time.Second, func() bool {
			ep, err := core.Store.Endpoint(t.Context(), "acme", id)
			return err == nil && ep.FailingSince.IsZero()
		})
		if n := strings.Count(logs.String(), "relay: delivery"); n < 4 || !strings.Contains(logs.String(), "no answer within") {
			t.Errorf("the relay logged %d failed deliveries, want at least 4, a timeout among them:\n%s", n, logs.String())
		}
		// An endpoint that answers 410 Gone is disabled, and recorded so.
		waitFor(t, "the relay to disable the endpoint that answered 410", 5*time.Second, func() bool {
			ep, err := core.Store.Endpoint(t.Context(), "acme", goneEp["id"].(string))
			return err == nil && !ep.Enabled && !ep.FailingSince.IsZero()
		})

		// Disabled: nothing more arrives, and its subscription stays where
		// it was.
		if code, body := apiCall(t, lenient, "acme", "PATCH", "/webhooks/v1/endpoints/"+id, map[string]any{"enabled": false}); code != http.StatusOK {
			t.Fatalf("disable: %d %v", code, body)
		}
		time.Sleep(5 * cfg.endpointsEvery) // the relay reads the endpoints again
		changes(t, core, "acme", 500, 2)
		time.Sleep(time.Second)
		if got := rc.accepted(); len(got) != len(want) {
			t.Errorf("a disabled endpoint got %d more events", len(got)-len(want))
		}

		// Enabled again: it resumes with the events it missed, in order.
		if code, body := apiCall(t, lenient, "acme", "PATCH", "/webhooks/v1/endpoints/"+id, map[string]any{"enabled": true}); code != http.StatusOK {
			t.Fatalf("enable: %d %v", code, body)
		}
		want = orgEvents(t, core, "acme", ep.StartAfter)
		waitFor(t, "the enabled endpoint to catch up", 10*time.Second, func() bool { return len(rc.accepted()) >= len(want) })
		if got := rc.accepted(); !slices.Equal(got, want) {
			t.Errorf("after enabling again the endpoint accepted\n%v\nwant\n%v", got, want)
		}

		// Deleted: its subscription goes with it.
		if code, body := apiCall(t, lenient, "acme", "DELETE", "/webhooks/v1/endpoints/"+id, nil); code != http.StatusNoContent {
			t.Fatalf("delete: %d %v", code, body)
		}
		time.Sleep(5 * cfg.endpointsEvery)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("relay: %v", err)
		}
		l, err := core.Store.Acquire(t.Context(), storage.EndpointSubscription(id), "probe", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if l.Cursor != 0 {
			t.Errorf("the deleted endpoint's subscription is still at cursor %d", l.Cursor)
		}
		if !strings.Contains(logs.String(), "relay progress") {
			t.Errorf("the relay logged no progress:\n%s", logs.String())
		}
	})
}

// An endpoint whose owner enables it again while it fails (PATCH
// {"enabled": true} clears failing_since) is retried at once, not at the
// back-off's next attempt.
func TestRelayWebhookEnabledAgainRetriesAtOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		core, err := cardcore.New(t.Context(), db, cardcore.WithMigrations(cardcore.SkipMigrations))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = core.Close() })
		api, err := httpapi.New(core, httpapi.Config{Secret: relaySecret, Logger: slog.New(slog.DiscardHandler), WebhooksAllowPrivate: true})
		if err != nil {
			t.Fatal(err)
		}
		rc := newHookReceiver(t, "fail")
		code, created := register(t, api, "acme", rc.srv.URL)
		if code != http.StatusCreated {
			t.Fatalf("register: %d %v", code, created)
		}
		id, _ := created["id"].(string)
		rc.mu.Lock()
		rc.secret, _ = created["secret"].(string)
		rc.mu.Unlock()
		changes(t, core, "acme", 100, 1)
		cfg := &relayConfig{holder: "test", lease: 2 * time.Second, allowPrivate: true, endpointsEvery: 100 * time.Millisecond,
			webhookOpts: []webhooks.Option{webhooks.WithBackoff(time.Hour)}}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- runRelay(ctx, slog.New(slog.DiscardHandler), core, cfg) }()
		waitFor(t, "the first delivery to fail and be recorded", 10*time.Second, func() bool {
			ep, err := core.Store.Endpoint(t.Context(), "acme", id)
			return err == nil && !ep.FailingSince.IsZero()
		})
		if code, body := apiCall(t, api, "acme", "PATCH", "/webhooks/v1/endpoints/"+id, map[string]any{"enabled": true}); code != http.StatusOK {
			t.Fatalf("enable: %d %v", code, body)
		}
		waitFor(t, "the endpoint to get its events at once", 10*time.Second, func() bool { return len(rc.accepted()) == 2 })
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("relay: %v", err)
		}
	})
}
