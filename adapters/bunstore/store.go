package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
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
	// writer admits one SQLite write of this store at a time (a
	// transaction, or a statement of the subscriptions, purge or webhook
	// endpoints committed alone): SQLite has one writer anyway, and a
	// queue here hands the lock over at once, where waiting in SQLite's
	// busy handler sleeps and polls, and starves whoever polls against a
	// steady stream of writers. busy bounds the wait in the queue as the
	// connection's busy timeout bounds the wait for another process.
	writer chan struct{}
	busy   time.Duration
	// host is the host's transaction of a store made by InTx, nil for the
	// store New returns.
	host *bun.Tx
	tel  telemetry
	// notPgx is set once a PostgreSQL connection of the pool turned out not
	// to be pgx's, so cards are read through database/sql (pgxread.go).
	notPgx *atomic.Bool
	// ckpt runs the checkpoints of SQLite's write-ahead log after writes
	// (checkpoint.go); nil on PostgreSQL, outside WAL mode, or
	// WithCheckpoints(false).
	ckpt          *checkpointer
	noCheckpoints bool
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

// WithMeterProvider sets where the counters of Update and the feed's
// gauges go (default: the global provider of package otel, a no-op unless
// the host sets one).
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
	s := &Store{db: db, retries: 3, stmts: newStmtCache(db.DB), notPgx: new(atomic.Bool)}
	for _, o := range opts {
		o(s)
	}
	switch db.Dialect().Name() {
	case dialect.SQLite:
		s.sqlite = true
		s.writer = make(chan struct{}, 1)
		busy, wal, err := checkSQLite(ctx, db)
		if err != nil {
			return nil, err
		}
		s.busy = busy
		if wal && !s.noCheckpoints {
			s.ckpt = newCheckpointer(db.DB)
		}
	case dialect.PG:
	default:
		return nil, fmt.Errorf("bunstore: dialect %s is not supported (SQLite and PostgreSQL are)", db.Dialect().Name())
	}
	s.q = newQueries(!s.sqlite)
	// Last: its gauges read the store from the collecting goroutine.
	if err := s.tel.init(s); err != nil {
		return nil, err
	}
	return s, nil
}

// checkSQLite returns the busy timeout of db's connections, and whether
// the database is in WAL mode (an in-memory one is not).
func checkSQLite(ctx context.Context, db *bun.DB) (time.Duration, bool, error) {
	var timeout int
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&timeout); err != nil {
		return 0, false, fmt.Errorf("bunstore: read busy_timeout: %v", err)
	}
	if timeout <= 0 {
		return 0, false, errors.New("bunstore: SQLite connections need a busy timeout; open the database with ModerncDSN or _pragma=busy_timeout(5000)")
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		return 0, false, fmt.Errorf("bunstore: set WAL: %v", err)
	}
	if mode != "wal" && mode != "memory" {
		return 0, false, fmt.Errorf("bunstore: SQLite journal mode is %q, want wal", mode)
	}
	return time.Duration(timeout) * time.Millisecond, mode == "wal", nil
}

// Close stops the store's work in the background, SQLite's checkpoints
// (WithCheckpoints): it waits for the one running, and starts no more. The
// host calls it before it closes the database, which the store does not
// own; the store reads and writes after Close as before. A store bound by
// InTx shares its checkpoints with the store it came from, whose Close
// stops them.
func (s *Store) Close() error {
	if s.host == nil {
		s.ckpt.close()
	}
	return nil
}

// write waits for the store's SQLite write slot and returns the function
// that gives it back, and then lets a checkpoint start (checkpoint.go);
// on PostgreSQL it returns at once. A wait longer than
// the connection's busy timeout fails as SQLite's own wait would, with an
// error wrapping card.ErrUnavailable.
func (s *Store) write(ctx context.Context, op string) (done func(), err error) {
	if !s.sqlite {
		return func() {}, nil
	}
	release := func() {
		<-s.writer
		s.ckpt.kick()
	}
	select {
	case s.writer <- struct{}{}:
		return release, nil
	default:
	}
	timer := time.NewTimer(s.busy)
	defer timer.Stop()
	select {
	case s.writer <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, translate(ctx, op, ctx.Err())
	case <-timer.C:
		return nil, &storeError{op: op, msg: fmt.Sprintf("another write of this process held the SQLite write lock for the busy timeout (%v)", s.busy), kind: card.ErrUnavailable}
	}
}

// DefaultBusyTimeout is how long a connection opened with ModerncDSN
// waits for another connection's (or process's) write lock before its
// write fails with an error wrapping card.ErrUnavailable.
const DefaultBusyTimeout = 5 * time.Second

// Synchronous is SQLite's synchronous setting, how far a commit goes to
// the disk before it returns, for ModerncDSN. The zero value is
// SynchronousFull.
type Synchronous struct{ name string }

var (
	// SynchronousFull syncs the write-ahead log at every commit: a change
	// acknowledged to the caller survives a power loss or an OS crash.
	SynchronousFull = Synchronous{"FULL"}
	// SynchronousNormal syncs at checkpoints only: commits are faster, and
	// a power loss or an OS crash may lose the last commits, though they
	// were acknowledged (the database stays consistent; a crash of the
	// process alone loses nothing).
	SynchronousNormal = Synchronous{"NORMAL"}
)

// ParseSynchronous returns the setting named s, FULL or NORMAL (in any
// case).
func ParseSynchronous(s string) (Synchronous, error) {
	switch strings.ToUpper(s) {
	case "FULL":
		return SynchronousFull, nil
	case "NORMAL":
		return SynchronousNormal, nil
	}
	return Synchronous{}, fmt.Errorf("bunstore: synchronous %q is neither FULL nor NORMAL", s)
}

// String returns FULL or NORMAL.
func (s Synchronous) String() string {
	if s.name == "" {
		return SynchronousFull.name
	}
	return s.name
}

// MarshalText renders the setting's name.
func (s Synchronous) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a setting's name, as ParseSynchronous does.
func (s *Synchronous) UnmarshalText(b []byte) error {
	v, err := ParseSynchronous(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// DSNOption sets a connection setting of ModerncDSN.
type DSNOption func(*dsnSettings)

type dsnSettings struct {
	synchronous Synchronous
	busyTimeout time.Duration
}

// WithSynchronous sets SQLite's synchronous setting (default
// SynchronousFull).
func WithSynchronous(s Synchronous) DSNOption {
	return func(d *dsnSettings) { d.synchronous = s }
}

// WithBusyTimeout sets how long a write waits for another writer's lock
// before it fails with card.ErrUnavailable (default DefaultBusyTimeout),
// rounded up to the millisecond; a timeout under 1 ms keeps the default,
// as a connection that never waits would fail whenever two writers meet.
func WithBusyTimeout(timeout time.Duration) DSNOption {
	return func(d *dsnSettings) {
		if timeout >= time.Millisecond {
			d.busyTimeout = timeout
		}
	}
}

// ModerncDSN is the data source name for the SQLite file at path opened
// with modernc.org/sqlite the way the store wants it: WAL, a busy timeout
// (DefaultBusyTimeout unless WithBusyTimeout says otherwise), synchronous
// FULL unless WithSynchronous says otherwise, foreign keys, immediate
// transactions, and wal_autocheckpoint at DSNAutoCheckpoint pages, as the
// store checkpoints the log itself (WithCheckpoints).
func ModerncDSN(path string, opts ...DSNOption) string {
	d := dsnSettings{synchronous: SynchronousFull, busyTimeout: DefaultBusyTimeout}
	for _, o := range opts {
		o(&d)
	}
	ms := (d.busyTimeout + time.Millisecond - 1) / time.Millisecond
	path = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + path + "?_pragma=busy_timeout(" + strconv.FormatInt(int64(ms), 10) + ")&_pragma=journal_mode(WAL)" +
		"&_pragma=wal_autocheckpoint(" + strconv.Itoa(DSNAutoCheckpoint) + ")&_pragma=synchronous(" + d.synchronous.String() + ")&_pragma=foreign_keys(1)&_txlock=immediate&_time_format=sqlite"
}

// ConcurrentWrites implements storage.ConcurrentWriter: on PostgreSQL
// the store runs write transactions at once, each on a connection of its
// own; on SQLite one after the other, and in a host's transaction (InTx)
// every write is that transaction's.
func (s *Store) ConcurrentWrites() bool { return !s.sqlite && s.host == nil }

// Card implements storage.Store.
func (s *Store) Card(ctx context.Context, org string, id int64) (card.Card, error) {
	c, scanned, ok, err := s.poolCard(ctx, org, id)
	if !ok {
		st, serr := s.stmt(ctx, s.q.card)
		if serr != nil {
			return card.Card{}, translate(ctx, "read card", serr)
		}
		_, c, scanned, err = s.q.text.scanCard(st.QueryRowContext(ctx, org, id))
	}
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
// COMMITTED with row locks, re-run on deadlock or serialization failure;
// on a connection of pgx's driver the store runs it on the connection
// itself, its BEGIN sent with its first statement (see pgxtx.go).
// On a store of InTx it runs in a savepoint of the host's transaction
// instead (see InTx).
//
// ctx ends the wait for a lock, and once done it rolls the transaction
// back rather than commit it: Update then returns an error wrapping ctx's.
// On SQLite, the statements after the write lock wait for nothing and are
// not interrupted: a ctx done while one runs takes effect once it ends,
// at the latest at the commit.
//
// Each call is a span named cardcore.tx; once the transaction commits (or
// its savepoint is released) the counter cardcore.card.changes counts its
// card changes, cardcore.tx counts every call by outcome, and
// cardcore.operations by operation and outcome (see Telemetry in the
// package documentation).
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
	done, err := s.write(ctx, "wait for the write lock")
	if err != nil {
		return nil, err
	}
	defer done()
	if !s.sqlite && !s.notPgx.Load() {
		c, err := s.db.Conn(ctx)
		if err != nil {
			return nil, translate(ctx, "begin", err)
		}
		if pgxTx(c.Conn) {
			defer c.Close()               // after the release below
			defer releasePgx(ctx, c.Conn) // rolls back what is still open, on every path
			t := &txn{s: s, idb: c, pg: true, conn: c.Conn, direct: true}
			if err := t.lazyCommit(ctx); err != nil {
				return nil, err
			}
			if err := fn(ctx, t); err != nil {
				return nil, fnError{err}
			}
			return t, t.commitPgx(ctx)
		}
		s.notPgx.Store(true)
		_ = c.Close()
	}
	var opts *sql.TxOptions
	var conn *sql.Conn // on PostgreSQL, the transaction's connection, for COPY (copyNew)
	var tx bun.Tx
	if s.sqlite {
		// BEGIN keeps ctx: with ModerncDSN's _txlock=immediate it is the
		// wait for another process's write lock, which ctx must end
		// (TestUpdateContextEndsTheWaitForAnotherProcesssLock). modernc
		// watches it, and the COMMIT, with a goroutine each; running them
		// without ctx's cancellation measured 0-3% of a status update,
		// within the spread of runs here.
		tx, err = s.db.BeginTx(ctx, opts)
	} else {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
		var c bun.Conn
		if c, tx, err = s.beginOnConn(ctx, opts); err != nil {
			return nil, translate(ctx, "begin", err)
		}
		defer c.Close() // after the rollback below
		conn = c.Conn
	}
	if err != nil {
		return nil, translate(ctx, "begin", err)
	}
	ended := false
	defer func() {
		if !ended {
			_ = tx.Rollback()
		}
	}()
	t := &txn{s: s, idb: tx, tx: tx.Tx, pg: !s.sqlite, conn: conn}
	if err := t.lockSQLite(ctx); err != nil {
		return nil, err
	}
	if err := t.lazyCommit(ctx); err != nil {
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
