package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/cardcore/cardcore/adapters/bunstore"
)

// setupMigrate is "cardcore migrate": apply the store's migrations, which is
// safe to repeat.
func setupMigrate(fs *flag.FlagSet) runFunc {
	target := dbFlag(fs, defaultDB)
	return func(ctx context.Context, out io.Writer, log *slog.Logger) error {
		db, desc, err := openDB(ctx, *target, true)
		if err != nil {
			return err
		}
		defer db.Close()
		log.Info("migrating", "db", desc)
		if err := bunstore.Migrate(ctx, db); err != nil {
			return err
		}
		fmt.Fprintf(out, "migrated %s (applied migrations are recorded in %s)\n", desc, bunstore.MigrationTable)
		return nil
	}
}
