// Package tracing turns on OpenTelemetry tracing from the standard environment: with
// OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, spans are
// exported over OTLP/gRPC and W3C trace context is propagated; without it nothing is
// set up. The API starts a span per request, the Temporal SDK's tracing interceptor
// carries it through the client into workflows and activities, and outgoing HTTP calls
// on the default transport (the providers') are spans of their own. Log lines written
// with a context carry its trace_id and span_id.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// wrapTransport wraps http.DefaultTransport once per process.
var wrapTransport sync.Once

// Variables are the standard variables that turn tracing on.
var Variables = []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"}

// Check validates the OTLP endpoint variables, naming the one that is malformed: a
// URL with an http or https scheme and a host, or host:port.
func Check(env map[string]string) error {
	for _, name := range Variables {
		v := env[name]
		if v == "" {
			continue
		}
		// A scheme is required: http:// is plain text, https:// TLS (a bare host:port
		// would leave that to OTEL_EXPORTER_OTLP_INSECURE, easy to get wrong).
		if u, err := url.Parse(v); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != "" {
			if _, err := strconv.Atoi(u.Port()); u.Port() == "" || err == nil {
				continue
			}
		}
		return fmt.Errorf("%s must be an OTLP/gRPC endpoint URL such as http://otel-collector:4317 or https://…, got %q", name, v)
	}
	return nil
}

// Tracing is the process's tracing setup.
type Tracing struct {
	// Interceptors are the Temporal client interceptors to install (none when off).
	Interceptors []interceptor.ClientInterceptor
	// Shutdown flushes and stops the exporter.
	Shutdown func(context.Context) error
	// On says tracing is exporting.
	On bool
}

// Setup installs the global tracer provider and propagator, and wraps
// http.DefaultTransport, when env asks for tracing; otherwise it changes nothing.
func Setup(ctx context.Context, env map[string]string, service string) (Tracing, error) {
	off := Tracing{Shutdown: func(context.Context) error { return nil }}
	if err := Check(env); err != nil {
		return off, err
	}
	name := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	endpoint := env[name]
	if endpoint == "" {
		name, endpoint = "OTEL_EXPORTER_OTLP_ENDPOINT", env["OTEL_EXPORTER_OTLP_ENDPOINT"]
	}
	if endpoint == "" {
		return off, nil
	}
	u, _ := url.Parse(endpoint) // checked above
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(u.Host)}
	if u.Scheme == "http" {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return off, fmt.Errorf("%s: %w", name, err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))))
	otel.SetTracerProvider(tp)
	// Trace context only: a caller's baggage would ride in every workflow's and
	// activity's (unencrypted) header and on to the providers.
	otel.SetTextMapPropagator(propagation.TraceContext{})
	ti, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{DisableBaggage: true,
		TextMapPropagator: propagation.TraceContext{}})
	if err != nil {
		return off, fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	wrapTransport.Do(func() { http.DefaultTransport = otelhttp.NewTransport(http.DefaultTransport) })
	return Tracing{Interceptors: []interceptor.ClientInterceptor{ti}, Shutdown: tp.Shutdown, On: true}, nil
}

// LogHandler adds trace_id and span_id to records logged with a context that carries a
// span.
type LogHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h LogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return LogHandler{h.Handler.WithAttrs(as)}
}

// WithGroup implements slog.Handler.
func (h LogHandler) WithGroup(name string) slog.Handler { return LogHandler{h.Handler.WithGroup(name)} }
