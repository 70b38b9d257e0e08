package bunstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cardcore/cardcore/card"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names the package to the tracer and meter providers.
const instrumentation = "github.com/cardcore/cardcore/adapters/bunstore"

// telemetry is what the store reports: a span per Update and, once a
// transaction has committed, counters of its card changes; every Update
// by operation and outcome; and, when the meter provider collects, the
// feed's head and each subscription's lag, read from the database. With
// the default global providers of package otel, which do nothing until
// the host sets real ones, it costs next to nothing.
type telemetry struct {
	tp      trace.TracerProvider
	mp      metric.MeterProvider
	tracer  trace.Tracer
	changes metric.Int64Counter // cardcore.card.changes
	txs     metric.Int64Counter // cardcore.tx
	ops     metric.Int64Counter // cardcore.operations
	sets    *attrSets           // shared by the stores of InTx
}

// attrSets holds the attribute sets of cardcore.operations and
// cardcore.card.changes, each made once: there are few (operations by
// outcomes, operations by statuses), and making one sorts and copies its
// attributes, most of what counting costs.
type attrSets struct {
	ops     attrCache[[2]string] // by operation and outcome
	changes attrCache[change]    // by change with n zero
}

// attrCache is the attribute sets of one counter, by key.
type attrCache[K comparable] struct {
	mu sync.RWMutex
	m  map[K]metric.AddOption
}

// get returns the option of key, made by attrs the first time.
func (c *attrCache[K]) get(key K, attrs func(K) []attribute.KeyValue) metric.AddOption {
	c.mu.RLock()
	o, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return o
	}
	o = metric.WithAttributeSet(attribute.NewSet(attrs(key)...))
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[K]metric.AddOption)
	}
	c.m[key] = o
	c.mu.Unlock()
	return o
}

// The outcomes of the cardcore.tx counter, as attribute sets made once.
var (
	committed = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "committed")))
	failed    = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failed")))
)

// init makes the instruments of s's telemetry.
func (o *telemetry) init(s *Store) error {
	if o.tp == nil {
		o.tp = otel.GetTracerProvider()
	}
	if o.mp == nil {
		o.mp = otel.GetMeterProvider()
	}
	o.tracer = o.tp.Tracer(instrumentation)
	o.sets = new(attrSets)
	meter := o.mp.Meter(instrumentation)
	var err error
	o.changes, err = meter.Int64Counter("cardcore.card.changes", metric.WithUnit("{change}"),
		metric.WithDescription("Committed card changes, by operation and, when the status changed, from and to statuses."))
	if err != nil {
		return fmt.Errorf("bunstore: counter cardcore.card.changes: %w", err)
	}
	o.txs, err = meter.Int64Counter("cardcore.tx", metric.WithUnit("{transaction}"),
		metric.WithDescription("Store transactions (Update calls), by outcome: committed or failed."))
	if err != nil {
		return fmt.Errorf("bunstore: counter cardcore.tx: %w", err)
	}
	o.ops, err = meter.Int64Counter("cardcore.operations", metric.WithUnit("{operation}"),
		metric.WithDescription("Use cases' store transactions (Update calls), by operation (the card operation the transaction "+
			"carried out or was refused, or other) and outcome: ok, conflict, invalid, not_found, unavailable or error."))
	if err != nil {
		return fmt.Errorf("bunstore: counter cardcore.operations: %w", err)
	}
	head, err := meter.Int64ObservableGauge("cardcore.feed.head", metric.WithUnit("{event}"),
		metric.WithDescription("The feed position of the newest committed event."))
	if err != nil {
		return fmt.Errorf("bunstore: gauge cardcore.feed.head: %w", err)
	}
	lag, err := meter.Int64ObservableGauge("cardcore.subscription.lag", metric.WithUnit("{event}"),
		metric.WithDescription("Each subscription's lag: the feed's head minus its cursor."))
	if err != nil {
		return fmt.Errorf("bunstore: gauge cardcore.subscription.lag: %w", err)
	}
	_, err = meter.RegisterCallback(func(ctx context.Context, obs metric.Observer) error {
		return s.observeFeed(ctx, obs, head, lag)
	}, head, lag)
	if err != nil {
		return fmt.Errorf("bunstore: the feed's gauges: %w", err)
	}
	return nil
}

// feedReadTimeout bounds the reads of a collection of the feed's gauges.
const feedReadTimeout = 5 * time.Second

// observeFeed reads the feed's head and the subscriptions for a collection
// of the gauges: two queries (on PostgreSQL the head runs the sequencer,
// as a feed read does).
func (s *Store) observeFeed(ctx context.Context, obs metric.Observer, head, lag metric.Int64Observable) error {
	ctx, cancel := context.WithTimeout(ctx, feedReadTimeout)
	defer cancel()
	h, err := s.Head(ctx)
	if err != nil {
		return err
	}
	subs, err := s.ListSubscriptions(ctx)
	if err != nil {
		return err
	}
	obs.ObserveInt64(head, h)
	for _, sub := range subs {
		obs.ObserveInt64(lag, sub.Lag, metric.WithAttributes(attribute.String("subscription", sub.Name)))
	}
	return nil
}

// start opens the span of an Update.
func (o *telemetry) start(ctx context.Context) (context.Context, trace.Span) {
	return o.tracer.Start(ctx, "cardcore.tx")
}

// retry notes on the span that the transaction is run again after err.
func (o *telemetry) retry(span trace.Span, err error) {
	span.AddEvent("retry", trace.WithAttributes(attribute.String("error", err.Error())))
}

// end closes the span of an Update that returned err and counts it; when
// it committed, t is its transaction, whose card changes are counted.
func (o *telemetry) end(ctx context.Context, span trace.Span, t *txn, err error) {
	defer span.End()
	op, outcome := operationOf(t, err), outcomeOf(err)
	span.SetAttributes(attribute.String("cardcore.operation", op), attribute.String("cardcore.outcome", outcome))
	o.ops.Add(ctx, 1, o.sets.ops.get([2]string{op, outcome}, opAttrs))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		o.txs.Add(ctx, 1, failed)
		return
	}
	for _, c := range t.changes {
		key := c
		key.n = 0
		o.changes.Add(ctx, c.n, o.sets.changes.get(key, change.attrs))
	}
	o.txs.Add(ctx, 1, committed)
}

// change counts the card changes of a transaction of one operation from
// one status to another; a zero status is unknown (from, for a new card)
// or not reported (to, for a card saved without being read).
type change struct {
	op       card.Operation
	from, to card.Status
	n        int64
}

// opAttrs are the attributes of cardcore.operations for an operation and
// an outcome.
func opAttrs(k [2]string) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("operation", k[0]), attribute.String("outcome", k[1])}
}

// attrs are the attributes of c in cardcore.card.changes.
func (c change) attrs() []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 1, 3)
	attrs[0] = attribute.String("operation", c.op.String())
	if !c.to.IsZero() && c.from != c.to {
		if !c.from.IsZero() {
			attrs = append(attrs, attribute.String("from", c.from.String()))
		}
		attrs = append(attrs, attribute.String("to", c.to.String()))
	}
	return attrs
}

// changed counts a card change of the transaction, reported if it commits.
func (t *txn) changed(op card.Operation, from, to card.Status) {
	for i := range t.changes {
		if c := &t.changes[i]; c.op == op && c.from == from && c.to == to {
			c.n++
			return
		}
	}
	t.changes = append(t.changes, change{op, from, to, 1})
}

// operations are the names of the card operations, the values of the
// operation attribute of cardcore.operations besides "other".
var operations = func() map[string]bool {
	m := map[string]bool{}
	for _, op := range card.Operations() {
		m[op.String()] = true
	}
	return m
}()

// operationOf names the use case of an Update that returned err: the
// operation of the first card change of its transaction t (committed, or
// failing at the commit), else that of its *card.ConflictError when it
// names a card operation, else "other" (a reason or a bulk written, a card
// not found, an input refused inside the transaction).
func operationOf(t *txn, err error) string {
	if t != nil && len(t.changes) > 0 {
		return t.changes[0].op.String()
	}
	if ce, ok := errors.AsType[*card.ConflictError](err); ok && operations[ce.Operation] {
		return ce.Operation
	}
	return "other"
}

// outcomeOf classifies an Update's error by the sentinel it wraps.
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, card.ErrConflict):
		return "conflict"
	case errors.Is(err, card.ErrInvalid):
		return "invalid"
	case errors.Is(err, card.ErrNotFound):
		return "not_found"
	case errors.Is(err, card.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}
