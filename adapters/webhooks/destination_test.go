package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/webhooks"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/storage/storagetest"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// answer is how the receiver answers one request.
type answer int

const (
	ok       answer = iota // 204
	fail                   // 500
	hang                   // no answer until the sender gives up
	gone                   // 410
	redirect               // 307 to a path of the same receiver
)

// receiver is an httptest endpoint that checks every delivery with the
// Standard Webhooks project's Go library, answers by its script (then
// 204), and records the events it accepted, in order.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	lib *standardwebhooks.Webhook
	// ignoreTime verifies without the timestamp tolerance, for tests whose
	// clock is not the wall clock.
	ignoreTime bool

	mu       sync.Mutex
	script   []answer
	requests int
	accepted []delivered
}

// delivered is an event as the receiver got it.
type delivered struct {
	ID, Type string
	Seq      int64
	Header   http.Header
	Body     []byte
}

func newReceiver(t *testing.T, secret string, script ...answer) *receiver {
	t.Helper()
	lib, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, lib: lib, script: script}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("receiver: read the body: %v", err)
		return
	}
	if r.URL.Path == "/moved" {
		rc.t.Errorf("receiver: a redirect was followed")
	}
	verify := rc.lib.Verify
	if rc.ignoreTime {
		verify = rc.lib.VerifyIgnoringTimestamp
	}
	if err := verify(body, r.Header); err != nil {
		rc.t.Errorf("receiver: standard-webhooks refuses the delivery: %v", err)
	}
	var ev struct {
		ID   string `json:"event_id"`
		Type string `json:"event_type"`
		Seq  int64  `json:"seq"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.t.Errorf("receiver: body is not JSON: %v", err)
	}
	if r.Method != http.MethodPost || r.Header.Get("content-type") != "application/json" || r.Header.Get("webhook-id") != ev.ID {
		rc.t.Errorf("receiver: %s with content-type %q and webhook-id %q for event %s", r.Method, r.Header.Get("content-type"), r.Header.Get("webhook-id"), ev.ID)
	}
	rc.mu.Lock()
	a := ok
	if rc.requests < len(rc.script) {
		a = rc.script[rc.requests]
	}
	rc.requests++
	if a == ok {
		rc.accepted = append(rc.accepted, delivered{ev.ID, ev.Type, ev.Seq, r.Header.Clone(), body})
	}
	rc.mu.Unlock()
	switch a {
	case ok:
		w.WriteHeader(http.StatusNoContent)
	case fail:
		http.Error(w, "try later", http.StatusInternalServerError)
	case hang:
		<-r.Context().Done()
	case gone:
		w.WriteHeader(http.StatusGone)
	case redirect:
		http.Redirect(w, r, "/moved", http.StatusTemporaryRedirect)
	}
}

func (rc *receiver) requestCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests
}

func (rc *receiver) acceptedIDs() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ids := make([]string, len(rc.accepted))
	for i, d := range rc.accepted {
		ids[i] = d.ID
	}
	return ids
}

// endpoint is an enabled endpoint of org acme at url.
func endpoint(url, secret string) webhooks.Endpoint {
	return webhooks.Endpoint{ID: "ep_1", OrgID: "acme", URL: url, Secret: secret, Enabled: true}
}

// newTarget starts a receiver that answers as script says and checks
// signatures with a new secret; ep is an enabled endpoint that targets it.
func newTarget(t *testing.T, script ...answer) (rc *receiver, ep webhooks.Endpoint) {
	t.Helper()
	secret := webhooks.NewSecret()
	rc = newReceiver(t, secret, script...)
	return rc, endpoint(rc.srv.URL, secret)
}

// feed returns n events of org, seq from+1 on.
func feed(org string, from, n int) []events.Event {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	evs := make([]events.Event, n)
	for i := range evs {
		seq := int64(from + i + 1)
		evs[i] = events.Event{
			ID: fmt.Sprintf("evt-%s-%04d", org, seq), Domain: events.Domain, Type: events.CardUpdated,
			SchemaVersion: events.SchemaVersion, OrgID: org, CID: "cid-" + strconv.FormatInt(seq, 10),
			Timestamp: at.Add(time.Duration(seq) * time.Second),
			Data:      json.RawMessage(fmt.Sprintf(`{"card_id":7,"card_status":"NORMAL","version":%d}`, seq)),
			Seq:       seq, CardID: 7,
		}
	}
	return evs
}

func newDestination(t *testing.T, ep webhooks.Endpoint, opts ...webhooks.Option) *webhooks.Destination {
	t.Helper()
	d, err := webhooks.New(ep, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func TestDeliverSignsEveryEventInOrder(t *testing.T) {
	secret := webhooks.NewSecret()
	rc := newReceiver(t, secret)
	d := newDestination(t, endpoint(rc.srv.URL+"/hooks", secret), webhooks.WithAllowPrivate(true))
	evs := feed("acme", 0, 5)

	acked, err := d.Deliver(t.Context(), evs)
	if acked != 5 || err != nil {
		t.Fatalf("Deliver = %d, %v; want 5, nil", acked, err)
	}
	if got := rc.acceptedIDs(); !slices.Equal(got, storagetest.IDs(evs)) {
		t.Fatalf("received %v, want %v", got, storagetest.IDs(evs))
	}
	for i, got := range rc.accepted {
		// The body is the event as the feed serves it: the envelope and its seq.
		want, err := json.Marshal(struct {
			events.Event
			Seq int64 `json:"seq"`
		}{evs[i], evs[i].Seq})
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Body) != string(want) {
			t.Errorf("body %d = %s, want %s", i, got.Body, want)
		}
		if got.Seq != evs[i].Seq || got.Type != string(events.CardUpdated) {
			t.Errorf("event %d: seq %d type %s", i, got.Seq, got.Type)
		}
		ts, err := strconv.ParseInt(got.Header.Get("webhook-timestamp"), 10, 64)
		if err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
			t.Errorf("webhook-timestamp %q is not now", got.Header.Get("webhook-timestamp"))
		}
		// Our own Verify agrees with the library's.
		if err := webhooks.Verify(secret, got.Header, got.Body, time.Now()); err != nil {
			t.Errorf("Verify: %v", err)
		}
	}
	if ep := d.Endpoint(); !ep.FailingSince.IsZero() || !ep.Enabled {
		t.Errorf("after success: %+v", ep)
	}
}

// TestDeliverRetriesFromTheFailedEvent: the receiver fails the first
// attempts at an event, then lets one time out, then takes everything.
// Each Deliver acknowledges exactly the events answered 2xx before the
// failure, and delivering again from there completes the feed, in order,
// each event accepted once.
func TestDeliverRetriesFromTheFailedEvent(t *testing.T) {
	rc, ep := newTarget(t, ok, fail, fail, ok, hang)
	timeout := 300 * time.Millisecond
	var failing []time.Time
	d := newDestination(t, ep, webhooks.WithAllowPrivate(true),
		webhooks.WithTimeout(timeout), webhooks.OnFailing(func(ep webhooks.Endpoint) { failing = append(failing, ep.FailingSince) }))
	evs := feed("acme", 0, 4)

	steps := []struct {
		acked   int
		status  int
		timeout bool
	}{
		{1, 500, false}, // evs[0] ok, evs[1] fails
		{0, 500, false}, // evs[1] fails again
		{1, 0, true},    // evs[1] ok, evs[2] times out
		{2, 0, false},   // evs[2], evs[3] ok
	}
	next := 0
	for i, st := range steps {
		begin := time.Now()
		acked, err := d.Deliver(t.Context(), evs[next:])
		if acked != st.acked {
			t.Fatalf("step %d: Deliver acknowledged %d, want %d (err %v)", i, acked, st.acked, err)
		}
		if st.status == 0 && !st.timeout {
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			break
		}
		failed := evs[next+acked]
		var derr *webhooks.DeliveryError
		if !errors.As(err, &derr) || derr.Seq != failed.Seq || derr.EventID != failed.ID || derr.Status != st.status {
			t.Fatalf("step %d: error %v, want a DeliveryError for seq %d status %d", i, err, failed.Seq, st.status)
		}
		if !strings.Contains(err.Error(), "seq "+strconv.FormatInt(failed.Seq, 10)) || !strings.Contains(err.Error(), failed.ID) {
			t.Errorf("step %d: %q names neither the seq nor the id", i, err)
		}
		if st.timeout {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("step %d: %v is no timeout", i, err)
			}
			if took := time.Since(begin); took > timeout+2*time.Second {
				t.Errorf("step %d: the timeout of %s took %s", i, timeout, took)
			}
		}
		if errors.Is(err, webhooks.ErrDisabled) {
			t.Fatalf("step %d: disabled after a few failures: %v", i, err)
		}
		next += acked
	}
	if got := rc.acceptedIDs(); !slices.Equal(got, storagetest.IDs(evs)) {
		t.Fatalf("received %v, want %v", got, storagetest.IDs(evs))
	}
	if rc.requestCount() != 7 {
		t.Errorf("%d requests, want 7", rc.requestCount())
	}
	// Two runs of failures: the 500s, ended by a success; the timeout,
	// ended by the last Deliver.
	if len(failing) != 4 || failing[0].IsZero() || !failing[1].IsZero() || failing[2].IsZero() || !failing[3].IsZero() {
		t.Errorf("OnFailing saw %v, want two starts each with its end", failing)
	}
}

func TestDeliverRefusesLoopbackAtConnect(t *testing.T) {
	rc, ep := newTarget(t)
	secret := ep.Secret
	port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":")+1:]
	for _, url := range []string{
		rc.srv.URL + "/in?token=receiver-token",
		"http://localhost:" + port + "/in?token=receiver-token",
		"http://user:receiver-token@127.0.0.1:" + port + "/in",
	} {
		t.Run(url, func(t *testing.T) {
			d := newDestination(t, endpoint(url, secret))
			acked, err := d.Deliver(t.Context(), feed("acme", 0, 2))
			if acked != 0 || !errors.Is(err, webhooks.ErrRefusedAddress) {
				t.Fatalf("Deliver = %d, %v; want 0, ErrRefusedAddress", acked, err)
			}
			if !strings.Contains(err.Error(), "loopback") {
				t.Errorf("%q does not say why", err)
			}
			if strings.Contains(err.Error(), "receiver-token") || strings.Contains(err.Error(), secret[len("whsec_"):]) {
				t.Errorf("the error leaks a secret: %q", err)
			}
		})
	}
	if n := rc.requestCount(); n != 0 {
		t.Fatalf("%d requests reached the receiver", n)
	}
	// Allowed, the same endpoint gets the events.
	d := newDestination(t, ep, webhooks.WithAllowPrivate(true))
	if acked, err := d.Deliver(t.Context(), feed("acme", 0, 2)); acked != 2 || err != nil {
		t.Fatalf("with private targets allowed: Deliver = %d, %v", acked, err)
	}
}

func TestDisableAfterFailingTooLong(t *testing.T) {
	rc, ep := newTarget(t, fail, fail, fail)
	rc.ignoreTime = true
	clk := cardtest.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	t0 := clk.Now()
	var disabled []webhooks.Endpoint
	d := newDestination(t, ep, webhooks.WithAllowPrivate(true), webhooks.WithClock(clk.Now),
		webhooks.OnDisable(func(ep webhooks.Endpoint) { disabled = append(disabled, ep) }))
	evs := feed("acme", 0, 2)

	if _, err := d.Deliver(t.Context(), evs); err == nil || errors.Is(err, webhooks.ErrDisabled) {
		t.Fatalf("first failure: %v", err)
	}
	if got := d.Endpoint().FailingSince; !got.Equal(t0) {
		t.Fatalf("FailingSince = %v, want %v", got, t0)
	}
	clk.Advance(webhooks.DefaultDisableAfter) // failing exactly 5 days: not longer
	if _, err := d.Deliver(t.Context(), evs); err == nil || errors.Is(err, webhooks.ErrDisabled) {
		t.Fatalf("after 5 days: %v", err)
	}
	clk.Advance(time.Second)
	acked, err := d.Deliver(t.Context(), evs)
	if acked != 0 || !errors.Is(err, webhooks.ErrDisabled) {
		t.Fatalf("after 5 days and a second: Deliver = %d, %v; want ErrDisabled", acked, err)
	}
	var derr *webhooks.DeliveryError
	if !errors.As(err, &derr) || derr.Status != 500 {
		t.Errorf("%v does not carry the failed delivery", err)
	}
	if len(disabled) != 1 || disabled[0].Enabled || !disabled[0].FailingSince.Equal(t0) {
		t.Fatalf("OnDisable saw %+v", disabled)
	}
	// The receiver is healthy again, but a disabled endpoint gets nothing.
	before := rc.requestCount()
	for range 3 {
		if acked, err := d.Deliver(t.Context(), evs); acked != 0 || !errors.Is(err, webhooks.ErrDisabled) {
			t.Fatalf("disabled: Deliver = %d, %v", acked, err)
		}
	}
	if rc.requestCount() != before || len(rc.acceptedIDs()) != 0 {
		t.Fatalf("a disabled endpoint got %d more requests", rc.requestCount()-before)
	}
	if len(disabled) != 1 {
		t.Errorf("OnDisable told %d times", len(disabled))
	}
}

func TestDisableAfterCountsFromTheStoredFailure(t *testing.T) {
	rc, ep := newTarget(t, fail, ok, fail, fail)
	rc.ignoreTime = true
	clk := cardtest.NewClock(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC))
	ep.FailingSince = clk.Now().Add(-6 * 24 * time.Hour) // a relay restarted on a failing endpoint
	var failing []time.Time
	d := newDestination(t, ep, webhooks.WithAllowPrivate(true), webhooks.WithClock(clk.Now),
		webhooks.WithDisableAfter(7*24*time.Hour), webhooks.OnFailing(func(ep webhooks.Endpoint) { failing = append(failing, ep.FailingSince) }))
	evs := feed("acme", 0, 1)

	if _, err := d.Deliver(t.Context(), evs); err == nil || errors.Is(err, webhooks.ErrDisabled) {
		t.Fatalf("6 days of 7: %v", err)
	}
	// A success ends the run of failures ...
	if acked, err := d.Deliver(t.Context(), evs); acked != 1 || err != nil {
		t.Fatalf("recovery: %d, %v", acked, err)
	}
	// ... so failing again starts a new one, far from disabling.
	clk.Advance(2 * 24 * time.Hour)
	if _, err := d.Deliver(t.Context(), evs); err == nil || errors.Is(err, webhooks.ErrDisabled) {
		t.Fatalf("a new failure: %v", err)
	}
	if got := d.Endpoint().FailingSince; !got.Equal(clk.Now()) {
		t.Errorf("FailingSince = %v, want %v", got, clk.Now())
	}
	if len(failing) != 2 || !failing[0].IsZero() || !failing[1].Equal(clk.Now()) {
		t.Errorf("OnFailing saw %v", failing)
	}
}

func TestGoneDisablesAtOnce(t *testing.T) {
	rc, ep := newTarget(t, ok, gone)
	var disabled int
	d := newDestination(t, ep, webhooks.WithAllowPrivate(true),
		webhooks.OnDisable(func(webhooks.Endpoint) { disabled++ }))
	acked, err := d.Deliver(t.Context(), feed("acme", 0, 3))
	if acked != 1 || !errors.Is(err, webhooks.ErrDisabled) || !strings.Contains(err.Error(), "410") {
		t.Fatalf("Deliver = %d, %v; want 1, ErrDisabled for the 410", acked, err)
	}
	if disabled != 1 || d.Endpoint().Enabled {
		t.Fatalf("OnDisable told %d times, endpoint %+v", disabled, d.Endpoint())
	}
	if acked, err := d.Deliver(t.Context(), feed("acme", 1, 2)); acked != 0 || !errors.Is(err, webhooks.ErrDisabled) {
		t.Fatalf("after 410: Deliver = %d, %v", acked, err)
	}
	if rc.requestCount() != 2 {
		t.Fatalf("%d requests, want 2", rc.requestCount())
	}
}

func TestDisabledEndpointGetsNothing(t *testing.T) {
	rc, ep := newTarget(t)
	ep.Enabled = false
	d := newDestination(t, ep, webhooks.WithAllowPrivate(true))
	if acked, err := d.Deliver(t.Context(), feed("acme", 0, 2)); acked != 0 || !errors.Is(err, webhooks.ErrDisabled) {
		t.Fatalf("Deliver = %d, %v; want 0, ErrDisabled", acked, err)
	}
	if rc.requestCount() != 0 {
		t.Fatal("a disabled endpoint got a request")
	}
}

func TestRedirectIsAFailure(t *testing.T) {
	rc, ep := newTarget(t, redirect)
	d := newDestination(t, ep, webhooks.WithAllowPrivate(true))
	acked, err := d.Deliver(t.Context(), feed("acme", 0, 1))
	var derr *webhooks.DeliveryError
	if acked != 0 || !errors.As(err, &derr) || derr.Status != http.StatusTemporaryRedirect {
		t.Fatalf("Deliver = %d, %v; want a failure with 307", acked, err)
	}
	if rc.requestCount() != 1 {
		t.Fatalf("%d requests: the redirect was followed", rc.requestCount())
	}
}

func TestDeliverAcknowledgesWhatTheEndpointDoesNotSelect(t *testing.T) {
	rc, ep := newTarget(t)
	ep.EventTypes = []events.Type{events.CardCreated}
	d := newDestination(t, ep, webhooks.WithAllowPrivate(true))
	evs := append(feed("acme", 0, 2), feed("globex", 2, 2)...)
	evs[1].Type = events.CardCreated
	evs[3].Type = events.CardCreated
	acked, err := d.Deliver(t.Context(), evs)
	if acked != 4 || err != nil {
		t.Fatalf("Deliver = %d, %v; want 4, nil", acked, err)
	}
	if got := rc.acceptedIDs(); !slices.Equal(got, []string{evs[1].ID}) {
		t.Fatalf("received %v, want only %s", got, evs[1].ID)
	}
}

func TestCallerCancellationIsNoFailureOfTheEndpoint(t *testing.T) {
	_, ep := newTarget(t, hang)
	d := newDestination(t, ep, webhooks.WithAllowPrivate(true))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	acked, err := d.Deliver(ctx, feed("acme", 0, 1))
	if acked != 0 || err == nil {
		t.Fatalf("Deliver = %d, %v", acked, err)
	}
	if !d.Endpoint().FailingSince.IsZero() {
		t.Fatal("a delivery the caller gave up on counts as the endpoint's failure")
	}
}

func TestBackoff(t *testing.T) {
	d := newDestination(t, endpoint("https://hooks.example.com/", webhooks.NewSecret()))
	want := map[int]time.Duration{
		0: 5 * time.Second, // before the first retry at the latest
		1: 5 * time.Second, 2: 5 * time.Minute, 3: 30 * time.Minute, 4: 2 * time.Hour,
		5: 5 * time.Hour, 6: 10 * time.Hour, 7: 10 * time.Hour, 8: 10 * time.Hour, 100: 10 * time.Hour,
	}
	for attempt, w := range want {
		t.Run(strconv.Itoa(attempt), func(t *testing.T) {
			if got := d.Backoff(attempt); got != w {
				t.Fatalf("Backoff(%d) = %s, want %s", attempt, got, w)
			}
		})
	}
	var _ events.Backoff = d
}

func TestNewRefuses(t *testing.T) {
	short := "whsec_" + strings.Repeat("A", 30) // 22 bytes
	tests := []struct {
		name  string
		ep    webhooks.Endpoint
		field string
	}{
		{"an ftp URL", endpoint("ftp://hooks.example.com/", webhooks.NewSecret()), "url"},
		{"a relative URL", endpoint("/hooks", webhooks.NewSecret()), "url"},
		{"no secret", endpoint("https://hooks.example.com/", ""), "secret"},
		{"a secret without its prefix", endpoint("https://hooks.example.com/", webhooks.NewSecret()[len("whsec_"):]), "secret"},
		{"a short secret", endpoint("https://hooks.example.com/", short), "secret"},
		{"a secret that is no base64", endpoint("https://hooks.example.com/", "whsec_not*base64"), "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := webhooks.New(tt.ep)
			var inv *card.InvalidError
			if !errors.As(err, &inv) || inv.Field != tt.field {
				t.Fatalf("New = %v, want invalid %s", err, tt.field)
			}
		})
	}
	if _, err := webhooks.New(endpoint("https://hooks.example.com/", webhooks.NewSecret()), webhooks.WithTimeout(0)); err == nil {
		t.Error("New accepts a zero timeout")
	}
}
