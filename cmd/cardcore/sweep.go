package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/cardcore/cardcore/adapters/bunstore"
	"github.com/cardcore/cardcore/lifecycle"
)

// setupSweep is "cardcore sweep": one pass of the system transitions over
// every org of the database, for a scheduler (cron, a Kubernetes CronJob)
// to run.
func setupSweep(fs *flag.FlagSet) runFunc {
	target := dbFlag(fs, defaultDB)
	batch := fs.Int("batch", 500, "cards changed per transaction")
	return func(ctx context.Context, out io.Writer, log *slog.Logger) error {
		db, desc, err := openDB(ctx, *target, false)
		if err != nil {
			return err
		}
		defer db.Close()
		store, err := bunstore.New(ctx, db)
		if err != nil {
			return err
		}
		cards, err := lifecycle.NewCards(store, nil, lifecycle.WithSweepBatch(*batch))
		if err != nil {
			return err
		}
		log.Info("sweeping", "db", desc, "batch", *batch)
		res, err := cards.Sweep(ctx)
		if err != nil && res == (lifecycle.SweepResult{}) {
			return err
		}
		// A sweep that failed may have committed earlier batches: report them.
		fmt.Fprintf(out, "expired: %d\ninoperative: %d\n", res.Expired, res.Inoperative)
		return err
	}
}
