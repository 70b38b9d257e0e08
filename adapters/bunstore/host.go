package bunstore

import (
	"context"

	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// InTx returns the store bound to tx, a transaction the host opened on the
// store's database, so the host's own rows and the library's changes (and
// their events) commit together or not at all.
//
// Update of the bound store runs its function in a savepoint of tx: it
// releases the savepoint when the function returns nil, and rolls back to
// it otherwise, so a refused use case leaves nothing of itself and tx goes
// on. It never commits and never retries: a PostgreSQL deadlock or
// serialization failure is returned like any other error, and the host
// runs its whole transaction again. The reads (Card, CardByToken,
// CardsByAccount, Reason, Reasons, Bulk, BulkView) run in tx too, so
// they see the host's uncommitted writes. The outbox side (Feed, After,
// Head) stays on the store's own connections: an event is in the feed, and
// handed to a deliverer, only once its transaction has committed.
//
// On SQLite the bound store does not queue for the store's writer slot:
// tx holds SQLite's one write lock from its first write (from BEGIN when
// it was opened IMMEDIATE, as ModerncDSN's _txlock=immediate does) until
// it ends, and every other writer waits for it meanwhile, so keep such
// transactions short. The bound store is as safe for concurrent use as tx,
// which is to say not: one goroutine at a time.
func (s *Store) InTx(tx bun.Tx) *Store {
	bound := *s
	bound.host = &tx
	return &bound
}

// savepoint names the savepoint of a bound store's Update. One name serves
// nested Updates: each RELEASE or ROLLBACK TO applies to the newest
// savepoint of the name.
const savepoint = "cardcore_update"

// runInHost runs fn in a savepoint of the host's transaction and returns
// the transaction once the savepoint is released. An error of fn comes
// back as it is.
func (s *Store) runInHost(ctx context.Context, fn func(ctx context.Context, tx storage.Tx) error) (*txn, error) {
	tx := s.host.Tx
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+savepoint); err != nil {
		return nil, translate(ctx, "savepoint", err)
	}
	released := false
	defer func() {
		if !released {
			// ROLLBACK TO keeps the savepoint, and makes an aborted
			// PostgreSQL transaction usable again; RELEASE then drops it.
			ctx := context.WithoutCancel(ctx)
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+savepoint); err == nil {
				_, _ = tx.ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint)
			}
		}
	}()
	t := &txn{s: s, idb: *s.host, tx: tx, pg: !s.sqlite}
	if err := t.lockSQLite(ctx); err != nil {
		return nil, err
	}
	if err := fn(ctx, t); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+savepoint); err != nil {
		return nil, translate(ctx, "release savepoint", err)
	}
	released = true
	return t, nil
}
