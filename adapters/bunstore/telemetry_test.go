package bunstore_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// telemetry is a store's spans and counters, kept by the OpenTelemetry SDK.
type telemetry struct {
	spans   *tracetest.SpanRecorder
	metrics *sdkmetric.ManualReader
}

func observed(t *testing.T, db *bun.DB) (*bunstore.Store, telemetry) {
	t.Helper()
	o := telemetry{tracetest.NewSpanRecorder(), sdkmetric.NewManualReader()}
	s := newStore(t, db,
		bunstore.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(o.spans))),
		bunstore.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(o.metrics))))
	return s, o
}

// counts returns the sums of counter name by their attributes, rendered
// "key=value,key=value" in key order.
func (o telemetry) counts(t *testing.T, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := o.metrics.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				var kvs []string
				for _, kv := range p.Attributes.ToSlice() {
					kvs = append(kvs, string(kv.Key)+"="+kv.Value.String())
				}
				out[strings.Join(kvs, ",")] += p.Value
			}
		}
	}
	return out
}

// statuses returns the names and status codes of the ended spans.
func (o telemetry) statuses() (names []string, failed int) {
	for _, s := range o.spans.Ended() {
		names = append(names, s.Name())
		if s.Status().Code == codes.Error {
			failed++
		}
	}
	return names, failed
}

// Each Update is a span cardcore.tx, in error when it fails; a committed
// transaction's card changes are counted by operation and change of
// status, and every transaction by outcome. A failed one's changes are not
// counted.
func TestTelemetryOfUpdates(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		s, o := observed(t, db)
		a, b := insert(t, s, validCard(testNow())), insert(t, s, validCard(testNow()))
		err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			c, err := tx.Card(ctx, "org", a.ID)
			if err != nil {
				return err
			}
			c.Status, c.PreviousStatus, c.Version = card.Normal, card.Created, 2
			if err := tx.Save(ctx, &c, updated); err != nil {
				return err
			}
			if c, err = tx.Card(ctx, "org", b.ID); err != nil {
				return err
			}
			c.PrintedName, c.Version = "JANE DOE", 2
			return tx.Save(ctx, &c, events.Updated(card.Sync, testNow()))
		})
		if err != nil {
			t.Fatal(err)
		}
		refusal := errors.New("refused")
		err = s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			c := validCard(testNow())
			if err := tx.Save(ctx, &c, created); err != nil {
				return err
			}
			return refusal
		})
		if !errors.Is(err, refusal) {
			t.Fatalf("the refused Update: %v", err)
		}
		bulk := []card.Card{validCard(testNow()), validCard(testNow()), validCard(testNow())}
		for i := range bulk {
			bulk[i].Status, bulk[i].BulkID, bulk[i].ExternalID = card.Unbound, "b1", string(rune('x'+i))
		}
		err = s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			return tx.SaveNew(ctx, bulk, events.Created(card.StartBulk, testNow()))
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{
			"operation=create,to=CREATED":                    2,
			"from=CREATED,operation=update_status,to=NORMAL": 1,
			"operation=card_sync":                            1,
			"operation=start_bulk,to=UNBOUND":                3,
		}
		if got := o.counts(t, "cardcore.card.changes"); !maps.Equal(got, want) {
			t.Errorf("cardcore.card.changes = %v, want %v", got, want)
		}
		wantTx := map[string]int64{"outcome=committed": 4, "outcome=failed": 1}
		if got := o.counts(t, "cardcore.tx"); !maps.Equal(got, wantTx) {
			t.Errorf("cardcore.tx = %v, want %v", got, wantTx)
		}
		names, failed := o.statuses()
		if !slices.Equal(names, slices.Repeat([]string{"cardcore.tx"}, 5)) || failed != 1 {
			t.Errorf("spans %v with %d in error, want 5 cardcore.tx with 1 in error", names, failed)
		}
	})
}

// A bound store counts its changes once its savepoint is released, whatever
// the host does with its transaction afterwards, and a failed Update as
// failed.
func TestTelemetryInTx(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s, o := observed(t, db)
		tx := begin(t, db)
		bound := s.InTx(tx)
		insert(t, bound, validCard(testNow()))
		err := bound.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			c := validCard(testNow())
			if err := tx.Save(ctx, &c, created); err != nil {
				return err
			}
			return errors.New("refused")
		})
		if err == nil {
			t.Fatal("the refused Update succeeded")
		}
		if got, want := o.counts(t, "cardcore.card.changes"), map[string]int64{"operation=create,to=CREATED": 1}; !maps.Equal(got, want) {
			t.Errorf("cardcore.card.changes = %v, want %v", got, want)
		}
		if got, want := o.counts(t, "cardcore.tx"), map[string]int64{"outcome=committed": 1, "outcome=failed": 1}; !maps.Equal(got, want) {
			t.Errorf("cardcore.tx = %v, want %v", got, want)
		}
		if names, failed := o.statuses(); len(names) != 2 || failed != 1 {
			t.Errorf("spans %v with %d in error, want 2 with 1 in error", names, failed)
		}
	})
}

// Every Update counts in cardcore.operations by the card operation it
// carried out or was refused, and by the outcome its error's sentinel
// names; its span carries both.
func TestTelemetryOperations(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		s, o := observed(t, db)
		insert(t, s, validCard(testNow()))
		for _, err := range []error{
			&card.ConflictError{Operation: card.Activate.String(), Reason: "not PLASTIC"},
			&card.ConflictError{Operation: "start bulk", Reason: "STARTED"},
			card.NotFound("card", "1"),
			card.Invalid("status", "is required"),
			errors.New("the disk is on fire"),
			nil,
		} {
			got := s.Update(t.Context(), func(context.Context, storage.Tx) error { return err })
			if !errors.Is(got, err) {
				t.Fatalf("Update returned %v, want %v", got, err)
			}
		}
		want := map[string]int64{
			"operation=create,outcome=ok":         1,
			"operation=activate,outcome=conflict": 1,
			"operation=other,outcome=conflict":    1,
			"operation=other,outcome=not_found":   1,
			"operation=other,outcome=invalid":     1,
			"operation=other,outcome=error":       1,
			"operation=other,outcome=ok":          1,
		}
		if got := o.counts(t, "cardcore.operations"); !maps.Equal(got, want) {
			t.Errorf("cardcore.operations = %v, want %v", got, want)
		}
		var spans []string
		for _, sp := range o.spans.Ended() {
			var op, outcome string
			for _, kv := range sp.Attributes() {
				switch kv.Key {
				case "cardcore.operation":
					op = kv.Value.AsString()
				case "cardcore.outcome":
					outcome = kv.Value.AsString()
				}
			}
			spans = append(spans, op+"/"+outcome)
		}
		wantSpans := []string{"create/ok", "activate/conflict", "other/conflict", "other/not_found", "other/invalid", "other/error", "other/ok"}
		if !slices.Equal(spans, wantSpans) {
			t.Errorf("spans' operation/outcome %v, want %v", spans, wantSpans)
		}
	})
}

// When the meter provider collects, cardcore.feed.head is the feed's head
// and cardcore.subscription.lag each subscription's distance to it.
func TestTelemetryFeedGauges(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		s, o := observed(t, db)
		for range 3 {
			insert(t, s, validCard(testNow()))
		}
		head, err := s.Head(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Acquire(ctx, "ahead", "h", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Advance(ctx, l, head-1, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Acquire(ctx, "behind", "h", time.Minute); err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{
			"cardcore.feed.head":                            head,
			"cardcore.subscription.lag subscription=ahead":  1,
			"cardcore.subscription.lag subscription=behind": head,
		}
		if got := o.gauges(t); !maps.Equal(got, want) {
			t.Errorf("gauges %v, want %v (head %d)", got, want, head)
		}
	})
}

// gauges returns the int64 gauges' values by "<name>[ key=value,...]".
func (o telemetry) gauges(t *testing.T) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := o.metrics.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			g, ok := m.Data.(metricdata.Gauge[int64])
			if !ok {
				continue
			}
			for _, p := range g.DataPoints {
				key := m.Name
				var kvs []string
				for _, kv := range p.Attributes.ToSlice() {
					kvs = append(kvs, string(kv.Key)+"="+kv.Value.String())
				}
				if len(kvs) > 0 {
					key += " " + strings.Join(kvs, ",")
				}
				out[key] = p.Value
			}
		}
	}
	return out
}
