package cardtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/uptrace/bun"
)

// T0 is where the test clocks start. It has microseconds, the precision the
// stores keep, so a lost fraction shows up as a mismatch.
var T0 = time.Date(2026, time.March, 15, 10, 20, 30, 123456000, time.UTC)

// TB is what the helpers need of a test: *testing.T, *testing.B and
// *rapid.T all have it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Clock is a controllable clock: the use cases read it, the test moves it.
// It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock is a Clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// AddMonths moves the clock forward by n calendar months.
func (c *Clock) AddMonths(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.AddDate(0, n, 0)
}

// Env is cardcore over a real database, as an embedding service gets it
// from cardcore.New, with the clock its use cases read. The database is
// at hand for the checks that read past the store.
type Env struct {
	*cardcore.Core
	DB    *bun.DB
	Clock *Clock

	mu       sync.Mutex
	fixtures map[string]bool // the ids of the fixtures' events, which Outbox leaves out
}

// Option configures an Env.
type Option func(*config)

type config struct {
	programs   []card.Program
	sweepBatch int
	bulkBatch  int
}

// Programs adds programs to the catalogue, beside program 1.
func Programs(ps ...card.Program) Option {
	return func(c *config) { c.programs = append(c.programs, ps...) }
}

// SweepBatch sets how many cards a transaction of the sweep changes.
func SweepBatch(n int) Option { return func(c *config) { c.sweepBatch = n } }

// BulkBatch sets how many cards of a noname bulk a transaction makes or
// cancels.
func BulkBatch(n int) Option { return func(c *config) { c.bulkBatch = n } }

// New returns an Env over db, which must be migrated (testdb migrates), its
// clock at T0.
func New(t TB, db *bun.DB, opts ...Option) *Env {
	t.Helper()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	clk := &Clock{now: T0}
	coreOpts := []cardcore.Option{cardcore.WithClock(clk.Now), cardcore.WithPrograms(cfg.programs...),
		cardcore.WithMigrations(cardcore.SkipMigrations)}
	if cfg.sweepBatch != 0 {
		coreOpts = append(coreOpts, cardcore.WithSweepBatch(cfg.sweepBatch))
	}
	if cfg.bulkBatch != 0 {
		coreOpts = append(coreOpts, cardcore.WithBulkBatch(cfg.bulkBatch))
	}
	core, err := cardcore.New(context.Background(), db, coreOpts...)
	if err != nil {
		t.Fatalf("cardcore: %v", err)
	}
	t.Cleanup(func() { core.Close() }) // before the database's cleanup, registered earlier
	return &Env{Core: core, DB: db, Clock: clk}
}

// Each runs f on a fresh Env per database (PostgreSQL only when
// CARDCORE_TEST_PG_DSN is set).
func Each(t *testing.T, f func(t *testing.T, e *Env), opts ...Option) {
	testdb.Each(t, func(t *testing.T, db *bun.DB) { f(t, New(t, db, opts...)) })
}

// Benchmark runs f as a sub-benchmark per database, each with an Env.
func Benchmark(b *testing.B, f func(b *testing.B, e *Env), opts ...Option) {
	for _, kind := range testdb.Kinds {
		b.Run(kind, func(b *testing.B) { f(b, New(b, testdb.Open(b, kind), opts...)) })
	}
}
