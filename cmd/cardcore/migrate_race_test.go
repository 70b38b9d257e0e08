package main

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/internal/testdb"
)

// SPEC 11, start-up: "cardcore migrate" processes started at once on a
// fresh database all succeed, and one killed with SIGKILL early in its
// run leaves nothing that blocks the next.
func TestMigrateRace(t *testing.T) {
	bin := buildCommand(t)
	for _, kind := range testdb.Kinds {
		t.Run(kind, func(t *testing.T) {
			schema := testdb.Schema(t, testdb.Open(t, kind)) // of a database migrated alone
			t.Run("at once", func(t *testing.T) { testMigrateAtOnce(t, bin, kind, schema) })
			t.Run("killed", func(t *testing.T) { testMigrateKilled(t, bin, kind, schema) })
		})
	}
}

// migrateTarget returns a fresh database for --db: a SQLite file of the
// test, or a PostgreSQL schema of its own (skipping t without
// CARDCORE_TEST_PG_DSN).
func migrateTarget(t *testing.T, kind string) string {
	if kind == "sqlite" {
		return filepath.Join(t.TempDir(), "migrate.db")
	}
	return postgresURL(t)
}

func testMigrateAtOnce(t *testing.T, bin, kind string, schema []string) {
	target := migrateTarget(t, kind)
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]bytes.Buffer, n)
	for i := range cmds {
		cmds[i] = exec.CommandContext(t.Context(), bin, "migrate", "--db", target)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
	}
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("cardcore migrate %d of %d, started at once: %v\n%s", i+1, n, err, &outs[i])
		}
	}
	wantMigratedOnce(t, target, schema)
}

// testMigrateKilled kills "cardcore migrate" at random moments of its
// first 200 ms, on a fresh database each time, then runs it to its end.
// The moments fall within the time a whole run takes (the shorter of two
// runs), one in each fifth of it.
func testMigrateKilled(t *testing.T, bin, kind string, schema []string) {
	run := 200 * time.Millisecond
	for range 2 {
		began := time.Now()
		if out, err := exec.CommandContext(t.Context(), bin, "migrate", "--db", migrateTarget(t, kind)).CombinedOutput(); err != nil {
			t.Fatalf("cardcore migrate: %v\n%s", err, out)
		}
		run = min(run, time.Since(began))
	}
	t.Logf("a whole run of cardcore migrate takes %v", run.Round(time.Millisecond))
	const rounds = 5
	span := run / rounds
	for round := range rounds {
		target := migrateTarget(t, kind)
		at := time.Duration(round)*span + rand.N(span)
		var killed bytes.Buffer
		cmd := exec.Command(bin, "migrate", "--db", target)
		cmd.Stdout, cmd.Stderr = &killed, &killed
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(at)
		_ = cmd.Process.Kill() // fails only once the process has exited by itself
		err := cmd.Wait()
		t.Logf("cardcore migrate killed at %v: %v", at.Round(time.Millisecond), err)

		if out, err := exec.CommandContext(t.Context(), bin, "migrate", "--db", target).CombinedOutput(); err != nil {
			t.Fatalf("cardcore migrate after one killed at %v: %v\n%s\n(the killed one said:\n%s)", at, err, out, &killed)
		}
		wantMigratedOnce(t, target, schema)
	}
}

// wantMigratedOnce checks that the database at target records each of the
// store's migrations once, has none pending, no lock table of earlier
// versions, and schema.
func wantMigratedOnce(t *testing.T, target string, schema []string) {
	t.Helper()
	db, _, err := openDB(t.Context(), target, false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var names []string
	if err := db.NewSelect().Table(bunstore.MigrationTable).Column("name").OrderExpr("name").Scan(t.Context(), &names); err != nil {
		t.Fatalf("read %s: %v", bunstore.MigrationTable, err)
	}
	seen := map[string]int{}
	for _, name := range names {
		seen[name]++
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s records migration %s %d times, want once", bunstore.MigrationTable, name, n)
		}
	}
	if pending, err := bunstore.Pending(t.Context(), db); err != nil || len(pending) != 0 {
		t.Errorf("migrations %v are pending (%v)", pending, err)
	}
	if _, err := db.NewSelect().Table(bunstore.MigrationLocksTable).Count(t.Context()); err == nil {
		t.Errorf("%s is still there", bunstore.MigrationLocksTable)
	}
	if got := testdb.Schema(t, db); !slices.Equal(got, schema) {
		t.Errorf("the schema differs from a database migrated alone:\ngot  %q\nwant %q", got, schema)
	}
}
