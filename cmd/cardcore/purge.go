package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cardcore/cardcore/storage"
	"github.com/uptrace/bun"
)

// Retention defaults and bounds (SPEC 10.4).
const (
	defaultRetention     = 30 * 24 * time.Hour
	defaultKeysRetention = 7 * 24 * time.Hour
	minKeysRetention     = 24 * time.Hour
)

// purgeConfig is the retention "cardcore purge" applies once, and "serve"
// and "relay" on a schedule.
type purgeConfig struct {
	retention     time.Duration
	keysRetention time.Duration
	batch         int
	every         time.Duration // 0: never; only serve and relay take it
}

// purgeFlags registers the retention's flags on fs, and --purge-every when
// scheduled.
func purgeFlags(fs *flag.FlagSet, scheduled bool) *purgeConfig {
	c := &purgeConfig{}
	fs.DurationVar(&c.retention, "retention", defaultRetention, "how long events are kept; older ones are deleted once every subscription has passed them (with no subscription, once older)")
	fs.DurationVar(&c.keysRetention, "keys-retention", defaultKeysRetention, "how long idempotency records are kept (at least 24h)")
	fs.IntVar(&c.batch, "purge-batch", 1000, "rows deleted per statement")
	if scheduled {
		fs.DurationVar(&c.every, "purge-every", 0, `delete what --retention and --keys-retention let go on this schedule, e.g. 1h (default: never; run "cardcore purge" from a scheduler)`)
	}
	return c
}

// check returns a usage error when c is not a retention to apply.
func (c *purgeConfig) check() error {
	switch {
	case c.retention <= 0:
		return usageErrorf("--retention must be positive")
	case c.keysRetention < minKeysRetention:
		return usageErrorf("--keys-retention must be at least %s: a client may retry a request for a day", minKeysRetention)
	case c.batch <= 0:
		return usageErrorf("--purge-batch must be positive")
	case c.every < 0:
		return usageErrorf("--purge-every must not be negative")
	}
	return nil
}

// run applies the retention once, at now.
func (c *purgeConfig) run(ctx context.Context, s storage.Store) (storage.PurgeResult, error) {
	now := time.Now()
	return s.Purge(ctx, now.Add(-c.retention), now.Add(-c.keysRetention), c.batch)
}

// setupPurge is "cardcore purge": the retention applied once, for a
// scheduler to run.
func setupPurge(fs *flag.FlagSet) runFunc {
	cfg := purgeFlags(fs, false)
	return dbCommand(fs, false, func(ctx context.Context, out io.Writer, log *slog.Logger, db *bun.DB, desc string) error {
		if err := cfg.check(); err != nil {
			return err
		}
		core, err := migratedCore(ctx, db, log)
		if err != nil {
			return err
		}
		defer core.Close() // before the database's Close, deferred earlier
		log.Info("purging", "db", desc, "retention", cfg.retention.String(), "keys_retention", cfg.keysRetention.String())
		res, err := cfg.run(ctx, core.Store)
		// A purge that failed may have deleted earlier batches: report them.
		fmt.Fprintf(out, "events: %d\nidempotency keys: %d\n", res.Events, res.Keys)
		return err
	})
}

// purgeOnSchedule applies the retention every cfg.every until ctx ends. A
// failed purge is logged and tried again at the next tick.
func purgeOnSchedule(ctx context.Context, log *slog.Logger, s storage.Store, cfg *purgeConfig) {
	onSchedule(ctx, cfg.every, func(ctx context.Context) {
		res, err := cfg.run(ctx, s)
		switch {
		case err != nil && ctx.Err() != nil:
			// stopped mid-purge by the shutdown
		case err != nil:
			log.Error("purge failed", "events", res.Events, "keys", res.Keys, "err", err)
		default:
			log.Info("purged", "events", res.Events, "keys", res.Keys)
		}
	})
}
