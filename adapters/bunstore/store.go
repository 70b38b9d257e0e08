package bunstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/migrate"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

//go:embed migrations
var migrationFiles embed.FS

// Names of the tables bun's migrator keeps, distinct from the host's own
// bun_migrations.
const (
	MigrationTable      = "cardcore_migrations"
	MigrationLocksTable = "cardcore_migration_locks"
)

// Store is the storage.Store of cardcore over bun, for SQLite and PostgreSQL.
// It is safe for concurrent use, but for a store bound to a host's
// transaction by InTx, which is as safe as that transaction.
type Store struct {
	db      *bun.DB
	sqlite  bool
	retries int
	q       queries
	stmts   *stmtCache
	// writer admits one SQLite write transaction of this store at a time:
	// SQLite has one writer anyway, and a queue here hands the lock over
	// at once, where waiting in SQLite's busy handler sleeps and polls.
	writer chan struct{}
	// host is the host's transaction of a store made by InTx, nil for the
	// store New returns.
	host *bun.Tx
	tel  telemetry
}

var _ storage.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithRetries sets how many times Update re-runs a transaction that
// PostgreSQL aborted as a deadlock or serialization failure (default 3).
func WithRetries(n int) Option { return func(s *Store) { s.retries = n } }

// WithTracerProvider sets where the spans of Update go (default: the
// global provider of package otel, a no-op unless the host sets one).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(s *Store) { s.tel.tp = tp }
}

// WithMeterProvider sets where the counters of Update go (default: the
// global provider of package otel, a no-op unless the host sets one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(s *Store) { s.tel.mp = mp }
}

// New returns a store over db, which the host opened with its driver of
// choice: SQLite (modernc.org/sqlite, mattn/go-sqlite3...) with
// sqlitedialect, or PostgreSQL (pgx through database/sql) with pgdialect.
//
// For SQLite, New checks that the connection has a busy timeout and turns
// on WAL; every write transaction is BEGIN IMMEDIATE, whatever the DSN says.
// New does not migrate: call Migrate first.
func New(ctx context.Context, db *bun.DB, opts ...Option) (*Store, error) {
	s := &Store{db: db, retries: 3, stmts: newStmtCache(db.DB)}
	for _, o := range opts {
		o(s)
	}
	if err := s.tel.init(); err != nil {
		return nil, err
	}
	switch db.Dialect().Name() {
	case dialect.SQLite:
		s.sqlite = true
		s.writer = make(chan struct{}, 1)
		if err := checkSQLite(ctx, db); err != nil {
			return nil, err
		}
	case dialect.PG:
	default:
		return nil, fmt.Errorf("bunstore: dialect %s is not supported (SQLite and PostgreSQL are)", db.Dialect().Name())
	}
	s.q = newQueries(!s.sqlite)
	return s, nil
}

func checkSQLite(ctx context.Context, db *bun.DB) error {
	var timeout int
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil {
		return fmt.Errorf("bunstore: read busy_timeout: %v", err)
	}
	if timeout <= 0 {
		return errors.New("bunstore: SQLite connections need a busy timeout; open the database with ModerncDSN or _pragma=busy_timeout(10000)")
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return fmt.Errorf("bunstore: set WAL: %v", err)
	}
	if mode != "wal" && mode != "memory" {
		return fmt.Errorf("bunstore: SQLite journal mode is %q, want wal", mode)
	}
	return nil
}

// ModerncDSN is the data source name for a SQLite file opened with
// modernc.org/sqlite the way the store wants it: WAL, synchronous NORMAL, a
// 10 s busy timeout, foreign keys, and immediate transactions.
func ModerncDSN(path string) string {
	path = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate&_time_format=sqlite"
}

// Migrations returns the SQL migrations for db's dialect, for hosts that
// apply migrations with their own tool.
func Migrations(d dialect.Name) (fs.FS, error) {
	switch d {
	case dialect.SQLite:
		return fs.Sub(migrationFiles, "migrations/sqlite")
	case dialect.PG:
		return fs.Sub(migrationFiles, "migrations/postgres")
	}
	return nil, fmt.Errorf("bunstore: dialect %s is not supported", d)
}

// Migrate applies the store's migrations to db, recording them in
// MigrationTable. It is safe to call on every start.
func Migrate(ctx context.Context, db *bun.DB) error {
	ms, err := migrations(db.Dialect().Name())
	if err != nil {
		return err
	}
	m := newMigrator(db, ms)
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("bunstore: init migrations: %w", err)
	}
	if err := m.Lock(ctx); err != nil {
		return fmt.Errorf("bunstore: lock migrations: %w", err)
	}
	defer m.Unlock(context.WithoutCancel(ctx)) //nolint:errcheck // the lock row is removed; a failure leaves it for the next Migrate to report
	if _, err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("bunstore: migrate: %w", err)
	}
	return nil
}

// Pending returns the names of the store's migrations that db has not
// applied (e.g. "20261122000005_index_keys"), in the order Migrate would
// apply them; none when db is up to date. It writes nothing, so a host that
// applies migrations with its own tool can check them at start.
func Pending(ctx context.Context, db *bun.DB) ([]string, error) {
	all, err := migrations(db.Dialect().Name())
	if err != nil {
		return nil, err
	}
	ms := all.Sorted() // a database the store never migrated lacks them all
	switch exists, err := tableExists(ctx, db, MigrationTable); {
	case err != nil:
		return nil, fmt.Errorf("bunstore: find %s: %w", MigrationTable, err)
	case exists:
		if ms, err = newMigrator(db, all).MigrationsWithStatus(ctx); err != nil {
			return nil, fmt.Errorf("bunstore: read applied migrations: %w", err)
		}
	}
	var names []string
	for _, m := range ms.Unapplied() {
		names = append(names, m.String())
	}
	return names, nil
}

// migrations are the store's migrations for dialect d.
func migrations(d dialect.Name) (*migrate.Migrations, error) {
	files, err := Migrations(d)
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(files); err != nil {
		return nil, fmt.Errorf("bunstore: migrations: %w", err)
	}
	return ms, nil
}

// newMigrator is bun's migrator of ms on db, with the store's tables.
func newMigrator(db *bun.DB, ms *migrate.Migrations) *migrate.Migrator {
	return migrate.NewMigrator(db, ms,
		migrate.WithTableName(MigrationTable), migrate.WithLocksTableName(MigrationLocksTable),
		migrate.WithMarkAppliedOnSuccess(true))
}

// tableExists reports whether db has table name (on PostgreSQL, in the
// search path).
func tableExists(ctx context.Context, db *bun.DB, name string) (bool, error) {
	var n int
	q := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if db.Dialect().Name() == dialect.PG {
		q = "SELECT count(*) FROM (SELECT to_regclass(?) AS t) AS r WHERE t IS NOT NULL"
	}
	err := db.QueryRowContext(ctx, q, name).Scan(&n)
	return n > 0, err
}

// Card implements storage.Store.
func (s *Store) Card(ctx context.Context, org string, id int64) (card.Card, error) {
	st, err := s.stmt(ctx, s.q.card)
	if err != nil {
		return card.Card{}, translate(ctx, "read card", err)
	}
	_, c, scanned, err := scanCard(st.QueryRowContext(ctx, org, id))
	if err != nil && !scanned {
		return card.Card{}, notFound(ctx, "card", strconv.FormatInt(id, 10), err)
	}
	return c, err
}

// stmt returns query prepared for the store's reads: on the pool, or in
// the host's transaction.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s.host != nil {
		return s.stmts.inTx(ctx, s.host.Tx, query)
	}
	return s.stmts.get(ctx, query)
}

// reads is where the store reads: the pool, or the host's transaction.
func (s *Store) reads() bun.IDB {
	if s.host != nil {
		return *s.host
	}
	return s.db
}

// CardByToken implements storage.Store.
func (s *Store) CardByToken(ctx context.Context, org, token string) (card.Card, error) {
	var r cardRow
	if err := tokenQuery(s.reads(), &r, org, token).Scan(ctx); err != nil {
		return card.Card{}, notFound(ctx, "card", token, err)
	}
	return r.card()
}

// CardsByAccount implements storage.Store.
func (s *Store) CardsByAccount(ctx context.Context, org, account string, page storage.Page) ([]card.Card, error) {
	if page.Limit <= 0 {
		return nil, card.Invalid("limit", "must be positive")
	}
	var rows []cardRow
	err := s.reads().NewSelect().Model(&rows).
		Where("org_id = ? AND account_id = ? AND id > ?", org, account, page.After).
		OrderExpr("id").Limit(int64(page.Limit)).Scan(ctx)
	if err != nil {
		return nil, translate(ctx, "list cards", err)
	}
	return cardsOf(rows)
}

// Update implements storage.Store. On SQLite the transaction takes the
// write lock with its first statement, so it never fails upgrading a read
// lock; other writers wait in the busy handler. On PostgreSQL it is READ
// COMMITTED with row locks, re-run on deadlock or serialization failure.
// On a store of InTx it runs in a savepoint of the host's transaction
// instead (see InTx).
//
// Each call is a span named cardcore.tx; once the transaction commits (or
// its savepoint is released) the counter cardcore.card.changes counts its
// card changes, and cardcore.tx counts every call by outcome.
func (s *Store) Update(ctx context.Context, fn func(ctx context.Context, tx storage.Tx) error) (err error) {
	ctx, span := s.tel.start(ctx)
	var t *txn
	err = errPanicked // until fn returns
	defer func() { s.tel.end(ctx, span, t, err) }()
	if s.host != nil {
		t, err = s.runInHost(ctx, fn)
		return err
	}
	s.stmts.warm(ctx)
	for attempt := 0; ; attempt++ {
		t, err = s.runTx(ctx, fn)
		if err == nil {
			return nil
		}
		if attempt >= s.retries || !Retryable(err) {
			var fe fnError
			if errors.As(err, &fe) {
				err = fe.err // already in the taxonomy, or the caller's own
			} else {
				err = translate(ctx, "commit", err)
			}
			return err
		}
		s.tel.retry(span, err)
	}
}

// errPanicked is the outcome of an Update whose function panicked, for
// the span and the counters; the panic itself goes on up.
var errPanicked = errors.New("bunstore: the transaction's function panicked")

// fnError marks an error returned by the function given to Update, so it
// is passed back as it is rather than translated as a database error.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }
func (e fnError) Unwrap() error { return e.err }

// runTx runs fn in one transaction and returns it once committed. It rolls
// back on error and on panic.
func (s *Store) runTx(ctx context.Context, fn func(ctx context.Context, tx storage.Tx) error) (*txn, error) {
	var opts *sql.TxOptions
	if s.sqlite {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return nil, translate(ctx, "wait for the write lock", ctx.Err())
		}
	} else {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, translate(ctx, "begin", err)
	}
	ended := false
	defer func() {
		if !ended {
			_ = tx.Rollback()
		}
	}()
	t := &txn{s: s, db: tx, tx: tx.Tx, pg: !s.sqlite}
	if err := t.lockSQLite(ctx); err != nil {
		return nil, err
	}
	if err := fn(ctx, t); err != nil {
		return nil, fnError{err}
	}
	ended = true
	return t, tx.Commit()
}

func cardsOf(rows []cardRow) ([]card.Card, error) {
	cs := make([]card.Card, len(rows))
	for i := range rows {
		c, err := rows[i].card()
		if err != nil {
			return nil, err
		}
		cs[i] = c
	}
	return cs, nil
}
