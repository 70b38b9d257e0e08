package cardcore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/datasync"
	"github.com/cardcore/cardcore/issuance"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/cardcore/cardcore/noname"
	"github.com/cardcore/cardcore/reissue"
	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel"
)

// Core is cardcore over one database: the store and every use case, wired
// once by New. The Core New returns is safe for concurrent use; each of its
// use cases commits its change with its events in a transaction of its
// own. InTx and RunInTx bind them to a transaction of the host instead.
type Core struct {
	// Cards are the lifecycle use cases: create, get, list, update status,
	// activate, renew validity and the sweep.
	Cards *lifecycle.Cards
	// Reissue is the reissue reasons catalogue and the reissue of a card.
	Reissue *reissue.Service
	// Noname is noname bulks and the binding of their cards.
	Noname *noname.Service
	// Sync is card data sync: cards written by a source system.
	Sync *datasync.Service
	// Issuance is card creation with issuance (sandbox style); nil unless
	// New was given WithIssuance.
	Issuance *issuance.Service
	// Store is the store the use cases write through: its Feed serves the
	// events to clients, and its Subscriptions are what deliverers of
	// package events run.
	Store *bunstore.Store

	db       bun.IDB         // the database New was given, or the transaction InTx was
	base     *bunstore.Store // the store New built, which InTx binds
	programs card.Programs
	opts     options
}

// ErrMigrationsPending is wrapped by New's error, with CheckMigrations, when
// migrations of the store are not applied to the database.
var ErrMigrationsPending = errors.New("cardcore: migrations are not applied")

// New returns cardcore over db, which the host opened with the driver of
// its choice (see package bunstore): with the default options it applies
// the store's migrations, then builds the store and every use case.
func New(ctx context.Context, db *bun.DB, opts ...Option) (*Core, error) {
	if db == nil {
		return nil, errors.New("cardcore: New needs a database")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	meters := o.meters
	if meters == nil {
		meters = otel.GetMeterProvider()
	}
	o.noname = append(o.noname, noname.WithMeterProvider(meters))
	programs, err := card.NewPrograms(o.programs...)
	if err != nil {
		return nil, err
	}
	if err := migrations(ctx, db, o); err != nil {
		return nil, err
	}
	var storeOpts []bunstore.Option
	if o.tracers != nil {
		storeOpts = append(storeOpts, bunstore.WithTracerProvider(o.tracers))
	}
	if o.meters != nil {
		storeOpts = append(storeOpts, bunstore.WithMeterProvider(o.meters))
	}
	if o.noCkpt {
		storeOpts = append(storeOpts, bunstore.WithCheckpoints(false))
	}
	store, err := bunstore.New(ctx, db, storeOpts...)
	if err != nil {
		return nil, err
	}
	c := &Core{db: db, base: store, programs: programs, opts: o}
	return c.over(db, store)
}

// migrations applies, checks or skips the store's migrations as o asks.
func migrations(ctx context.Context, db *bun.DB, o options) error {
	if o.migrations == SkipMigrations {
		return nil
	}
	if o.migrations != Migrate && o.migrations != CheckMigrations {
		return fmt.Errorf("cardcore: unknown migration mode %d", o.migrations)
	}
	pending, err := bunstore.Pending(ctx, db)
	if err != nil || len(pending) == 0 {
		return err
	}
	if o.migrations == CheckMigrations {
		return fmt.Errorf("%w: %s (apply them with bunstore.Migrate or the SQL of bunstore.Migrations)",
			ErrMigrationsPending, strings.Join(pending, ", "))
	}
	o.logger.InfoContext(ctx, "cardcore: applying migrations", "migrations", pending)
	return bunstore.Migrate(ctx, db)
}

// Close stops cardcore's work in the background, the store's checkpoints
// of SQLite's log, and waits for it (bunstore's Store.Close). The host
// calls it before it closes the database, which stays the host's; the
// Core works after Close as before, without those checkpoints. On a Core
// bound by InTx it does nothing.
func (c *Core) Close() error { return c.Store.Close() }

// over returns a Core on idb whose use cases write through store, with
// c's options.
func (c *Core) over(idb bun.IDB, store *bunstore.Store) (*Core, error) {
	out := &Core{Store: store, db: idb, base: c.base, programs: c.programs, opts: c.opts}
	var err error
	if out.Cards, err = lifecycle.NewCards(store, c.programs, c.opts.cards...); err != nil {
		return nil, err
	}
	if out.Reissue, err = reissue.New(store, out.Cards); err != nil {
		return nil, err
	}
	nonameOpts := append([]noname.Option{noname.WithLanes(DefaultBulkLanes)}, c.opts.noname...)
	if out.Noname, err = noname.New(store, out.Cards, nonameOpts...); err != nil {
		return nil, err
	}
	if out.Sync, err = datasync.New(store, out.Cards); err != nil {
		return nil, err
	}
	if c.opts.provisioner != nil {
		if out.Issuance, err = issuance.New(store, out.Cards, c.opts.provisioner); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// InTx returns c bound to tx, a transaction the host opened on the
// database New was given: every use case of the result runs inside tx (in
// a savepoint of it, so a refused change leaves nothing and tx stays
// usable), and its changes and their events commit when the host commits
// tx, or vanish when it rolls back. Its reads see tx's uncommitted writes.
// Like tx, the result is for one goroutine at a time, and it is dead once
// tx ends. It never commits and never retries, so on PostgreSQL a
// serialization failure or deadlock is returned and the host retries its
// whole transaction. The feed and the outbox still show only committed
// events. See the package documentation for SQLite's single writer.
func (c *Core) InTx(tx bun.Tx) *Core {
	out, err := c.over(tx, c.base.InTx(tx))
	if err != nil {
		// New built the same use cases from the same options.
		panic("cardcore: InTx: " + err.Error())
	}
	return out
}

// RunInTx runs fn in a new transaction of the database New was given, with
// cc, c bound to it (InTx), and commits when fn returns nil; when fn
// returns an error or panics, it rolls back and nothing fn wrote is kept,
// the host's rows nor cardcore's changes and events. opts may be nil. It
// does not retry. On a Core that InTx returned, the new transaction is a
// savepoint of InTx's.
func (c *Core) RunInTx(ctx context.Context, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx, cc *Core) error) error {
	// bun runs the function of a savepoint with the context of the outer
	// transaction: hand fn the caller's.
	return c.db.RunInTx(ctx, opts, func(_ context.Context, tx bun.Tx) error {
		return fn(ctx, tx, c.InTx(tx))
	})
}
