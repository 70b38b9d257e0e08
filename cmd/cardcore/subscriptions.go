package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/uptrace/bun"
)

// setupSubscriptions is "cardcore subscriptions": every subscription of the
// feed with its cursor, lag and lease, and --drop to delete one that nobody
// will run again, so that retention stops waiting for it.
func setupSubscriptions(fs *flag.FlagSet) runFunc {
	drop := fs.String("drop", "", "delete this subscription (its lease must not be live: stop its relay first); retention then stops waiting for it, and a relay that runs it again starts from the feed's start")
	return dbCommand(fs, false, func(ctx context.Context, out io.Writer, log *slog.Logger, db *bun.DB, desc string) error {
		core, err := migratedCore(ctx, db, log)
		if err != nil {
			return err
		}
		defer core.Close() // before the database's Close, deferred earlier
		if *drop != "" {
			if err := core.Store.Drop(ctx, *drop); err != nil {
				return err
			}
			log.Info("dropped subscription", "db", desc, "subscription", *drop)
			fmt.Fprintf(out, "dropped %s\n", *drop)
			return nil
		}
		subs, err := core.Store.ListSubscriptions(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "NAME\tCURSOR\tLAG\tHOLDER\tLEASE")
		for _, s := range subs {
			lease := "free"
			switch {
			case s.Live:
				lease = "live until " + s.Expires.Format(time.RFC3339)
			case !s.Expires.IsZero():
				lease = "ended " + s.Expires.Format(time.RFC3339)
			}
			holder := s.Holder
			if holder == "" {
				holder = "-"
			}
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\n", s.Name, s.Cursor, s.Lag, holder, lease)
		}
		return w.Flush()
	})
}
