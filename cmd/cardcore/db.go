package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" driver, pure Go
)

// defaultDB is the SQLite file the commands open when --db is not given.
const defaultDB = "cardcore.db"

const dbUsage = "the database: a SQLite file path, or a postgres:// (postgresql://) URL"

// dbFlag registers --db on fs with the given default.
func dbFlag(fs *flag.FlagSet, def string) *string {
	return fs.String("db", def, dbUsage)
}

// isPostgres reports whether target names a PostgreSQL server rather than a
// SQLite file.
func isPostgres(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// openDB opens the database target names and checks that it answers: a
// postgres:// URL through pgx with pgdialect, anything else as a SQLite file
// through modernc.org/sqlite with the DSN the store requires. A SQLite file
// is created when create is true, else it must exist, so that a mistyped
// path is an error rather than a new empty database. openDB also returns a
// description of the database that is safe to log: no password.
func openDB(ctx context.Context, target string, create bool) (*bun.DB, string, error) {
	if target == "" {
		return nil, "", errors.New("--db is empty")
	}
	var (
		db   *bun.DB
		desc string
	)
	if isPostgres(target) {
		cfg, err := pgx.ParseConfig(target)
		if err != nil {
			// The parse error may quote the URL, password included.
			return nil, "", errors.New("--db: not a valid PostgreSQL URL")
		}
		desc = fmt.Sprintf("PostgreSQL database %q on %s:%d as %q", cfg.Database, cfg.Host, cfg.Port, cfg.User)
		// bun writes arguments into the SQL text, so preparing each
		// statement would only add a round trip: use the simple protocol.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		db = bun.NewDB(stdlib.OpenDB(*cfg), pgdialect.New())
	} else {
		if strings.ContainsAny(target, "?#") {
			// The DSN carries the store's pragmas after a '?'.
			return nil, "", fmt.Errorf("--db: SQLite path %q may not contain '?' or '#'", target)
		}
		if !create {
			if _, err := os.Stat(target); err != nil {
				return nil, "", fmt.Errorf("--db: %w (run \"cardcore migrate\" to create the database)", err)
			}
		}
		sqldb, err := sql.Open("sqlite", bunstore.ModerncDSN(target))
		if err != nil {
			return nil, "", err
		}
		desc = fmt.Sprintf("SQLite file %s", target)
		db = bun.NewDB(sqldb, sqlitedialect.New())
	}
	// Keep idle connections for the server's concurrent requests: a new
	// connection costs a handshake (PostgreSQL) or a schema read and the
	// pragmas (SQLite), and database/sql keeps only 2 idle ones by default.
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, "", fmt.Errorf("open %s: %w", desc, err)
	}
	return db, desc, nil
}
