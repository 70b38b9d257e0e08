package bunstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoints of SQLite's write-ahead log, off the writers' path.
//
// In WAL mode a commit appends the pages it changed to the log, and a
// checkpoint copies them back into the database file. By default SQLite
// runs it inside the commit that takes the log past wal_autocheckpoint
// pages (1,000): that commit, and every writer queued behind it, waits
// for it. A store over SQLite in WAL mode runs PASSIVE checkpoints
// instead in a goroutine of their own, on a connection of the pool, after
// its writes: a PASSIVE checkpoint takes no write lock and waits for
// nobody, so writers go on appending while it copies, and on a machine
// with a core to spare the checkpoint is off their path altogether.
// ModerncDSN raises wal_autocheckpoint to DSNAutoCheckpoint pages, so that
// a commit checkpoints itself only when these checkpoints fall behind (a
// log that long is about 40 MiB at SQLite's 4 KiB pages), which bounds
// the log whatever happens to them.
//
// A checkpoint starts after a write of the store once none runs and the
// gap since the last one started has passed: checkpointGap at first, and
// twice as long after each checkpoint that found fewer than
// checkpointFew pages in the log, up to checkpointIdle, so that a store
// that writes little runs few checkpoints (each syncs the database file).
// A checkpoint that finds more resets the gap. WithCheckpoints turns them
// off. A checkpoint that fails or cannot run (another connection
// checkpointing, the pool closed) leaves the work to the next one, or to
// the commits. Store.Close waits for the one running and starts no more:
// the host calls it before it closes the database, which a checkpoint
// still running would otherwise use after.
const (
	checkpointGap  = 5 * time.Millisecond
	checkpointIdle = time.Second
	checkpointFew  = 128
	// checkpointTimeout bounds one checkpoint, which never waits for a lock
	// but may wait for a connection of the pool.
	checkpointTimeout = time.Minute
)

// DSNAutoCheckpoint is the wal_autocheckpoint of the connections
// ModerncDSN opens: how many pages the write-ahead log holds before a
// commit checkpoints it itself, where the store's own checkpoints (see
// WithCheckpoints) have not.
const DSNAutoCheckpoint = 10000

// WithCheckpoints turns the store's own checkpoints of SQLite's
// write-ahead log on (the default) or off. Off, checkpoints run in the
// commits, as the connections' wal_autocheckpoint says. PostgreSQL
// ignores it.
func WithCheckpoints(on bool) Option {
	return func(s *Store) { s.noCheckpoints = !on }
}

// checkpointer runs the store's checkpoints; nil when the store runs
// none.
type checkpointer struct {
	db *sql.DB
	// mu is held from the kick that starts a checkpoint to the checkpoint's
	// end, so one runs at a time and close can wait for it; gap is mu's.
	mu     sync.Mutex
	gap    time.Duration
	next   atomic.Int64 // when the next may start, in Unix nanoseconds
	closed atomic.Bool
	runs   atomic.Int64 // checkpoints run, for tests
}

func newCheckpointer(db *sql.DB) *checkpointer {
	return &checkpointer{db: db, gap: checkpointGap}
}

// kick starts a checkpoint in a goroutine of its own unless one runs, its
// gap has not passed, or the store is closed.
func (c *checkpointer) kick() {
	if c == nil || time.Now().UnixNano() < c.next.Load() || !c.mu.TryLock() {
		return
	}
	if c.closed.Load() { // after the lock: close, which set it first, waits for the lock
		c.mu.Unlock()
		return
	}
	go c.run()
}

// close starts no more checkpoints and waits for the one running.
func (c *checkpointer) close() {
	if c == nil {
		return
	}
	c.closed.Store(true)
	c.mu.Lock()
	//lint:ignore SA2001 the empty critical section is the wait for run, which holds mu
	c.mu.Unlock()
}

// run runs one PASSIVE checkpoint, sets when the next may start, and
// unlocks c.mu, which its caller locked.
func (c *checkpointer) run() {
	defer c.mu.Unlock()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), checkpointTimeout)
	defer cancel()
	var busy, log, done int64
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done)
	c.runs.Add(1)
	switch {
	case err == nil && log >= checkpointFew:
		c.gap = checkpointGap
	case c.gap < checkpointIdle:
		c.gap = min(2*c.gap, checkpointIdle)
	}
	c.next.Store(start.Add(c.gap).UnixNano())
}
