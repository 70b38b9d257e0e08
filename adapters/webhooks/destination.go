package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cardcore/cardcore/events"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// ErrDisabled is wrapped by the error of Deliver to a disabled endpoint:
// one disabled by its owner, one that answered 410 Gone, or one that kept
// failing longer than the disable-after duration. Nothing is delivered to
// it until it is enabled again (a new Destination of the enabled endpoint).
var ErrDisabled = errors.New("webhooks: endpoint disabled")

// The defaults of the options.
const (
	DefaultTimeout      = 15 * time.Second
	DefaultDisableAfter = 5 * 24 * time.Hour
)

// Option configures a Destination.
type Option func(*options)

type options struct {
	client       *http.Client
	allowPrivate bool
	now          func() time.Time
	timeout      time.Duration
	disableAfter time.Duration
	onFailing    func(Endpoint)
	onDisable    func(Endpoint)
	backoff      []time.Duration
	meters       metric.MeterProvider
}

// WithClient sends the deliveries with c instead of the default client,
// which refuses loopback, private, link-local and unspecified addresses
// when it connects, takes no proxy from the environment and follows no
// redirect. c is used as it is: those checks are then c's to make.
func WithClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithAllowPrivate lets the default client connect to loopback, private,
// link-local and unspecified addresses (the operator's
// --webhooks-allow-private).
func WithAllowPrivate(allow bool) Option { return func(o *options) { o.allowPrivate = allow } }

// WithClock sets the clock that stamps the deliveries and measures how
// long the endpoint has been failing (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithTimeout bounds one delivery, from connecting to the response's
// status (default 15s): no 2xx within it is a failure.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithDisableAfter sets how long an endpoint may keep failing before it is
// disabled (default 5 days).
func WithDisableAfter(d time.Duration) Option { return func(o *options) { o.disableAfter = d } }

// WithBackoff replaces the retry schedule of SPEC 10.3 (Backoff) with
// waits, the last one repeated: for tests, and for operators who know
// their receivers.
func WithBackoff(waits ...time.Duration) Option {
	return func(o *options) { o.backoff = slices.Clone(waits) }
}

// WithMeterProvider sets where the counter cardcore.webhook.attempts goes
// (default: a no-op): every delivery attempt, by outcome: delivered (a 2xx
// answer), rejected (another status) or unreachable (no answer within the
// timeout, a failed or refused connection). An attempt cut short because
// the deliverer stopped is not counted. It names no endpoint, which would
// give a series per endpoint of every org.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.meters = mp } }

// OnFailing is told when the endpoint's FailingSince changes: set when a
// delivery fails after a success, zero again when one succeeds. The host
// stores it, so a restarted relay keeps counting toward the disable-after
// duration.
func OnFailing(f func(ep Endpoint)) Option { return func(o *options) { o.onFailing = f } }

// OnDisable is told once when the destination disables the endpoint (it
// answered 410 Gone, or kept failing longer than the disable-after
// duration): ep has Enabled false and the FailingSince it had. The host
// records it, so the endpoint gets nothing more until it is enabled again.
func OnDisable(f func(ep Endpoint)) Option { return func(o *options) { o.onDisable = f } }

// Destination delivers a subscription's events to one webhook endpoint,
// signed (Standard Webhooks): an events.Destination with the retry
// schedule of SPEC 10.3 (Backoff). Its methods are safe for concurrent use,
// though a deliverer calls Deliver from one goroutine at a time.
type Destination struct {
	url          string
	key          []byte
	client       *http.Client
	ownClient    bool
	now          func() time.Time
	timeout      time.Duration
	disableAfter time.Duration
	onFailing    func(Endpoint)
	onDisable    func(Endpoint)
	schedule     []time.Duration
	attempts     metric.Int64Counter // cardcore.webhook.attempts

	mu sync.Mutex
	ep Endpoint // its Enabled and FailingSince change as deliveries fail and succeed
}

var _ events.Destination = (*Destination)(nil)
var _ events.Backoff = (*Destination)(nil)

// New returns the destination of ep. ep's URL must be an http or https URL
// and its secret one made by NewSecret; the URL's host is checked when a
// delivery connects, not here (ValidateURL checks it at registration).
func New(ep Endpoint, opts ...Option) (*Destination, error) {
	o := options{now: time.Now, timeout: DefaultTimeout, disableAfter: DefaultDisableAfter}
	for _, opt := range opts {
		opt(&o)
	}
	if o.timeout <= 0 || o.disableAfter <= 0 || o.now == nil {
		return nil, errors.New("webhooks: the timeout and disable-after durations must be positive, and the clock set")
	}
	if o.backoff == nil {
		o.backoff = schedule
	}
	if len(o.backoff) == 0 || slices.ContainsFunc(o.backoff, func(d time.Duration) bool { return d <= 0 }) {
		return nil, errors.New("webhooks: the retry schedule needs at least one wait, each positive")
	}
	if _, err := parseURL(ep.URL); err != nil {
		return nil, err
	}
	key, err := endpointKey(ep.Secret)
	if err != nil {
		return nil, err
	}
	if o.meters == nil {
		o.meters = noop.NewMeterProvider()
	}
	attempts, err := o.meters.Meter("github.com/cardcore/cardcore/adapters/webhooks").Int64Counter("cardcore.webhook.attempts",
		metric.WithUnit("{attempt}"), metric.WithDescription("Webhook delivery attempts, by outcome: delivered, rejected or unreachable."))
	if err != nil {
		return nil, err
	}
	d := &Destination{
		url: ep.URL, key: key, client: o.client, now: o.now, timeout: o.timeout, disableAfter: o.disableAfter,
		onFailing: o.onFailing, onDisable: o.onDisable, schedule: o.backoff, attempts: attempts, ep: ep,
	}
	if d.client == nil {
		d.client, d.ownClient = deliveryClient(o.allowPrivate), true
	}
	return d, nil
}

// deliveryClient is the default client: its dialer checks each address it
// connects to (unless allowPrivate), since a host's DNS may have changed
// since its registration; it takes no proxy from the environment, which
// would connect in its place; and it follows no redirect, so a 3xx is a
// failure and the body goes only to the registered URL.
func deliveryClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = refuseAddress
	}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Endpoint returns the endpoint as the destination sees it now: its
// Enabled and FailingSince follow the deliveries.
func (d *Destination) Endpoint() Endpoint {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ep
}

// Close closes the idle connections of the default client.
func (d *Destination) Close() {
	if d.ownClient {
		d.client.CloseIdleConnections()
	}
}

// Backoff is the wait before the attempt-th retry of a failed event (from
// 1): 5s, 5min, 30min, 2h, 5h, 10h, 10h, then 10h each time (SPEC 10.3),
// unless WithBackoff set another schedule. The deliverer retries on it.
func (d *Destination) Backoff(attempt int) time.Duration {
	return d.schedule[min(max(attempt, 1), len(d.schedule))-1]
}

var schedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// DeliveryError reports the event at which Deliver stopped and why. It
// names the endpoint by its id and the event by its seq and id, never by
// the URL or the secret.
type DeliveryError struct {
	EndpointID string
	Seq        int64
	EventID    string
	Status     int // the HTTP status answered, 0 when there was none
	Err        error
}

// Error names the endpoint, the event and the cause.
func (e *DeliveryError) Error() string {
	return fmt.Sprintf("webhooks: endpoint %s: event seq %d (id %s) not delivered: %v", e.EndpointID, e.Seq, e.EventID, e.Err)
}

// Unwrap returns the cause.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Deliver posts the events to the endpoint one at a time, in order, and
// stops at the first that does not get a 2xx answer within the timeout,
// returning how many came before it and a *DeliveryError. Events the
// endpoint does not select (Endpoint.Selects) are acknowledged without a
// request. A disabled endpoint gets nothing: the error wraps ErrDisabled,
// as it does when this call disables it.
func (d *Destination) Deliver(ctx context.Context, evs []events.Event) (acked int, err error) {
	ep := d.Endpoint()
	if !ep.Enabled {
		return 0, fmt.Errorf("%w: %s", ErrDisabled, ep.ID)
	}
	for i, e := range evs {
		if !ep.Selects(e) {
			continue
		}
		status, err := d.post(ctx, e)
		if err == nil {
			d.attempted(ctx, delivered)
			d.succeeded()
			continue
		}
		derr := &DeliveryError{EndpointID: ep.ID, Seq: e.Seq, EventID: e.ID, Status: status, Err: err}
		if ctx.Err() != nil {
			return i, derr // the caller gave up: no fault of the endpoint's
		}
		if status != 0 {
			d.attempted(ctx, rejected)
		} else {
			d.attempted(ctx, unreachable)
		}
		return i, d.failed(derr)
	}
	return len(evs), nil
}

// The outcomes of cardcore.webhook.attempts, as attribute sets made once.
var (
	delivered   = attribute.NewSet(attribute.String("outcome", "delivered"))
	rejected    = attribute.NewSet(attribute.String("outcome", "rejected"))
	unreachable = attribute.NewSet(attribute.String("outcome", "unreachable"))
)

// attempted counts an attempt of the outcome.
func (d *Destination) attempted(ctx context.Context, outcome attribute.Set) {
	d.attempts.Add(ctx, 1, metric.WithAttributeSet(outcome))
}

// feedEvent is the event as the feed serves it: the envelope and its seq.
type feedEvent struct {
	events.Event
	Seq int64 `json:"seq"`
}

// post makes one delivery of e and returns the status answered.
func (d *Destination) post(ctx context.Context, e events.Event) (int, error) {
	body, err := json.Marshal(feedEvent{Event: e, Seq: e.Seq})
	if err != nil {
		return 0, err
	}
	ts := d.now().Unix()
	rctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return 0, errors.New("the endpoint URL is not a valid request URL")
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("user-agent", "cardcore-webhooks")
	req.Header.Set(HeaderID, e.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, sign(d.key, e.ID, ts, body))
	resp, err := d.client.Do(req)
	if err != nil {
		if rctx.Err() != nil && ctx.Err() == nil {
			return 0, fmt.Errorf("no answer within %s: %w", d.timeout, context.DeadlineExceeded)
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its message holds the URL, whose path or query may hold a token
		}
		return 0, err
	}
	// Reading a little of the body lets the connection be reused; a slow
	// body after a 2xx status does not undo the delivery.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the endpoint answered HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// succeeded ends a run of failures.
func (d *Destination) succeeded() {
	d.mu.Lock()
	if d.ep.FailingSince.IsZero() {
		d.mu.Unlock()
		return
	}
	d.ep.FailingSince = time.Time{}
	d.ep.UpdatedAt = d.now()
	ep := d.ep
	d.mu.Unlock()
	if d.onFailing != nil {
		d.onFailing(ep)
	}
}

// failed records a failed delivery and disables the endpoint when it
// answered 410 Gone or has been failing longer than the disable-after
// duration. It returns the error for Deliver.
func (d *Destination) failed(derr *DeliveryError) error {
	now := d.now()
	d.mu.Lock()
	started := d.ep.FailingSince.IsZero()
	if started {
		d.ep.FailingSince = now
		d.ep.UpdatedAt = now
	}
	var why string
	switch {
	case derr.Status == http.StatusGone:
		why = "it answered 410 Gone"
	case now.Sub(d.ep.FailingSince) > d.disableAfter:
		why = fmt.Sprintf("failing since %s, longer than %s", d.ep.FailingSince.UTC().Format(time.RFC3339), d.disableAfter)
	}
	if why != "" {
		d.ep.Enabled = false
		d.ep.UpdatedAt = now
	}
	ep := d.ep
	d.mu.Unlock()
	if started && d.onFailing != nil {
		d.onFailing(ep)
	}
	if why == "" {
		return derr
	}
	if d.onDisable != nil {
		d.onDisable(ep)
	}
	return fmt.Errorf("%w: %s: %s: %w", ErrDisabled, ep.ID, why, derr)
}
