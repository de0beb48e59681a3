package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body, _ := io.ReadAll(rec.Body)
	return string(body)
}

func has(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, l+"\n") {
			t.Errorf("no line %q in the scrape", l)
		}
	}
}

type gauges struct{ waiting, backlog int }

func (g gauges) InstallmentsWaiting(context.Context, time.Time) (int, error) { return g.waiting, nil }
func (g gauges) OutboxBacklog(context.Context) (int, time.Time, error) {
	if g.backlog < 0 {
		return 0, time.Time{}, errors.New("store down")
	}
	return g.backlog, time.Now().Add(-time.Hour), nil
}

type countingGauges struct{ reads int }

func (g *countingGauges) InstallmentsWaiting(context.Context, time.Time) (int, error) {
	g.reads++
	return 0, nil
}

func (g *countingGauges) OutboxBacklog(context.Context) (int, time.Time, error) {
	return 4, time.Now().Add(-time.Hour).Truncate(time.Second), nil
}

// TestBusinessMetrics: what the engine records reaches the scrape under the documented
// names and labels, a 404 is never labelled with its raw path, and a store that cannot
// be read shows as -1.
func TestBusinessMetrics(t *testing.T) {
	m := metrics.New()
	m.ObserveRequest("/v1/plans/:id", "GET", 200, 30*time.Millisecond)
	m.ObserveRequest("/v1/plans/:id", "GET", 200, 10*time.Millisecond)
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	m.ObserveRequest("", "XYZ_cus_123", 405, time.Millisecond) // a client picks the method
	m.Charge("stripe", metrics.OutcomeSucceeded, "")
	m.Charge("stripe", metrics.OutcomeDeclined, "insufficient_funds")
	m.Lag(1500 * time.Millisecond)
	m.Lag(-time.Second) // a clock step: not a lag
	m.DunningRecovered()
	m.WebhookDelivery("delivered", 200*time.Millisecond)
	m.WatchStore(gauges{waiting: 7, backlog: -1})
	body := scrape(t, m)
	has(t, body,
		`recurring_http_requests_total{method="GET",route="/v1/plans/:id",status="200"} 2`,
		`recurring_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`recurring_http_requests_total{method="OTHER",route="unmatched",status="405"} 1`,
		`recurring_http_request_duration_seconds_count{method="GET",route="/v1/plans/:id"} 2`,
		`recurring_charges_total{decline_code="",outcome="succeeded",provider="stripe"} 1`,
		`recurring_charges_total{decline_code="insufficient_funds",outcome="declined",provider="stripe"} 1`,
		`recurring_charge_lag_seconds_count 1`,
		`recurring_charge_lag_seconds_bucket{le="2.5"} 1`,
		`recurring_charge_lag_seconds_bucket{le="1"} 0`,
		`recurring_dunning_recoveries_total 1`,
		`recurring_webhook_deliveries_total{outcome="delivered"} 1`,
		`recurring_webhook_delivery_duration_seconds_count 1`,
		`recurring_installments_waiting 7`,
		`recurring_outbox_backlog -1`,
		`recurring_outbox_oldest_age_seconds -1`,
	)
	if strings.Contains(body, "XYZ") {
		t.Error("a client's method reached a label")
	}
	// The store is read once per 30 s, however often Prometheus scrapes.
	cg := &countingGauges{}
	m2 := metrics.New()
	m2.WatchStore(cg)
	for range 5 {
		scrape(t, m2)
	}
	if cg.reads != 1 {
		t.Errorf("5 scrapes read the store %d times, want 1", cg.reads)
	}
	has(t, scrape(t, m2), "recurring_outbox_backlog 4")
	if !strings.Contains(scrape(t, m2), "recurring_outbox_oldest_age_seconds 3600") {
		t.Errorf("oldest age not about an hour:\n%s", scrape(t, m2))
	}
	if !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_resident_memory_bytes") {
		t.Error("no Go runtime or process metrics")
	}
	// Exported lists every recurring_ metric the scrape has, with its type.
	for _, line := range strings.Split(body, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok && strings.HasPrefix(name, "recurring_") {
			f := strings.Fields(name)
			if metrics.Exported[f[0]] != f[1] {
				t.Errorf("%s is a %s, Exported says %q", f[0], f[1], metrics.Exported[f[0]])
			}
		}
	}
	if len(metrics.Exported) != 10 {
		t.Errorf("Exported lists %d metrics, the scrape above has 10", len(metrics.Exported))
	}

	// A nil *Metrics (code built without metrics) records nothing and does not panic.
	var none *metrics.Metrics
	none.Charge("x", metrics.OutcomeSucceeded, "")
	none.Lag(time.Second)
	none.ObserveRequest("/", "GET", 200, 0)
	none.WebhookDelivery("failed", 0)
	none.DunningRecovered()
	none.WatchStore(gauges{})
	if none.Temporal() != nil {
		t.Error("a nil Metrics has a Temporal handler")
	}
}

// TestTemporalHandler: the SDK's counters, gauges and timers become Prometheus series
// with the tags as labels (timers as histograms in seconds); a later use of a name with
// other tags keeps the first label set instead of failing.
func TestTemporalHandler(t *testing.T) {
	m := metrics.New()
	h := m.Temporal().WithTags(map[string]string{"namespace": "default", "task_queue": "recurring"})
	act := h.WithTags(map[string]string{"activity_type": "Charge"})
	act.Counter("temporal_activity_execution_failed").Inc(2)
	act.Timer("temporal_activity_execution_latency").Record(300 * time.Millisecond)
	h.Gauge("temporal_sticky_cache_size").Update(42)
	h.WithTags(map[string]string{"worker-type": "ActivityWorker"}).Gauge("temporal_num_pollers").Update(3)
	// The same counter with a tag it was not registered with, and one missing.
	h.WithTags(map[string]string{"activity_type": "RecordPayment", "extra": "x"}).Counter("temporal_activity_execution_failed").Inc(1)
	h.Counter("temporal_activity_execution_failed").Inc(1)
	body := scrape(t, m)
	has(t, body,
		`temporal_activity_execution_failed{activity_type="Charge",namespace="default",task_queue="recurring"} 2`,
		`temporal_activity_execution_failed{activity_type="RecordPayment",namespace="default",task_queue="recurring"} 1`,
		`temporal_activity_execution_failed{activity_type="",namespace="default",task_queue="recurring"} 1`,
		`temporal_activity_execution_latency_seconds_count{activity_type="Charge",namespace="default",task_queue="recurring"} 1`,
		`temporal_activity_execution_latency_seconds_sum{activity_type="Charge",namespace="default",task_queue="recurring"} 0.3`,
		`temporal_sticky_cache_size{namespace="default",task_queue="recurring"} 42`,
		`temporal_num_pollers{namespace="default",task_queue="recurring",worker_type="ActivityWorker"} 3`,
	)
	if strings.Contains(body, `extra=`) {
		t.Error("a tag outside the first label set became a label")
	}
}
