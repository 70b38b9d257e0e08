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
	"sync/atomic"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/natsjs"
	"github.com/cardcore/cardcore/adapters/webhooks"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/cardcore/cardcore/storage"
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
	// allowPrivate lets webhook deliveries connect to loopback, private,
	// link-local and unspecified addresses (and serve register them).
	allowPrivate bool
	// endpointsEvery is how often the webhook endpoints are read again:
	// new ones start, deleted and disabled ones stop.
	endpointsEvery time.Duration
	purge          *purgeConfig // the retention, applied every purge.every when set
	// webhookOpts are added to every webhook destination's options: the
	// tests' shorter retry schedule.
	webhookOpts []webhooks.Option
}

// relayFlags registers the relay's flags on fs.
func relayFlags(fs *flag.FlagSet) *relayConfig {
	host, _ := os.Hostname()
	c := &relayConfig{}
	fs.StringVar(&c.natsURL, "nats", "", "deliver the feed to NATS JetStream at this URL, e.g. nats://127.0.0.1:4222 (optional: the webhook endpoints are delivered to in any case)")
	fs.StringVar(&c.stream, "stream", natsjs.DefaultStream, "the JetStream stream, created when missing")
	fs.StringVar(&c.prefix, "prefix", natsjs.DefaultPrefix, "the subjects' prefix: <prefix>.<org_id>.<event_type>")
	fs.IntVar(&c.replicas, "replicas", natsjs.DefaultReplicas, "the stream's replicas, when the relay creates it")
	fs.StringVar(&c.holder, "holder", host+":"+strconv.Itoa(os.Getpid()), "this relay's name in the subscriptions' leases")
	fs.DurationVar(&c.lease, "lease", 15*time.Second, "how long a subscription's lease lasts unless renewed: a dead relay's work is taken over within it")
	fs.DurationVar(&c.progress, "progress-every", 10*time.Second, "how often to log each subscription's progress (0: never)")
	fs.BoolVar(&c.allowPrivate, "webhooks-allow-private", false, "let webhook endpoints be on loopback, private, link-local and unspecified addresses (refused by default, at registration and at delivery)")
	c.purge = purgeFlags(fs, true)
	fs.DurationVar(&c.endpointsEvery, "webhooks-every", 5*time.Second, "how often to read the webhook endpoints again: new ones start, deleted and disabled ones stop")
	return c
}

// setupRelay is "cardcore relay": it delivers the feed to its destinations
// until it is stopped. Several relays may run at once on one database: the
// leases of the subscriptions share the work.
func setupRelay(fs *flag.FlagSet) runFunc {
	cfg := relayFlags(fs)
	metricsAddr := metricsFlag(fs, "not served")
	return dbCommand(fs, false, func(ctx context.Context, _ io.Writer, log *slog.Logger, db *bun.DB, desc string) error {
		if cfg.endpointsEvery <= 0 {
			return usageErrorf("relay: --webhooks-every must be positive")
		}
		if err := cfg.purge.check(); err != nil {
			return err
		}
		tel, err := newTelemetry(ctx, log)
		if err != nil {
			return err
		}
		defer tel.shutdown(log)
		db = db.WithQueryHook(tel.queryHook())
		cfg.webhookOpts = append(cfg.webhookOpts, tel.webhookOption())
		if *metricsAddr != "" {
			stopMetrics, err := serveMetrics(*metricsAddr, tel, log)
			if err != nil {
				return err
			}
			defer stopMetrics()
		}
		core, err := migratedCore(ctx, db, log, tel.coreOptions()...)
		if err != nil {
			return err
		}
		defer core.Close() // before the database's Close, deferred earlier
		log.Info("relaying", "db", desc, "holder", cfg.holder)
		if cfg.purge.every > 0 {
			purgeCtx, stopPurge := context.WithCancel(ctx)
			var wg sync.WaitGroup
			defer wg.Wait()
			defer stopPurge() // also when the relay could not start
			wg.Go(func() { purgeOnSchedule(purgeCtx, log, core.Store, cfg.purge) })
		}
		return runRelay(ctx, log, core, cfg)
	})
}

// runRelay runs the deliverers cfg names, JetStream's when cfg has a NATS
// URL and one per enabled webhook endpoint, until ctx is done, then lets
// each finish its batch in flight and release its lease.
func runRelay(ctx context.Context, log *slog.Logger, core *cardcore.Core, cfg *relayConfig) error {
	var wg sync.WaitGroup
	if cfg.natsURL != "" {
		nc, dest, err := openJetStream(ctx, cfg)
		if err != nil {
			return err
		}
		defer nc.Close()
		defer dest.Close()
		name, d, err := jetStreamDeliverer(log, core.Store, cfg, dest)
		if err != nil {
			return err
		}
		log.Info("delivering", "subscription", name, "nats", nc.ConnectedUrlRedacted(), "stream", cfg.stream, "prefix", cfg.prefix)
		wg.Go(func() { deliver(ctx, log, core, name, d, cfg.progress) })
	}
	hooks := &webhookRelay{log: log, core: core, cfg: cfg, running: map[string]*webhookDeliverer{}}
	hooks.run(ctx)
	wg.Wait()
	return nil
}

// openJetStream connects to the NATS server at cfg.natsURL and returns the
// connection and the destination on cfg's stream, created when missing;
// the caller closes both, the destination first.
func openJetStream(ctx context.Context, cfg *relayConfig) (*nats.Conn, *natsjs.Destination, error) {
	nc, err := nats.Connect(cfg.natsURL, nats.Name("cardcore relay "+cfg.holder), nats.MaxReconnects(-1))
	if err != nil {
		return nil, nil, fmt.Errorf("relay: connect to NATS: %w", err)
	}
	dest, err := natsjs.New(ctx, nc, natsjs.WithStream(cfg.stream), natsjs.WithPrefix(cfg.prefix), natsjs.WithReplicas(cfg.replicas),
		natsjs.WithMaxInFlight(jetStreamBatch))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("relay: %w", err)
	}
	return nc, dest, nil
}

// jetStreamBatch is how many events the JetStream subscription's deliverer
// reads and hands over at once, and how many the destination publishes
// before it awaits their acknowledgements. Each batch costs a read of the
// feed, one publish awaited alone (the destination's resync) and a move of
// the cursor (a commit): 1024 rather than the deliverer's default 256 took
// a fifth less CPU an event and a quarter of the commits on the relay
// workload of cardcore bench.
const jetStreamBatch = 1024

// jetStreamDeliverer returns the name of the subscription of cfg's stream
// and its deliverer to dest: the JetStream destination of openJetStream, or
// one wrapping it (the bench's).
func jetStreamDeliverer(log *slog.Logger, subs events.Subscriptions, cfg *relayConfig, dest events.Destination) (string, *events.Deliverer, error) {
	name := "jetstream:" + cfg.stream
	d, err := events.NewDeliverer(subs, name, dest, events.DelivererConfig{
		Holder: cfg.holder, LeaseTTL: cfg.lease, Batch: jetStreamBatch,
		OnError: func(err error) { log.Warn("relay: delivery", "subscription", name, "error", err.Error()) },
	})
	return name, d, err
}

// deliver runs d until ctx is done, logging its progress every interval
// (never when 0), and logs what it delivered once it stopped.
func deliver(ctx context.Context, log *slog.Logger, core *cardcore.Core, name string, d *events.Deliverer, every time.Duration) {
	var wg sync.WaitGroup
	if every > 0 {
		wg.Go(func() { logProgress(ctx, log, core, name, d, every) })
	}
	_ = d.Run(ctx) // it returns nil once ctx is done
	wg.Wait()
	log.Info("delivery stopped", "subscription", name, "delivered", d.Delivered(), "cursor", d.Cursor())
}

// webhookRelay runs one deliverer per enabled webhook endpoint, each on
// the endpoint's subscription (storage.EndpointSubscription), and reads
// the endpoints again every cfg.endpointsEvery.
type webhookRelay struct {
	log     *slog.Logger
	core    *cardcore.Core
	cfg     *relayConfig
	running map[string]*webhookDeliverer // by endpoint id
	wg      sync.WaitGroup
}

// webhookDeliverer is the deliverer of one endpoint, running.
type webhookDeliverer struct {
	dest *webhooks.Destination
	stop context.CancelFunc
	done chan struct{}
	// gone is set when the endpoint was deleted or disabled: once stopped,
	// the deliverer checks whether it was deleted and then clears its
	// subscription, which the deliverer may have re-created meanwhile.
	gone atomic.Bool
}

// run reads the endpoints and keeps their deliverers running until ctx is
// done, then stops them all and waits for them to drain.
func (w *webhookRelay) run(ctx context.Context) {
	waiting := false
	tick := time.NewTicker(w.cfg.endpointsEvery)
	defer tick.Stop()
	for {
		w.reap()
		eps, err := w.core.Store.EnabledEndpoints(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			w.log.Warn("relay: read the webhook endpoints", "error", err.Error())
		case err == nil:
			w.reconcile(ctx, eps)
			idle := w.cfg.natsURL == "" && len(w.running) == 0
			if idle && !waiting {
				w.log.Info("relay: no --nats and no enabled webhook endpoint: waiting for endpoints", "every", w.cfg.endpointsEvery.String())
			}
			waiting = idle
		}
		select {
		case <-ctx.Done():
			for _, r := range w.running {
				r.stop()
			}
			w.wg.Wait()
			return
		case <-tick.C:
		}
	}
}

// reap forgets the deliverers that have stopped: those reconcile stopped,
// and those that stopped themselves when their destination disabled the
// endpoint (recorded before they stopped, so the endpoints read next show
// it disabled, unless enabled again).
func (w *webhookRelay) reap() {
	for id, r := range w.running {
		select {
		case <-r.done:
			delete(w.running, id)
		default:
		}
	}
}

// reconcile starts the deliverers of the endpoints eps that have none and
// stops those whose endpoint is no longer among them. A deliverer is
// stopped, and forgotten by reap once it has drained, before another one
// of its endpoint starts: two of one relay would share its lease.
func (w *webhookRelay) reconcile(ctx context.Context, eps []storage.WebhookEndpoint) {
	enabled := make(map[string]bool, len(eps))
	for _, ep := range eps {
		enabled[ep.ID] = true
		r, ok := w.running[ep.ID]
		switch {
		case !ok:
			w.start(ctx, ep)
		case r.rearmed(ep):
			// Its owner enabled it again while it was failing: start
			// again, retrying at once rather than at the back-off's next
			// attempt, hours away.
			r.stop()
		}
	}
	for id, r := range w.running {
		if !enabled[id] {
			r.gone.Store(true)
			r.stop()
		}
	}
}

// rearmed reports whether ep, as stored, was enabled again by its owner
// (which clears FailingSince) since the deliverer's destination began to
// fail.
func (r *webhookDeliverer) rearmed(ep storage.WebhookEndpoint) bool {
	seen := r.dest.Endpoint()
	return ep.FailingSince.IsZero() && !seen.FailingSince.IsZero() && ep.UpdatedAt.After(seen.UpdatedAt)
}

// start runs the deliverer of ep.
func (w *webhookRelay) start(ctx context.Context, rec storage.WebhookEndpoint) {
	ep := webhooks.FromStored(rec)
	name := storage.EndpointSubscription(ep.ID)
	dctx, stop := context.WithCancel(ctx)
	r := &webhookDeliverer{stop: stop, done: make(chan struct{})}
	log := w.log.With("subscription", name, "endpoint", ep.String(), "org_id", ep.OrgID)
	store := w.core.Store
	opts := append([]webhooks.Option{
		webhooks.WithAllowPrivate(w.cfg.allowPrivate),
		webhooks.OnFailing(func(ep webhooks.Endpoint) {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(dctx), 10*time.Second)
			defer cancel()
			if err := store.SetEndpointFailingSince(sctx, ep.OrgID, ep.ID, ep.FailingSince); err != nil {
				log.Warn("relay: record the endpoint's failures", "error", err.Error())
			}
		}),
		webhooks.OnDisable(func(ep webhooks.Endpoint) {
			log.Warn("relay: webhook endpoint disabled", "failing_since", ep.FailingSince)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(dctx), 10*time.Second)
			defer cancel()
			if _, err := store.SetEndpointEnabled(sctx, ep.OrgID, ep.ID, false); err != nil {
				log.Warn("relay: record the endpoint's disabling", "error", err.Error())
			}
			stop()
		}),
	}, w.cfg.webhookOpts...)
	dest, err := webhooks.New(ep, opts...)
	if err == nil {
		var d *events.Deliverer
		d, err = events.NewDeliverer(store, name, dest, events.DelivererConfig{
			Holder: w.cfg.holder, LeaseTTL: w.cfg.lease,
			// Not the feed's history: only the events after the endpoint's
			// registration, even on a subscription re-created at 0.
			Select:  func(e events.Event) bool { return e.Seq > rec.StartAfter && ep.Selects(e) },
			OnError: func(err error) { log.Warn("relay: delivery", "error", err.Error()) },
		})
		if err == nil {
			log.Info("delivering")
			r.dest = dest
			w.running[ep.ID] = r
			w.wg.Go(func() {
				defer close(r.done)
				defer dest.Close()
				deliver(dctx, log, w.core, name, d, w.cfg.progress)
				if r.gone.Load() {
					w.clear(context.WithoutCancel(ctx), log, rec)
				}
			})
			return
		}
	}
	stop()
	log.Error("relay: cannot deliver to the webhook endpoint", "error", err.Error())
}

// clear deletes the subscription of a deleted endpoint, which its
// deliverer may have re-created after the deletion.
func (w *webhookRelay) clear(ctx context.Context, log *slog.Logger, ep storage.WebhookEndpoint) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := w.core.Store.Endpoint(ctx, ep.OrgID, ep.ID)
	if errors.Is(err, card.ErrNotFound) {
		err = w.core.Store.DeleteEndpoint(ctx, ep.OrgID, ep.ID)
		if errors.Is(err, card.ErrNotFound) {
			log.Info("relay: webhook endpoint deleted")
			return
		}
	}
	if err != nil {
		log.Warn("relay: clear a deleted endpoint's subscription", "error", err.Error())
	}
}

// logProgress logs what d delivered, its cursor and its lag behind the
// feed's head, every interval until ctx is done.
func logProgress(ctx context.Context, log *slog.Logger, core *cardcore.Core, name string, d *events.Deliverer, every time.Duration) {
	onSchedule(ctx, every, func(ctx context.Context) {
		head, err := core.Store.Head(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("relay: read the feed's head", "error", err.Error())
			}
			return
		}
		cursor := d.Cursor()
		log.Info("relay progress", "subscription", name, "delivered", d.Delivered(), "cursor", cursor, "lag", max(head-cursor, 0))
	})
}
