package faultdb_test

import (
	"strings"
	"testing"

	"github.com/cardcore/cardcore/internal/faultdb"
)

// openWire returns the "pgx" database, with an empty table t (n).
func openWire(t *testing.T) *faultdb.DB {
	t.Helper()
	db := faultdb.Open(t, "pgx")
	if _, err := db.Direct.ExecContext(t.Context(), "CREATE TABLE t (n integer)"); err != nil {
		t.Fatal(err)
	}
	return db
}

// The plan counts round trips on pgx's wire, with the transaction status
// before each and the statements each runs.
func TestWireCountsRoundTrips(t *testing.T) {
	db := openWire(t)
	ctx := t.Context()
	if err := insert(ctx, db, 0); err != nil { // a connection in the pool
		t.Fatal(err)
	}
	db.Plan.Start(nil)
	tx, err := db.Faulty.BeginTx(ctx, nil)
	if err == nil {
		_, err = tx.ExecContext(ctx, "INSERT INTO t (n) VALUES (1)")
	}
	if err == nil {
		err = tx.Commit()
	}
	run := db.Plan.Stop()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		inTx  bool
		query string
	}{{false, "begin"}, {true, "INSERT INTO t (n) VALUES (1)"}, {true, "commit"}}
	if len(run.Trace) != len(want) || run.Counts[faultdb.RoundTrip] != len(want) {
		t.Fatalf("trace %v, want %d round trips", run.Trace, len(want))
	}
	for i, w := range want {
		op := run.Trace[i]
		if op.Kind != faultdb.RoundTrip || op.N != i+1 || op.InTx != w.inTx || !strings.HasPrefix(op.Query, w.query) {
			t.Errorf("round trip %d: %v, want in a transaction %v, %q", i+1, op, w.inTx, w.query)
		}
	}
}

// A round trip whose connection breaks is not sent: outside a transaction
// database/sql sends it again on another connection; a COMMIT broken
// leaves nothing of its transaction.
func TestWireBreak(t *testing.T) {
	db := openWire(t)
	ctx := t.Context()
	db.Plan.Start(&faultdb.Fault{Kind: faultdb.RoundTrip, N: 1, Mode: faultdb.Break})
	err := insert(ctx, db, 1)
	run := db.Plan.Stop()
	if err != nil || run.Fired == nil || run.Counts[faultdb.RoundTrip] != 2 {
		t.Fatalf("error %v, run %+v; want the statement sent again", err, run)
	}
	tx, err := db.Faulty.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO t (n) VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	db.Plan.Start(&faultdb.Fault{Kind: faultdb.RoundTrip, N: 1, Mode: faultdb.Break})
	err = tx.Commit()
	run = db.Plan.Stop()
	if err == nil || run.Fired == nil || run.Fired.Query != "commit" || !run.Fired.InTx {
		t.Fatalf("commit: %v, fired %v; want the COMMIT broken", err, run.Fired)
	}
	if got := rows(t, db); len(got) != 1 || got[0] != 1 {
		t.Fatalf("rows %v, want [1]", got)
	}
}

// A lost round trip ran: a COMMIT whose answer is lost committed, and its
// caller gets an error (pgx's, for the connection it closed); the pool
// goes on with another connection.
func TestWireLostCommit(t *testing.T) {
	db := openWire(t)
	ctx := t.Context()
	tx, err := db.Faulty.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO t (n) VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	db.Plan.Start(&faultdb.Fault{Kind: faultdb.RoundTrip, N: 1, Mode: faultdb.Lost})
	err = tx.Commit()
	run := db.Plan.Stop()
	if err == nil || run.Fired == nil || run.Fired.Query != "commit" {
		t.Fatalf("commit: %v, fired %v; want an error on the COMMIT", err, run.Fired)
	}
	if got := rows(t, db); len(got) != 1 || got[0] != 1 {
		t.Fatalf("rows %v, want [1]: the COMMIT ran", got)
	}
	if err := insert(ctx, db, 2); err != nil {
		t.Fatalf("after the lost connection: %v", err)
	}
}
