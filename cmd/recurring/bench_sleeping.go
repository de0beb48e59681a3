//go:build !nodev

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/store"
)

// sleepResult is what `recurring bench --sleeping N` reports: the memory and idle cost
// of N plans asleep until their first installment, a month out.
type sleepResult struct {
	Plans int `json:"plans"`
	// CreateRate is plans started per second (StartPlan, 32 at a time).
	CreateRate float64 `json:"create_per_s"`
	// RSSAfterCreate is the process's resident memory once every row is written;
	// RSSIdle after the idle window, with the Go heap returned to the OS.
	RSSAfterCreateMB float64 `json:"rss_mb_after_create"`
	RSSIdleMB        float64 `json:"rss_mb_idle"`
	// IdleCPU is the share of one core the process used over the idle window.
	IdleCPUPercent float64 `json:"idle_cpu_percent"`
	IdleWindowS    float64 `json:"idle_window_s"`
	// TemporalDBMB and AppDBMB are the SQLite files (with their WAL) in the data dir.
	TemporalDBMB float64 `json:"temporal_db_mb"`
	AppDBMB      float64 `json:"app_db_mb"`
	// GoHeapMB and StacksMB split the idle RSS: the Go heap in use and goroutine
	// stacks (the rest is the runtime's free pages and memory outside Go's heap,
	// such as SQLite's).
	GoHeapMB float64 `json:"go_heap_mb"`
	StacksMB float64 `json:"stacks_mb"`
	// Goroutines counts the process's goroutines once idle.
	Goroutines int `json:"goroutines"`
}

// benchSleeping starts n monthly plans whose first installment is a month away, waits
// for every row, then measures resident memory, idle CPU over idle, and the database
// files. The worker and the embedded server run in this process, as in `recurring dev`.
func benchSleeping(ctx context.Context, c client.Client, db *store.DB, reg *providers.Registry, dir string, n, cards int,
	idle time.Duration, bar func(int, string) *progressbar.ProgressBar) (sleepResult, error) {
	bm, err := newBenchMerchant(ctx, db, reg, "Bench sleeping", min(cards, n))
	if err != nil {
		return sleepResult{}, err
	}
	amount, installments := int64(benchAmount), 12
	sched := billing.Schedule{Frequency: billing.FrequencyMonths, RecurringAmount: &amount, Installments: &installments,
		StartDate: time.Now().AddDate(0, 1, 0).UTC().Format(time.RFC3339)}
	tt, err := sched.Resolve(billing.ModeTest, time.Now())
	if err != nil {
		return sleepResult{}, fmt.Errorf("bench schedule: %w", err)
	}
	started := time.Now()
	if _, err := startBenchPlans(ctx, c, bm, "plan_sleep", n, sched, tt, bar(n, "sleeping: starting plans")); err != nil {
		return sleepResult{}, err
	}
	b := bar(n, "sleeping: plan rows")
	if err := waitForCount(ctx, db, `SELECT COUNT(*) FROM plans WHERE merchant_id = ?`, bm.caller.MerchantID, n, b, time.Time{}); err != nil {
		return sleepResult{}, err
	}
	res := sleepResult{Plans: n, CreateRate: float64(n) / time.Since(started).Seconds(), IdleWindowS: idle.Seconds()}
	res.RSSAfterCreateMB = processRSSMB()

	cpu0, ok := processCPU()
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(idle):
	}
	if cpu1, ok1 := processCPU(); ok && ok1 {
		res.IdleCPUPercent = 100 * (cpu1 - cpu0).Seconds() / idle.Seconds()
	}
	debug.FreeOSMemory()
	res.RSSIdleMB = processRSSMB()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.GoHeapMB, res.StacksMB = float64(ms.HeapInuse)/(1<<20), float64(ms.StackInuse)/(1<<20)
	res.Goroutines = runtime.NumGoroutine()
	res.TemporalDBMB = filesMB(filepath.Join(dir, "temporal.db"))
	res.AppDBMB = filesMB(filepath.Join(dir, "recurring.db"))
	return res, nil
}

// processRSSMB is the process's resident set in MB (Linux /proc), 0 where unknown.
func processRSSMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

// filesMB is the size of a SQLite file with its WAL and shared-memory files, in MB.
func filesMB(path string) float64 {
	var total int64
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if st, err := os.Stat(p); err == nil {
			total += st.Size()
		}
	}
	return float64(total) / (1 << 20)
}

// writeHeapProfile writes the heap profile to path (go tool pprof reads it).
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
