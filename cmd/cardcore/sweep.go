package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

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
		core, err := migratedCore(ctx, db, log, cardcore.WithSweepBatch(*batch))
		if err != nil {
			return err
		}
		defer core.Close() // before the database's Close, deferred earlier
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

// migratedCore is cardcore over a database "cardcore migrate" has made:
// the commands that only work on one (sweep, purge, relay) refuse a
// database with migrations pending, and say what to run.
func migratedCore(ctx context.Context, db *bun.DB, log *slog.Logger, opts ...cardcore.Option) (*cardcore.Core, error) {
	opts = append([]cardcore.Option{cardcore.WithMigrations(cardcore.CheckMigrations), cardcore.WithLogger(log)}, opts...)
	core, err := cardcore.New(ctx, db, opts...)
	if errors.Is(err, cardcore.ErrMigrationsPending) {
		return nil, fmt.Errorf("%w; run \"cardcore migrate\" first", err)
	}
	return core, err
}

// onSchedule runs do every interval until ctx ends; do logs its own
// outcome.
func onSchedule(ctx context.Context, every time.Duration, do func(ctx context.Context)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		do(ctx)
	}
}
