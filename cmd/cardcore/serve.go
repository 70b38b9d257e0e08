package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/httpapi"
	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/issuance"
	"github.com/cardcore/cardcore/lifecycle"
)

// Timeouts of the server. The API's bodies are at most 1 MiB, so a client
// that needs longer to send its headers or its body is stalled, not slow.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 2 * time.Minute
	drainTimeout      = 30 * time.Second // for in-flight requests after SIGINT or SIGTERM
)

// setupServe is "cardcore serve": the reference HTTP API (SPEC section 7)
// with card data sync (section 8) and, given client keys and a PAN key, the
// sandbox routes (section 9), over one database, migrated on start.
func setupServe(fs *flag.FlagSet) runFunc {
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	target := dbFlag(fs, defaultDB)
	secretValue := secretFlag(fs)
	programsFile := fs.String("programs", "", `a JSON file of programs to add to program 1, e.g. [{"id":2,"bin":"12345678","brand":"VISA","expiration_months":36,"plastic_starts_normal":false,"bulk_size_limit":1000,"max_pin_tries":3,"pin_tries_keep_status":false}]`)
	sweepEvery := fs.Duration("sweep-every", 0, `run the sweep (expiration, validity) on this schedule, e.g. 1h (default: never; run "cardcore sweep" from a scheduler)`)
	clientKeysFile := fs.String("client-keys", "", `a JSON file of the ed25519 public keys that sign sandbox requests, by key id, e.g. {"client-1":"<base64 of the 32-byte key>"} ("cardcore keys generate" writes one); the sandbox routes are served only with it and the PAN key`)
	panKeyValue := panKeyFlag(fs)
	relay := fs.Bool("relay", false, "also deliver the event feed in this process, as \"cardcore relay\" does: to JetStream with --nats, and to the webhook endpoints")
	relayCfg := relayFlags(fs)
	metricsAddr := metricsFlag(fs, "GET /metrics on the API's listener")
	publicOrigin := fs.String("public-origin", "", "the scheme and host clients address when a proxy in front rewrites them, e.g. https://api.example.com: signatures' @target-uri uses it (default: the connection's scheme and the request's Host)")
	return func(ctx context.Context, _ io.Writer, log *slog.Logger) error {
		if *sweepEvery < 0 {
			return usageErrorf("--sweep-every must not be negative")
		}
		if err := relayCfg.purge.check(); err != nil {
			return err
		}
		if *relay && relayCfg.endpointsEvery <= 0 {
			return usageErrorf("--webhooks-every must be positive")
		}
		secret, err := jwtSecret(*secretValue)
		if err != nil {
			return err
		}
		pans, err := panKey(*panKeyValue)
		if err != nil {
			return err
		}
		programs, err := loadPrograms(*programsFile)
		if err != nil {
			return err
		}
		var clientKeys map[string]ed25519.PublicKey
		if *clientKeysFile != "" {
			if clientKeys, err = loadClientKeys(*clientKeysFile); err != nil {
				return err
			}
		}
		p, err := sandbox(log, pans, clientKeys)
		if err != nil {
			return err
		}
		db, desc, err := target.open(ctx, true)
		if err != nil {
			return err
		}
		defer db.Close()
		tel, err := newTelemetry(ctx, log)
		if err != nil {
			return err
		}
		defer tel.shutdown(log)
		db = db.WithQueryHook(tel.queryHook())
		relayCfg.webhookOpts = append(relayCfg.webhookOpts, tel.webhookOption())
		log.Info("migrating", "db", desc)
		opts := append(tel.coreOptions(), cardcore.WithLogger(log), cardcore.WithPrograms(slices.Collect(maps.Values(programs))...),
			cardcore.WithBulkProgress(bulkProgress(log)))
		if p != nil {
			opts = append(opts, cardcore.WithIssuance(p))
		}
		core, err := cardcore.New(ctx, db, opts...)
		if err != nil {
			return err
		}
		defer core.Close() // before the database's Close, deferred earlier
		api, err := httpapi.New(core, httpapi.Config{Secret: secret, Logger: log,
			ClientKeys: clientKeys, PublicOrigin: *publicOrigin, WebhooksAllowPrivate: relayCfg.allowPrivate,
			TracerProvider: tel.tracers, MeterProvider: tel.meters})
		if err != nil {
			return err
		}
		if *metricsAddr == "" {
			api = tel.withMetrics(api)
		} else {
			stopMetrics, err := serveMetrics(*metricsAddr, tel, log)
			if err != nil {
				return err
			}
			defer stopMetrics()
		}

		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		srv := &http.Server{
			Handler:           api,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		log.Info("serving", "addr", ln.Addr().String(), "db", desc,
			"programs", slices.Sorted(maps.Keys(programs)), "sweep_every", sweepEvery.String(),
			"sandbox", core.Issuance != nil, "client_keys", slices.Sorted(maps.Keys(clientKeys)))

		var wg sync.WaitGroup
		if *sweepEvery > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sweepOnSchedule(ctx, log, core.Cards, *sweepEvery)
			}()
		}
		// relayed stays nil, and so is never ready, without --relay.
		var relayed chan error
		relayCtx, stopRelay := context.WithCancel(ctx)
		defer stopRelay()
		if relayCfg.purge.every > 0 {
			// On relayCtx, so that it stops before wg.Wait on every path.
			wg.Go(func() { purgeOnSchedule(relayCtx, log, core.Store, relayCfg.purge) })
		}
		// Bulks a stopped process left PROCESSING are finished in the
		// background; stopping serve stops that too, and the next start
		// goes on from there.
		wg.Go(func() { resumeBulks(relayCtx, log, core.Noname) })
		if *relay {
			relayed = make(chan error, 1)
			go func() { relayed <- runRelay(relayCtx, log, core, relayCfg) }()
		}
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()

		select {
		case err = <-served:
			// The listener failed: nothing is left to drain.
		case err = <-relayed:
			// The relay could not start (NATS unreachable, a bad stream).
			relayed = nil
			srv.Close()
		case <-ctx.Done():
			log.Info("shutting down: draining in-flight requests", "timeout", drainTimeout.String())
			drainCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
			err = srv.Shutdown(drainCtx)
			cancel()
			if err != nil {
				err = fmt.Errorf("drain: %w", err)
				srv.Close()
			}
		}
		stopRelay() // it finishes its batch in flight and releases its lease
		if relayed != nil {
			if rerr := <-relayed; err == nil {
				err = rerr
			}
		}
		wg.Wait() // the sweep and the purge stop with ctx
		if err != nil {
			return err
		}
		log.Info("stopped")
		return nil
	}
}

// sandbox returns the provisioner of the sandbox routes' issuance, or nil,
// with a log line, when neither the PAN key nor the client keys are given:
// without a key of its own no PAN is hashed, and without client keys no
// request could be verified. One without the other is a half-configured
// sandbox, which would serve 404 on every sandbox route: a usage error
// naming what is missing, before serve touches the database.
func sandbox(log *slog.Logger, pans []byte, clientKeys map[string]ed25519.PublicKey) (issuance.Provisioner, error) {
	switch {
	case pans == nil && clientKeys == nil:
		log.Info("the sandbox routes are off: they need --client-keys and --pan-key (or " + panKeyEnv + ")")
		return nil, nil
	case pans == nil:
		return nil, usageErrorf("--client-keys is set but the PAN key is not: the sandbox routes need both; set --pan-key or %s, or drop --client-keys", panKeyEnv)
	case clientKeys == nil:
		return nil, usageErrorf("the PAN key is set (--pan-key or %s) but --client-keys is not: the sandbox routes need both; add --client-keys FILE, or unset the PAN key", panKeyEnv)
	}
	return issuance.NewHMACProvisioner(pans)
}

// sweepOnSchedule runs cards.Sweep every interval until ctx ends. A failed
// sweep is logged and tried again at the next tick; the batches it
// committed stay committed.
func sweepOnSchedule(ctx context.Context, log *slog.Logger, cards *lifecycle.Cards, every time.Duration) {
	onSchedule(ctx, every, func(ctx context.Context) {
		res, err := cards.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			// stopped mid-sweep by the shutdown
		case err != nil:
			log.Error("sweep failed", "expired", res.Expired, "inoperative", res.Inoperative, "err", err)
		default:
			log.Info("swept", "expired", res.Expired, "inoperative", res.Inoperative)
		}
	})
}

// programJSON is one entry of the --programs file.
type programJSON struct {
	ID                  int64      `json:"id"`
	BIN                 string     `json:"bin"`
	Brand               card.Brand `json:"brand"`
	ExpirationMonths    int        `json:"expiration_months"`
	PlasticStartsNormal bool       `json:"plastic_starts_normal"`
	BulkSizeLimit       int        `json:"bulk_size_limit"`
	MaxPINTries         int        `json:"max_pin_tries"`
	PINTriesKeepStatus  bool       `json:"pin_tries_keep_status"`
}

// loadPrograms reads the --programs file and returns the catalogue: program
// 1 and the file's programs (an entry with id 1 replaces the default one).
// Without a file the catalogue is program 1 alone.
func loadPrograms(path string) (card.Programs, error) {
	if path == "" {
		return card.NewPrograms()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--programs: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var entries []programJSON
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("--programs %s: want a JSON list of programs: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("--programs %s: data after the JSON list", path)
	}
	ps := make([]card.Program, 0, len(entries))
	seen := make(map[int64]bool, len(entries))
	for _, e := range entries {
		if seen[e.ID] {
			return nil, fmt.Errorf("--programs %s: program %d is listed twice", path, e.ID)
		}
		seen[e.ID] = true
		ps = append(ps, card.Program{ID: e.ID, BIN: e.BIN, Brand: e.Brand, ExpirationMonths: e.ExpirationMonths,
			PlasticStartsNormal: e.PlasticStartsNormal, BulkSizeLimit: e.BulkSizeLimit,
			MaxPINTries: e.MaxPINTries, PINTriesKeepStatus: e.PINTriesKeepStatus})
	}
	programs, err := card.NewPrograms(ps...)
	if err != nil {
		return nil, fmt.Errorf("--programs %s: %w", path, err)
	}
	return programs, nil
}
