package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/natsjs"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The relay workload delivers a backlog to JetStream through the relay's
// deliverer, checks that the stream holds each event once, measures the
// lag under transitions, and leaves no stream behind.
func TestBenchRelay(t *testing.T) {
	srv := startNATS(t)
	for _, db := range benchTargets(t) {
		t.Run(db.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			args := []string{"bench", "--workload", "relay", "--workers", "4", "--duration", "1s",
				"--warmup", "100ms", "--n", "2000", "--nats", srv.ClientURL(), "--db", db.target}
			if code := run(t.Context(), args, &out, &errOut); code != exitOK {
				t.Fatalf("bench exited %d; stderr:\n%s", code, errOut.String())
			}
			phases := map[string]map[string]any{}
			for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				var r map[string]any
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("not a JSON line: %q: %v", line, err)
				}
				if r["workload"] != "relay" || r["db"] != db.name || r["errors"].(float64) != 0 || r["ops_per_s"].(float64) <= 0 {
					t.Errorf("implausible result %s", line)
				}
				phases[r["phase"].(string)] = r
			}
			backlog, lag := phases["backlog"], phases["lag"]
			if len(phases) != 2 || backlog == nil || lag == nil {
				t.Fatalf("want one backlog and one lag line; output:\n%s", out.String())
			}
			if backlog["delivered"].(float64) != 2000 || backlog["unit"] != "events/s" {
				t.Errorf("backlog: %v", backlog)
			}
			if lag["workers"].(float64) != 4 || lag["delivered"].(float64) < lag["ops"].(float64) {
				t.Errorf("lag: fewer events delivered than transitions measured: %v", lag)
			}
			p50, p99, most := lag["lag_p50_ms"].(float64), lag["lag_p99_ms"].(float64), lag["lag_max_ms"].(float64)
			if p50 <= 0 || p99 < p50 || most < p99 || most > 30000 {
				t.Errorf("lag: implausible p50 %v, p99 %v, max %v ms", p50, p99, most)
			}
			nc := natstest.Connect(t, srv.ClientURL())
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			for name := range js.StreamNames(t.Context()).Name() {
				t.Errorf("stream %s left behind", name)
			}
		})
	}
}

// checkStream fails when the stream misses an event or holds one twice.
func TestBenchRelayCheckStream(t *testing.T) {
	srv := startNATS(t)
	nc := natstest.Connect(t, srv.ClientURL())
	cfg := &relayConfig{stream: relayStreamPrefix + "CHECK", prefix: "bench"}
	dest, err := natsjs.New(t.Context(), nc, natsjs.WithStream(cfg.stream), natsjs.WithPrefix(cfg.prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	var evs []events.Event
	for seq := range int64(3) {
		e, err := events.New(t.Context(), events.CardCreated, "acme", map[string]int64{"card_id": seq}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.Seq = 10 + seq + 1
		evs = append(evs, e)
	}
	if n, err := dest.Deliver(t.Context(), evs); n != 3 || err != nil {
		t.Fatalf("deliver: %d, %v", n, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkStream(t.Context(), js, cfg, 10, 13, "acme", 3); err != nil {
		t.Fatalf("a faithful stream: %v", err)
	}
	for _, c := range []struct {
		name     string
		from, to int64
		org      int64
	}{{"an event missing", 10, 14, 3}, {"the org's events miscounted", 10, 13, 4}, {"another start", 9, 12, 3}} {
		if err := checkStream(t.Context(), js, cfg, c.from, c.to, "acme", c.org); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	// An event stored again, as after the duplicate window.
	m := &nats.Msg{Subject: natsjs.Subject(cfg.prefix, "acme", events.CardCreated),
		Header: nats.Header{jetstream.MsgIDHeader: {"again"}, natsjs.SeqHeader: {"13"}}}
	if _, err := js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if err := checkStream(t.Context(), js, cfg, 10, 13, "acme", 3); err == nil || !strings.Contains(err.Error(), "stored twice") {
		t.Errorf("an event stored twice: %v", err)
	}
}

// The histogram's quantiles are within a bucket of the exact ones.
func TestBenchHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 100000; i++ {
		h.add(time.Duration(i) * 10 * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(c.q)
		if d := got - c.want; d < -c.want/64 || d > c.want/64 {
			t.Errorf("quantile %v: %v, want %v within 1/64", c.q, got, c.want)
		}
	}
	if h.max != time.Second || h.n != 100000 {
		t.Errorf("max %v, n %d", h.max, h.n)
	}
	for i := range histogramBuckets - 1 {
		if bucketOf(bucketLow(i)) != i || bucketLow(i+1) <= bucketLow(i) {
			t.Fatalf("bucket %d: low %v maps to %d", i, bucketLow(i), bucketOf(bucketLow(i)))
		}
	}
}
