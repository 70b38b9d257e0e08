package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/natsjs"
	"github.com/cardcore/cardcore/events"
	"github.com/nats-io/nats.go"
	"github.com/uptrace/bun"
)

// relayConfig is what "cardcore relay" and "cardcore serve --relay" deliver
// to, and how.
type relayConfig struct {
	natsURL  string
	stream   string
	prefix   string
	replicas int
	holder   string
	lease    time.Duration
	progress time.Duration
}

// relayFlags registers the relay's flags on fs.
func relayFlags(fs *flag.FlagSet) *relayConfig {
	host, _ := os.Hostname()
	c := &relayConfig{}
	fs.StringVar(&c.natsURL, "nats", "", "deliver the feed to NATS JetStream at this URL, e.g. nats://127.0.0.1:4222")
	fs.StringVar(&c.stream, "stream", natsjs.DefaultStream, "the JetStream stream, created when missing")
	fs.StringVar(&c.prefix, "prefix", natsjs.DefaultPrefix, "the subjects' prefix: <prefix>.<org_id>.<event_type>")
	fs.IntVar(&c.replicas, "replicas", natsjs.DefaultReplicas, "the stream's replicas, when the relay creates it")
	fs.StringVar(&c.holder, "holder", host+":"+strconv.Itoa(os.Getpid()), "this relay's name in the subscriptions' leases")
	fs.DurationVar(&c.lease, "lease", 15*time.Second, "how long a subscription's lease lasts unless renewed: a dead relay's work is taken over within it")
	fs.DurationVar(&c.progress, "progress-every", 10*time.Second, "how often to log each subscription's progress (0: never)")
	return c
}

// setupRelay is "cardcore relay": it delivers the feed to its destinations
// until it is stopped. Several relays may run at once on one database: the
// leases of the subscriptions share the work.
func setupRelay(fs *flag.FlagSet) runFunc {
	cfg := relayFlags(fs)
	return dbCommand(fs, false, func(ctx context.Context, _ io.Writer, log *slog.Logger, db *bun.DB, desc string) error {
		if cfg.natsURL == "" {
			return usageErrorf("relay: nothing to deliver to: give --nats URL")
		}
		core, err := cardcore.New(ctx, db, cardcore.WithMigrations(cardcore.CheckMigrations), cardcore.WithLogger(log))
		if errors.Is(err, cardcore.ErrMigrationsPending) {
			return fmt.Errorf("%w; run \"cardcore migrate\" first", err)
		}
		if err != nil {
			return err
		}
		log.Info("relaying", "db", desc, "holder", cfg.holder)
		return runRelay(ctx, log, core, cfg)
	})
}

// runRelay runs the deliverers cfg names until ctx is done, then lets each
// finish its batch in flight and release its lease.
func runRelay(ctx context.Context, log *slog.Logger, core *cardcore.Core, cfg *relayConfig) error {
	nc, err := nats.Connect(cfg.natsURL, nats.Name("cardcore relay "+cfg.holder), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("relay: connect to NATS: %w", err)
	}
	defer nc.Close()
	dest, err := natsjs.New(ctx, nc, natsjs.WithStream(cfg.stream), natsjs.WithPrefix(cfg.prefix), natsjs.WithReplicas(cfg.replicas))
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	defer dest.Close()
	name := "jetstream:" + cfg.stream
	d, err := events.NewDeliverer(core.Store, name, dest, events.DelivererConfig{
		Holder: cfg.holder, LeaseTTL: cfg.lease,
		OnError: func(err error) { log.Warn("relay: delivery", "subscription", name, "error", err.Error()) },
	})
	if err != nil {
		return err
	}
	log.Info("delivering", "subscription", name, "nats", nc.ConnectedUrlRedacted(), "stream", cfg.stream, "prefix", cfg.prefix)
	var wg sync.WaitGroup
	if cfg.progress > 0 {
		wg.Go(func() { logProgress(ctx, log, core, name, d, cfg.progress) })
	}
	err = d.Run(ctx)
	wg.Wait()
	log.Info("relay stopped", "subscription", name, "delivered", d.Delivered(), "cursor", d.Cursor())
	return err
}

// logProgress logs what d delivered, its cursor and its lag behind the
// feed's head, every interval until ctx is done.
func logProgress(ctx context.Context, log *slog.Logger, core *cardcore.Core, name string, d *events.Deliverer, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		head, err := core.Store.Head(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("relay: read the feed's head", "error", err.Error())
			}
			continue
		}
		cursor := d.Cursor()
		log.Info("relay progress", "subscription", name, "delivered", d.Delivered(), "cursor", cursor, "lag", max(head-cursor, 0))
	}
}
