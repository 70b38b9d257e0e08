package faultdb_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/cardcore/cardcore/internal/faultdb"
	"github.com/cardcore/cardcore/internal/testdb"
)

// each runs f on a database of every kind with an empty table t (n).
func each(t *testing.T, f func(t *testing.T, db *faultdb.DB)) {
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			db := faultdb.Open(t, kind)
			if _, err := db.Direct.ExecContext(t.Context(), "CREATE TABLE t (n integer)"); err != nil {
				t.Fatal(err)
			}
			f(t, db)
		})
	}
}

// rows returns the values of t, read past the plan.
func rows(t *testing.T, db *faultdb.DB) []int {
	t.Helper()
	var ns []int
	if err := db.Direct.NewRaw("SELECT n FROM t ORDER BY n").Scan(t.Context(), &ns); err != nil {
		t.Fatal(err)
	}
	return ns
}

func insert(ctx context.Context, db *faultdb.DB, n int) error {
	_, err := db.Faulty.ExecContext(ctx, "INSERT INTO t (n) VALUES (?)", n)
	return err
}

// The Nth statement fails and is not run; the others run; the plan counts
// them and names the one it failed.
func TestStatementFails(t *testing.T) {
	each(t, func(t *testing.T, db *faultdb.DB) {
		db.Plan.Start(&faultdb.Fault{Kind: faultdb.Statement, N: 2, Mode: faultdb.Fail})
		errs := []error{insert(t.Context(), db, 1), insert(t.Context(), db, 2), insert(t.Context(), db, 3)}
		run := db.Plan.Stop()
		var fe *faultdb.Error
		if errs[0] != nil || !errors.As(errs[1], &fe) || errs[2] != nil {
			t.Fatalf("errors %v, want only the second one injected", errs)
		}
		if run.Counts[faultdb.Statement] != 3 || run.Fired == nil || run.Fired.N != 2 || run.Fired.InTx {
			t.Fatalf("run: counts %v, fired %v", run.Counts, run.Fired)
		}
		if got := rows(t, db); len(got) != 2 || got[0] != 1 || got[1] != 3 {
			t.Fatalf("rows %v, want [1 3]", got)
		}
		if err := insert(t.Context(), db, 4); err != nil || db.Plan.Faulted() != 1 {
			t.Fatalf("after Stop: %v, %d faults", err, db.Plan.Faulted())
		}
	})
}

// A lost statement runs, and its caller gets an error.
func TestStatementLost(t *testing.T) {
	each(t, func(t *testing.T, db *faultdb.DB) {
		db.Plan.Start(&faultdb.Fault{Kind: faultdb.Statement, N: 1, Mode: faultdb.Lost})
		err := insert(t.Context(), db, 1)
		db.Plan.Stop()
		if !errors.As(err, new(*faultdb.Error)) {
			t.Fatalf("error %v, want the injected one", err)
		}
		if got := rows(t, db); len(got) != 1 {
			t.Fatalf("rows %v, want the statement run", got)
		}
	})
}

// Outside a transaction database/sql runs a statement whose connection
// broke again on another connection: once.
func TestBrokenConnectionOutsideTransaction(t *testing.T) {
	each(t, func(t *testing.T, db *faultdb.DB) {
		db.Plan.Start(&faultdb.Fault{Kind: faultdb.Statement, N: 1, Mode: faultdb.Break})
		err := insert(t.Context(), db, 1)
		run := db.Plan.Stop()
		if err != nil || run.Fired == nil || run.Counts[faultdb.Statement] != 2 {
			t.Fatalf("error %v, run %+v; want the statement run again", err, run)
		}
		if got := rows(t, db); len(got) != 1 {
			t.Fatalf("rows %v, want one", got)
		}
	})
}

// Inside a transaction a broken connection is driver.ErrBadConn, the
// transaction's work is gone, and the database takes writes again (on
// SQLite, the write lock was released).
func TestBrokenConnectionInTransaction(t *testing.T) {
	each(t, func(t *testing.T, db *faultdb.DB) {
		ctx := t.Context()
		tx, err := db.Faulty.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Plan.Start(&faultdb.Fault{Kind: faultdb.Statement, N: 2, Mode: faultdb.Break})
		_, err1 := tx.ExecContext(ctx, "INSERT INTO t (n) VALUES (?)", 1)
		_, err2 := tx.ExecContext(ctx, "INSERT INTO t (n) VALUES (?)", 2)
		run := db.Plan.Stop()
		if err1 != nil || !errors.Is(err2, driver.ErrBadConn) || run.Fired == nil || !run.Fired.InTx {
			t.Fatalf("errors %v, %v, run %+v; want the second broken", err1, err2, run)
		}
		if err := tx.Commit(); err == nil {
			t.Fatal("commit on a broken connection succeeded")
		}
		if err := insert(ctx, db, 3); err != nil {
			t.Fatalf("write after the broken transaction: %v", err)
		}
		if got := rows(t, db); len(got) != 1 || got[0] != 3 {
			t.Fatalf("rows %v, want [3]", got)
		}
	})
}

// A failed commit rolls back, a lost one commits, a retryable one rolls
// back with SQLSTATE 40001.
func TestCommitFaults(t *testing.T) {
	each(t, func(t *testing.T, db *faultdb.DB) {
		ctx := t.Context()
		for i, c := range []struct {
			mode faultdb.Mode
			kept bool
		}{{faultdb.Fail, false}, {faultdb.Lost, true}, {faultdb.Break, false}, {faultdb.Retryable, false}} {
			n := 10 + i
			db.Plan.Start(&faultdb.Fault{Kind: faultdb.Commit, N: 1, Mode: c.mode})
			tx, err := db.Faulty.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO t (n) VALUES (?)", n); err != nil {
				t.Fatal(err)
			}
			err = tx.Commit()
			db.Plan.Stop()
			var state interface{ SQLState() string }
			switch {
			case err == nil:
				t.Errorf("%s commit: no error", c.mode)
			case c.mode == faultdb.Retryable && (!errors.As(err, &state) || state.SQLState() != "40001"):
				t.Errorf("%s commit: %v, want SQLSTATE 40001", c.mode, err)
			}
			if kept := rows(t, db); (len(kept) > 0 && kept[len(kept)-1] == n) != c.kept {
				t.Errorf("%s commit: rows %v, want %d kept: %v", c.mode, kept, n, c.kept)
			}
		}
	})
}

// A connection that fails its reset is discarded, and the pool hands out
// another.
func TestResetFault(t *testing.T) {
	each(t, func(t *testing.T, db *faultdb.DB) {
		if err := insert(t.Context(), db, 1); err != nil {
			t.Fatal(err)
		}
		db.Plan.Start(&faultdb.Fault{Kind: faultdb.Reset, N: 1, Mode: faultdb.Break})
		err := insert(t.Context(), db, 2)
		run := db.Plan.Stop()
		if err != nil || run.Fired == nil {
			t.Fatalf("error %v, run %+v; want a reset failed and the insert done", err, run)
		}
		if got := rows(t, db); len(got) != 2 {
			t.Fatalf("rows %v", got)
		}
	})
}

// A failed prepare is the caller's error.
func TestPrepareFails(t *testing.T) {
	each(t, func(t *testing.T, db *faultdb.DB) {
		db.Plan.Start(&faultdb.Fault{Kind: faultdb.Prepare, N: 1, Mode: faultdb.Fail})
		_, err := db.Faulty.PrepareContext(t.Context(), "SELECT n FROM t")
		db.Plan.Stop()
		if !errors.As(err, new(*faultdb.Error)) {
			t.Fatalf("error %v, want the injected one", err)
		}
	})
}
