//go:build !nodev

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/recurring/recurring/api"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/workflows"
)

// createResult compares creating plans through the HTTP API with bare workflow starts.
type createResult struct {
	n         int
	api, bare float64 // per second
}

// benchCreates creates n plans through POST /v1/plans (the API served on a local
// listener, 32 clients, each answer a 201 with the plan's row written) and starts n
// bare sleeping workflows with StartWorkflow (32 at a time) on the same server, and
// returns both rates.
func benchCreates(ctx context.Context, c client.Client, db *store.DB, reg *providers.Registry, n int,
	bar func(int, string) *progressbar.ProgressBar) (createResult, error) {
	bm, err := newBenchMerchant(ctx, db, reg, "Bench creates", 1)
	if err != nil {
		return createResult{}, err
	}
	srv := httptest.NewServer(api.New(api.Deps{Store: db, Providers: reg, Temporal: c,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	defer srv.Close()
	body := fmt.Sprintf(`{"customer":%q,"payment_method":%q,"currency":"USD","schedule":{"frequency":"months","start_date":%q,"recurring_amount":%d,"installments":12}}`,
		bm.customer.ID, bm.pms[0], time.Now().AddDate(0, 1, 0).UTC().Format(time.RFC3339), benchAmount)
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	rate := func(label string, one func(ctx context.Context, i int) error) (float64, error) {
		b := bar(n, label)
		started := time.Now()
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(32)
		for i := range n {
			g.Go(func() error {
				err := one(gctx, i)
				_ = b.Add(1)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return 0, err
		}
		_ = b.Finish()
		return float64(n) / time.Since(started).Seconds(), nil
	}
	apiRate, err := rate("creates: POST /v1/plans", func(ctx context.Context, _ int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/plans", strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+bm.key)
		req.Header.Set("Content-Type", "application/json")
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		out, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST /v1/plans answered %d: %s", res.StatusCode, out)
		}
		return nil
	})
	if err != nil {
		return createResult{}, err
	}
	run := time.Now().UnixNano()
	due := time.Now().AddDate(0, 1, 0)
	bareRate, err := rate("creates: bare starts", func(ctx context.Context, i int) error {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("bench_start_%d_%d", run, i), TaskQueue: starter.TaskQueue},
			workflows.Baseline, workflows.BaselineInput{DueAt: due, TimerOnly: true})
		return err
	})
	if err != nil {
		return createResult{}, err
	}
	return createResult{n: n, api: apiRate, bare: bareRate}, nil
}
