package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/reissue"
	"github.com/cardcore/cardcore/storage"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// benchResult is one measurement, with the keys of the raw-SQL baseline
// (shared/bench/baseline) first, so the two outputs compare line by line.
type benchResult struct {
	DB         string  `json:"db"`
	Workload   string  `json:"workload"`
	Workers    int     `json:"workers"`
	OpsPerS    float64 `json:"ops_per_s"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	Unit       string  `json:"unit"`
	Ops        int64   `json:"ops"`
	Secs       float64 `json:"secs"`
	Conflicts  int64   `json:"conflicts"`
	Errors     int64   `json:"errors"`
	*relayFigures
}

// relayFigures are the relay workload's own figures (bench_relay.go).
type relayFigures struct {
	Phase     string `json:"phase"`     // backlog or lag
	Delivered int64  `json:"delivered"` // the events delivered in the phase, checked in the stream
	*lagFigures
}

// lagFigures are the lag phase's: each event's lag from its commit to
// JetStream's acknowledgement, and the feed's head minus the cursor,
// sampled every 100ms.
type lagFigures struct {
	LagP50ms   float64 `json:"lag_p50_ms"`
	LagP99ms   float64 `json:"lag_p99_ms"`
	LagMaxms   float64 `json:"lag_max_ms"`
	HeadLagP50 int64   `json:"head_lag_p50_events"`
	HeadLagMax int64   `json:"head_lag_max_events"`
}

// benchConfig is what the bench flags ask for.
type benchConfig struct {
	target           string
	workloads        []string
	workers          []int // nil: each workload's default
	duration, warmup time.Duration
	n, bindN         int
	cpuProfile       string
	natsURL          string // the relay workload's NATS server
	chunkCards       int    // the bulk's chunk bounds (0: the library's defaults)
	chunkTime        time.Duration
	bulkLanes        int
	synchronous      bunstore.Synchronous // a SQLite file's
	ceilingRows      []int                // the rows of the ceiling's SQLite INSERTs, one measurement each
}

// benchWorkloads are the workloads of "all"; relay, which needs a NATS
// server, is run only when named.
var benchWorkloads = []string{"read", "transition", "bind", "reissue", "bulk"}

// namedWorkloads are run only when named.
var namedWorkloads = []string{"relay", "bulk-ceiling", "bulk+transition", "read-ceiling", "transition-ceiling", "bind-ceiling"}

// setupBench is "cardcore bench": the library's real use cases under load,
// shaped like the raw-SQL baseline's workloads.
func setupBench(fs *flag.FlagSet) runFunc {
	var cfg benchConfig
	fs.StringVar(&cfg.target, "db", "", "SQLite file or postgres:// URL (default: a new SQLite file in a temporary directory, removed at exit)")
	workloads := fs.String("workload", "all", "comma list of "+strings.Join(benchWorkloads, ", ")+", relay, or all (all but relay):\n"+
		"read: get a card by id; transition: update status NORMAL<->BLOCKED on random cards;\n"+
		"bind: bind pre-made UNBOUND noname cards; reissue: reissue pre-made cards;\n"+
		"bulk: start a noname bulk of -n cards (cards/s, one run);\n"+
		"bulk-ceiling: the same card and event rows written raw into cardcore's tables (COPY; multi-row INSERTs), the bulk's ceiling;\n"+
		"read-ceiling, transition-ceiling, bind-ceiling: the SQL cardcore sends for read, transition and bind, sent raw\n"+
		"(database/sql and pgx as the store sends it, the store's prepared statements) on the same fixtures, with none of the library's work: their ceiling;\n"+
		"bulk+transition: status updates (transition) while a bulk of -n cards runs (their latency);\n"+
		"relay: deliver the creations of -n cards to JetStream (--nats) as \"cardcore relay\" does (events/s),\n"+
		"then the transition workload with the relay running (lag of each event, commit to acknowledgement)")
	workers := fs.String("workers", "", "comma list of worker counts (default 1,16; bulk always 1; relay 16)")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time per timed workload and worker count")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "unmeasured warm-up before each measurement")
	fs.IntVar(&cfg.n, "n", 100000, "cards made for read, transition and relay (its backlog of events), and the size of the bulk")
	fs.IntVar(&cfg.bindN, "bind-n", 50000, "cards made for each bind and reissue measurement (it stops early if they run out)")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of each measured run, its warm-up and fixtures left out, to this file (read it with go tool pprof);\n"+
		"with more than one run, one file each: cpu.out becomes cpu-transition-1w.out, cpu-transition-16w.out, cpu-bulk.out\n"+
		"(and, for a bulk-ceiling of several --ceiling-rows, cpu-bulk-ceiling-8rows.out and the like)")
	fs.IntVar(&cfg.chunkCards, "bulk-chunk", 0, "the most cards a chunk of a bulk start commits (default: the library's, "+strconv.Itoa(noname.DefaultChunkCards)+")")
	fs.IntVar(&cfg.bulkLanes, "bulk-lanes", 0, "chunks of a bulk start at once on PostgreSQL (default: the library's, "+strconv.Itoa(cardcore.DefaultBulkLanes)+")")
	fs.DurationVar(&cfg.chunkTime, "bulk-chunk-time", 0, "a chunk of a bulk start ends with its first batch past this (default: the library's, "+noname.DefaultChunkTime.String()+")")
	ceilingRows := fs.String("ceiling-rows", "8", "bulk-ceiling on SQLite: comma list of the rows of one INSERT, each measured after the other in the same database (the best is reported)")
	fs.TextVar(&cfg.synchronous, "sqlite-synchronous", bunstore.SynchronousFull, "SQLite only, `FULL|NORMAL`, as for serve")
	fs.StringVar(&cfg.natsURL, "nats", "nats://127.0.0.1:4222", "the NATS server with JetStream of the relay workload: it makes a stream of its own there, and deletes it at the end")
	return func(ctx context.Context, out io.Writer, log *slog.Logger) error {
		var err error
		if cfg.workloads, err = parseWorkloads(*workloads); err != nil {
			return err
		}
		if cfg.workers, err = parseWorkers(*workers); err != nil {
			return err
		}
		if cfg.ceilingRows, err = parseWorkers(*ceilingRows); err != nil {
			return usageErrorf("--ceiling-rows: %q is not a list of row counts (1-256)", *ceilingRows)
		}
		if cfg.duration <= 0 || cfg.warmup < 0 || cfg.n <= 0 || cfg.bindN <= 0 {
			return usageErrorf("--duration, --n and --bind-n must be positive, --warmup not negative")
		}
		return runBench(ctx, out, log, cfg)
	}
}

func parseWorkloads(s string) ([]string, error) {
	if s == "all" {
		return benchWorkloads, nil
	}
	var out []string
	for _, w := range strings.Split(s, ",") {
		if !slices.Contains(benchWorkloads, w) && !slices.Contains(namedWorkloads, w) {
			return nil, usageErrorf("--workload: unknown workload %q", w)
		}
		out = append(out, w)
	}
	return out, nil
}

func parseWorkers(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 256 {
			return nil, usageErrorf("--workers: %q is not a worker count (1-256)", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// bench holds the use cases under measurement.
type bench struct {
	cfg     benchConfig
	db      *bun.DB
	kind    string // "sqlite" or "postgres", as the baseline names them
	store   *bunstore.Store
	cards   *lifecycle.Cards
	reissue *reissue.Service
	noname  *noname.Service
	log     *slog.Logger
	// made is the cards made by the bulk being started, as its chunks
	// commit.
	made atomic.Int64
	// noCheckpoint is set once PostgreSQL refused settle's CHECKPOINT.
	noCheckpoint bool
}

func runBench(ctx context.Context, out io.Writer, log *slog.Logger, cfg benchConfig) error {
	target := cfg.target
	if target == "" {
		dir, err := os.MkdirTemp("", "cardcore-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		target = filepath.Join(dir, "cardcore.db")
	}
	db, desc, err := openDB(ctx, target, true, bunstore.WithSynchronous(cfg.synchronous))
	if err != nil {
		return err
	}
	defer db.Close()
	b := &bench{cfg: cfg, db: db, kind: "sqlite", log: log}
	if isPostgres(target) {
		b.kind = "postgres"
	}
	opts := []cardcore.Option{cardcore.WithLogger(log), cardcore.WithBulkProgress(func(_ context.Context, bulk card.Bulk) {
		b.made.Store(int64(bulk.CardsMade))
	})}
	if cfg.bulkLanes != 0 {
		opts = append(opts, cardcore.WithBulkLanes(cfg.bulkLanes))
	}
	if cfg.chunkCards != 0 || cfg.chunkTime != 0 {
		opts = append(opts, cardcore.WithBulkChunk(cmp.Or(cfg.chunkCards, noname.DefaultChunkCards), cmp.Or(cfg.chunkTime, noname.DefaultChunkTime)))
	}
	core, err := cardcore.New(ctx, db, opts...)
	if err != nil {
		return err
	}
	defer core.Close() // before the database's Close, deferred earlier
	b.store, b.cards, b.reissue, b.noname = core.Store, core.Cards, core.Reissue, core.Noname
	log.Info("bench", "db", desc, "workloads", cfg.workloads, "duration", cfg.duration)
	enc := json.NewEncoder(out)
	for _, w := range cfg.workloads {
		results, err := b.run(ctx, w)
		if err != nil {
			return fmt.Errorf("%s: %w", w, err)
		}
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// run measures workload w at each worker count.
func (b *bench) run(ctx context.Context, w string) ([]benchResult, error) {
	switch w {
	case "bulk":
		r, err := b.bulk(ctx)
		return []benchResult{r}, err
	case "bulk-ceiling":
		return b.ceiling(ctx)
	case "bulk+transition":
		return b.bulkTransition(ctx)
	}
	counts := b.cfg.workers
	if counts == nil {
		counts = []int{1, 16}
	}
	var results []benchResult
	if w == "relay" {
		if b.cfg.workers == nil {
			counts = []int{16}
		}
		for _, workers := range counts {
			rs, err := b.relay(ctx, workers)
			if err != nil {
				return nil, err
			}
			results = append(results, rs...)
		}
		return results, nil
	}
	for _, workers := range counts {
		b.db.SetMaxOpenConns(workers + 2)
		b.db.SetMaxIdleConns(workers + 2)
		org := "bench-" + randomHex(4)
		op, err := b.prepare(ctx, w, org, workers)
		if err != nil {
			return nil, err
		}
		if err := b.settle(ctx); err != nil {
			return nil, err
		}
		r, err := b.measure(ctx, w, workers, op, w+"-"+strconv.Itoa(workers)+"w")
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	return results, nil
}

// settle brings the database to rest before a measurement, as the raw
// baseline's settle does before each of its own, so that the two are
// measured alike. On SQLite it writes the fixtures' pages back into the
// database file, so the measured operations do not pay for the checkpoint
// of a write-ahead log the fixtures filled. On PostgreSQL it runs VACUUM
// ANALYZE on the tables the workloads use, then a CHECKPOINT: fixtures
// just written leave rows whose first reads set their hint bits (writes,
// and full-page images in the WAL), tables without statistics, and up to a
// gigabyte of WAL whose checkpoint would fall inside the measurement. A
// bulk writes about 100 MB of WAL: one that a checkpoint overlapped was
// up to 40% slower than the same bulk beside it (issue 12's notes), which
// made its ratio to its ceiling anything from 0.59 to 1.07. A service's
// autovacuum and checkpoints do the same over time; a measurement a few
// seconds long cannot wait for them. CHECKPOINT takes a superuser or the
// role pg_checkpoint: when PostgreSQL refuses it, the bench says so once
// and measures without it.
func (b *bench) settle(ctx context.Context) error {
	if b.db.Dialect().Name() == dialect.SQLite {
		_, err := b.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		return err
	}
	const vacuum = "VACUUM ANALYZE cardcore_cards, cardcore_outbox, cardcore_bulks, cardcore_bulk_external_ids"
	if _, err := b.db.ExecContext(ctx, vacuum); err != nil {
		return fmt.Errorf("settle: %s: %w", vacuum, err)
	}
	if b.noCheckpoint {
		return nil
	}
	_, err := b.db.ExecContext(ctx, "CHECKPOINT")
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege
		b.noCheckpoint = true
		b.log.Warn("bench: PostgreSQL refused CHECKPOINT; measuring without a checkpoint before each run", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("settle: CHECKPOINT: %w", err)
	}
	return nil
}

// errExhausted ends a measurement early: the pre-made cards ran out.
var errExhausted = errors.New("pre-made cards exhausted")

// prepare makes the cards workload w needs in org, outside the measured
// time, and returns the operation a worker runs.
func (b *bench) prepare(ctx context.Context, w, org string, workers int) (func(ctx context.Context, worker int) error, error) {
	switch w {
	case "read", "transition":
		ids, err := b.makeCards(ctx, org, b.cfg.n, card.Temporary, card.Normal)
		if err != nil {
			return nil, err
		}
		if w == "read" {
			return func(ctx context.Context, _ int) error {
				_, err := b.cards.Get(ctx, org, ids[rand.IntN(len(ids))])
				return err
			}, nil
		}
		// Each worker owns the cards of its stripe and knows their status,
		// so every operation is a real change, as in the baseline.
		blocked := make([]bool, len(ids))
		return func(ctx context.Context, worker int) error {
			i := rand.IntN(len(ids)/workers)*workers + worker
			to := card.Blocked
			if blocked[i] {
				to = card.Normal
			}
			if _, err := b.cards.UpdateStatus(ctx, org, ids[i], to); err != nil {
				return err
			}
			blocked[i] = !blocked[i]
			return nil
		}, nil
	case "bind":
		ids, err := b.makeNoname(ctx, org, b.cfg.bindN)
		if err != nil {
			return nil, err
		}
		return eachOnce(len(ids), func(ctx context.Context, _, i int) error {
			_, err := b.noname.Bind(ctx, noname.BindRequest{OrgID: org, CardID: ids[i],
				AccountID: "1001", CustomerID: strconv.Itoa(i)})
			return err
		}), nil
	case "reissue":
		ids, err := b.makeCards(ctx, org, b.cfg.bindN, card.Plastic, card.Normal)
		if err != nil {
			return nil, err
		}
		reason, err := b.reissue.CreateReason(ctx, card.Reason{OrgID: org, Description: "bench",
			Type: "DAMAGED", Cost: "0", Enabled: true})
		if err != nil {
			return nil, err
		}
		return eachOnce(len(ids), func(ctx context.Context, _, i int) error {
			_, err := b.reissue.Reissue(ctx, reissue.Request{OrgID: org, CardID: ids[i], ReasonID: reason.ID})
			return err
		}), nil
	case "read-ceiling", "transition-ceiling", "bind-ceiling":
		return b.prepareReqCeiling(ctx, w, org, workers)
	}
	return nil, fmt.Errorf("unknown workload %q", w)
}

// eachOnce returns an operation that runs op once for each of 0 to n-1,
// across the workers (op is told which worker runs it), and errExhausted
// once they are all used.
func eachOnce(n int, op func(ctx context.Context, worker, i int) error) func(ctx context.Context, worker int) error {
	var next atomic.Int64
	return func(ctx context.Context, worker int) error {
		i := next.Add(1) - 1
		if i >= int64(n) {
			return errExhausted
		}
		return op(ctx, worker, int(i))
	}
}

// makeCards stores n cards of type t in status st for org, each with its
// Card created, and returns their ids.
func (b *bench) makeCards(ctx context.Context, org string, n int, t card.Type, st card.Status) ([]int64, error) {
	return b.storeCards(ctx, org, n, t, func(c *card.Card, i int) {
		c.Status = st
		if t != card.Plastic {
			c.Name = "bench"
		}
		c.AccountID, c.CustomerID = strconv.Itoa(1000+i%1000), strconv.Itoa(2000+i%1000)
	})
}

// makeNoname stores n UNBOUND noname cards of one bulk for org.
func (b *bench) makeNoname(ctx context.Context, org string, n int) ([]int64, error) {
	bulk := "bench-" + randomHex(8)
	return b.storeCards(ctx, org, n, card.Plastic, func(c *card.Card, i int) {
		c.Status = card.Unbound
		c.BulkID, c.ExternalID = bulk, strconv.Itoa(i)
	})
}

// storeCards stores n new cards of type t of program 1 for org, 1000 a
// transaction, each completed by set, and returns their ids.
func (b *bench) storeCards(ctx context.Context, org string, n int, t card.Type, set func(c *card.Card, i int)) ([]int64, error) {
	p, err := b.cards.Programs().Lookup(card.DefaultProgramID)
	if err != nil {
		return nil, err
	}
	now := b.cards.Now()
	ids := make([]int64, 0, n)
	for start := 0; start < n; start += 1000 {
		batch := make([]card.Card, min(1000, n-start))
		for i := range batch {
			batch[i] = p.NewCard(org, t, now)
			set(&batch[i], start+i)
		}
		if err := b.store.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			return tx.SaveNew(ctx, batch, events.Created(card.Create, now))
		}); err != nil {
			return nil, err
		}
		for i := range batch {
			ids = append(ids, batch[i].ID)
		}
	}
	return ids, nil
}

// measure runs op on workers goroutines for the warm-up and the duration
// and reports the operations that started after the warm-up.
func (b *bench) measure(ctx context.Context, w string, workers int, op func(ctx context.Context, worker int) error, profile string) (benchResult, error) {
	start := time.Now()
	measureFrom := start.Add(b.cfg.warmup)
	deadline := measureFrom.Add(b.cfg.duration)
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		last      time.Time
		conflicts atomic.Int64
		failures  atomic.Int64
		firstErr  error
		done      atomic.Int64
	)
	stopProgress := b.progress(w, workers, &done)
	defer stopProgress()
	prof := b.profile(profile)
	prof.startAfter(b.cfg.warmup)
	defer prof.stop() // on an early return; the measurement's own stop reports
	// The operations run in a context that is never canceled, as the
	// baseline's (context.Background()): with one that can be, pgx watches
	// it for each statement (context.AfterFunc, then its stop), which cost
	// reads at 16 workers about 6% of their rate here (README,
	// Performance). The workers stop between operations when ctx ends.
	opCtx := context.WithoutCancel(ctx)
	for worker := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var end time.Time
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				err := op(opCtx, worker)
				t1 := time.Now()
				if errors.Is(err, errExhausted) {
					break
				}
				if err != nil {
					if errors.Is(err, card.ErrConflict) {
						conflicts.Add(1)
					} else {
						failures.Add(1)
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
					continue
				}
				if !t0.Before(measureFrom) {
					mine = append(mine, t1.Sub(t0))
					end = t1
					done.Add(1)
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			if end.After(last) {
				last = end
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := prof.stop(); err != nil {
		return benchResult{}, err
	}
	if ctx.Err() != nil {
		return benchResult{}, ctx.Err()
	}
	if len(latencies) == 0 {
		return benchResult{}, fmt.Errorf("no operation completed (first error: %v)", firstErr)
	}
	if firstErr != nil {
		b.log.Warn("operations failed", "workload", w, "workers", workers, "failures", failures.Load(), "first", firstErr)
	}
	secs := last.Sub(measureFrom).Seconds()
	slices.Sort(latencies)
	return benchResult{DB: b.kind, Workload: w, Workers: workers,
		OpsPerS: round1(float64(len(latencies)) / secs),
		P50us:   micros(latencies[len(latencies)/2]), P99us: micros(latencies[len(latencies)*99/100]),
		PeakRSSMiB: peakRSSMiB(), Unit: "ops/s", Ops: int64(len(latencies)), Secs: round3(secs),
		Conflicts: conflicts.Load(), Errors: failures.Load()}, nil
}

// createBulk creates a noname bulk of n external ids for org, 10,000 a
// transaction.
func (b *bench) createBulk(ctx context.Context, org string, n int) (card.Bulk, error) {
	ids := make([]string, 0, 10000)
	var bulk card.Bulk
	for start := 0; start < n; start += cap(ids) {
		ids = ids[:0]
		for i := start; i < min(start+cap(ids), n); i++ {
			ids = append(ids, "ext-"+strconv.Itoa(i))
		}
		var err error
		if start == 0 {
			bulk, err = b.noname.Create(ctx, noname.CreateRequest{OrgID: org, ExternalIDs: ids})
		} else {
			bulk, err = b.noname.Increment(ctx, org, bulk.ID, ids)
		}
		if err != nil {
			return card.Bulk{}, err
		}
	}
	return bulk, nil
}

// bulk starts a noname bulk of n cards, the ids collected beforehand.
func (b *bench) bulk(ctx context.Context) (benchResult, error) {
	org := "bench-" + randomHex(4)
	bulk, err := b.createBulk(ctx, org, b.cfg.n)
	if err != nil {
		return benchResult{}, err
	}
	if err := b.settle(ctx); err != nil {
		return benchResult{}, err
	}
	b.made.Store(0)
	stop := b.progress("bulk", 1, &b.made)
	prof := b.profile("bulk")
	prof.start()
	t0 := time.Now()
	_, err = b.noname.Start(ctx, org, bulk.ID)
	elapsed := time.Since(t0)
	stop()
	if err := errors.Join(err, prof.stop()); err != nil {
		return benchResult{}, err
	}
	return benchResult{DB: b.kind, Workload: "bulk", Workers: 1,
		OpsPerS: round1(float64(b.cfg.n) / elapsed.Seconds()),
		P50us:   micros(elapsed), P99us: micros(elapsed),
		PeakRSSMiB: peakRSSMiB(), Unit: "cards/s", Ops: int64(b.cfg.n), Secs: round3(elapsed.Seconds())}, nil
}

// progress logs every 5 s how far a long measurement is; the returned
// function stops it.
func (b *bench) progress(w string, workers int, done *atomic.Int64) func() {
	stop := make(chan struct{})
	t0 := time.Now()
	go func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				b.log.Info("running", "workload", w, "workers", workers, "elapsed", time.Since(t0).Round(time.Second), "ops", done.Load())
			}
		}
	}()
	return func() { close(stop) }
}

// peakRSSMiB is the process's peak resident set size (VmHWM), 0 where
// /proc is missing.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err == nil {
				return round1(kb / 1024)
			}
		}
	}
	return 0
}

func micros(d time.Duration) float64 { return round1(float64(d) / float64(time.Microsecond)) }
func round1(f float64) float64       { return float64(int64(f*10+0.5)) / 10 }
func round3(f float64) float64       { return float64(int64(f*1000+0.5)) / 1000 }
