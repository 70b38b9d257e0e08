package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/internal/testdb/pgschema"
	"github.com/cardcore/cardcore/storage"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// The pgx transaction (pgxtx.go) sends BEGIN with its first statement.
// These tests hold it to what database/sql's transaction guaranteed: every
// statement of the function runs inside the transaction, whichever
// storage.Tx method comes first; nothing of a transaction that does not
// commit is written; and the connection goes back to the pool outside any
// transaction, whatever ended it. The store's pool has one connection
// (openForPlan), so the next transaction gets the same one.

// pgxTxStore is a store on PostgreSQL with one connection, a card, and
// the connection's backend pid.
func pgxTxStore(t *testing.T) (*Store, *bun.DB, card.Card, int) {
	t.Helper()
	s, db := storeForPlan(t, "postgres")
	c := createForChain(t, s)
	conn, err := db.DB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() // the pool's one connection
	if !pgxTx(conn) {
		t.Fatal("the test database's connections are not pgx's")
	}
	return s, db, c, backendPID(t, conn)
}

func backendPID(t *testing.T, conn *sql.Conn) int {
	t.Helper()
	var pid int
	if err := conn.QueryRowContext(t.Context(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// txStatus is the transaction status of conn as the server last reported
// it: 'I' idle, 'T' in a transaction, 'E' in a failed one.
func txStatus(t *testing.T, conn *sql.Conn) byte {
	t.Helper()
	var st byte
	if err := conn.Raw(func(dc any) error {
		st = dc.(pgxConner).Conn().PgConn().TxStatus()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

// poolIdle fails t unless the pool's connection went back to it outside
// any transaction: it is still the connection of backend pid. pgx's
// driver closes a connection it finds in a transaction when the pool
// hands it out again, so one the store had left in a transaction comes
// back as a new connection, of a new backend (and its status, read here,
// would say nothing).
func poolIdle(t *testing.T, db *bun.DB, after string, pid int) {
	t.Helper()
	c, err := db.DB.Conn(t.Context())
	if err != nil {
		t.Fatalf("after %s: %v", after, err)
	}
	defer c.Close()
	if got := backendPID(t, c); got != pid {
		t.Errorf("after %s the pool's connection is of backend %d, want %d: the connection was closed", after, got, pid)
	}
}

// rowCounts counts the rows of every table a transaction writes.
func rowCounts(t *testing.T, db *bun.DB) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, table := range []string{"cardcore_cards", "cardcore_outbox", "cardcore_reasons", "cardcore_bulks",
		"cardcore_bulk_external_ids", "cardcore_idempotency"} {
		var n int
		if err := db.NewRaw("SELECT count(*) FROM "+table).Scan(t.Context(), &n); err != nil {
			t.Fatal(err)
		}
		m[table] = n
	}
	var sum int
	if err := db.NewRaw("SELECT coalesce(sum(version), 0) FROM cardcore_cards").Scan(t.Context(), &sum); err != nil {
		t.Fatal(err)
	}
	m["versions"] = sum
	return m
}

// Every method of storage.Tx, when it is the transaction's first, runs
// inside the transaction (the connection is in one once it returns), and
// what it wrote is gone once the function fails.
func TestPgxTxEveryMethodFirstRunsInTheTransaction(t *testing.T) {
	s, db, c, pid := pgxTxStore(t)
	now := time.Now()
	bulk := card.Bulk{OrgID: c.OrgID, ProgramID: 1, Status: card.BulkCreated, PINLength: 4, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error { return tx.SaveBulk(ctx, &bulk) }); err != nil {
		t.Fatal(err)
	}
	ev := func() events.Event {
		return events.Event{ID: uuid.NewString(), Type: events.CardUpdated, OrgID: c.OrgID, CID: "cid",
			Timestamp: now, CardID: c.ID, Data: []byte(`{"card_id":1,"version":1}`)}
	}
	key := storage.IdempotencyKey{OrgID: c.OrgID, Scope: "test", Key: "k"}
	calls := map[string]func(ctx context.Context, tx storage.Tx) error{
		"Card": func(ctx context.Context, tx storage.Tx) error { _, err := tx.Card(ctx, c.OrgID, c.ID); return err },
		"CardByToken": func(ctx context.Context, tx storage.Tx) error {
			_, err := tx.CardByToken(ctx, c.OrgID, c.Token)
			return err
		},
		"CardByLast4": func(ctx context.Context, tx storage.Tx) error {
			_, err := tx.CardByLast4(ctx, c.OrgID, "a", "c", "1234")
			return err
		},
		"Successor": func(ctx context.Context, tx storage.Tx) error { _, err := tx.Successor(ctx, c.OrgID, c.ID); return err },
		"VirtualAliasTaken": func(ctx context.Context, tx storage.Tx) error {
			_, err := tx.VirtualAliasTaken(ctx, c.OrgID, "c", "n")
			return err
		},
		"Save": func(ctx context.Context, tx storage.Tx) error {
			next := c
			next.Version++
			next.Status, next.PreviousStatus = card.Blocked, c.Status
			return tx.Save(ctx, &next, events.Change{Type: events.CardUpdated, Operation: card.UpdateStatus, At: now})
		},
		"SaveNew": func(ctx context.Context, tx storage.Tx) error {
			return tx.SaveNew(ctx, []card.Card{variedCard(7)}, events.Created(card.Create, now))
		},
		"Append":   func(ctx context.Context, tx storage.Tx) error { return tx.Append(ctx, ev()) },
		"Due":      func(ctx context.Context, tx storage.Tx) error { _, err := tx.Due(ctx, "", now, 10); return err },
		"Claim":    func(ctx context.Context, tx storage.Tx) error { _, _, err := tx.Claim(ctx, key, "fp"); return err },
		"Complete": func(ctx context.Context, tx storage.Tx) error { return tx.Complete(ctx, key, []byte("{}")) },
		"Reason":   func(ctx context.Context, tx storage.Tx) error { _, err := tx.Reason(ctx, c.OrgID, 1); return err },
		"SaveReason": func(ctx context.Context, tx storage.Tx) error {
			return tx.SaveReason(ctx, &card.Reason{OrgID: c.OrgID, Description: "d", Type: "BROKEN", Cost: "0", Enabled: true, CreatedAt: now, UpdatedAt: now})
		},
		"Bulk": func(ctx context.Context, tx storage.Tx) error { _, err := tx.Bulk(ctx, c.OrgID, bulk.ID); return err },
		"SaveBulk": func(ctx context.Context, tx storage.Tx) error {
			b := bulk
			b.ID = ""
			return tx.SaveBulk(ctx, &b)
		},
		"AddExternalIDs": func(ctx context.Context, tx storage.Tx) error {
			return tx.AddExternalIDs(ctx, bulk.ID, []string{"x1", "x2"})
		},
		"ExternalIDs": func(ctx context.Context, tx storage.Tx) error {
			_, _, err := tx.ExternalIDs(ctx, bulk.ID, 0, 10)
			return err
		},
		"UnboundCards": func(ctx context.Context, tx storage.Tx) error {
			_, err := tx.UnboundCards(ctx, c.OrgID, bulk.ID, nil, 0, 10)
			return err
		},
	}
	tt := reflect.TypeFor[storage.Tx]()
	for i := range tt.NumMethod() {
		if _, ok := calls[tt.Method(i).Name]; !ok {
			t.Errorf("storage.Tx.%s has no case here", tt.Method(i).Name)
		}
	}
	before := rowCounts(t, db)
	errFailed := errors.New("the function failed")
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			var callErr error
			err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
				callErr = call(ctx, tx)
				if st := txStatus(t, tx.(*txn).conn); st != 'T' {
					t.Errorf("after %s, the transaction's first statement, the connection is in status %c, want T", name, st)
				}
				return errFailed
			})
			if !errors.Is(err, errFailed) {
				t.Fatalf("Update: %v, want the function's error", err)
			}
			if callErr != nil && !errors.Is(callErr, card.ErrNotFound) {
				t.Errorf("%s: %v", name, callErr)
			}
			poolIdle(t, db, name, pid)
			if after := rowCounts(t, db); !reflect.DeepEqual(after, before) {
				t.Errorf("after a failed transaction whose first statement was %s, the rows are %v, want %v", name, after, before)
			}
		})
	}
}

// A transaction ends outside any transaction on its connection, and with
// nothing written unless it committed, whatever ends it.
func TestPgxTxEnds(t *testing.T) {
	s, db, c, pid := pgxTxStore(t)
	change := func(ctx context.Context, tx storage.Tx) error { return toggleIn(ctx, tx, c) }
	unchanged := func(t *testing.T, before map[string]int) {
		t.Helper()
		if after := rowCounts(t, db); !reflect.DeepEqual(after, before) {
			t.Errorf("rows %v, want %v", after, before)
		}
	}

	t.Run("commit", func(t *testing.T) {
		before := rowCounts(t, db)
		if err := s.Update(t.Context(), change); err != nil {
			t.Fatal(err)
		}
		poolIdle(t, db, "a commit", pid)
		after := rowCounts(t, db)
		if after["versions"] != before["versions"]+1 || after["cardcore_outbox"] != before["cardcore_outbox"]+1 {
			t.Errorf("after a committed change rows are %v, from %v: want one more version and event", after, before)
		}
	})
	t.Run("no statement", func(t *testing.T) {
		before := rowCounts(t, db)
		if err := s.Update(t.Context(), func(context.Context, storage.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
		poolIdle(t, db, "an empty transaction", pid)
		unchanged(t, before)
	})
	t.Run("panic", func(t *testing.T) {
		before := rowCounts(t, db)
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the panic did not go on up")
				}
			}()
			_ = s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
				if err := change(ctx, tx); err != nil {
					return err
				}
				panic("in the function")
			})
		}()
		poolIdle(t, db, "a panic", pid)
		unchanged(t, before)
	})
	t.Run("ctx done", func(t *testing.T) {
		before := rowCounts(t, db)
		ctx, cancel := context.WithCancel(t.Context())
		err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			err := change(ctx, tx)
			cancel()
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Update with ctx canceled before the commit: %v, want context.Canceled", err)
		}
		poolIdle(t, db, "a ctx done before the commit", pid)
		unchanged(t, before)
	})
	t.Run("failed statement, function returns nil", func(t *testing.T) {
		// The commit of a failed transaction is PostgreSQL's ROLLBACK: an
		// error, never a success with the change missing.
		before := rowCounts(t, db)
		err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
			if err := change(ctx, tx); err != nil {
				return err
			}
			_, err := tx.(*txn).idb.ExecContext(ctx, "SELECT 1/0")
			if err == nil || !strings.Contains(err.Error(), "division by zero") {
				t.Errorf("SELECT 1/0: %v", err)
			}
			return nil
		})
		if err == nil {
			t.Error("Update of a failed transaction returned no error")
		}
		poolIdle(t, db, "a failed transaction", pid)
		unchanged(t, before)
	})
	t.Run("next transaction", func(t *testing.T) {
		if err := s.Update(t.Context(), change); err != nil {
			t.Fatal(err)
		}
		poolIdle(t, db, "the last change", pid)
	})
}

// A connection that the server closed while it was idle in the pool, and
// that pgx's driver has not found out about yet, fails the transaction's
// first round trip; the transaction had done nothing, and Update runs it
// again on another connection, as database/sql's BeginTx would.
func TestPgxTxConnectionLostWhileIdle(t *testing.T) {
	// pgx's driver pings a connection that comes out of the pool after
	// more than a second idle, which would find the closed one out before
	// the store uses it, as it may on a loaded machine: this pool never
	// pings.
	cfg, err := pgx.ParseConfig(pgschema.URL(t, "cardcore_pgxtx_"))
	if err != nil {
		t.Fatal(err)
	}
	sqldb := stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(func(context.Context, stdlib.ShouldPingParams) bool { return false }))
	sqldb.SetMaxOpenConns(2)
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() { db.Close() })
	if err := Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	s, err := New(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	c := createForChain(t, s)
	admin, err := db.DB.Conn(t.Context()) // the pool's idle connection: the store opens another
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, first := range []string{"Card", "Claim"} {
		t.Run(first, func(t *testing.T) {
			before := rowCounts(t, db)
			killIdle(t, s, admin)
			attempts := 0
			err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
				attempts++
				if first == "Claim" {
					if _, _, err := tx.Claim(ctx, storage.IdempotencyKey{OrgID: c.OrgID, Scope: "lost", Key: uuid.NewString()}, "fp"); err != nil {
						return err
					}
				}
				return toggleIn(ctx, tx, c)
			})
			if err != nil {
				t.Fatalf("Update on a lost connection: %v", err)
			}
			if attempts != 2 {
				t.Errorf("the function ran %d times, want 2 (the lost connection's, then another's)", attempts)
			}
			if after := rowCounts(t, db); after["versions"] != before["versions"]+1 {
				t.Errorf("versions %d after the change, want %d", after["versions"], before["versions"]+1)
			}
		})
	}
	// A read of a card outside a transaction (poolCard, through pgx's API)
	// is sent again on another connection.
	t.Run("read", func(t *testing.T) {
		killIdle(t, s, admin)
		got, err := s.Card(t.Context(), c.OrgID, c.ID)
		if err != nil || got.ID != c.ID {
			t.Fatalf("read on a lost connection: %+v, %v", got, err)
		}
	})
}

// killIdle terminates the backend of the connection s's transactions run
// on, while it sits idle in the pool, from admin, another connection.
func killIdle(t *testing.T, s *Store, admin *sql.Conn) {
	t.Helper()
	var pid int
	if err := s.Update(t.Context(), func(ctx context.Context, tx storage.Tx) error {
		pid = backendPID(t, tx.(*txn).conn)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var killed bool
	if err := admin.QueryRowContext(t.Context(), "SELECT pg_terminate_backend($1)", pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate backend %d: %v %v", pid, killed, err)
	}
	time.Sleep(100 * time.Millisecond) // the backend is gone; pgx has not read from the connection since
}

// toggleIn reads c in tx and saves it with its status toggled (toggle).
func toggleIn(ctx context.Context, tx storage.Tx, c card.Card) error {
	got, err := tx.Card(ctx, c.OrgID, c.ID)
	if err != nil {
		return err
	}
	toggle(&got)
	return tx.Save(ctx, &got, events.Change{Type: events.CardUpdated, Operation: card.UpdateStatus, At: time.Now()})
}

// The save that ends a pgx transaction goes with its COMMIT: Save keeps
// it, the next statement or the COMMIT sends it, and a kept save that
// changes no card fails the transaction whole, its COMMIT never run.
func TestPgxTxSaveGoesWithTheCommit(t *testing.T) {
	s, db, c, pid := pgxTxStore(t)
	ctx := t.Context()

	t.Run("kept, then sent with the COMMIT", func(t *testing.T) {
		before := rowCounts(t, db)
		if err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			if err := toggleIn(ctx, tx, c); err != nil {
				return err
			}
			if tx.(*txn).pending == nil {
				t.Error("the save of a card the transaction read was sent before the COMMIT")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if after := rowCounts(t, db); after["versions"] != before["versions"]+1 || after["cardcore_outbox"] != before["cardcore_outbox"]+1 {
			t.Errorf("after the commit: %v, want one version and one event more than %v", after, before)
		}
		poolIdle(t, db, "the commit", pid)
	})

	t.Run("sent by the next statement", func(t *testing.T) {
		var read card.Card
		if err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			if err := toggleIn(ctx, tx, c); err != nil {
				return err
			}
			var err error
			read, err = tx.Card(ctx, c.OrgID, c.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		stored, err := s.Card(ctx, c.OrgID, c.ID)
		if err != nil || read.Version != stored.Version || read.Status != stored.Status {
			t.Errorf("read in the transaction after the save: version %d %s; stored: version %d %s (%v)",
				read.Version, read.Status, stored.Version, stored.Status, err)
		}
	})

	t.Run("a kept save that changes no card", func(t *testing.T) {
		before := rowCounts(t, db)
		err := s.Update(ctx, func(ctx context.Context, tx storage.Tx) error {
			// A write before the save, which must not commit without it.
			if err := tx.Append(ctx, events.Event{ID: uuid.NewString(), OrgID: c.OrgID, Type: events.CardUpdated,
				Timestamp: time.Now(), Data: []byte(`{}`)}); err != nil {
				return err
			}
			got, err := tx.Card(ctx, c.OrgID, c.ID)
			if err != nil {
				return err
			}
			// The transaction takes the card for one at a version it does
			// not have: its save is kept, and matches no row.
			tt := tx.(*txn)
			r := tt.loaded[got.ID]
			r.Version += 10
			tt.loaded[got.ID] = r
			got.Version = r.Version
			toggle(&got)
			if err := tx.Save(ctx, &got, events.Change{Type: events.CardUpdated, Operation: card.UpdateStatus, At: time.Now()}); err != nil {
				return err
			}
			if tt.pending == nil {
				t.Error("the save was not kept")
			}
			return nil
		})
		var ce *card.ConflictError
		if !errors.As(err, &ce) || ce.CardID != c.ID {
			t.Errorf("Update: %v, want the save's conflict", err)
		}
		if after := rowCounts(t, db); !reflect.DeepEqual(after, before) {
			t.Errorf("after the failed save: %v, want %v (nothing written)", after, before)
		}
		poolIdle(t, db, "the failed save", pid)
	})
}
