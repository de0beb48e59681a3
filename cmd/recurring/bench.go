//go:build !nodev

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/internal/devserver"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/worker"
	"github.com/recurring/recurring/workflows"
)

// runBench measures bursts on the embedded server with the worker in the same process,
// wired as `recurring dev` wires it: N timer-only workflows (the box's ceiling), N bare
// workflows (a durable timer, then one no-op activity), N plans whose first
// installment is due at one instant (charged through the simulator, recorded in the
// SQLite store), and plan creation through the API against bare starts. Each phase
// runs on its own fresh server and store, so none inherits another's history, caches
// or database; --rounds repeats them in a rotated order and reports medians.
func runBench(ctx context.Context, args []string, _ map[string]string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("workflows", 1000, "workflows (bare run) and plans (engine run) due at the same instant")
	dueIn := fs.Duration("due-in", 0, "how long after each run's start its workflows fall due (0: long enough to start them all)")
	pollers := fs.Int("pollers", 0, "worker pollers (0: the worker's default)")
	dataDir := fs.String("data-dir", "", "embedded servers' and stores' data dir, one subdirectory per phase (default: a temporary dir, removed afterwards)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	only := fs.String("only", "", `run only "timer", "bare", "engine" or "create" (default: all)`)
	rounds := fs.Int("rounds", 1, "run the phases this many times, each on a fresh server, in a rotated order; figures are medians")
	cards := fs.Int("cards", 10, "saved simulator cards the plans share (round robin)")
	sleeping := fs.Int("sleeping", 0, "instead of the bursts: create this many plans due a month out and report memory, idle CPU and database sizes")
	idle := fs.Duration("idle", time.Minute, "with --sleeping: how long to measure idle CPU")
	workflowCache := fs.Int("workflow-cache", worker.DefaultCacheSize, "workflows the worker keeps in memory between tasks")
	historyCache := fs.Int("history-cache", devserver.DefaultHistoryCacheSize, "workflows the embedded server's history service keeps in memory")
	stickyTimeout := fs.Duration("sticky-timeout", worker.DefaultStickyTimeout, "how long a workflow task waits for the worker that has the workflow cached before any worker takes it")
	asJSON := fs.Bool("json", false, "print one JSON object with the figures last")
	memProfile := fs.String("memprofile", "", "with --sleeping: write a heap profile here after the idle window")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("bench takes no arguments, got %q", fs.Args())}
	}
	if *n < 1 {
		return usageError{"--workflows must be at least 1"}
	}
	if *only != "" && *only != "timer" && *only != "bare" && *only != "engine" && *only != "create" {
		return usageError{`--only must be "timer", "bare", "engine" or "create"`}
	}
	if *cards < 1 {
		return usageError{"--cards must be at least 1"}
	}
	if *dueIn < 0 {
		return usageError{"--due-in must not be negative"}
	}
	if *rounds < 1 || *rounds > 20 {
		return usageError{"--rounds must be 1 to 20"}
	}
	if *sleeping < 0 || *idle <= 0 || *workflowCache < 1 || *historyCache < 1 || *stickyTimeout <= 0 {
		return usageError{"--sleeping must not be negative; --idle, --workflow-cache, --history-cache and --sticky-timeout must be positive"}
	}
	dir := *dataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "recurring-bench-")
		if err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(tmp) }()
		dir = tmp
	}
	// The same rule as dev: one process per data dir.
	lock, err := devserver.LockDataDir(dir)
	if err != nil {
		return fmt.Errorf("%w: stop the process using it, or pass another --data-dir", err)
	}
	defer func() { _ = lock.Unlock() }()
	// Only warnings: the SDK logs every activity at debug level otherwise.
	logger, _ := newLogger(stderr, "warn")
	opts := benchEnvOptions{historyCache: *historyCache, worker: worker.Options{Pollers: *pollers, CacheSize: *workflowCache,
		StickyTimeout: *stickyTimeout}, logger: logger}
	bar := progress(stderr, *quiet)

	if *sleeping > 0 {
		e, err := openBenchEnv(ctx, dir, opts)
		if err != nil {
			return err
		}
		defer e.close()
		res, err := benchSleeping(ctx, e.c, e.db, e.reg, dir, *sleeping, *cards, *idle, bar)
		if err != nil {
			return err
		}
		if *memProfile != "" {
			if err := writeHeapProfile(*memProfile); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "%d plans asleep until a month out (worker cache %d, history cache %d):\n", res.Plans, *workflowCache, *historyCache)
		fmt.Fprintf(stdout, "  created:        %.0f plans/s\n", res.CreateRate)
		fmt.Fprintf(stdout, "  RSS:            %.0f MB after creating them, %.0f MB after %s idle\n", res.RSSAfterCreateMB, res.RSSIdleMB, *idle)
		fmt.Fprintf(stdout, "  idle memory:    Go heap %.0f MB, goroutine stacks %.0f MB (%d goroutines)\n", res.GoHeapMB, res.StacksMB, res.Goroutines)
		fmt.Fprintf(stdout, "  idle CPU:       %.1f%% of one core\n", res.IdleCPUPercent)
		fmt.Fprintf(stdout, "  databases:      temporal.db %.1f MB, recurring.db %.1f MB\n", res.TemporalDBMB, res.AppDBMB)
		if *asJSON {
			return json.NewEncoder(stdout).Encode(res)
		}
		return nil
	}

	phases := []string{"timer", "bare", "engine", "create"}
	if *only != "" {
		phases = []string{*only}
	}
	runs := map[string][]benchResult{}
	var createRuns []createResult
	for round := range *rounds {
		for i := range phases {
			phase := phases[(i+round)%len(phases)] // rotated, so no phase always goes first
			sub := filepath.Join(dir, fmt.Sprintf("round%d-%s", round+1, phase))
			e, err := openBenchEnv(ctx, sub, opts)
			if err != nil {
				return err
			}
			var r benchResult
			var cr createResult
			switch phase {
			case "timer", "bare":
				r, err = benchBaseline(ctx, e.c, *n, bareDueIn(*dueIn, *n), phase == "timer", bar)
			case "engine":
				d := *dueIn
				if d == 0 {
					// Each plan writes its row before it sleeps, so starting takes longer.
					d = max(10*time.Second, time.Duration(*n)*30*time.Millisecond)
				}
				r, err = benchPlans(ctx, e.c, e.db, e.reg, *n, *cards, d, bar)
			case "create":
				cr, err = benchCreates(ctx, e.c, e.db, e.reg, min(*n, 2000), bar)
			}
			e.close()
			if *dataDir == "" {
				_ = os.RemoveAll(sub) // a phase's databases are not needed once measured
			}
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round+1, phase, err)
			}
			if phase == "create" {
				createRuns = append(createRuns, cr)
				fmt.Fprintf(stdout, "round %d, creation, 32 concurrent clients, %d each way: POST /v1/plans %.0f plans/s, bare starts %.0f workflows/s\n",
					round+1, cr.n, cr.api, cr.bare)
				continue
			}
			runs[phase] = append(runs[phase], r)
			fmt.Fprintf(stdout, "round %d, %s: drained %.0f/s, lag %s, CPU %s per workflow\n", round+1, phase, r.drainRate, r.lagString(), r.cpuString())
		}
	}
	timer, bare, engine := medianResult(runs["timer"]), medianResult(runs["bare"]), medianResult(runs["engine"])
	creates := medianCreates(createRuns)
	of := fmt.Sprintf("median of %d fresh-server runs", *rounds)
	if *rounds == 1 {
		of = "one fresh-server run"
	}
	if len(runs["timer"]) > 0 {
		fmt.Fprintf(stdout, "timer-only workflow (sleeps until due, completes), %d due at once, %s: the box's ceiling\n", *n, of)
		printBare(stdout, timer)
	}
	if len(runs["bare"]) > 0 {
		fmt.Fprintf(stdout, "bare workflow (timer + 1 no-op activity), %d due at once, %s:\n", *n, of)
		printBare(stdout, bare)
	}
	if len(runs["engine"]) > 0 {
		fmt.Fprintf(stdout, "engine (plan workflows, Charge on the simulator, SQLite store), %d first installments due at once, %s:\n", *n, of)
		fmt.Fprintf(stdout, "  started:        %.0f plans/s (StartPlan), all rows written and asleep after %s\n", engine.startRate, engine.ready.Round(time.Millisecond))
		fmt.Fprintf(stdout, "  drained:        %.0f installments/s (%s from due instant to last charge)\n", engine.drainRate, engine.drain.Round(time.Millisecond))
		fmt.Fprintf(stdout, "  due→charged lag: %s (payments.attempted_at − due_at; goal p99 ≤ N/rate + 5 s = %s)\n", engine.lagString(),
			lagGoal(*n, engine.drainRate).Round(time.Millisecond))
		fmt.Fprintf(stdout, "  process CPU:    %s per installment while draining\n", engine.cpuString())
		fmt.Fprintf(stdout, "  history events: %.1f per installment charged (whole run: start, row, timer, charge, next timer)\n", engine.events)
		fmt.Fprintf(stdout, "                  %.1f added by the installment itself (asleep → asleep again, %d plans sampled)\n", engine.added, engine.sampled)
	}
	if len(createRuns) > 0 {
		fmt.Fprintf(stdout, "creation, 32 concurrent clients, %d each way, %s:\n", creates.n, of)
		fmt.Fprintf(stdout, "  POST /v1/plans:  %.0f plans/s (answered 201 with the row written)\n", creates.api)
		fmt.Fprintf(stdout, "  bare starts:     %.0f workflows/s (StartWorkflow of a sleeping workflow)\n", creates.bare)
	}
	if *only == "" {
		fmt.Fprintf(stdout, "engine/bare drain rate: %.2f   CPU per installment engine/timer-only: %.2f (engine/bare %.2f)   creates API/bare: %.2f\n",
			ratio(engine.drainRate, bare.drainRate), ratio(engine.cpu.Seconds(), timer.cpu.Seconds()),
			ratio(engine.cpu.Seconds(), bare.cpu.Seconds()), ratio(creates.api, creates.bare))
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(benchJSON{
			Workflows: *n, Rounds: *rounds, TimerOnlyCPUms: ms(timer.cpu), EngineCPUms: ms(engine.cpu), CPURatioVsTimer: ratio(engine.cpu.Seconds(), timer.cpu.Seconds()),
			TimerDrain: timer.drainRate, BareDrain: bare.drainRate, EngineDrain: engine.drainRate, DrainRatio: ratio(engine.drainRate, bare.drainRate),
			LagP50: engine.p50.Seconds(), LagP99: engine.p99.Seconds(), LagGoalP99: lagGoal(*n, engine.drainRate).Seconds(),
			EventsPerInstallment: engine.added,
			APICreates:           creates.api, BareStarts: creates.bare, CreateRatio: ratio(creates.api, creates.bare), RSSMB: processRSSMB(),
		})
	}
	return nil
}

// lagGoal is issue 14's bound on a burst's p99 due→charged lag: the time n charges
// take at rate, plus 5 s (0 when nothing was measured).
func lagGoal(n int, rate float64) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(n)/rate*float64(time.Second)) + 5*time.Second
}

// medianResult returns each figure's median over rs (the zero result for none).
func medianResult(rs []benchResult) benchResult {
	if len(rs) == 0 {
		return benchResult{}
	}
	f := func(get func(benchResult) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = get(r)
		}
		return median(xs)
	}
	d := func(get func(benchResult) time.Duration) time.Duration {
		return time.Duration(f(func(r benchResult) float64 { return float64(get(r)) }))
	}
	return benchResult{
		startRate: f(func(r benchResult) float64 { return r.startRate }),
		drainRate: f(func(r benchResult) float64 { return r.drainRate }),
		drain:     d(func(r benchResult) time.Duration { return r.drain }),
		p50:       d(func(r benchResult) time.Duration { return r.p50 }),
		p99:       d(func(r benchResult) time.Duration { return r.p99 }),
		max:       d(func(r benchResult) time.Duration { return r.max }),
		events:    f(func(r benchResult) float64 { return r.events }),
		added:     f(func(r benchResult) float64 { return r.added }),
		sampled:   rs[0].sampled,
		ready:     d(func(r benchResult) time.Duration { return r.ready }),
		cpu:       d(func(r benchResult) time.Duration { return r.cpu }),
	}
}

// medianCreates returns the median creation rates over rs.
func medianCreates(rs []createResult) createResult {
	if len(rs) == 0 {
		return createResult{}
	}
	api, bare := make([]float64, len(rs)), make([]float64, len(rs))
	for i, r := range rs {
		api[i], bare[i] = r.api, r.bare
	}
	return createResult{n: rs[0].n, api: median(api), bare: median(bare)}
}

// median returns the middle value of xs (the mean of the two middle ones for an even
// count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchEnvOptions configures each phase's fresh server and worker.
type benchEnvOptions struct {
	historyCache int
	worker       worker.Options
	logger       *slog.Logger
}

// benchEnv is one fresh embedded server, with the app store, providers and a worker
// exactly as `recurring dev` has them.
type benchEnv struct {
	c       client.Client
	db      *store.DB
	reg     *providers.Registry
	closers []func()
}

func (e *benchEnv) close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// openBenchEnv starts a server, store and worker in dir (created if needed).
func openBenchEnv(ctx context.Context, dir string, o benchEnvOptions) (_ *benchEnv, err error) {
	e := &benchEnv{}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	srv, err := devserver.Start(devserver.Options{DataDir: dir, UIPort: -1, Namespace: devNamespace, SearchAttributes: workflows.SearchAttributes(),
		HistoryCacheSize: o.historyCache})
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, srv.Stop)
	if e.c, err = starter.Dial(ctx, starter.Config{HostPort: srv.HostPort, Namespace: devNamespace, Logger: o.logger}); err != nil {
		return nil, err
	}
	e.closers = append(e.closers, e.c.Close)
	if err := starter.EnsureSearchAttributes(ctx, e.c, devNamespace); err != nil {
		return nil, err
	}
	if e.db, err = store.Open(ctx, "sqlite:"+filepath.Join(dir, "recurring.db")); err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() { _ = e.db.Close() })
	if _, err := e.db.Migrate(ctx); err != nil {
		return nil, err
	}
	if e.db.Keyring, err = seal.Parse(seal.Generate("bench1")); err != nil {
		return nil, err
	}
	if e.reg, err = buildProviders(providerSettings{simulatorVaultKey: randomBytes(32), simulatorJournal: e.db.SimulatorJournal()}); err != nil {
		return nil, err
	}
	w := worker.New(e.c, activities.New(activities.Deps{Providers: e.reg, PaymentMethods: e.db, Ledger: e.db, Logger: o.logger}), o.worker)
	if err := w.Start(); err != nil {
		return nil, err
	}
	e.closers = append(e.closers, w.Stop)
	return e, nil
}

// benchJSON is `recurring bench --json`'s last line.
type benchJSON struct {
	Workflows            int     `json:"workflows"`
	Rounds               int     `json:"rounds"`
	TimerOnlyCPUms       float64 `json:"timer_only_cpu_ms"`
	EngineCPUms          float64 `json:"engine_cpu_ms_per_installment"`
	CPURatioVsTimer      float64 `json:"cpu_ratio_vs_timer"`
	TimerDrain           float64 `json:"timer_only_drain_per_s"`
	BareDrain            float64 `json:"bare_drain_per_s"`
	EngineDrain          float64 `json:"engine_drain_per_s"`
	DrainRatio           float64 `json:"drain_ratio"`
	LagP50               float64 `json:"lag_p50_s"`
	LagP99               float64 `json:"lag_p99_s"`
	LagGoalP99           float64 `json:"lag_goal_p99_s"`
	EventsPerInstallment float64 `json:"events_per_installment"`
	APICreates           float64 `json:"api_creates_per_s"`
	BareStarts           float64 `json:"bare_starts_per_s"`
	CreateRatio          float64 `json:"create_ratio"`
	RSSMB                float64 `json:"rss_mb"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// bareDueIn is how long after its start a bare run's workflows fall due.
func bareDueIn(dueIn time.Duration, n int) time.Duration {
	if dueIn > 0 {
		return dueIn
	}
	return max(5*time.Second, time.Duration(n)*10*time.Millisecond)
}

func printBare(stdout io.Writer, r benchResult) {
	fmt.Fprintf(stdout, "  started:        %.0f workflows/s\n", r.startRate)
	fmt.Fprintf(stdout, "  drained:        %.0f workflows/s (%s from due instant to last completion)\n", r.drainRate, r.drain.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  due→ran lag:    %s\n", r.lagString())
	fmt.Fprintf(stdout, "  process CPU:    %s per workflow while draining\n", r.cpuString())
	fmt.Fprintf(stdout, "  history events: %.1f per workflow (mean); %.1f added after the timer was set (%d sampled)\n", r.events, r.added, r.sampled)
}

type benchResult struct {
	startRate, drainRate float64
	drain, p50, p99, max time.Duration
	// events is the mean history length per workflow (plans: per installment charged).
	events float64
	// added is how many events the sampled workflows' histories grew by from asleep
	// on the timer to the end (plans: asleep on the next installment's timer).
	added   float64
	sampled int
	// ready (plans): how long until every plan had written its row.
	ready time.Duration
	// cpu is the process's CPU time per workflow (plans: per installment) from the due
	// instant until the last one was seen done: server, worker and stores together.
	// Unlike the drain rate it barely moves when other work shares the machine.
	cpu time.Duration
}

func (r benchResult) lagString() string {
	return fmt.Sprintf("p50 %s  p99 %s  max %s", r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.max.Round(time.Millisecond))
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ratio returns a/b, or 0 when b is not positive (a run was skipped).
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// lagStats fills the lag percentiles from unsorted lags.
func (r *benchResult) lagStats(lags []time.Duration) {
	slices.Sort(lags)
	r.p50, r.p99, r.max = percentile(lags, 50), percentile(lags, 99), percentile(lags, 100)
}

// cpuMeter measures the process's CPU time from the due instant on.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

// startCPUAt waits until at and starts measuring.
func startCPUAt(ctx context.Context, at time.Time) (cpuMeter, error) {
	select {
	case <-ctx.Done():
		return cpuMeter{}, ctx.Err()
	case <-time.After(time.Until(at)):
	}
	start, ok := processCPU()
	return cpuMeter{start: start, ok: ok}, nil
}

// per returns the CPU used since the start divided by n (0 when not measured).
func (m cpuMeter) per(n int) time.Duration {
	now, ok := processCPU()
	if !m.ok || !ok || n < 1 {
		return 0
	}
	return (now - m.start) / time.Duration(n)
}

func (r benchResult) cpuString() string {
	if r.cpu == 0 {
		return "not measured on this platform"
	}
	return r.cpu.Round(10 * time.Microsecond).String()
}

func progress(w io.Writer, quiet bool) func(total int, desc string) *progressbar.ProgressBar {
	return func(total int, desc string) *progressbar.ProgressBar {
		if quiet {
			return progressbar.DefaultSilent(int64(total), desc)
		}
		return progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionClearOnFinish())
	}
}

func benchBaseline(ctx context.Context, c client.Client, n int, dueIn time.Duration, timerOnly bool, bar func(int, string) *progressbar.ProgressBar) (benchResult, error) {
	run := time.Now().UnixNano()
	dueAt := time.Now().Add(dueIn).UTC()
	runs := make([]client.WorkflowRun, n)
	started := time.Now()
	b := bar(n, "bare: starting")
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			r, err := c.ExecuteWorkflow(gctx, client.StartWorkflowOptions{
				ID: fmt.Sprintf("bench_%d_%d", run, i), TaskQueue: starter.TaskQueue,
			}, workflows.Baseline, workflows.BaselineInput{DueAt: dueAt, TimerOnly: timerOnly})
			runs[i] = r
			_ = b.Add(1)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return benchResult{}, fmt.Errorf("start workflows: %w", err)
	}
	startDur := time.Since(started)
	_ = b.Finish()
	ids := make([]string, n)
	for i, r := range runs {
		ids[i] = r.GetID()
	}
	sample := sampleIDs(ids, 20)
	before, err := asleepHistoryLengths(ctx, c, sample, dueAt)
	if err != nil {
		return benchResult{}, err
	}
	if time.Now().After(dueAt) {
		return benchResult{}, errors.New("starting took longer than --due-in: raise it so every workflow is asleep at the due instant")
	}

	cpu, err := startCPUAt(ctx, dueAt)
	if err != nil {
		return benchResult{}, err
	}
	lags := make([]time.Duration, n)
	var mu sync.Mutex
	var last time.Time
	b = bar(n, "bare: draining")
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i, r := range runs {
		g.Go(func() error {
			var out workflows.BaselineResult
			if err := r.Get(gctx, &out); err != nil {
				return err
			}
			lags[i] = out.RanAt.Sub(out.DueAt)
			mu.Lock()
			if out.RanAt.After(last) {
				last = out.RanAt
			}
			mu.Unlock()
			_ = b.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return benchResult{}, fmt.Errorf("wait for workflows: %w", err)
	}
	cpuPer := cpu.per(n)
	_ = b.Finish()
	events, err := historyLengths(ctx, c, ids, bar(n, "bare: histories"))
	if err != nil {
		return benchResult{}, err
	}
	drain := last.Sub(dueAt)
	res := benchResult{
		startRate: float64(n) / startDur.Seconds(),
		drainRate: float64(n) / max(drain.Seconds(), 0.001),
		drain:     drain,
		events:    mean(events),
		added:     meanAdded(ids, events, sample, before),
		sampled:   len(sample),
		cpu:       cpuPer,
	}
	res.lagStats(lags)
	return res, nil
}

// asleepHistoryLengths returns the history length of each sampled workflow once it
// sleeps on its timer, giving up on a workflow a second before the due instant.
func asleepHistoryLengths(ctx context.Context, c client.Client, sample []string, dueAt time.Time) ([]int64, error) {
	out := make([]int64, len(sample))
	for i, id := range sample {
		var err error
		if out[i], err = settledHistoryLength(ctx, c, id, dueAt.Add(-time.Second)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// meanAdded returns the mean number of events the sampled workflows' histories grew
// by between before and events (the lengths of every id, in ids' order).
func meanAdded(ids []string, events []int64, sample []string, before []int64) float64 {
	pos := make(map[string]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	added := make([]int64, len(sample))
	for i, id := range sample {
		added[i] = events[pos[id]] - before[i]
	}
	return mean(added)
}

// historyLengths returns each workflow's current history length, once nothing is in
// flight on it (no workflow task, no activity), so a plan that just charged is counted
// with the timer it sets next.
func historyLengths(ctx context.Context, c client.Client, ids []string, b *progressbar.ProgressBar) ([]int64, error) {
	out := make([]int64, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, id := range ids {
		g.Go(func() error {
			l, err := settledHistoryLength(gctx, c, id, time.Now().Add(30*time.Second))
			out[i] = l
			_ = b.Add(1)
			return err
		})
	}
	err := g.Wait()
	_ = b.Finish()
	return out, err
}

// settledHistoryLength describes the workflow until it has no workflow task or
// activity pending (or until the deadline) and returns its history length.
func settledHistoryLength(ctx context.Context, c client.Client, id string, deadline time.Time) (int64, error) {
	for {
		d, err := c.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return 0, fmt.Errorf("describe %s: %w", id, err)
		}
		if (d.GetPendingWorkflowTask() == nil && len(d.GetPendingActivities()) == 0) || time.Now().After(deadline) {
			return d.GetWorkflowExecutionInfo().GetHistoryLength(), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func mean[T int64 | float64](xs []T) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += float64(x)
	}
	return sum / float64(len(xs))
}

// The embedded server (and so this command) is left out of the production image,
// built with -tags nodev.
func init() {
	commands["bench"] = command{run: runBench, flagArgs: []string{"-h"}, help: `Usage: recurring bench [flags]

Load test on a fresh embedded server: bare workflows, then plans, all due at one
instant; reports both drain rates.
`}
}
