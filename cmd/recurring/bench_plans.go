//go:build !nodev

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/simulator"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/workflows"
)

// benchAmount is every bench installment's amount, in cents.
const benchAmount = 1000

// benchPlans starts n test-mode plans (fixed, hourly, two installments) whose first
// installment is due at one instant, on cards saved with the simulator, and measures
// how fast the engine charges them: the due→charged lag is the payment row's
// attempted_at (the workflow's clock when the charge answered) minus its due_at.
// Each card comes with an initial customer-initiated payment's network id, as a card
// saved at checkout does, so the measured installment is the steady-state kind: a
// merchant-initiated charge plus its ledger row.
func benchPlans(ctx context.Context, c client.Client, db *store.DB, reg *providers.Registry, n, cards int, dueIn time.Duration,
	bar func(int, string) *progressbar.ProgressBar) (benchResult, error) {
	bm, err := newBenchMerchant(ctx, db, reg, "Bench merchant", min(cards, n))
	if err != nil {
		return benchResult{}, err
	}

	// RFC 3339 has whole seconds: round the due instant up so it is at least dueIn away.
	dueAt := time.Now().Add(dueIn).Truncate(time.Second).Add(time.Second).UTC()
	amount, installments := int64(benchAmount), 2
	sched := billing.Schedule{Frequency: billing.FrequencyHours, RecurringAmount: &amount, Installments: &installments,
		StartDate: dueAt.Format(time.RFC3339)}
	tt, err := sched.Resolve(billing.ModeTest, time.Now())
	if err != nil {
		return benchResult{}, fmt.Errorf("bench schedule: %w", err)
	}
	if first, _ := tt.Installment(1); !first.DueAt.Equal(dueAt) {
		return benchResult{}, fmt.Errorf("bench schedule: installment 1 due at %s, want %s", first.DueAt, dueAt)
	}
	started := time.Now()
	ids, err := startBenchPlans(ctx, c, bm, "plan_bench", n, sched, tt, bar(n, "engine: starting plans"))
	if err != nil {
		return benchResult{}, err
	}
	startDur := time.Since(started)

	// Each plan's first activity writes its row; then it sleeps until the due instant.
	b := bar(n, "engine: plan rows")
	if err := waitForCount(ctx, db, `SELECT COUNT(*) FROM plans WHERE merchant_id = ?`, bm.caller.MerchantID, n, b, dueAt); err != nil {
		return benchResult{}, err
	}
	ready := time.Since(started)
	// The history one installment adds: sample a few plans asleep before the due
	// instant, and again asleep after the charge.
	sample := sampleIDs(ids, 20)
	before, err := asleepHistoryLengths(ctx, c, sample, dueAt)
	if err != nil {
		return benchResult{}, err
	}
	if time.Now().After(dueAt) {
		return benchResult{}, errors.New("starting the plans took longer than --due-in: raise it so every plan is asleep at the due instant")
	}

	cpu, err := startCPUAt(ctx, dueAt)
	if err != nil {
		return benchResult{}, err
	}
	b = bar(n, "engine: charging")
	if err := waitForCount(ctx, db, `SELECT COUNT(*) FROM payments WHERE merchant_id = ? AND installment = 1`, bm.caller.MerchantID, n, b, time.Time{}); err != nil {
		return benchResult{}, err
	}
	cpuPer := cpu.per(n)
	var rows []struct {
		Status      billing.PaymentStatus `db:"status"`
		DueAt       time.Time             `db:"due_at"`
		AttemptedAt time.Time             `db:"attempted_at"`
	}
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT status, due_at, attempted_at FROM payments
		WHERE merchant_id = ? AND installment = 1`), bm.caller.MerchantID); err != nil {
		return benchResult{}, fmt.Errorf("read payments: %w", err)
	}
	lags := make([]time.Duration, 0, len(rows))
	var last time.Time
	for _, r := range rows {
		if r.Status != billing.PaymentSucceeded {
			return benchResult{}, fmt.Errorf("an installment was not charged: payment status %q", r.Status)
		}
		lags = append(lags, r.AttemptedAt.Sub(r.DueAt))
		if r.AttemptedAt.After(last) {
			last = r.AttemptedAt
		}
	}

	events, err := historyLengths(ctx, c, ids, bar(n, "engine: histories"))
	if err != nil {
		return benchResult{}, err
	}
	res := benchResult{
		startRate: float64(n) / startDur.Seconds(),
		ready:     ready,
		drain:     last.Sub(dueAt),
		events:    mean(events), // one installment charged per plan
		added:     meanAdded(ids, events, sample, before),
		sampled:   len(sample),
		cpu:       cpuPer,
	}
	res.drainRate = float64(len(rows)) / max(res.drain.Seconds(), 0.001)
	res.lagStats(lags)
	return res, nil
}

// benchMerchant is a fresh test-mode merchant of a bench run, its API key, one
// customer, and k saved simulator cards with their initial network ids.
type benchMerchant struct {
	key       string
	caller    billing.Caller
	customer  billing.Customer
	pms, ntis []string
}

func newBenchMerchant(ctx context.Context, db *store.DB, reg *providers.Registry, name string, cards int) (benchMerchant, error) {
	bm := benchMerchant{key: store.NewSecretKey(billing.ModeTest)}
	m, err := db.CreateMerchant(ctx, name, bm.key)
	if err != nil {
		return bm, err
	}
	bm.caller = billing.Caller{MerchantID: m.ID, Mode: billing.ModeTest}
	if bm.customer, err = db.CreateCustomer(ctx, bm.caller, billing.NewCustomer{Email: "bench@example.com", FirstName: "Bench"}); err != nil {
		return bm, err
	}
	bm.pms, bm.ntis, err = benchCards(ctx, db, reg, bm.caller, bm.customer, cards)
	return bm, err
}

// startBenchPlans starts n plans of bm on tt (the i-th on card i mod cards, with its
// initial network id), 32 at a time, and returns their ids.
func startBenchPlans(ctx context.Context, c client.Client, bm benchMerchant, prefix string, n int, sched billing.Schedule,
	tt billing.Timetable, b *progressbar.ProgressBar) ([]string, error) {
	dunning, err := billing.DefaultDunningPolicy().Resolve(billing.ModeTest)
	if err != nil {
		return nil, err
	}
	rawSched, err := json.Marshal(sched)
	if err != nil {
		return nil, err
	}
	run := time.Now().UnixNano()
	ids := make([]string, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		ids[i] = fmt.Sprintf("%s%d_%d", prefix, run, i)
		in := workflows.PlanInput{
			PlanID: ids[i], MerchantID: bm.caller.MerchantID, Mode: billing.ModeTest, CustomerID: bm.customer.ID,
			PaymentMethodID: bm.pms[i%len(bm.pms)], Provider: simulator.Name, Currency: "USD", Type: "ecom",
			Reference: fmt.Sprintf("bench-%d", i), Timetable: tt, Dunning: dunning,
			InitialNetworkTransactionID: bm.ntis[i%len(bm.pms)],
			Create:                      &workflows.PlanCreate{Schedule: rawSched, CreatedAt: time.Now().UTC()},
		}
		g.Go(func() error {
			_, err := starter.StartPlan(gctx, c, in)
			_ = b.Add(1)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("start plans: %w", err)
	}
	_ = b.Finish()
	return ids, nil
}

// benchCards saves k simulator test cards (4242…, always approved) for the customer,
// each with an initial customer-initiated charge whose network id is kept on the card.
func benchCards(ctx context.Context, db *store.DB, reg *providers.Registry, caller billing.Caller, cus billing.Customer, k int) (pms, ntis []string, err error) {
	sim, err := reg.Get(simulator.Name)
	if err != nil {
		return nil, nil, err
	}
	for i := range k {
		ref, err := db.ProviderCustomerRef(ctx, caller, cus.ID, simulator.Name)
		if err != nil {
			return nil, nil, err
		}
		saved, err := sim.SaveCard(ctx, providers.SaveCardRequest{CustomerID: cus.ID, ProviderCustomerRef: ref, Email: cus.Email,
			Card: providers.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123"}})
		if err != nil {
			return nil, nil, fmt.Errorf("save bench card: %w", err)
		}
		pm, err := db.CreatePaymentMethod(ctx, caller, billing.NewPaymentMethod{
			CustomerID: cus.ID, Provider: simulator.Name, ProviderCustomerRef: saved.CustomerRef, Token: saved.Token,
			Card: billing.CardDetails{Brand: saved.Brand, Last4: saved.Last4, ExpMonth: saved.ExpMonth,
				ExpYear: saved.ExpYear, Fingerprint: saved.Fingerprint},
		})
		if err != nil {
			return nil, nil, err
		}
		initial, err := sim.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef,
			Amount: benchAmount, Currency: "USD", IdempotencyKey: fmt.Sprintf("bench_initial/%s/%d", pm.ID, i),
			Initiator: providers.InitiatorCustomer})
		if err != nil {
			return nil, nil, fmt.Errorf("initial charge of bench card: %w", err)
		}
		if err := db.RecordNetworkTransactionID(ctx, caller.MerchantID, pm.ID, initial.NetworkTransactionID); err != nil {
			return nil, nil, err
		}
		pms, ntis = append(pms, pm.ID), append(ntis, initial.NetworkTransactionID)
	}
	return pms, ntis, nil
}

// waitForCount polls query (one merchant_id argument) until it counts want rows,
// showing the count on b. It fails if deadline (when set) passes first, or if the count
// stops moving for two minutes.
func waitForCount(ctx context.Context, db *store.DB, query, merchantID string, want int, b *progressbar.ProgressBar, deadline time.Time) error {
	defer func() { _ = b.Finish() }()
	last, moved := -1, time.Now()
	for {
		var got int
		if err := db.GetContext(ctx, &got, db.Rebind(query), merchantID); err != nil {
			return fmt.Errorf("count rows: %w", err)
		}
		_ = b.Set(got)
		if got >= want {
			return nil
		}
		if got != last {
			last, moved = got, time.Now()
		}
		switch {
		case !deadline.IsZero() && time.Now().After(deadline):
			return fmt.Errorf("only %d of %d plans had written their row at the due instant: raise --due-in", got, want)
		case time.Since(moved) > 2*time.Minute:
			return fmt.Errorf("stuck at %d of %d rows for two minutes", got, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sampleIDs returns up to k ids spread evenly over ids.
func sampleIDs(ids []string, k int) []string {
	if len(ids) <= k {
		return ids
	}
	out := make([]string, k)
	for i := range k {
		out[i] = ids[i*len(ids)/k]
	}
	return out
}
