package testdb

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/internal/testdb/pgschema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers "sqlite"
)

// PGEnv names the variable holding the PostgreSQL DSN of the tests.
const PGEnv = pgschema.Env

// Kinds are the databases a test can run on.
var Kinds = []string{"sqlite", "postgres"}

// Each runs f as a subtest on every database: SQLite always, PostgreSQL when
// CARDCORE_TEST_PG_DSN is set (the subtest is skipped with a message
// otherwise).
func Each(t *testing.T, f func(t *testing.T, db *bun.DB)) {
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) { f(t, Open(t, kind)) })
	}
}

// Open returns a migrated, empty database of kind, closed when t ends.
func Open(t testing.TB, kind string) *bun.DB {
	t.Helper()
	var db *bun.DB
	switch kind {
	case "sqlite":
		db = SQLite(t, filepath.Join(t.TempDir(), "cardcore.db"))
	case "postgres":
		db = Postgres(t)
	default:
		t.Fatalf("testdb: unknown database %q", kind)
	}
	if err := bunstore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate %s: %v", kind, err)
	}
	return db
}

// SQLite opens the SQLite file at path.
func SQLite(t testing.TB, path string) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open("sqlite", bunstore.ModerncDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	// Keep idle connections: a new SQLite connection re-reads the schema,
	// and database/sql keeps only 2 idle ones by default.
	sqldb.SetMaxIdleConns(32)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}

// Postgres opens a fresh schema of the PostgreSQL database named by
// CARDCORE_TEST_PG_DSN, dropped when t ends. It skips t when the variable is
// unset.
func Postgres(t testing.TB) *bun.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(pgschema.URL(t, "cardcore_test_"))
	if err != nil {
		t.Fatal(err)
	}
	// bun writes arguments into the SQL text, so every statement is new to
	// PostgreSQL: the simple protocol sends it in one round trip instead of
	// preparing it first.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	sqldb := stdlib.OpenDB(*cfg)
	sqldb.SetMaxOpenConns(32)
	sqldb.SetMaxIdleConns(32)
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}
