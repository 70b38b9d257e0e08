package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// serveInProcess runs "cardcore serve" in the test's process on a free
// address with args, waits until it is healthy, and returns its base URL,
// its log and the function that stops it (SIGTERM's path: the context
// ends) and returns its exit code; the test's end stops it too.
func serveInProcess(t *testing.T, args ...string) (base string, logs *syncBuffer, stop func() int) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	logs = &syncBuffer{}
	var code int
	// waitHealthy may take the exit from exited: stop waits on done, so
	// that a serve that returns early fails the test at once instead of
	// blocking it until the test binary's timeout.
	exited := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		code = run(ctx, append([]string{"serve", "--addr", addr}, args...), io.Discard, logs)
		close(done)
		exited <- fmt.Errorf("exit code %d", code)
	}()
	var once sync.Once
	stop = func() int {
		once.Do(func() {
			cancel()
			<-done
		})
		return code
	}
	t.Cleanup(func() { stop() })
	base = "http://" + addr
	waitHealthy(t, base, exited, logs)
	return base, logs, stop
}

// token mints a token with "cardcore token" in the test's process.
func token(t *testing.T, secret string, args ...string) string {
	t.Helper()
	code, out, errOut := runCmd(t, append([]string{"token", "--org", "acme", "--jwt-secret", secret}, args...)...)
	if code != exitOK {
		t.Fatalf("token %v: exit %d: %s", args, code, errOut)
	}
	return strings.TrimSpace(out)
}

// scrape returns the text of GET url.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s, want 200 and the Prometheus text format", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(body)
}

// sample returns the sum of the samples of metric name, in the Prometheus
// text format, whose labels include every one of labels (each
// `key="value"`), and how many there are.
func sample(text, name string, labels ...string) (sum float64, n int) {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		var set, value string
		switch {
		case strings.HasPrefix(line, name+"{"):
			end := strings.LastIndex(line, "} ")
			if end < 0 {
				continue
			}
			set, value = line[len(name)+1:end], line[end+2:]
		case strings.HasPrefix(line, name+" "):
			value = line[len(name)+1:]
		default:
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && slices.Contains(strings.Split(set, ","), l)
		}
		if v, err := strconv.ParseFloat(value, 64); ok && err == nil {
			sum += v
			n++
		}
	}
	return sum, n
}

// cardcore serve answers GET /metrics on its listener, without a token, in
// the Prometheus text format: after a create and a status update it shows
// the requests by method, route and status, the operations and the
// transitions; after a bulk, its progress; after a webhook delivery by
// --relay, the attempt and the endpoint's subscription lag; and the feed's
// head. Each request is one log line without the token.
func TestServeMetrics(t *testing.T) {
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hooks.Close()
	secret := newSecret(t)
	base, logs, stop := serveInProcess(t, "--db", filepath.Join(t.TempDir(), "serve.db"), "--jwt-secret", secret,
		"--relay", "--webhooks-allow-private", "--webhooks-every", "100ms")
	server, account := token(t, secret, "--server"), token(t, secret, "--account-id", "1001")
	var c struct{ ID int64 }
	call(t, account, "POST", base+"/wallet/v2/cards", map[string]string{"x-account-id": "1001", "x-customer-id": "2001"},
		`{"type":"VIRTUAL","name":"online","cvv_rotation_interval_hours":24}`, http.StatusCreated, &c)
	cardPath := fmt.Sprintf("%s/wallet/v1/customers/2001/accounts/1001/cards/%d", base, c.ID)
	call(t, account, "PUT", cardPath+"/status", nil, `{"status":"BLOCKED"}`, http.StatusOK, nil)
	var bulk struct{ ID string }
	call(t, server, "POST", base+"/cards/v1/bulks", nil, `{"program_id":1,"external_ids":["e1","e2"]}`, http.StatusCreated, &bulk)
	call(t, server, "POST", base+"/cards/v1/bulks/"+bulk.ID+"/start", nil, "", http.StatusAccepted, nil)
	var ep struct{ ID string }
	call(t, server, "POST", base+"/webhooks/v1/endpoints", nil, `{"url":"`+hooks.URL+`"}`, http.StatusCreated, &ep)
	call(t, account, "PUT", cardPath+"/status", nil, `{"status":"NORMAL"}`, http.StatusOK, nil)

	var text string
	// The attempt is counted when the endpoint answers, the lag when the
	// relay has committed its cursor after it: wait for both.
	waitFor(t, "the webhook delivery and its cursor in /metrics", 15*time.Second, func() bool {
		text = scrape(t, base+"/metrics")
		n, _ := sample(text, "cardcore_webhook_attempts_total", `outcome="delivered"`)
		lag, m := sample(text, "cardcore_subscription_lag", `subscription="webhook:`+ep.ID+`"`)
		return n >= 1 && m == 1 && lag == 0
	})
	for _, s := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"http_server_request_duration_seconds_count", []string{`http_request_method="POST"`, `http_route="/wallet/v2/cards"`, `http_response_status_code="201"`}, 1},
		{"http_server_request_duration_seconds_count", []string{`http_request_method="PUT"`,
			`http_route="/wallet/v1/customers/{customerId}/accounts/{accountId}/cards/{cardId}/status"`, `http_response_status_code="200"`}, 2},
		{"cardcore_card_changes_total", []string{`operation="create"`, `to="NORMAL"`}, 1},
		{"cardcore_card_changes_total", []string{`operation="update_status"`, `from="NORMAL"`, `to="BLOCKED"`}, 1},
		{"cardcore_card_changes_total", []string{`operation="update_status"`, `from="BLOCKED"`, `to="NORMAL"`}, 1},
		{"cardcore_card_changes_total", []string{`operation="start_bulk"`, `to="UNBOUND"`}, 2},
		{"cardcore_operations_total", []string{`operation="update_status"`, `outcome="ok"`}, 2},
		{"cardcore_bulks_total", []string{`status="STARTED"`}, 1},
		{"cardcore_subscription_lag", []string{`subscription="webhook:` + ep.ID + `"`}, 0},
	} {
		if got, n := sample(text, s.name, s.labels...); n != 1 || got != s.want {
			t.Errorf("%s%v: %d samples summing to %g, want one of %g", s.name, s.labels, n, got, s.want)
		}
	}
	if head, n := sample(text, "cardcore_feed_head"); n != 1 || head < 5 {
		t.Errorf("cardcore_feed_head: %d samples, %g; want one, at least 5 (2 cards, 2 updates, a bulk of 2)", n, head)
	}
	for _, absent := range []string{"server_address", "http_server_request_body_size", "http_server_response_body_size"} {
		if strings.Contains(text, absent) {
			t.Errorf("/metrics shows %s", absent)
		}
	}
	if code := stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, logs)
	}
	// The API's requests but the health checks of serveInProcess, which
	// are logged too; /metrics is not the API's.
	lines := strings.Count(logs.String(), "msg=request ") - strings.Count(logs.String(), `route="GET /healthz"`)
	if lines != 6 || !strings.Contains(logs.String(), `msg=request method=POST route="POST /wallet/v2/cards" status=201`) {
		t.Errorf("%d request lines for 6 requests:\n%s", lines, logs)
	}
	for _, tok := range []string{server, account, secret} {
		if strings.Contains(logs.String(), tok) {
			t.Errorf("the log holds a token or the secret:\n%s", logs)
		}
	}
}

// otlpReceiver is an OTLP/HTTP trace receiver: it keeps the names of the
// spans posted to /v1/traces.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	o := &otlpReceiver{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || err != nil {
			t.Errorf("OTLP receiver: %s %s: %v", r.Method, r.URL.Path, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		o.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					o.spans = append(o.spans, s.GetName())
				}
			}
		}
		o.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *otlpReceiver) names() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.spans)
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, serve exports its spans over
// OTLP/HTTP, flushed when it stops: the request's, the use case's
// transaction and bun's SQL statements. With --metrics-addr, /metrics is
// on that listener alone.
func TestServeExportsTraces(t *testing.T) {
	otlp := newOTLPReceiver(t)
	t.Setenv(otlpEndpointEnv, otlp.srv.URL)
	t.Setenv(otlpTracesEndpointEnv, "")
	secret := newSecret(t)
	metricsAddr := freeAddr(t)
	base, logs, stop := serveInProcess(t, "--db", filepath.Join(t.TempDir(), "serve.db"), "--jwt-secret", secret,
		"--metrics-addr", metricsAddr)
	call(t, token(t, secret, "--account-id", "1001"), "POST", base+"/wallet/v2/cards",
		map[string]string{"x-account-id": "1001", "x-customer-id": "2001"},
		`{"type":"VIRTUAL","name":"online","cvv_rotation_interval_hours":24}`, http.StatusCreated, nil)
	if _, n := sample(scrape(t, "http://"+metricsAddr+"/metrics"), "cardcore_operations_total", `operation="create"`); n != 1 {
		t.Errorf("--metrics-addr's /metrics lacks the create")
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the API's listener answers GET /metrics %d with --metrics-addr, want 404", resp.StatusCode)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, logs)
	}
	names := otlp.names()
	for _, want := range []string{"POST /wallet/v2/cards", "cardcore.tx", "INSERT"} {
		if !slices.Contains(names, want) {
			t.Errorf("the exported spans %v lack %q", names, want)
		}
	}
	if !strings.Contains(logs.String(), "tracing: exporting spans over OTLP/HTTP") {
		t.Errorf("serve does not log that it traces:\n%s", logs)
	}
}
