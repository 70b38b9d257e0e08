package cardcore_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/noname"
	"github.com/uptrace/bun"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// WithMeterProvider reaches the store and the noname bulks: a bulk's
// progress is cardcore.bulks by status, and the cards it made are
// cardcore.card.changes of operation start_bulk.
func TestMeterProviderReachesBulks(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := t.Context()
		reader := sdkmetric.NewManualReader()
		core, err := cardcore.New(ctx, db, quiet, cardcore.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = core.Close() })
		started, err := core.Noname.Create(ctx, noname.CreateRequest{OrgID: org, ExternalIDs: []string{"a", "b", "c"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := core.Noname.Start(ctx, org, started.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := core.Noname.Start(ctx, org, started.ID); err == nil {
			t.Fatal("a bulk started twice")
		}
		canceled, err := core.Noname.Create(ctx, noname.CreateRequest{OrgID: org, ExternalIDs: []string{"d"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := core.Noname.Cancel(ctx, org, canceled.ID, noname.CancelFull, nil); err != nil {
			t.Fatal(err)
		}
		sums := sumsOf(t, reader)
		wantBulks := map[string]int64{"status=CREATED": 2, "status=STARTED": 1, "status=CANCELED": 1}
		if got := sums["cardcore.bulks"]; !maps.Equal(got, wantBulks) {
			t.Errorf("cardcore.bulks = %v, want %v", got, wantBulks)
		}
		if got := sums["cardcore.card.changes"]["operation=start_bulk,to=UNBOUND"]; got != 3 {
			t.Errorf("cardcore.card.changes of start_bulk = %d, want 3 (all: %v)", got, sums["cardcore.card.changes"])
		}
	})
}

// sumsOf returns the int64 sums the reader collects, by name and by their
// attributes rendered "key=value,..." in key order.
func sumsOf(t *testing.T, r *sdkmetric.ManualReader) map[string]map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			if out[m.Name] == nil {
				out[m.Name] = map[string]int64{}
			}
			for _, p := range sum.DataPoints {
				var kvs []string
				for _, kv := range p.Attributes.ToSlice() {
					kvs = append(kvs, string(kv.Key)+"="+kv.Value.String())
				}
				out[m.Name][strings.Join(kvs, ",")] += p.Value
			}
		}
	}
	return out
}
