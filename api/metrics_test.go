package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/recurring/recurring/internal/metrics"
)

// TestMetricsEndpoint: with metrics, GET /metrics (no key, like /healthz) serves the
// registry; requests are counted under their route template, so no customer id or
// unknown path reaches a label; without metrics the route does not exist.
func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New()
	f := newFixtureWith(t, fixtureOptions{metrics: m})
	cus := f.createCustomer(t, f.testKey, "metrics@example.com")
	f.ok(t, http.MethodGet, "/v1/customers/"+cus.ID, f.testKey, "", nil)
	f.ok(t, http.MethodGet, "/v1/customers/"+cus.ID, f.testKey, "", nil)
	if rec, _ := f.do(t, http.MethodGet, "/v1/customers/cus_nosuch", f.testKey, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown customer = %d", rec.Code)
	}
	if rec, _ := f.do(t, http.MethodGet, "/no/such/path/cus_secretish", "", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown path = %d", rec.Code)
	}
	rec, _ := f.do(t, http.MethodGet, "/metrics", "", "")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics = %d %s", rec.Code, body)
	}
	for _, want := range []string{
		`recurring_http_requests_total{method="GET",route="/v1/customers/:id",status="200"} 2`,
		`recurring_http_requests_total{method="GET",route="/v1/customers/:id",status="404"} 1`,
		`recurring_http_requests_total{method="POST",route="/v1/customers",status="201"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("no line %q in /metrics", want)
		}
	}
	for _, leak := range []string{cus.ID, "cus_nosuch", "cus_secretish", "/no/such"} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics carries %q", leak)
		}
	}

	plain := newFixtureWith(t, fixtureOptions{})
	if rec, _ := plain.do(t, http.MethodGet, "/metrics", "", ""); rec.Code != http.StatusNotFound {
		t.Errorf("/metrics without metrics = %d, want 404", rec.Code)
	}
}
