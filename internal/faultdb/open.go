package faultdb

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/internal/testdb"
	"github.com/cardcore/cardcore/internal/testdb/pgschema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"modernc.org/sqlite"
)

// DB is one migrated database of the tests, opened twice: through a plan,
// and directly.
type DB struct {
	Kind   string  // "sqlite" or "postgres", as testdb.Kinds, or "pgx"
	Faulty *bun.DB // through Plan
	Direct *bun.DB // past the plan: reads of what the store holds, fixtures
	Plan   *Plan
}

// Open returns a migrated, empty database of kind (one of testdb.Kinds, or
// "pgx": PostgreSQL through pgx's driver unwrapped, its faults on the wire
// (wire.go)), as testdb.Open makes them: a SQLite file in t's temporary directory, or a
// schema of its own in the PostgreSQL database of the tests (t is skipped
// when CARDCORE_TEST_PG_DSN is unset). Both handles are closed when t ends.
func Open(t testing.TB, kind string) *DB {
	t.Helper()
	p := NewPlan()
	var db *DB
	switch kind {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "cardcore.db")
		direct := testdb.SQLite(t, path)
		sqldb := sql.OpenDB(NewConnector(DSNConnector(&sqlite.Driver{}, bunstore.ModerncDSN(path)), p))
		// As testdb.SQLite: a new SQLite connection re-reads the schema.
		sqldb.SetMaxIdleConns(32)
		db = &DB{Kind: kind, Direct: direct, Faulty: bun.NewDB(sqldb, sqlitedialect.New()), Plan: p}
	case "postgres", "pgx":
		cfg, err := pgx.ParseConfig(pgschema.URL(t, "cardcore_fault_"))
		if err != nil {
			t.Fatal(err)
		}
		// As testdb.Postgres: bun writes arguments into the SQL text, and
		// the simple protocol sends such a statement in one round trip.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		direct := stdlib.OpenDB(*cfg)
		// Few connections: tests run many of these at once, under the
		// server's max_connections.
		direct.SetMaxOpenConns(2)
		var sqldb *sql.DB
		if kind == "postgres" {
			sqldb = sql.OpenDB(NewConnector(stdlib.GetConnector(*cfg), p))
		} else {
			// pgx's driver unwrapped, over connections whose round trips p
			// counts (wire.go). Its connections are plain, so that the plan
			// reads the protocol, and never pinged before reuse: a ping
			// is a round trip, sent or not by how long the connection sat
			// idle, and the counts of a run must not depend on time.
			cfg.TLSConfig, cfg.Fallbacks = nil, nil
			cfg.DialFunc = wireDialer(p)
			p.ended = func(pid uint32) { backendEnded(direct, pid) }
			sqldb = stdlib.OpenDB(*cfg, stdlib.OptionShouldPing(func(context.Context, stdlib.ShouldPingParams) bool { return false }))
		}
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
		db = &DB{Kind: kind, Direct: bun.NewDB(direct, pgdialect.New()), Faulty: bun.NewDB(sqldb, pgdialect.New()), Plan: p}
		t.Cleanup(func() { db.Direct.Close() })
	default:
		t.Fatalf("faultdb: unknown database %q", kind)
	}
	t.Cleanup(func() { db.Faulty.Close() })
	if err := bunstore.Migrate(context.Background(), db.Direct); err != nil {
		t.Fatalf("migrate %s: %v", kind, err)
	}
	return db
}

// backendEnded waits, up to 10 s, until db's server has no backend of
// process id pid.
func backendEnded(db *sql.DB, pid uint32) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var alive bool
		err := db.QueryRow("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", int64(pid)).Scan(&alive)
		if err != nil || !alive {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
