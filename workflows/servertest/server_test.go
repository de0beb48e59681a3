// Package servertest runs the plan workflow on a real Temporal server (the embedded one
// of `recurring dev`) with the real store: it checks what the time-skipping test
// environment cannot (real history lengths across continue-as-new, update rejections
// and finished-plan errors as clients see them), and records the histories the replay
// test in package workflows replays. Re-record with:
//
//	go test ./workflows/servertest -run TestPlanOnRealServer -record
package servertest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/devserver"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/worker"
	"github.com/recurring/recurring/workflows"
)

var record = flag.Bool("record", false, "write the plan's run histories to workflows/testdata for the replay test")

const namespace = "default"

type env struct {
	c        client.Client
	db       *store.DB
	provider *activitiestest.Provider
	merchant string
}

func start(t *testing.T, respond func(activitiestest.Call) (providers.ChargeResult, error)) *env {
	t.Helper()
	return startLogging(t, respond, nil)
}

// startLogging is start with the client's logger (which the worker, the SDK and
// workflow.GetLogger write to) and the activities' logger set to logger; nil discards.
func startLogging(t *testing.T, respond func(activitiestest.Call) (providers.ChargeResult, error), logger *slog.Logger) *env {
	t.Helper()
	return startEnv(t, respond, logger, oneCard(), &activitiestest.Notifier{})
}

// oneCard is the card store most tests charge: pm_card1 at the fake provider.
func oneCard() *activitiestest.PaymentMethods {
	return activitiestest.NewPaymentMethods(map[string]activitiestest.Card{
		"pm_card1": {Provider: "fake", Token: "tok_1"},
	})
}

// startEnv runs the embedded server and a worker whose activities charge respond's
// fake provider, read cards from cards, tell customers through notifier, and keep
// the ledger and webhook deliveries in a SQLite store with a keyring.
func startEnv(t *testing.T, respond func(activitiestest.Call) (providers.ChargeResult, error), logger *slog.Logger,
	cards *activitiestest.PaymentMethods, notifier *activitiestest.Notifier, options ...any) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Temporal server: skipped with -short")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sdkLogger := quiet
	if logger != nil {
		sdkLogger = logger
	}
	dir := t.TempDir()
	srv, err := devserver.Start(devserver.Options{DataDir: dir, UIPort: -1, Namespace: namespace,
		SearchAttributes: workflows.SearchAttributes(), Logger: quiet})
	if err != nil {
		t.Fatalf("start temporal: %v", err)
	}
	t.Cleanup(srv.Stop)
	ctx := context.Background()
	dial := starter.Config{HostPort: srv.HostPort, Namespace: namespace, Logger: sdkLogger}
	for _, o := range options {
		if o, ok := o.(func(*starter.Config)); ok {
			o(&dial) // the client the worker and the test use (a payload codec)
		}
	}
	c, err := starter.Dial(ctx, dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := starter.EnsureSearchAttributes(ctx, c, namespace); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "recurring.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if db.Keyring, err = seal.Parse(seal.Generate("k1")); err != nil {
		t.Fatal(err)
	}
	m, err := db.CreateMerchant(ctx, "Acme", store.NewSecretKey(billing.ModeTest))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{c: c, db: db, merchant: m.ID, provider: &activitiestest.Provider{ProviderName: "fake", Respond: respond}}
	deps := activities.Deps{
		Providers: activitiestest.Providers{"fake": e.provider}, PaymentMethods: cards,
		Ledger: db, Refunds: db, Credentials: db, PlanTerms: db, Upcoming: db, Notifier: notifier, Webhooks: db, Sessions: db, Plans: starter.PlanCards{Client: c}, Logger: sdkLogger,
	}
	for _, o := range options {
		if o, ok := o.(func(*activities.Deps, *store.DB)); ok {
			o(&deps, db)
		}
	}
	w := worker.New(c, activities.New(deps), worker.Options{Pollers: 4})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return e
}

// waitFor polls the plan's state until ok accepts it.
func waitFor(t *testing.T, c client.Client, planID string, what string, ok func(workflows.PlanState) bool) workflows.PlanState {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, err := starter.PlanState(context.Background(), c, planID)
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: last state %+v, err %v", what, st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestPlanOnRealServer(t *testing.T) {
	e := start(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.IdempotencyKey == "plan_servertest/6/1" {
			return providers.ChargeResult{}, &providers.Error{Class: providers.ClassSoftDecline, Code: billing.CodeInsufficientFunds}
		}
		return activitiestest.Succeed(c)
	})
	ctx := context.Background()
	n, every, amount := 8, 2, int64(1000)
	tt, err := billing.Schedule{
		Frequency: billing.FrequencySeconds, FrequencyDuration: &every, RecurringAmount: &amount, Installments: &n,
		StartDate: time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339),
	}.Resolve(billing.ModeTest, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dunning, err := billing.DunningPolicy{Retries: []billing.Duration{billing.Duration(2 * time.Second)}}.Resolve(billing.ModeTest)
	if err != nil {
		t.Fatal(err)
	}
	in := workflows.PlanInput{
		PlanID: "plan_servertest", MerchantID: e.merchant, Mode: billing.ModeTest, CustomerID: "cus_1",
		PaymentMethodID: "pm_card1", Provider: "fake", Currency: "USD", Type: "ecom", Timetable: tt, Dunning: dunning,
		InitialNetworkTransactionID: "nti_initial", MaxRunEvents: 80,
		Create: &workflows.PlanCreate{MerchantData: []byte(`{"order":"A-1"}`)},
	}
	run, err := starter.StartPlan(ctx, e.c, in)
	if err != nil {
		t.Fatal(err)
	}
	// Starting again with the same id finds the same workflow.
	again, err := starter.StartPlan(ctx, e.c, in)
	if err != nil || again.GetRunID() != run.GetRunID() {
		t.Fatalf("second start: run %v, %v; want the running one", again, err)
	}

	waitFor(t, e.c, in.PlanID, "the first charge", func(st workflows.PlanState) bool { return st.Paid >= 1 })
	if _, err := starter.ResumePlan(ctx, e.c, in.PlanID); billing.KindOf(err) != billing.KindConflict || !hasCode(err, billing.CodeInvalidTransition) {
		t.Errorf("resume an active plan: %v, want a conflict invalid_transition", err)
	}
	if _, err := starter.ChangePlanPaymentMethod(ctx, e.c, in.PlanID, workflows.ChangePaymentMethodRequest{PaymentMethodID: "card"}); billing.KindOf(err) != billing.KindInvalid {
		t.Errorf("change to a non-pm id: %v, want invalid", err)
	}
	st, err := starter.SkipNextInstallment(ctx, e.c, in.PlanID)
	if err != nil || st.Skipped != 1 && len(st.SkipInstallments) != 1 {
		t.Errorf("skip_next: %+v, %v", st, err)
	}
	waitFor(t, e.c, in.PlanID, "the fourth installment", func(st workflows.PlanState) bool { return st.NextInstallment >= 5 })
	if err := starter.BlockPlan(ctx, e.c, in.PlanID, "pm_card1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e.c, in.PlanID, "blocked", func(st workflows.PlanState) bool { return st.Status == billing.PlanBlocked })
	time.Sleep(3 * time.Second)
	if err := starter.UnblockPlan(ctx, e.c, in.PlanID, "pm_card1"); err != nil {
		t.Fatal(err)
	}

	var res workflows.PlanResult
	getCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := e.c.GetWorkflow(getCtx, in.PlanID, "").Get(getCtx, &res); err != nil {
		t.Fatalf("plan result: %v", err)
	}
	if res.Status != billing.PlanCompleted || res.Paid+res.Skipped != n || res.Skipped != 1 || res.Runs < 2 {
		t.Errorf("result %+v, want completed: %d paid or skipped, 1 skipped, more than one run", res, n)
	}

	// The ledger saw every attempt once, the decline and its retry included.
	page, err := e.db.ListPlanPayments(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, in.PlanID, billing.ListParams{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	succeeded, failed := 0, 0
	for _, p := range page.Items {
		switch p.Status {
		case billing.PaymentSucceeded:
			succeeded++
		case billing.PaymentFailed:
			failed++
		}
	}
	if succeeded != res.Paid || failed != 1 {
		t.Errorf("ledger: %d succeeded, %d failed; want %d and 1", succeeded, failed, res.Paid)
	}
	row, err := e.db.GetPlan(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, in.PlanID)
	if err != nil || row.Status != "completed" || string(row.MerchantData) != `{"order":"A-1"}` {
		t.Errorf("plan row %+v, %v", row, err)
	}

	// Finished: the state query still answers, updates are conflicts.
	if st, err := starter.PlanState(ctx, e.c, in.PlanID); err != nil || st.Status != billing.PlanCompleted {
		t.Errorf("state of the finished plan: %+v, %v", st, err)
	}
	if _, err := starter.PausePlan(ctx, e.c, in.PlanID, workflows.PauseRequest{}); billing.KindOf(err) != billing.KindConflict {
		t.Errorf("pause a finished plan: %v, want a conflict", err)
	}
	if _, err := starter.PlanState(ctx, e.c, "plan_missing"); billing.KindOf(err) != billing.KindNotFound {
		t.Errorf("state of no plan: %v, want not found", err)
	}

	histories := runHistories(t, e.c, in.PlanID, run.GetRunID())
	if len(histories) != res.Runs {
		t.Errorf("%d runs in history, result says %d", len(histories), res.Runs)
	}
	for i, h := range histories {
		events := h.GetEvents()
		if len(events) >= 2000 {
			t.Errorf("run %d has %d events", i+1, len(events))
		}
		last := events[len(events)-1]
		if can := last.GetWorkflowExecutionContinuedAsNewEventAttributes(); can != nil {
			var next workflows.PlanInput
			if err := converter.GetDefaultDataConverter().FromPayloads(can.GetInput(), &next); err != nil {
				t.Fatal(err)
			}
			// The estimate the run decided on must not undercount: the time-skipping
			// tests, where the server's count is unknown, rely on it.
			if next.State.LastRunEstimate < len(events) {
				t.Errorf("run %d: %d events, estimated %d", i+1, len(events), next.State.LastRunEstimate)
			}
			t.Logf("run %d: %d events (estimate %d, server count at decision %d)", i+1, len(events), next.State.LastRunEstimate, next.State.LastRunEvents)
		}
	}
	if *record {
		writeHistories(t, histories)
	}

	// A plan canceled through the update: its final state comes back, a second
	// cancel is a conflict, a detach signal to the finished plan is not found.
	later := in
	later.PlanID, later.Create, later.MaxRunEvents = "plan_servertest_cancel", nil, 0
	if _, err := starter.StartPlan(ctx, e.c, later); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e.c, later.PlanID, "the row", func(workflows.PlanState) bool { return true })
	if st, err := starter.CancelPlan(ctx, e.c, later.PlanID, "customer left"); err != nil || st.Status != billing.PlanCanceled {
		t.Errorf("cancel: %+v, %v", st, err)
	}
	if _, err := starter.CancelPlan(ctx, e.c, later.PlanID, ""); billing.KindOf(err) != billing.KindConflict {
		t.Errorf("cancel a canceled plan: %v, want a conflict", err)
	}
	if run, err := starter.StartPlan(ctx, e.c, later); err != nil || run.GetID() != later.PlanID {
		t.Errorf("start a finished plan again: %v, want its last run (never a new one)", err)
	} else if st, _ := starter.PlanState(ctx, e.c, later.PlanID); st.Status != billing.PlanCanceled {
		t.Errorf("after starting a canceled plan again its state is %s", st.Status)
	}

	// A one-off payment, asked twice: one charge.
	pay := workflows.PaymentInput{PaymentID: "pay_servertest", MerchantID: e.merchant, Mode: billing.ModeTest,
		CustomerID: "cus_1", PaymentMethodID: "pm_card1", Amount: 990, Currency: "USD", SaveCard: true}
	first, err := starter.RunPayment(ctx, e.c, pay)
	if err != nil || first.Status != billing.PaymentSucceeded || first.PaymentType != billing.PaymentInitial {
		t.Fatalf("payment: %+v, %v", first, err)
	}
	second, err := starter.RunPayment(ctx, e.c, pay)
	if err != nil || second != first {
		t.Errorf("the same payment again: %+v, %v; want %+v", second, err, first)
	}
	calls := 0
	for _, c := range e.provider.Calls() {
		if c.IdempotencyKey == pay.PaymentID {
			calls++
		}
	}
	if calls != 1 {
		t.Errorf("the payment reached the provider %d times", calls)
	}
	if p, err := e.db.GetPayment(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, pay.PaymentID); err != nil || p.PaymentType != "initial" {
		t.Errorf("payment row %+v, %v", p, err)
	}
}

func hasCode(err error, code string) bool {
	var be *billing.Error
	return errors.As(err, &be) && be.Code == code
}

// runHistories returns the history of every run of the workflow, first to last.
func runHistories(t *testing.T, c client.Client, id, firstRunID string) []*historypb.History {
	t.Helper()
	var out []*historypb.History
	for runID := firstRunID; runID != ""; {
		h := &historypb.History{}
		it := c.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			h.Events = append(h.Events, ev)
		}
		out = append(out, h)
		runID = ""
		if can := h.Events[len(h.Events)-1].GetWorkflowExecutionContinuedAsNewEventAttributes(); can != nil {
			runID = can.GetNewExecutionRunId()
		}
	}
	return out
}

var writeOnce sync.Once

// writeHistories replaces workflows/testdata/plan_run*.json with these runs.
func writeHistories(t *testing.T, histories []*historypb.History) {
	t.Helper()
	dir := filepath.Join("..", "testdata")
	writeOnce.Do(func() {
		old, _ := filepath.Glob(filepath.Join(dir, "plan_run*.json"))
		for _, f := range old {
			_ = os.Remove(f)
		}
	})
	for i, h := range histories {
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, fmt.Sprintf("plan_run%d.json", i+1))
		if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %s (%d events)", name, len(h.Events))
	}
}
