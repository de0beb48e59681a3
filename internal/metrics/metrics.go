// Package metrics is the process's Prometheus registry: HTTP requests, the Temporal
// SDK's own metrics, and the business figures an operator watches (charges by
// outcome, due→charged lag, installments waiting, dunning recoveries, webhook
// deliveries, the outbox backlog). One Metrics per process; a nil *Metrics records
// nothing, so code paths built without it (tests, tools) need no change. Label values
// are bounded sets (route templates, providers, outcomes, decline codes), never ids.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the process's registry and the collectors the code records into.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	charges           *prometheus.CounterVec
	chargeLag         prometheus.Histogram
	dunningRecoveries prometheus.Counter
	webhookDeliveries *prometheus.CounterVec
	webhookLatency    prometheus.Histogram

	temporal *temporalHandler
}

// Names of the business metrics, for dashboards, alerts and the test that checks them.
const (
	HTTPRequests      = "recurring_http_requests_total"
	HTTPDuration      = "recurring_http_request_duration_seconds"
	Charges           = "recurring_charges_total"
	ChargeLag         = "recurring_charge_lag_seconds"
	DunningRecoveries = "recurring_dunning_recoveries_total"
	WebhookDeliveries = "recurring_webhook_deliveries_total"
	WebhookLatency    = "recurring_webhook_delivery_duration_seconds"
	InstallmentsDue   = "recurring_installments_waiting"
	OutboxBacklog     = "recurring_outbox_backlog"
	OutboxOldestAge   = "recurring_outbox_oldest_age_seconds"
)

// Exported lists the business metrics by name with their Prometheus type, for the test
// that keeps dashboards and alert rules on names the code exports.
var Exported = map[string]string{
	HTTPRequests: "counter", HTTPDuration: "histogram", Charges: "counter", ChargeLag: "histogram",
	DunningRecoveries: "counter", WebhookDeliveries: "counter", WebhookLatency: "histogram",
	InstallmentsDue: "gauge", OutboxBacklog: "gauge", OutboxOldestAge: "gauge",
}

// lagBuckets cover an on-time charge (under a second) to a burst or an outage queued
// for an hour.
var lagBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// New returns a registry with the Go runtime and process collectors and every
// business metric registered.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	// The prometheus package's own collectors, not the collectors package: that one
	// links database/sql, which workflow code must not (TestWorkflowsLinkNoInfrastructure).
	m.reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{})) //nolint:staticcheck // see above
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: HTTPRequests,
		Help: "API requests by route template, method and status code."}, []string{"route", "method", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: HTTPDuration,
		Help: "API request latency by route template and method.", Buckets: prometheus.DefBuckets}, []string{"route", "method"})
	m.charges = prometheus.NewCounterVec(prometheus.CounterOpts{Name: Charges,
		Help: "Charge attempts by provider, outcome (succeeded, pending, declined, unknown, unavailable, queued) and decline code."},
		[]string{"provider", "outcome", "decline_code"})
	m.chargeLag = prometheus.NewHistogram(prometheus.HistogramOpts{Name: ChargeLag,
		Help: "Seconds from an installment's due instant to its charge attempt (queueing by pace included).", Buckets: lagBuckets})
	m.dunningRecoveries = prometheus.NewCounter(prometheus.CounterOpts{Name: DunningRecoveries,
		Help: "Installments paid by a retry after a failed attempt."})
	m.webhookDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: WebhookDeliveries,
		Help: "Webhook delivery attempts by outcome (delivered, failed, gone)."}, []string{"outcome"})
	m.webhookLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: WebhookLatency,
		Help: "Seconds a webhook endpoint took to answer.", Buckets: prometheus.DefBuckets})
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.charges, m.chargeLag, m.dunningRecoveries, m.webhookDeliveries, m.webhookLatency)
	m.temporal = newTemporalHandler(m.reg)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is the process's registry (for tests and extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest records one API request under its route template.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched" // a 404: never the raw path, which would carry ids
	}
	method = knownMethod(method)
	m.httpRequests.WithLabelValues(route, method, statusText(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// Charge outcomes.
const (
	OutcomeSucceeded   = "succeeded"
	OutcomePending     = "pending"
	OutcomeDeclined    = "declined"
	OutcomeUnknown     = "unknown"
	OutcomeUnavailable = "unavailable"
	OutcomeQueued      = "queued"
)

// Charge records one charge attempt's outcome; declineCode is the engine's code ("" for
// none), from a fixed set.
func (m *Metrics) Charge(provider, outcome, declineCode string) {
	if m == nil {
		return
	}
	m.charges.WithLabelValues(provider, outcome, declineCode).Inc()
}

// Lag records how long after its due instant an installment was attempted.
func (m *Metrics) Lag(d time.Duration) {
	if m == nil || d < 0 {
		return
	}
	m.chargeLag.Observe(d.Seconds())
}

// DunningRecovered counts an installment paid by a retry.
func (m *Metrics) DunningRecovered() {
	if m == nil {
		return
	}
	m.dunningRecoveries.Inc()
}

// WebhookDelivery records one delivery attempt.
func (m *Metrics) WebhookDelivery(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.webhookDeliveries.WithLabelValues(outcome).Inc()
	if d > 0 {
		m.webhookLatency.Observe(d.Seconds())
	}
}

// Gauges are the store's figures behind the gauges.
type Gauges interface {
	// InstallmentsWaiting counts active plans whose next charge is due and not yet made.
	InstallmentsWaiting(ctx context.Context, now time.Time) (int, error)
	// OutboxBacklog counts events not yet handed to webhook delivery, and says when the
	// oldest of them was created (zero when there is none).
	OutboxBacklog(ctx context.Context) (int, time.Time, error)
}

// gaugeTTL is how long the store's figures are reused: a scrape (unauthenticated on the
// API) never costs more than one query pair per TTL, however often it comes.
const gaugeTTL = 30 * time.Second

// storeGauges reads the store at most once per gaugeTTL, one read at a time.
type storeGauges struct {
	g   Gauges
	mu  sync.Mutex
	at  time.Time
	val [3]float64 // waiting, backlog, oldest age in seconds
}

func (s *storeGauges) read(i int) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := time.Now(); now.Sub(s.at) >= gaugeTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.val = [3]float64{-1, -1, -1}
		if n, err := s.g.InstallmentsWaiting(ctx, now); err == nil {
			s.val[0] = float64(n)
		}
		if n, oldest, err := s.g.OutboxBacklog(ctx); err == nil {
			s.val[1], s.val[2] = float64(n), 0
			if n > 0 && !oldest.IsZero() {
				s.val[2] = max(now.Sub(oldest).Seconds(), 0)
			}
		}
		s.at = now
	}
	return s.val[i]
}

// WatchStore registers the store's gauges, read at a scrape at most every 30 s (a
// failed read reports -1, so an alert on the value sees the store is unreadable).
func (m *Metrics) WatchStore(g Gauges) {
	if m == nil || g == nil {
		return
	}
	s := &storeGauges{g: g}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: InstallmentsDue,
			Help: "Installments due and not yet charged (active plans whose next charge is in the past); -1 when the store cannot be read."},
			func() float64 { return s.read(0) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: OutboxBacklog,
			Help: "Events not yet dispatched to webhook delivery; -1 when the store cannot be read."},
			func() float64 { return s.read(1) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: OutboxOldestAge,
			Help: "Age in seconds of the oldest event not yet dispatched (0: none); -1 when the store cannot be read."},
			func() float64 { return s.read(2) }),
	)
}

// knownMethod keeps the label's values a fixed set: a client can send any method.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}

func statusText(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code)
}
