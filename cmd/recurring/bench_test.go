package main

import (
	"testing"
	"time"
)

func TestBenchPercentileAndRatio(t *testing.T) {
	var lags []time.Duration
	for i := 1; i <= 1000; i++ {
		lags = append(lags, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 500 * time.Millisecond}, {99, 990 * time.Millisecond}, {100, time.Second}, {0.01, time.Millisecond}} {
		if got := percentile(lags, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("p99 of one value = %v", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
	if got := ratio(50, 100); got != 0.5 {
		t.Errorf("ratio(50, 100) = %v", got)
	}
	if got := ratio(50, 0); got != 0 {
		t.Errorf("ratio with a skipped run = %v", got)
	}
	if got := mean([]int64{16, 18}); got != 17 {
		t.Errorf("mean = %v", got)
	}
	if got := sampleIDs([]string{"a", "b", "c", "d"}, 2); len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Errorf("sampleIDs = %v", got)
	}
}

// TestBenchMedians: --rounds reports each figure's median over the rounds, and the lag
// goal is N/rate + 5 s.
func TestBenchMedians(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4 = %v", got)
	}
	rs := []benchResult{
		{drainRate: 100, p99: 3 * time.Second, cpu: 10 * time.Millisecond, added: 12},
		{drainRate: 300, p99: 1 * time.Second, cpu: 30 * time.Millisecond, added: 12},
		{drainRate: 200, p99: 9 * time.Second, cpu: 20 * time.Millisecond, added: 14},
	}
	m := medianResult(rs)
	if m.drainRate != 200 || m.p99 != 3*time.Second || m.cpu != 20*time.Millisecond || m.added != 12 {
		t.Errorf("medianResult = %+v", m)
	}
	if (medianResult(nil) != benchResult{}) {
		t.Error("the median of no runs is not zero")
	}
	c := medianCreates([]createResult{{n: 5, api: 10, bare: 40}, {n: 5, api: 30, bare: 20}})
	if c.api != 20 || c.bare != 30 || c.n != 5 {
		t.Errorf("medianCreates = %+v", c)
	}
	if got := lagGoal(1000, 100); got != 15*time.Second {
		t.Errorf("lagGoal(1000, 100/s) = %v, want 15s", got)
	}
	if got := lagGoal(1000, 0); got != 0 {
		t.Errorf("lagGoal with nothing measured = %v", got)
	}
}
