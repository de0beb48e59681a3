package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/internal/devserver"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/worker"
	"github.com/recurring/recurring/workflows"
)

// runBench starts N Baseline workflows (a durable timer, then one no-op activity) all
// due at one instant on a fresh embedded server, and reports how fast the server drains
// them. The plan workflow's own run joins it once plans exist.
func runBench(ctx context.Context, args []string, _ map[string]string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("workflows", 1000, "workflows due at the same instant")
	dueIn := fs.Duration("due-in", 0, "how long after the start they fall due (0: long enough to start them all)")
	pollers := fs.Int("pollers", 0, "worker pollers (0: the worker's default)")
	dataDir := fs.String("data-dir", "", "embedded server data dir (default: a temporary dir, removed afterwards)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *n < 1 {
		return usageError{"--workflows must be at least 1"}
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
	srv, err := devserver.Start(devserver.Options{DataDir: dir, UIPort: -1, Namespace: devNamespace, SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		return err
	}
	defer srv.Stop()
	// Only warnings: the SDK logs every activity at debug level otherwise.
	logger, _ := newLogger(stderr, "warn")
	c, err := starter.Dial(ctx, starter.Config{HostPort: srv.HostPort, Namespace: devNamespace, Logger: logger})
	if err != nil {
		return err
	}
	defer c.Close()
	w := worker.New(c, activities.New(activities.Deps{}), worker.Options{Pollers: *pollers})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()

	if *dueIn == 0 {
		*dueIn = max(5*time.Second, time.Duration(*n)*10*time.Millisecond)
	}
	res, err := benchBaseline(ctx, c, *n, *dueIn, progress(stderr, *quiet))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "bare workflow (timer + 1 no-op activity), %d due at once on the embedded server:\n", *n)
	fmt.Fprintf(stdout, "  started:        %.0f workflows/s\n", res.startRate)
	fmt.Fprintf(stdout, "  drained:        %.0f workflows/s (%s from due instant to last completion)\n", res.drainRate, res.drain.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  due→ran lag:    p50 %s  p99 %s  max %s\n", res.p50.Round(time.Millisecond), res.p99.Round(time.Millisecond), res.max.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  history events: %d per workflow\n", res.events)
	return nil
}

type benchResult struct {
	startRate, drainRate float64
	drain, p50, p99, max time.Duration
	events               int64
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

func benchBaseline(ctx context.Context, c client.Client, n int, dueIn time.Duration, bar func(int, string) *progressbar.ProgressBar) (benchResult, error) {
	run := time.Now().UnixNano()
	dueAt := time.Now().Add(dueIn).UTC()
	runs := make([]client.WorkflowRun, n)
	started := time.Now()
	b := bar(n, "starting")
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			r, err := c.ExecuteWorkflow(gctx, client.StartWorkflowOptions{
				ID: fmt.Sprintf("bench_%d_%d", run, i), TaskQueue: starter.TaskQueue,
			}, workflows.Baseline, workflows.BaselineInput{DueAt: dueAt})
			runs[i] = r
			_ = b.Add(1)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return benchResult{}, fmt.Errorf("start workflows: %w", err)
	}
	startDur := time.Since(started)
	if time.Now().After(dueAt) {
		return benchResult{}, errors.New("starting took longer than --due-in: raise it so every workflow is asleep at the due instant")
	}
	_ = b.Finish()

	lags := make([]time.Duration, n)
	var mu sync.Mutex
	var last time.Time
	b = bar(n, "draining")
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
	_ = b.Finish()
	desc, err := c.DescribeWorkflowExecution(ctx, runs[0].GetID(), runs[0].GetRunID())
	if err != nil {
		return benchResult{}, err
	}
	slices.Sort(lags)
	drain := last.Sub(dueAt)
	return benchResult{
		startRate: float64(n) / startDur.Seconds(),
		drainRate: float64(n) / max(drain.Seconds(), 0.001),
		drain:     drain,
		p50:       lags[n/2], p99: lags[min(n-1, n*99/100)], max: lags[n-1],
		events: desc.GetWorkflowExecutionInfo().GetHistoryLength(),
	}, nil
}
