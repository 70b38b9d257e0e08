package noname_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/cardtest"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/noname"
)

// BenchmarkBind binds distinct UNBOUND cards, each bind a transaction with
// its event, from 1 and from 16 goroutines. The cards are made by a bulk
// started before the timer.
func BenchmarkBind(b *testing.B) {
	cardtest.Benchmark(b, func(b *testing.B, e *cardtest.Env) {
		for _, goroutines := range []int{1, 16} {
			b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
				ids := unboundCards(b, e, b.N)
				var next atomic.Int64
				cardtest.Ops(b, goroutines, func(ctx context.Context) error {
					i := next.Add(1) - 1
					_, err := e.Noname.Bind(ctx, noname.BindRequest{OrgID: org, CardID: ids[i],
						AccountID: "acct-" + strconv.FormatInt(i, 10), CustomerID: "cust-" + strconv.FormatInt(i, 10),
						PrintedName: "JANE DOE"})
					return err
				})
			})
		}
	})
}

// unboundCards starts a bulk of n cards and returns their ids.
func unboundCards(b *testing.B, e *cardtest.Env, n int) []int64 {
	b.Helper()
	bulk := mustStart(b, e, buildBulk(b, e, n).ID)
	var ids []int64
	err := e.DB.NewSelect().TableExpr("cardcore_cards").Column("id").
		Where("org_id = ? AND bulk_id = ? AND status = 'UNBOUND'", org, bulk.ID).OrderExpr("id").Scan(context.Background(), &ids)
	if err != nil || len(ids) != n {
		b.Fatalf("%d UNBOUND cards of %d, %v", len(ids), n, err)
	}
	return ids
}

// buildBulk creates a CREATED bulk of n external ids: Create with the first
// 10,000 and Increment with the rest, 10,000 at a time, so that building
// it takes little memory whatever n.
func buildBulk(t cardtest.TB, e *cardtest.Env, n int) card.Bulk {
	t.Helper()
	const chunk = 10_000
	ids := func(from int) []string {
		out := make([]string, 0, min(chunk, n-from))
		for i := from; i < min(from+chunk, n); i++ {
			out = append(out, fmt.Sprintf("ext-%08d", i))
		}
		return out
	}
	ctx := context.Background()
	b, err := e.Noname.Create(ctx, noname.CreateRequest{OrgID: org, ExternalIDs: ids(0)})
	if err != nil {
		t.Fatalf("create bulk: %v", err)
	}
	for from := chunk; from < n; from += chunk {
		if b, err = e.Noname.Increment(ctx, org, b.ID, ids(from)); err != nil {
			t.Fatalf("increment bulk at %d: %v", from, err)
		}
	}
	if b.ExternalIDs != n {
		t.Fatalf("built a bulk of %d external ids, want %d", b.ExternalIDs, n)
	}
	return b
}

// BenchmarkStartBulk100k starts a bulk of 100,000 external ids, built
// outside the timer, and reports the cards made per second and the peak
// of the Go heap in use while Start ran. Run it with -benchtime 1x.
func BenchmarkStartBulk100k(b *testing.B) {
	const size = 100_000
	cardtest.Benchmark(b, func(b *testing.B, e *cardtest.Env) {
		b.ReportAllocs()
		b.ResetTimer()
		var peak uint64
		for range b.N {
			b.StopTimer()
			bulk := buildBulk(b, e, size)
			runtime.GC()
			stop := sampleHeap(&peak)
			b.StartTimer()
			if _, err := e.Noname.Start(b.Context(), org, bulk.ID); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			stop()
			if v, err := e.Noname.Get(context.Background(), org, bulk.ID); err != nil || v.Cards[card.Unbound] != size {
				b.Fatalf("after start: %+v, %v", v, err)
			}
		}
		b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "cards/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	})
}

// sampleHeap samples the Go heap in use (the objects and the free space of
// in-use spans, as MemStats.HeapInuse) every 2 ms, raising *peak, until
// the returned stop is called. runtime/metrics reads without stopping the
// world, so sampling barely disturbs what it measures.
func sampleHeap(peak *uint64) (stop func()) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	read := func() {
		metrics.Read(samples)
		if v := samples[0].Value.Uint64() + samples[1].Value.Uint64(); v > *peak {
			*peak = v
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		read()
	}
}

// TestMillionCardBulkMemory starts a bulk of 1,000,000 cards on SQLite and
// fails when the process's peak resident memory while Start runs passes
// 100 MiB: Start works a batch at a time, so its memory must not grow with
// the bulk. It takes a minute or so; set CARDCORE_BIG=1 to run it.
func TestMillionCardBulkMemory(t *testing.T) {
	if os.Getenv("CARDCORE_BIG") != "1" {
		t.Skip("set CARDCORE_BIG=1 to start a 1,000,000-card bulk on SQLite and check its peak RSS")
	}
	const size, limit = 1_000_000, 100 << 20
	e := cardtest.New(t, testdb.Open(t, "sqlite"))
	built := time.Now()
	bulk := buildBulk(t, e, size)
	t.Logf("built a bulk of %d external ids in %v", size, time.Since(built).Round(time.Millisecond))

	debug.FreeOSMemory()
	buildPeak := vmHWM(t)
	// Reset the peak so that it measures Start alone (Linux 4.0+); when
	// the kernel refuses, the peak covers the build too, which is stricter.
	reset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	before := vmHWM(t)

	started := time.Now()
	if _, err := e.Noname.Start(t.Context(), org, bulk.ID); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(started)
	peak := vmHWM(t)

	v, err := e.Noname.Get(t.Context(), org, bulk.ID)
	if err != nil || v.Status != card.BulkStarted || v.Cards[card.Unbound] != size || len(v.Cards) != 1 {
		t.Fatalf("after start: %+v, %v", v, err)
	}
	var evs int
	if err := e.DB.NewRaw("SELECT count(*) FROM cardcore_outbox WHERE org_id = ? AND event_type = 'create-1'", org).Scan(t.Context(), &evs); err != nil || evs != size {
		t.Fatalf("%d create-1 events for %d cards, %v", evs, size, err)
	}
	t.Logf("started %d cards in %v (%.0f cards/s)", size, elapsed.Round(time.Millisecond), size/elapsed.Seconds())
	t.Logf("peak RSS: %.1f MiB while building the bulk; %.1f MiB at the start of Start (peak reset: %v); %.1f MiB peak during Start",
		mib(buildPeak), mib(before), reset == nil, mib(peak))
	if peak > limit {
		t.Fatalf("peak RSS %.1f MiB passes %d MiB", mib(peak), limit>>20)
	}
}

// vmHWM reads the process's peak resident set size from /proc/self/status.
func vmHWM(t *testing.T) uint64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status to read the peak RSS from: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("parse VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/self/status")
	return 0
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
