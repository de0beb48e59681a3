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
