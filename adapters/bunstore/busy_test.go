package bunstore_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/internal/testdb/pgschema"
	"github.com/cardcore/cardcore/storage"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
)

// busyTimeout is the tests' wait for another writer, far below the
// default, so that a test that waited the default fails.
const busyTimeout = 200 * time.Millisecond

// steadyBusyTimeout is TestLeasesKeepUpWithSteadyWrites's.
const steadyBusyTimeout = 2 * time.Second

// openSQLite opens the SQLite file at path as a process of its own would:
// a pool of its own, with ModerncDSN and opts.
func openSQLite(t *testing.T, path string, opts ...bunstore.DSNOption) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open("sqlite", bunstore.ModerncDSN(path, opts...))
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(sqldb, sqlitedialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}

func pragma(t *testing.T, db *bun.DB, name string) int {
	t.Helper()
	var v int
	if err := db.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestModerncDSNSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dsn.db")
	for _, c := range []struct {
		name              string
		opts              []bunstore.DSNOption
		synchronous, busy int
	}{
		{"default", nil, 2, 5000},
		{"FULL", []bunstore.DSNOption{bunstore.WithSynchronous(bunstore.SynchronousFull)}, 2, 5000},
		{"NORMAL", []bunstore.DSNOption{bunstore.WithSynchronous(bunstore.SynchronousNormal)}, 1, 5000},
		{"busy timeout", []bunstore.DSNOption{bunstore.WithBusyTimeout(1500 * time.Microsecond)}, 2, 2},
		{"no busy timeout", []bunstore.DSNOption{bunstore.WithBusyTimeout(0)}, 2, 5000},
	} {
		db := openSQLite(t, path, c.opts...)
		if got := pragma(t, db, "synchronous"); got != c.synchronous {
			t.Errorf("%s: PRAGMA synchronous = %d, want %d", c.name, got, c.synchronous)
		}
		if got := pragma(t, db, "busy_timeout"); got != c.busy {
			t.Errorf("%s: PRAGMA busy_timeout = %d, want %d", c.name, got, c.busy)
		}
	}
	for in, want := range map[string]bunstore.Synchronous{"FULL": bunstore.SynchronousFull, "normal": bunstore.SynchronousNormal} {
		if got, err := bunstore.ParseSynchronous(in); err != nil || got != want {
			t.Errorf("ParseSynchronous(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := bunstore.ParseSynchronous("OFF"); err == nil {
		t.Error("ParseSynchronous(OFF) succeeded, want an error")
	}
}

// unavailable checks that err, an Update's error while another writer
// held the lock, wraps card.ErrUnavailable, names the cause (want), leaks
// no driver type and is not retried at once.
func unavailable(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, card.ErrUnavailable) {
		t.Fatalf("Update while another writer holds the lock: %v, want an error wrapping card.ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("the error %q does not say %q", err, want)
	}
	var pg interface{ SQLState() string }
	var lite interface{ Code() int }
	if errors.As(err, &pg) || errors.As(err, &lite) {
		t.Errorf("driver error type leaked through %v", err)
	}
	if bunstore.Retryable(err) {
		t.Errorf("Retryable(%v) = true, want false: the wait already happened", err)
	}
}

// Two pools on one SQLite file stand for two processes. While one holds
// the write lock, with a write pending, longer than the other's busy
// timeout, the other's Update waits that timeout, then fails with
// card.ErrUnavailable and writes nothing; once the lock is free, the same
// Update commits.
func TestUpdateGivesUpOnAnotherProcesssLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	holder := openSQLite(t, path)
	if err := bunstore.Migrate(t.Context(), holder); err != nil {
		t.Fatal(err)
	}
	other := openSQLite(t, path, bunstore.WithBusyTimeout(busyTimeout))
	s := newStore(t, other)

	tx := begin(t, holder) // BEGIN IMMEDIATE: the write lock
	insert(t, newStore(t, holder).InTx(tx), validCard(testNow()))

	c := validCard(testNow())
	start := time.Now()
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.Save(ctx, &c, created) })
	waited := time.Since(start)
	unavailable(t, err, "database is busy")
	if waited < busyTimeout || waited >= bunstore.DefaultBusyTimeout {
		t.Errorf("the Update failed after %v, want the busy timeout of %v", waited, busyTimeout)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if evs := feed(t, s); len(evs) != 0 {
		t.Fatalf("the failed Update left %d events", len(evs))
	}
	if n, err := other.NewSelect().Table("cardcore_cards").Count(t.Context()); err != nil || n != 0 {
		t.Fatalf("the failed Update left %d cards (%v)", n, err)
	}
	insert(t, s, c)
}

// On PostgreSQL the busy timeout is lock_timeout, which the host sets: a
// write that waits longer for a lock another session holds fails with
// card.ErrUnavailable.
func TestUpdateGivesUpOnALockPastLockTimeoutPostgres(t *testing.T) {
	dsn := pgschema.URL(t, "cardcore_busy_")
	holder := openPostgres(t, dsn)
	if err := bunstore.Migrate(t.Context(), holder); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("lock_timeout", "200ms")
	u.RawQuery = q.Encode()
	s := newStore(t, openPostgres(t, u.String()))

	tx := begin(t, holder)
	if _, err := tx.ExecContext(t.Context(), "LOCK TABLE cardcore_cards IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	c := validCard(testNow())
	err = s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.Save(ctx, &c, created) })
	unavailable(t, err, "lock")
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if evs := feed(t, s); len(evs) != 0 {
		t.Fatalf("the failed Update left %d events", len(evs))
	}
	insert(t, s, c)
}

func openPostgres(t *testing.T, dsn string) *bun.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	db := bun.NewDB(stdlib.OpenDB(*cfg), pgdialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}

// Within one process, SQLite writes queue for the store's write slot; the
// queue waits no longer than the busy timeout either: an Update behind a
// transaction that holds the slot past it fails with card.ErrUnavailable,
// as a lease call does, and both succeed once the slot is free.
func TestWriteQueueWaitsAtMostTheBusyTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	db := openSQLite(t, path, bunstore.WithBusyTimeout(busyTimeout))
	if err := bunstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, db)
	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	c := validCard(testNow())
	err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.Save(ctx, &c, created) })
	unavailable(t, err, "held the SQLite write lock")
	_, err = s.Acquire(t.Context(), "queue", "me", time.Minute)
	unavailable(t, err, "held the SQLite write lock")
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	insert(t, s, c)
	if _, err := s.Acquire(t.Context(), "queue", "me", time.Minute); err != nil {
		t.Fatalf("Acquire once the slot is free: %v", err)
	}
}

// A deliverer's lease calls on SQLite take the same write slot as the
// transactions, so a steady stream of writers in the process cannot starve
// them: every Acquire, Advance and Release succeeds while four goroutines
// write without pause. The busy timeout, below the default, is still many
// times the few writes queued ahead of a lease call, even under -race on a
// loaded machine; without the slot, SQLite's own busy handler, which polls
// rather than queues, let lease calls fail within it.
func TestLeasesKeepUpWithSteadyWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "steady.db")
	db := openSQLite(t, path, bunstore.WithBusyTimeout(steadyBusyTimeout))
	if err := bunstore.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, db)
	ctx, stop := context.WithCancel(t.Context())
	writers := make(chan error, 4)
	for range cap(writers) {
		go func() {
			for ctx.Err() == nil {
				c := validCard(testNow())
				err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error { return tx.Save(ctx, &c, created) })
				if err != nil && ctx.Err() == nil {
					writers <- err
					return
				}
			}
			writers <- nil
		}()
	}
	defer func() {
		stop()
		for range cap(writers) {
			if err := <-writers; err != nil {
				t.Errorf("writer: %v", err)
			}
		}
	}()
	for i := range 50 {
		l, err := s.Acquire(t.Context(), "steady", "me", time.Minute)
		if err != nil {
			t.Fatalf("round %d: Acquire under steady writes: %v", i, err)
		}
		if l, err = s.Advance(t.Context(), l, l.Cursor+1, time.Minute); err != nil {
			t.Fatalf("round %d: Advance under steady writes: %v", i, err)
		}
		if err := s.Release(t.Context(), l); err != nil {
			t.Fatalf("round %d: Release under steady writes: %v", i, err)
		}
	}
}

// While another process holds the write lock, an Update's context ends its
// wait: it fails with the context's error once the context is done, long
// before the busy timeout, and its function never runs.
func TestUpdateContextEndsTheWaitForAnotherProcesssLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	holder := openSQLite(t, path)
	if err := bunstore.Migrate(t.Context(), holder); err != nil {
		t.Fatal(err)
	}
	const wait = 5 * time.Second
	s := newStore(t, openSQLite(t, path, bunstore.WithBusyTimeout(wait)))
	tx := begin(t, holder) // BEGIN IMMEDIATE: the write lock
	defer tx.Rollback()

	ctx, cancel := context.WithTimeout(t.Context(), busyTimeout)
	defer cancel()
	ran := false
	start := time.Now()
	err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error { ran = true; return nil })
	waited := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Update = %v, want context.DeadlineExceeded", err)
	}
	if ran {
		t.Error("the Update's function ran: it got the write lock of another process")
	}
	if waited >= wait {
		t.Errorf("the Update waited %v, the busy timeout, though its context ended after %v", waited, busyTimeout)
	}
}
