package api_test

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestRequestSpans: with a tracer provider installed, each request is a server span
// named by its route template (never the raw path), carrying the status the client
// got: a 404 from the store is a 404 on the span, not an error; a 2xx neither.
func TestRequestSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	f := newFixtureWith(t, fixtureOptions{})
	cus := f.createCustomer(t, f.testKey, "spans@example.com")
	if r, _ := f.do(t, http.MethodGet, "/v1/customers/cus_nosuch", f.testKey, ""); r.Code != http.StatusNotFound {
		t.Fatalf("unknown customer = %d", r.Code)
	}
	got := map[string]int64{}
	for _, s := range rec.Ended() {
		for _, a := range s.Attributes() {
			if a.Key == "http.response.status_code" {
				got[s.Name()] = a.Value.AsInt64()
			}
		}
		if s.Status().Code == codes.Error {
			t.Errorf("span %s is an error (status %v)", s.Name(), got[s.Name()])
		}
		if s.Name() == "GET /v1/customers/"+cus.ID || s.Name() == "GET /v1/customers/cus_nosuch" {
			t.Errorf("a span is named by its raw path: %s", s.Name())
		}
	}
	if got["POST /v1/customers"] != 201 || got["GET /v1/customers/:id"] != 404 {
		t.Errorf("spans %v, want POST /v1/customers 201 and GET /v1/customers/:id 404", got)
	}
}
