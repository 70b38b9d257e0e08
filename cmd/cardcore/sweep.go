package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/lifecycle"
	"github.com/uptrace/bun"
)

// setupSweep is "cardcore sweep": one pass of the system transitions over
// every org of the database, for a scheduler (cron, a Kubernetes CronJob)
// to run.
func setupSweep(fs *flag.FlagSet) runFunc {
	batch := fs.Int("batch", 500, "cards changed per transaction")
	return dbCommand(fs, false, func(ctx context.Context, out io.Writer, log *slog.Logger, db *bun.DB, desc string) error {
		core, err := cardcore.New(ctx, db, cardcore.WithMigrations(cardcore.CheckMigrations),
			cardcore.WithSweepBatch(*batch), cardcore.WithLogger(log))
		if errors.Is(err, cardcore.ErrMigrationsPending) {
			return fmt.Errorf("%w; run \"cardcore migrate\" first", err)
		}
		if err != nil {
			return err
		}
		log.Info("sweeping", "db", desc, "batch", *batch)
		res, err := core.Cards.Sweep(ctx)
		if err != nil && res == (lifecycle.SweepResult{}) {
			return err
		}
		// A sweep that failed may have committed earlier batches: report them.
		fmt.Fprintf(out, "expired: %d\ninoperative: %d\n", res.Expired, res.Inoperative)
		return err
	})
}
