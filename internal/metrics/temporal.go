package metrics

import (
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// Temporal returns the SDK's metrics handler for client.Options.MetricsHandler: the
// SDK's counters, gauges and timers (workflow task latency, activity execution
// latency and failures, sticky cache, pollers) as Prometheus counters, gauges and
// histograms in seconds, under the SDK's own names.
func (m *Metrics) Temporal() client.MetricsHandler {
	if m == nil {
		return nil
	}
	return m.temporal
}

// temporalHandler implements client.MetricsHandler over one registry. Prometheus wants
// one label set per name: the first use of a name fixes its labels; later uses with
// other tags fill the missing ones with "" and drop the others (the SDK tags a given
// metric consistently, so this is a safety net, not a path).
type temporalHandler struct {
	shared *temporalVecs
	tags   map[string]string
}

type temporalVecs struct {
	reg      *prometheus.Registry
	mu       sync.Mutex
	counters map[string]*labeled[*prometheus.CounterVec]
	gauges   map[string]*labeled[*prometheus.GaugeVec]
	timers   map[string]*labeled[*prometheus.HistogramVec]
}

type labeled[V any] struct {
	vec    V
	labels []string
}

func newTemporalHandler(reg *prometheus.Registry) *temporalHandler {
	return &temporalHandler{shared: &temporalVecs{reg: reg, counters: map[string]*labeled[*prometheus.CounterVec]{},
		gauges: map[string]*labeled[*prometheus.GaugeVec]{}, timers: map[string]*labeled[*prometheus.HistogramVec]{}}}
}

// WithTags returns a handler whose metrics carry tags as well.
func (h *temporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(h.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	for k, v := range tags {
		merged[sanitize(k)] = v
	}
	return &temporalHandler{shared: h.shared, tags: merged}
}

// values returns the handler's tag values in labels' order.
func (h *temporalHandler) values(labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = h.tags[l]
	}
	return out
}

func (h *temporalHandler) labels() []string {
	return slices.Sorted(maps.Keys(h.tags))
}

// vecFor returns name's vector in vecs, registering it with the handler's labels on
// first use (newVec builds it); ok is false when the registry refuses it.
func vecFor[V prometheus.Collector](h *temporalHandler, vecs map[string]*labeled[V], name string,
	newVec func(labels []string) V) (*labeled[V], bool) {
	s := h.shared
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := vecs[name]; ok {
		return l, true
	}
	l := &labeled[V]{labels: h.labels()}
	l.vec = newVec(l.labels)
	if err := s.reg.Register(l.vec); err != nil {
		return nil, false
	}
	vecs[name] = l
	return l, true
}

// Counter returns the counter name with the handler's tags.
func (h *temporalHandler) Counter(name string) client.MetricsCounter {
	l, ok := vecFor(h, h.shared.counters, name, func(labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: sanitize(name), Help: "Temporal SDK counter " + name + "."}, labels)
	})
	if !ok {
		return nopCounter{}
	}
	c := l.vec.WithLabelValues(h.values(l.labels)...)
	return counterFunc(func(d int64) { c.Add(float64(d)) })
}

// Gauge returns the gauge name with the handler's tags.
func (h *temporalHandler) Gauge(name string) client.MetricsGauge {
	l, ok := vecFor(h, h.shared.gauges, name, func(labels []string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: sanitize(name), Help: "Temporal SDK gauge " + name + "."}, labels)
	})
	if !ok {
		return nopGauge{}
	}
	return gaugeFunc(l.vec.WithLabelValues(h.values(l.labels)...).Set)
}

// Timer returns the timer name, as a histogram in seconds, with the handler's tags.
func (h *temporalHandler) Timer(name string) client.MetricsTimer {
	l, ok := vecFor(h, h.shared.timers, name, func(labels []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: sanitize(name) + "_seconds",
			Help: "Temporal SDK timer " + name + ", in seconds.", Buckets: prometheus.DefBuckets}, labels)
	})
	if !ok {
		return nopTimer{}
	}
	o := l.vec.WithLabelValues(h.values(l.labels)...)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

// sanitize makes a Prometheus name of an SDK name or tag (letters, digits, '_').
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

type nopCounter struct{}

func (nopCounter) Inc(int64) {}

type nopGauge struct{}

func (nopGauge) Update(float64) {}

type nopTimer struct{}

func (nopTimer) Record(time.Duration) {}
