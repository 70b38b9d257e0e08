package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/uptrace/bun"
)

// setupMigrate is "cardcore migrate": apply the store's migrations, which is
// safe to repeat and to run from several processes at once (bunstore.Migrate
// takes turns under a lock that dies with its process).
func setupMigrate(fs *flag.FlagSet) runFunc {
	return dbCommand(fs, true, func(ctx context.Context, out io.Writer, log *slog.Logger, db *bun.DB, desc string) error {
		log.Info("migrating", "db", desc)
		if err := bunstore.Migrate(ctx, db); err != nil {
			return err
		}
		fmt.Fprintf(out, "migrated %s (applied migrations are recorded in %s)\n", desc, bunstore.MigrationTable)
		return nil
	})
}
