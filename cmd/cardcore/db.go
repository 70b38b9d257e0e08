package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

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

// dbTarget is the database a command opens: --db, and how a SQLite file's
// connections are set (a PostgreSQL URL ignores those flags).
type dbTarget struct {
	path        string
	synchronous bunstore.Synchronous
	busyTimeout time.Duration
}

// dbFlag registers --db on fs with the given default, and the settings of
// a SQLite file's connections: --sqlite-synchronous and
// --sqlite-busy-timeout.
func dbFlag(fs *flag.FlagSet, def string) *dbTarget {
	d := &dbTarget{}
	fs.StringVar(&d.path, "db", def, dbUsage)
	fs.TextVar(&d.synchronous, "sqlite-synchronous", bunstore.SynchronousFull,
		"SQLite only, `FULL|NORMAL`: FULL syncs every commit to the disk, so an acknowledged change survives a power loss; "+
			"NORMAL commits faster, and a power loss or OS crash may lose the last commits")
	fs.DurationVar(&d.busyTimeout, "sqlite-busy-timeout", bunstore.DefaultBusyTimeout,
		"SQLite only: how long a write waits for another process's lock on the file before it fails "+
			"(the API answers 503 with Retry-After)")
	return d
}

// open opens the database d names, as openDB does, with d's SQLite
// settings.
func (d *dbTarget) open(ctx context.Context, create bool) (*bun.DB, string, error) {
	if d.busyTimeout < time.Millisecond {
		return nil, "", usageErrorf("--sqlite-busy-timeout must be at least 1ms")
	}
	return openDB(ctx, d.path, create, bunstore.WithSynchronous(d.synchronous), bunstore.WithBusyTimeout(d.busyTimeout))
}

// isPostgres reports whether target names a PostgreSQL server rather than a
// SQLite file.
func isPostgres(target string) bool {
	return strings.HasPrefix(target, "postgres://") || strings.HasPrefix(target, "postgresql://")
}

// openDB opens the database target names and checks that it answers: a
// postgres:// URL through pgx with pgdialect, anything else as a SQLite file
// through modernc.org/sqlite with the DSN the store requires, set by
// sqlite (default: synchronous FULL, bunstore.DefaultBusyTimeout). A
// SQLite file is created when create is true, else it must exist, so that
// a mistyped path is an error rather than a new empty database. openDB also
// returns a description of the database that is safe to log: no password.
func openDB(ctx context.Context, target string, create bool, sqlite ...bunstore.DSNOption) (*bun.DB, string, error) {
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
		if err := checkSQLitePath(target); err != nil {
			return nil, "", err
		}
		if strings.ContainsAny(target, "?#") {
			// The DSN carries the store's pragmas after a '?'.
			return nil, "", fmt.Errorf("--db: SQLite path %q may not contain '?' or '#'", target)
		}
		if !create {
			if _, err := os.Stat(target); err != nil {
				return nil, "", fmt.Errorf("--db: %w (run \"cardcore migrate\" to create the database)", err)
			}
		}
		sqldb, err := sql.Open("sqlite", bunstore.ModerncDSN(target, sqlite...))
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
		return nil, "", fmt.Errorf("open %s: %w", desc, cantOpen(err))
	}
	if !isPostgres(target) {
		settings, err := sqliteSettings(ctx, db)
		if err != nil {
			db.Close()
			return nil, "", fmt.Errorf("open %s: %w", desc, err)
		}
		desc += " (" + settings + ")"
	}
	return db, desc, nil
}

// sqliteSettings reads back how SQLite set a connection of db, e.g.
// "synchronous FULL, busy timeout 5s", so that the logs show what holds.
func sqliteSettings(ctx context.Context, db *bun.DB) (string, error) {
	var synchronous, busy int
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&synchronous); err != nil {
		return "", err
	}
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		return "", err
	}
	name := strconv.Itoa(synchronous)
	if names := []string{"OFF", "NORMAL", "FULL", "EXTRA"}; synchronous >= 0 && synchronous < len(names) {
		name = names[synchronous]
	}
	return fmt.Sprintf("synchronous %s, busy timeout %v", name, time.Duration(busy)*time.Millisecond), nil
}
