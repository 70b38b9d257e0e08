package cardcore

import (
	"context"
	"log/slog"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/issuance"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Option configures New.
type Option func(*options)

// options is what New is given; the zero value of each field is its
// default.
type options struct {
	programs    []card.Program
	cards       []lifecycle.Option // the clock and the sweep batch
	noname      []noname.Option    // the bulk batch
	logger      *slog.Logger
	tracers     trace.TracerProvider
	meters      metric.MeterProvider
	migrations  MigrationMode
	provisioner issuance.Provisioner
	noCkpt      bool
}

// WithPrograms sets the program catalogue: program 1 (card.DefaultProgram)
// and ps, where a program with ID 1 replaces the default one. Without it
// the catalogue is program 1 alone.
func WithPrograms(ps ...card.Program) Option {
	return func(o *options) { o.programs = append(o.programs[:0:0], ps...) }
}

// WithClock sets the clock the use cases read (default time.Now), for
// tests and demos that move time.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.cards = append(o.cards, lifecycle.WithClock(now)) }
}

// WithSQLiteCheckpoints turns the store's own checkpoints of SQLite's
// write-ahead log on (the default) or off: after its writes, the store
// copies the log into the database file in a goroutine of its own, so
// that no commit waits for it (bunstore.WithCheckpoints). Turn them off
// where something else checkpoints the log, or for a test that counts
// every statement the pool runs.
func WithSQLiteCheckpoints(on bool) Option { return func(o *options) { o.noCkpt = !on } }

// WithLogger sets where cardcore logs what it does of its own accord: the
// migrations New applies (default slog.Default()). Use cases log nothing;
// they return their errors.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithTracerProvider sets where the store's spans go, one cardcore.tx per
// use case transaction (default: the global provider of package otel, a
// no-op unless the host sets one). cardcore adds no hook to the host's
// *bun.DB: the host adds one for SQL spans (bunotel; see package bunstore).
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tracers = tp } }

// WithMeterProvider sets where the metrics of the store (its card changes,
// transactions, use case operations, the feed's head and the
// subscriptions' lag) and of noname bulks go (default: the global provider
// of package otel, a no-op unless the host sets one). See the Telemetry
// section of package bunstore for the instruments.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(o *options) { o.meters = mp } }

// WithMigrations sets what New does with the store's migrations (default
// Migrate).
func WithMigrations(m MigrationMode) Option { return func(o *options) { o.migrations = m } }

// WithIssuance turns on the sandbox-style issuance use cases (Core.Issuance,
// SPEC section 9), which issue PCI data through p: for example
// issuance.NewHMACProvisioner. Without it Core.Issuance is nil.
func WithIssuance(p issuance.Provisioner) Option { return func(o *options) { o.provisioner = p } }

// WithSweepBatch sets how many cards one transaction of the sweep changes
// (default 500).
func WithSweepBatch(n int) Option {
	return func(o *options) { o.cards = append(o.cards, lifecycle.WithSweepBatch(n)) }
}

// WithBulkBatch sets how many cards a noname bulk builds and writes at a
// time (default noname.DefaultBatch, 5000): it bounds the memory a bulk of any size takes.
func WithBulkBatch(n int) Option {
	return func(o *options) { o.noname = append(o.noname, noname.WithBatch(n)) }
}

// WithBulkChunk bounds each chunk of a noname bulk start, the transaction
// that commits some of its cards: at most cards cards, ended by the first
// batch that finishes after d (defaults noname.DefaultChunkCards and
// noname.DefaultChunkTime). Other writers run between chunks.
func WithBulkChunk(cards int, d time.Duration) Option {
	return func(o *options) { o.noname = append(o.noname, noname.WithChunk(cards, d)) }
}

// WithBulkLanes lets a noname bulk start run up to n chunks at once, each
// in a transaction on a connection of its own, on PostgreSQL (default
// DefaultBulkLanes; 1 runs them one after the other). On SQLite, which has
// one writer, and in a host's transaction (InTx), chunks run one at a
// time whatever n is. See noname.WithLanes.
func WithBulkLanes(n int) Option {
	return func(o *options) { o.noname = append(o.noname, noname.WithLanes(n)) }
}

// DefaultBulkLanes is how many chunks of a noname bulk start run at once
// on PostgreSQL by default: two made a start's cards about 40% faster
// than one on a 2-core machine (README, Performance), where one
// connection's COPY keeps one PostgreSQL process busy and leaves the
// other core mostly idle.
const DefaultBulkLanes = 2

// WithBulkProgress sets a function called after each chunk of a noname
// bulk start commits, with the bulk as committed (see noname.WithProgress).
func WithBulkProgress(f func(ctx context.Context, b card.Bulk)) Option {
	return func(o *options) { o.noname = append(o.noname, noname.WithProgress(f)) }
}

// MigrationMode is what New does with the store's migrations.
type MigrationMode int

const (
	// Migrate applies the migrations not yet applied, as
	// bunstore.Migrate does: safe on every start.
	Migrate MigrationMode = iota
	// CheckMigrations applies nothing and fails, wrapping
	// ErrMigrationsPending and naming them, when some are not applied:
	// for hosts that migrate with their own tool (bunstore.Migrations).
	CheckMigrations
	// SkipMigrations neither applies nor checks them.
	SkipMigrations
)
