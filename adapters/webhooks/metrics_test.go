package webhooks_test

import (
	"maps"
	"testing"

	"github.com/cardcore/cardcore/adapters/webhooks"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Every attempt counts in cardcore.webhook.attempts by outcome: a 2xx is
// delivered, another status rejected, a refused connection unreachable.
func TestDeliverCountsAttempts(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	rc, ep := newTarget(t, ok, fail)
	d := newDestination(t, ep, webhooks.WithAllowPrivate(true), webhooks.WithMeterProvider(mp))
	if acked, err := d.Deliver(t.Context(), feed("acme", 0, 3)); acked != 1 || err == nil {
		t.Fatalf("Deliver = %d, %v; want 1 and the 500", acked, err)
	}
	// Without WithAllowPrivate the receiver's loopback address is refused.
	refused := newDestination(t, endpoint(rc.srv.URL, ep.Secret), webhooks.WithMeterProvider(mp))
	if acked, err := refused.Deliver(t.Context(), feed("acme", 0, 1)); acked != 0 || err == nil {
		t.Fatalf("Deliver to a refused address = %d, %v; want 0 and an error", acked, err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "cardcore.webhook.attempts" {
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				outcome, _ := p.Attributes.Value("outcome")
				got[outcome.AsString()] += p.Value
			}
		}
	}
	if want := map[string]int64{"delivered": 1, "rejected": 1, "unreachable": 1}; !maps.Equal(got, want) {
		t.Errorf("cardcore.webhook.attempts = %v, want %v", got, want)
	}
}
