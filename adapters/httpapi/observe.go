package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cardcore/cardcore/card"
	"github.com/cardcore/cardcore/events"
	"github.com/felixge/httpsnoop"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// requestLog is what the log line of a request learns on the way down the
// handlers: the route pattern the mux matched and the caller's org.
type requestLog struct {
	route string
	org   string
}

type requestLogKey struct{}

// observed wraps the API's mux in its observability, outermost first:
//
//   - the log line: one per request, at Info, once it is answered: method,
//     route (the mux pattern, e.g. "PUT /wallet/v1/.../status"; never the
//     path, nor a query, a header or a body), status, duration, org (of a
//     valid token, else empty) and cid (the request's valid x-cid, else
//     empty: the use case then generates the cid of its events). It also
//     hands the x-cid to the request's events;
//   - otelhttp: a span per request named "<METHOD> <route>", with the
//     http.route attribute, and the histogram http.server.request.duration
//     by method, route and status code; an incoming W3C traceparent is its
//     parent;
//   - the recoverer, inside otelhttp so that a panic is measured as the 500
//     it answers;
//   - routed, which reports the pattern the mux matched.
//
// otelhttp reads the pattern from the request it hands on, which the mux
// fills in place; every layer below it passes that request on as it is.
func (a *api) observed(mux http.Handler) http.Handler {
	tp, mp := a.cfg.TracerProvider, a.cfg.MeterProvider
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	if mp == nil {
		mp = metricnoop.NewMeterProvider()
	}
	traced := otelhttp.NewHandler(a.recoverer(routed(mux)), "cardcore.httpapi",
		otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp),
		otelhttp.WithPropagators(propagation.TraceContext{}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &requestLog{}
		ctx := context.WithValue(r.Context(), requestLogKey{}, rec)
		cid := r.Header.Get("x-cid")
		if cid != "" && card.ValidateRef("x-cid", cid) == nil {
			ctx = events.WithCorrelationID(ctx, cid)
		} else {
			cid = ""
		}
		m := httpsnoop.CaptureMetrics(traced, w, r.WithContext(ctx))
		a.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("route", rec.route), slog.Int("status", m.Code),
			slog.Duration("duration", m.Duration), slog.String("org", rec.org), slog.String("cid", cid))
	})
}

// routed records the pattern the mux matched, also when the handler
// panics: in the request's log, and as the http.route attribute of its
// span (the pattern's path: otelhttp names the span, and labels the
// metrics, but does not set the span's attribute).
func routed(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if rec, ok := r.Context().Value(requestLogKey{}).(*requestLog); ok {
				rec.route = r.Pattern
			}
			if i := strings.IndexByte(r.Pattern, '/'); i >= 0 {
				trace.SpanFromContext(r.Context()).SetAttributes(semconv.HTTPRoute(r.Pattern[i:]))
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// loggedOrg records the caller's org, once its token is verified, in the
// request's log.
func loggedOrg(ctx context.Context, org string) {
	if rec, ok := ctx.Value(requestLogKey{}).(*requestLog); ok {
		rec.org = org
	}
}
