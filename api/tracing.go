package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceRequests starts a server span per request, named by its route template (never
// the raw path), continuing the caller's W3C trace context. The span rides in the
// request's context into the handlers, the Temporal client (whose tracing interceptor
// carries it into workflows and activities) and the access log line. With no tracer
// provider installed (tracing off) the spans are no-ops.
func traceRequests() echo.MiddlewareFunc {
	tracer := otel.Tracer("github.com/recurring/recurring/api")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			ctx := otel.GetTextMapPropagator().Extract(req.Context(), propagation.HeaderCarrier(req.Header))
			ctx, span := tracer.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("http.route", route)))
			defer span.End()
			c.SetRequest(req.WithContext(ctx))
			err := next(c)
			status := c.Response().Status
			if err != nil {
				// The error handler has not written it yet: the status it will write.
				_, status = describe(err)
			}
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			return err
		}
	}
}
