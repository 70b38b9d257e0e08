package main

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardcore/cardcore/adapters/natsjs"
	"github.com/cardcore/cardcore/events"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The relay workload measures the JetStream deliverer as "cardcore relay"
// builds it (openJetStream, jetStreamDeliverer), over the bench's store,
// into a stream and a subscription of its own that it removes at the end:
//
//   - backlog: the events of n new cards, committed before the deliverer
//     starts; from its start until its cursor reaches the feed's head, in
//     events/s. p50_us and p99_us are the durations of the destination's
//     Deliver calls, one batch each.
//   - lag: the transition workload on the same cards with the deliverer
//     running, in transitions/s; each event's lag is the time its batch's
//     Deliver returned, all of it acknowledged by JetStream, minus the
//     event's timestamp (see lagRecorder). The feed's head minus the cursor
//     is sampled besides.
//
// After each phase the stream must hold every feed event after the
// subscription's start once, in feed order, and the org's events must be
// the cards' creations and the transitions that succeeded: anything lost
// or stored twice fails the bench.

// relayStreamPrefix starts the name of every stream the bench makes, and
// of none other: the bench deletes only its own.
const relayStreamPrefix = "CARDCORE_BENCH_"

// relayDrain bounds the wait for the deliverer to reach the head while it
// makes no progress.
const relayDrain = 30 * time.Second

// relay runs both phases of the relay workload with workers transition
// workers.
func (b *bench) relay(ctx context.Context, workers int) (_ []benchResult, err error) {
	b.db.SetMaxOpenConns(workers + 4) // the deliverer and the head's sampler beside the workers
	b.db.SetMaxIdleConns(workers + 4)
	run := randomHex(4)
	org := "bench-" + run
	cfg := &relayConfig{natsURL: b.cfg.natsURL, stream: relayStreamPrefix + strings.ToUpper(run),
		prefix: "cardcorebench." + run, replicas: 1, holder: "cardcore-bench-" + run, lease: 15 * time.Second}
	nc, dest, err := openJetStream(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	defer func() { err = errors.Join(err, b.dropStream(nc, cfg.stream)) }()
	defer dest.Close()
	rec := &lagRecorder{dest: dest}
	name, d, err := jetStreamDeliverer(b.log, b.store, cfg, rec)
	if err != nil {
		return nil, err
	}
	start, err := b.startAtHead(ctx, name, cfg.holder)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, b.dropSubscription(name)) }()

	// The backlog: the cards of the transitions, each with its creation.
	op, err := b.prepare(ctx, "transition", org, workers)
	if err != nil {
		return nil, err
	}
	var transitions atomic.Int64
	counted := func(ctx context.Context, worker int) error {
		err := op(ctx, worker)
		if err == nil {
			transitions.Add(1)
		}
		return err
	}
	if err := b.settle(ctx); err != nil {
		return nil, err
	}
	head, err := b.store.Head(ctx)
	if err != nil {
		return nil, err
	}

	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	defer func() {
		stop()
		<-stopped
	}()
	prof := b.profile("relay-backlog-" + strconv.Itoa(workers) + "w")
	defer prof.stop() // on an early return
	prof.start()
	t0 := time.Now()
	go func() {
		defer close(stopped)
		_ = d.Run(runCtx)
	}()
	if err := reach(ctx, d, head); err != nil {
		return nil, err
	}
	elapsed := time.Since(t0)
	if err := prof.stop(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	if err := checkStream(ctx, js, cfg, start, d.Cursor(), org, int64(b.cfg.n)); err != nil {
		return nil, fmt.Errorf("after the backlog: %w", err)
	}
	batches := rec.takeBatches()
	backlog := benchResult{DB: b.kind, Workload: "relay", Workers: 1,
		OpsPerS: round1(float64(head-start) / elapsed.Seconds()),
		P50us:   micros(batches.quantile(0.5)), P99us: micros(batches.quantile(0.99)),
		PeakRSSMiB: peakRSSMiB(), Unit: "events/s", Ops: head - start, Secs: round3(elapsed.Seconds()),
		Errors: rec.failures.Swap(0), relayFigures: &relayFigures{Phase: "backlog", Delivered: head - start}}

	// The lag: transitions while the deliverer runs.
	rec.recordFrom(time.Now().Add(b.cfg.warmup))
	sampled := b.sampleHeadLag(runCtx, d)
	load, err := b.measure(ctx, "transition", workers, counted, "relay-lag-"+strconv.Itoa(workers)+"w")
	if err != nil {
		return nil, err
	}
	samples := sampled()
	end, err := b.store.Head(ctx)
	if err != nil {
		return nil, err
	}
	if err := reach(ctx, d, end); err != nil {
		return nil, err
	}
	stop()
	<-stopped
	if err := checkStream(ctx, js, cfg, start, d.Cursor(), org, int64(b.cfg.n)+transitions.Load()); err != nil {
		return nil, fmt.Errorf("after the transitions: %w", err)
	}
	lags := rec.takeLags()
	if lags.n == 0 {
		return nil, errors.New("no event's lag was recorded")
	}
	lag := load
	lag.Workload = "relay"
	lag.PeakRSSMiB = peakRSSMiB()
	lag.Errors += rec.failures.Load()
	lag.relayFigures = &relayFigures{Phase: "lag", Delivered: end - head, lagFigures: &lagFigures{
		LagP50ms: millis(lags.quantile(0.5)), LagP99ms: millis(lags.quantile(0.99)), LagMaxms: millis(lags.max),
		HeadLagP50: samples.quantile(0.5), HeadLagMax: samples.quantile(1)}}
	return []benchResult{backlog, lag}, nil
}

// startAtHead creates the subscription name with its cursor at the feed's
// head, so that its deliverer starts with the events committed next, and
// returns the head.
func (b *bench) startAtHead(ctx context.Context, name, holder string) (int64, error) {
	head, err := b.store.Head(ctx)
	if err != nil {
		return 0, err
	}
	l, err := b.store.Acquire(ctx, name, holder, time.Minute)
	if err != nil {
		return 0, err
	}
	if head > l.Cursor {
		if l, err = b.store.Advance(ctx, l, head, time.Minute); err != nil {
			return 0, err
		}
	}
	return head, b.store.Release(ctx, l)
}

// dropSubscription deletes the bench's subscription, whose cursor would
// otherwise hold back the purge of the events after it; its deliverer has
// stopped and released the lease.
func (b *bench) dropSubscription(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return b.store.Drop(ctx, name)
}

// dropStream deletes the bench's stream, and refuses any other.
func (b *bench) dropStream(nc *nats.Conn, stream string) error {
	if !strings.HasPrefix(stream, relayStreamPrefix) {
		return fmt.Errorf("will not delete stream %s: not the bench's", stream)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err == nil {
		err = js.DeleteStream(ctx, stream)
	}
	if err != nil {
		return fmt.Errorf("delete stream %s: %w", stream, err)
	}
	return nil
}

// reach waits until d's cursor is at head, failing when it stops moving
// for relayDrain.
func reach(ctx context.Context, d *events.Deliverer, head int64) error {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	last, moved := d.Cursor(), time.Now()
	for last < head {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if c := d.Cursor(); c != last {
			last, moved = c, time.Now()
		} else if time.Since(moved) > relayDrain {
			return fmt.Errorf("the deliverer's cursor stayed at %d for %s, short of the head %d", last, relayDrain, head)
		}
	}
	return nil
}

// sampleHeadLag samples the feed's head minus d's cursor every 100ms
// until the returned function is called, which returns the samples.
func (b *bench) sampleHeadLag(ctx context.Context, d *events.Deliverer) func() eventCounts {
	ctx, cancel := context.WithCancel(ctx)
	var samples eventCounts
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// The cursor is read first: it only lags the head read after it.
			cursor := d.Cursor()
			head, err := b.store.Head(ctx)
			if err != nil {
				if ctx.Err() == nil {
					b.log.Warn("bench: read the feed's head", "error", err.Error())
				}
				continue
			}
			samples = append(samples, max(head-cursor, 0))
		}
	}()
	return func() eventCounts {
		cancel()
		<-done
		return samples
	}
}

// eventCounts are samples of a count of events.
type eventCounts []int64

// quantile is the q-quantile of the samples, 0 when there are none.
func (c eventCounts) quantile(q float64) int64 {
	if len(c) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(c))
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

// checkStream checks that the bench's stream holds the feed events after
// from through to, each once and in feed order, orgWant of them org's: as
// many messages as events, the first and last at the right feed positions
// (the destination stores the events in feed order), and org's count.
func checkStream(ctx context.Context, js jetstream.JetStream, cfg *relayConfig, from, to int64, org string, orgWant int64) error {
	s, err := js.Stream(ctx, cfg.stream)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(natsjs.Subject(cfg.prefix, org, ">")))
	if err != nil {
		return err
	}
	st := info.State
	if int64(st.Msgs) != to-from {
		return fmt.Errorf("stream %s holds %d messages for the %d events after feed position %d: events lost or stored twice",
			cfg.stream, st.Msgs, to-from, from)
	}
	var orgGot int64
	for _, n := range st.Subjects {
		orgGot += int64(n)
	}
	if orgGot != orgWant {
		return fmt.Errorf("stream %s holds %d events of org %s, want %d: events lost or stored twice", cfg.stream, orgGot, org, orgWant)
	}
	for _, at := range []struct {
		stream uint64
		feed   int64
	}{{st.FirstSeq, from + 1}, {st.LastSeq, to}} {
		m, err := s.GetMsg(ctx, at.stream)
		if err != nil {
			return err
		}
		if got := m.Header.Get(natsjs.SeqHeader); got != strconv.FormatInt(at.feed, 10) {
			return fmt.Errorf("stream %s: message %d holds feed position %s, want %d: events out of order", cfg.stream, at.stream, got, at.feed)
		}
	}
	return nil
}

// lagRecorder is the JetStream destination as the deliverer sees it, timed:
// how long each Deliver call takes, and the lag of each event it
// acknowledges.
//
// An event's lag is the time its Deliver call returned minus the event's
// timestamp. Both readings are the wall clock of this process, which
// commits the transitions (the timestamp has no monotonic reading once it
// went through the database, but over a few seconds the wall clock does
// not drift measurably; a step of the clock would show as a wild max). The
// timestamp is taken in the transaction, right before the card and its
// event are written, and the call returns once JetStream acknowledged the
// whole batch: so the lag includes the transaction's commit and up to one
// batch of the destination's work beyond the event's own acknowledgement,
// an upper bound of the time from commit to stored in the stream by at
// most those two.
type lagRecorder struct {
	dest events.Destination

	from     atomic.Int64 // events with a timestamp before it (Unix ns) are not counted; 0: none is
	failures atomic.Int64 // Deliver calls that did not acknowledge their whole batch

	mu      sync.Mutex
	batches histogram
	lags    histogram
}

// Deliver implements events.Destination.
func (r *lagRecorder) Deliver(ctx context.Context, evs []events.Event) (int, error) {
	t0 := time.Now()
	acked, err := r.dest.Deliver(ctx, evs)
	t1 := time.Now()
	if err != nil {
		r.failures.Add(1)
	}
	from := r.from.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches.add(t1.Sub(t0))
	if from == 0 {
		return acked, err
	}
	for _, e := range evs[:acked] {
		if e.Timestamp.UnixNano() >= from {
			r.lags.add(t1.Sub(e.Timestamp))
		}
	}
	return acked, err
}

// recordFrom starts counting the lag of the events with a timestamp at or
// after t.
func (r *lagRecorder) recordFrom(t time.Time) { r.from.Store(t.UnixNano()) }

func (r *lagRecorder) takeBatches() histogram {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.batches
	r.batches = histogram{}
	return h
}

func (r *lagRecorder) takeLags() histogram {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.lags
	r.lags = histogram{}
	return h
}

// histogram counts durations in buckets at most 1/64 of their lower bound
// wide, from 1µs to about 12 days, in fixed memory.
type histogram struct {
	counts [histogramBuckets]int64
	n      int64
	max    time.Duration
}

// histogramBuckets: 64 buckets of 1µs, then 64 per doubling.
const histogramBuckets = 64 * 41

func (h *histogram) add(d time.Duration) {
	d = max(d, 0)
	h.counts[min(bucketOf(d), histogramBuckets-1)]++
	h.n++
	h.max = max(h.max, d)
}

// bucketOf is the bucket of d: its microseconds v when under 64, and
// otherwise 64 per power of two, by the 6 bits after v's leading one.
func bucketOf(d time.Duration) int {
	v := uint64(d / time.Microsecond)
	if v < 64 {
		return int(v)
	}
	shift := bits.Len64(v) - 7
	return (shift+1)*64 + int(v>>shift) - 64
}

// bucketLow is the lower bound of bucket i, the inverse of bucketOf.
func bucketLow(i int) time.Duration {
	if i < 64 {
		return time.Duration(i) * time.Microsecond
	}
	shift := i/64 - 1
	return time.Duration(uint64(i%64+64)<<shift) * time.Microsecond
}

// quantile is the q-quantile of the durations, within a bucket's width:
// the middle of its bucket, and never above the largest.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := min(int64(q*float64(h.n)), h.n-1)
	var seen int64
	for i, c := range h.counts {
		if seen += c; seen > rank {
			return min((bucketLow(i)+bucketLow(i+1))/2, h.max)
		}
	}
	return h.max
}

func millis(d time.Duration) float64 { return round1(float64(d) / float64(time.Millisecond)) }
