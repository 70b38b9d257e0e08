package bunstore

import (
	"context"
	"fmt"

	"github.com/cardcore/cardcore/card"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names the package to the tracer and meter providers.
const instrumentation = "github.com/cardcore/cardcore/adapters/bunstore"

// telemetry is what Update reports: a span per call and, once a
// transaction has committed, counters of its card changes. With the
// default global providers of package otel, which do nothing until the
// host sets real ones, it costs next to nothing.
type telemetry struct {
	tp      trace.TracerProvider
	mp      metric.MeterProvider
	tracer  trace.Tracer
	changes metric.Int64Counter // cardcore.card.changes
	txs     metric.Int64Counter // cardcore.tx
}

// The outcomes of the cardcore.tx counter, as attribute sets made once.
var (
	committed = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "committed")))
	failed    = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "failed")))
)

func (o *telemetry) init() error {
	if o.tp == nil {
		o.tp = otel.GetTracerProvider()
	}
	if o.mp == nil {
		o.mp = otel.GetMeterProvider()
	}
	o.tracer = o.tp.Tracer(instrumentation)
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
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		o.txs.Add(ctx, 1, failed)
		return
	}
	for _, c := range t.changes {
		attrs := make([]attribute.KeyValue, 1, 3)
		attrs[0] = attribute.String("operation", c.op.String())
		if !c.to.IsZero() && c.from != c.to {
			if !c.from.IsZero() {
				attrs = append(attrs, attribute.String("from", c.from.String()))
			}
			attrs = append(attrs, attribute.String("to", c.to.String()))
		}
		o.changes.Add(ctx, c.n, metric.WithAttributes(attrs...))
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
