package httpapi

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/issuance"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// observedEnv is the API and its core reporting to one tracer and one
// meter provider of the OpenTelemetry SDK, logging JSON lines to log.
type observedEnv struct {
	handler http.Handler
	key     clientKey
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
	log     *bytes.Buffer
}

func newObservedEnv(t *testing.T, db *bun.DB) *observedEnv {
	t.Helper()
	o := &observedEnv{key: newClientKey(t, "client-1"), spans: tracetest.NewSpanRecorder(),
		metrics: sdkmetric.NewManualReader(), log: &bytes.Buffer{}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(o.metrics))
	pans, err := issuance.NewHMACProvisioner([]byte("fixture-pan-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	core, err := cardcore.New(t.Context(), db, cardcore.WithIssuance(pans),
		cardcore.WithTracerProvider(tp), cardcore.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = core.Close() })
	o.handler, err = New(core, Config{Secret: testSecret, Logger: slog.New(slog.NewJSONHandler(o.log, nil)),
		ClientKeys:     map[string]ed25519.PublicKey{o.key.id: o.key.pub},
		TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// serve runs k through the handler in the test's goroutine, so that the
// request's log line, span and metrics are all written when it returns.
func (o *observedEnv) serve(t *testing.T, k call) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	o.handler.ServeHTTP(w, k.request(t, "http://cardcore.test"))
	if k.want != 0 && w.Code != k.want {
		t.Fatalf("%s %s: %d %s, want %d", k.method, k.path, w.Code, w.Body, k.want)
	}
	return w
}

// logLine is one request's line of the API's log.
type logLine struct {
	Msg      string `json:"msg"`
	Method   string `json:"method"`
	Route    string `json:"route"`
	Status   int    `json:"status"`
	Duration *int64 `json:"duration"` // nanoseconds
	Org      string `json:"org"`
	CID      string `json:"cid"`
}

// TestRequestTelemetry: each request is one log line (method, route
// pattern, status, duration, org, cid), one span named by its route
// pattern, parent of the use case's transaction span, and one point of
// http.server.request.duration by method, route and status code; neither
// the log nor the spans carry a token, the token secret, a signature, a
// webhook secret or the PAN-like digits of a body.
func TestRequestTelemetry(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		o := newObservedEnv(t, db)
		srv, acc := serverTok(t, "org-o"), accountTok(t, "org-o", acct)
		const pan = "4111111111111111"
		const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"

		body := virtual("online")
		body["metadata"] = map[string]any{"note": pan}
		created := o.serve(t, call{method: "POST", path: "/wallet/v2/cards", token: acc, body: body, want: http.StatusCreated,
			header: []string{"x-account-id", acct, "x-customer-id", cust, "x-cid", "cid-obs-1",
				"traceparent", "00-" + traceID + "-00f067aa0ba902b7-01"}})
		var c struct{ ID int64 }
		if err := json.Unmarshal(created.Body.Bytes(), &c); err != nil || c.ID == 0 {
			t.Fatalf("created: %s", created.Body)
		}
		o.serve(t, call{method: "PUT", path: cardPath(cust, acct, c.ID) + "/status", token: acc,
			body: map[string]any{"status": "BLOCKED"}, want: http.StatusOK})
		o.serve(t, call{method: "GET", path: v2Path(999999), token: srv, want: http.StatusNotFound})
		o.serve(t, call{method: "GET", path: "/nowhere", token: srv, want: http.StatusNotFound})
		o.serve(t, call{method: "GET", path: v2Path(c.ID), token: "not-a-token", want: http.StatusUnauthorized})
		hook := o.serve(t, call{method: "POST", path: "/webhooks/v1/endpoints", token: srv,
			body: map[string]any{"url": publicHook}, want: http.StatusCreated})
		var signature []string
		o.serve(t, call{method: "GET", path: "/cards/" + uuid.NewString(), token: srv, want: http.StatusNotFound,
			sign: func(r *http.Request) {
				o.key.sign(r)
				signature = []string{r.Header.Get("Signature"), r.Header.Get("Signature-Input")}
			}})

		want := []logLine{
			{Method: "POST", Route: "POST /wallet/v2/cards", Status: 201, Org: "org-o", CID: "cid-obs-1"},
			{Method: "PUT", Route: "PUT " + v1CardRoute + "/status", Status: 200, Org: "org-o"},
			{Method: "GET", Route: "GET /wallet/v2/cards/{cardId}", Status: 404, Org: "org-o"},
			{Method: "GET", Route: "/", Status: 404},
			{Method: "GET", Route: "GET /wallet/v2/cards/{cardId}", Status: 401},
			{Method: "POST", Route: "POST " + endpointsRoute, Status: 201, Org: "org-o"},
			{Method: "GET", Route: "GET /cards/{cardId}", Status: 404, Org: "org-o"},
		}
		var got []logLine
		sc := bufio.NewScanner(bytes.NewReader(o.log.Bytes()))
		for sc.Scan() {
			var l logLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("log line %s: %v", sc.Bytes(), err)
			}
			if l.Msg != "request" || l.Duration == nil || *l.Duration <= 0 {
				t.Errorf("log line %s: want msg request and a positive duration", sc.Bytes())
			}
			l.Msg, l.Duration = "", nil
			got = append(got, l)
		}
		if !slices.Equal(got, want) {
			t.Errorf("log lines:\n%s\nwant one per request:\n%+v", o.log, want)
		}

		var hookBody struct{ Secret string }
		if err := json.Unmarshal(hook.Body.Bytes(), &hookBody); err != nil || hookBody.Secret == "" {
			t.Fatalf("registered endpoint: %s", hook.Body)
		}
		secrets := map[string]string{"server token": srv, "account token": acc, "token secret": string(testSecret),
			"webhook secret": hookBody.Secret, "webhook URL's token": "token=abc", "PAN": pan,
			"signature": signature[0], "signature input": signature[1], "bearer": "Bearer"}
		var spanText strings.Builder
		for _, s := range o.spans.Ended() {
			fmt.Fprintf(&spanText, "%s %v %v\n", s.Name(), s.Attributes(), s.Events())
		}
		for _, name := range slices.Sorted(maps.Keys(secrets)) {
			if strings.Contains(o.log.String(), secrets[name]) {
				t.Errorf("the log holds the %s", name)
			}
			if strings.Contains(spanText.String(), secrets[name]) {
				t.Errorf("the spans hold the %s", name)
			}
		}

		// The spans: one per request, named by its pattern, with
		// http.route; the use case's transaction is a child of the
		// request's span, in the trace of the incoming traceparent.
		var httpSpans []string
		var create sdktrace.ReadOnlySpan
		for _, s := range o.spans.Ended() {
			route, ok := attr(s.Attributes(), "http.route")
			if s.Name() == "cardcore.tx" {
				continue
			}
			httpSpans = append(httpSpans, s.Name())
			if want := s.Name()[strings.IndexByte(s.Name(), ' ')+1:]; !ok || route.AsString() != want {
				t.Errorf("span %s: http.route %v, want %s", s.Name(), route, want)
			}
			if s.Name() == "POST /wallet/v2/cards" {
				create = s
			}
		}
		wantSpans := []string{"POST /wallet/v2/cards", "PUT " + v1CardRoute + "/status", "GET /wallet/v2/cards/{cardId}",
			"GET /", "GET /wallet/v2/cards/{cardId}", "POST " + endpointsRoute, "GET /cards/{cardId}"}
		if !slices.Equal(httpSpans, wantSpans) {
			t.Errorf("request spans %v, want %v", httpSpans, wantSpans)
		}
		if create == nil || create.SpanContext().TraceID().String() != traceID {
			t.Fatalf("the create's span is not in the trace of its traceparent")
		}
		var children int
		for _, s := range o.spans.Ended() {
			if s.Name() == "cardcore.tx" && s.Parent().SpanID() == create.SpanContext().SpanID() {
				children++
			}
		}
		if children != 1 {
			t.Errorf("the create's span has %d cardcore.tx children, want 1", children)
		}

		// The request metric: a point per method, route and status code.
		wantPoints := map[string]uint64{
			"POST /wallet/v2/cards 201":          1,
			"PUT " + v1CardRoute + "/status 200": 1,
			"GET /wallet/v2/cards/{cardId} 404":  1,
			"GET / 404":                          1,
			"GET /wallet/v2/cards/{cardId} 401":  1,
			"POST " + endpointsRoute + " 201":    1,
			"GET /cards/{cardId} 404":            1,
		}
		if got := requestPoints(t, o.metrics); !maps.Equal(got, wantPoints) {
			t.Errorf("http.server.request.duration points %v, want %v", got, wantPoints)
		}
	})
}

// attr returns the value of the attribute key among attrs.
func attr(attrs []attribute.KeyValue, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range attrs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// requestPoints returns the counts of the histogram
// http.server.request.duration by "<method> <route> <status code>".
func requestPoints(t *testing.T, r *sdkmetric.ManualReader) map[string]uint64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.server.request.duration" {
				continue
			}
			if m.Unit != "s" {
				t.Errorf("http.server.request.duration in %q, want s", m.Unit)
			}
			for _, p := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				method, _ := p.Attributes.Value("http.request.method")
				route, _ := p.Attributes.Value("http.route")
				code, _ := p.Attributes.Value("http.response.status_code")
				out[fmt.Sprintf("%s %s %d", method.AsString(), route.AsString(), code.AsInt64())] += p.Count
			}
		}
	}
	return out
}

// Without providers the API measures and traces nothing, and still logs
// its line.
func TestRequestTelemetryOff(t *testing.T) {
	e := newEnv(t, testdb.Open(t, "sqlite"))
	var log bytes.Buffer
	cfg := e.config()
	cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	h, err := New(e.core, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w.Code != http.StatusOK || strings.Count(log.String(), "\n") != 1 ||
		!strings.Contains(log.String(), `msg=request method=GET route="GET /healthz" status=200`) {
		t.Errorf("GET /healthz: %d, log %q", w.Code, log.String())
	}
}
