package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"time"

	"github.com/cardcore/cardcore"
	"github.com/cardcore/cardcore/adapters/webhooks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/extra/bunotel"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// The environment variables that turn tracing on: the OTLP endpoint, as the
// OpenTelemetry SDK reads it (the second one for traces alone).
const (
	otlpEndpointEnv       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	otlpTracesEndpointEnv = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
)

// telemetryTimeout bounds the flush of the spans and the shutdown of the
// providers when a command stops.
const telemetryTimeout = 5 * time.Second

// telemetry is where serve and relay report: a meter provider whose
// metrics Metrics serves in the Prometheus text format, and a tracer
// provider that exports over OTLP/HTTP when an OTLP endpoint is set in the
// environment, a no-op otherwise. The providers are handed to the library
// and the API explicitly: none is installed as package otel's global.
type telemetry struct {
	meters  *sdkmetric.MeterProvider
	tracers trace.TracerProvider
	spans   *sdktrace.TracerProvider // nil when not tracing
	// Metrics serves GET /metrics: the meter provider's metrics and the Go
	// runtime's and the process's, from a registry of its own.
	metrics http.Handler
}

// newTelemetry builds the providers. The resource is service.name
// "cardcore" and the module version, which OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES override; the exporter and the batch span
// processor read the rest of the SDK's environment (OTEL_EXPORTER_OTLP_*,
// OTEL_BSP_*, OTEL_TRACES_SAMPLER).
func newTelemetry(ctx context.Context, log *slog.Logger) (*telemetry, error) {
	version := "(devel)"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		version = info.Main.Version
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("cardcore"), semconv.ServiceVersion(version)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("telemetry: Prometheus exporter: %w", err)
	}
	t := &telemetry{
		meters: sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exporter),
			sdkmetric.WithView(
				// The client's Host header would make a series per name and
				// port a client cares to send.
				sdkmetric.NewView(sdkmetric.Instrument{Name: "http.server.request.duration"},
					sdkmetric.Stream{AttributeFilter: attribute.NewDenyKeysFilter("server.address", "server.port")}),
				// The bodies are at most 1 MiB: their sizes tell little, in
				// many series.
				sdkmetric.NewView(sdkmetric.Instrument{Name: "http.server.*.body.size"},
					sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}}))),
		tracers: tracenoop.NewTracerProvider(),
		metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}
	// The SDK reports what it could not do (an export, a gauge's read)
	// here rather than through the standard logger.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("telemetry", "error", err.Error()) }))
	endpoint := os.Getenv(otlpTracesEndpointEnv)
	if endpoint == "" {
		endpoint = os.Getenv(otlpEndpointEnv)
	}
	if endpoint == "" {
		log.Info("tracing is off: set " + otlpEndpointEnv + " to export spans over OTLP/HTTP")
		return t, nil
	}
	spans, err := otlptracehttp.New(ctx)
	if err != nil {
		_ = t.meters.Shutdown(ctx)
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	t.spans = sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(spans))
	t.tracers = t.spans
	log.Info("tracing: exporting spans over OTLP/HTTP", "endpoint", redactedURL(endpoint))
	return t, nil
}

// redactedURL is the scheme and host of u, without credentials, path or
// query.
func redactedURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "(not a URL)"
	}
	return p.Scheme + "://" + p.Host
}

// queryHook is the bun query hook of a span per SQL statement, with the
// statement's text without its arguments (bun writes them into the text;
// bunotel records it as the query template renders it, with placeholders).
func (t *telemetry) queryHook() bun.QueryHook {
	return bunotel.NewQueryHook(bunotel.WithTracerProvider(t.tracers), bunotel.WithMeterProvider(t.meters),
		bunotel.WithFormattedQueries(false))
}

// coreOptions hand the providers to cardcore.New.
func (t *telemetry) coreOptions() []cardcore.Option {
	return []cardcore.Option{cardcore.WithTracerProvider(t.tracers), cardcore.WithMeterProvider(t.meters)}
}

// webhookOption hands the meter provider to the webhook destinations.
func (t *telemetry) webhookOption() webhooks.Option { return webhooks.WithMeterProvider(t.meters) }

// withMetrics returns api with GET /metrics beside it, on the same
// listener and without authentication; every other request goes to api.
func (t *telemetry) withMetrics(api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.metrics)
	mux.Handle("/", api)
	return mux
}

// shutdown exports the spans still batched and stops the providers.
func (t *telemetry) shutdown(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), telemetryTimeout)
	defer cancel()
	var errs []error
	if t.spans != nil {
		errs = append(errs, t.spans.Shutdown(ctx))
	}
	errs = append(errs, t.meters.Shutdown(ctx))
	if err := errors.Join(errs...); err != nil {
		log.Warn("telemetry: shutdown", "error", err.Error())
	}
}

// metricsFlag registers --metrics-addr on fs, with usage saying what the
// empty default does for the command.
func metricsFlag(fs *flag.FlagSet, emptyMeans string) *string {
	return fs.String("metrics-addr", "", "serve GET /metrics (Prometheus text format, no authentication) on a listener of its own at this address, e.g. 127.0.0.1:9464 (default: "+emptyMeans+")")
}

// serveMetrics serves t's metrics at GET /metrics on a listener of its own
// at addr until the returned function stops it.
func serveMetrics(addr string, t *telemetry, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout, WriteTimeout: writeTimeout,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener failed", "addr", ln.Addr().String(), "error", err.Error())
		}
	}()
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), telemetryTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
