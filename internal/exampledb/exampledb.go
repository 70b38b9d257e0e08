// Package exampledb opens what the packages' runnable examples run on:
// cardcore over a SQLite file in a new temporary directory, opened the way
// the root package's ExampleNew shows.
package exampledb

import (
	"context"
	"database/sql"
	"log"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // the "sqlite" driver, pure Go
)

// DB opens a new SQLite file; done closes the database and removes the
// file. It stops the example on an error.
func DB() (db *bun.DB, done func()) {
	dir, err := os.MkdirTemp("", "cardcore-example")
	if err != nil {
		log.Fatal(err)
	}
	sqldb, err := sql.Open("sqlite", bunstore.ModerncDSN(filepath.Join(dir, "cards.db")))
	if err != nil {
		log.Fatal(err)
	}
	db = bun.NewDB(sqldb, sqlitedialect.New())
	return db, func() {
		db.Close()
		os.RemoveAll(dir)
	}
}

// Open returns cardcore, migrated, over a new SQLite file (DB), logging
// nothing unless opts say otherwise; done closes cardcore and the
// database and removes the file. It stops the example on an error.
func Open(opts ...cardcore.Option) (cc *cardcore.Core, done func()) {
	db, closeDB := DB()
	opts = append([]cardcore.Option{cardcore.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	cc, err := cardcore.New(context.Background(), db, opts...)
	if err != nil {
		log.Fatal(err)
	}
	return cc, func() {
		cc.Close()
		closeDB()
	}
}
