package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/workflows"
)

// runAsChild runs the plan under parentPlan, so the test environment follows its
// continue-as-new chain.
func (h *harness) runAsChild(in workflows.PlanInput) workflows.PlanResult {
	h.t.Helper()
	h.env.RegisterWorkflow(parentPlan)
	h.env.ExecuteWorkflow(parentPlan, in)
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
	var res workflows.PlanResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatal(err)
	}
	return res
}

func TestTenThousandInstallmentsContinueAsNewWithBoundedHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 installments: skipped with -short")
	}
	h := newHarness(t, nil)
	h.env.SetWorkflowRunTimeout(200 * 365 * 24 * time.Hour) // the default is 10 years
	n := 10_000
	amount := int64(100)
	in := input(t, billing.Schedule{Frequency: billing.FrequencyWeeks, StartDate: "2027-01-04", RecurringAmount: &amount, Installments: &n})
	res := h.runAsChild(in)

	if res.Status != billing.PlanCompleted || res.Paid != n || res.PaidAmount != int64(n)*amount {
		t.Fatalf("result %+v, want completed with %d paid", res, n)
	}
	// A new run every DefaultMaxRunCharges charges (the last one only completes): the
	// time-skipping environment reports no history length, so the runs are counted;
	// TestRunsStayShortOnRealServer measures their events on a real server.
	if want := n/workflows.DefaultMaxRunCharges + 1; res.Runs != want {
		t.Errorf("%d runs, want %d: one per %d charges", res.Runs, want, workflows.DefaultMaxRunCharges)
	}
	payments := h.ledger.Payments()
	if len(payments) != n {
		t.Fatalf("%d payments, want %d", len(payments), n)
	}
	seen := map[string]bool{}
	for _, c := range h.provider.Calls() {
		if seen[c.IdempotencyKey] {
			t.Fatalf("key %s charged twice", c.IdempotencyKey)
		}
		seen[c.IdempotencyKey] = true
	}
	last := payments[n-1]
	lastDue, _ := in.Timetable.Installment(n)
	if last.Installment != n || !last.AttemptedAt.Equal(lastDue.DueAt) {
		t.Errorf("last payment %d at %s", last.Installment, last.AttemptedAt)
	}
	t.Logf("%d installments in %d runs", n, res.Runs)
}

func TestSignalsAndUpdatesSurviveContinueAsNew(t *testing.T) {
	h := newHarness(t, nil)
	n := 60
	amount := int64(100)
	in := input(t, billing.Schedule{Frequency: billing.FrequencyDays, StartDate: "2027-01-10", RecurringAmount: &amount, Installments: &n})
	in.MaxRunCharges = 2 // a new run every couple of installments
	due := func(k int) time.Time { inst, _ := in.Timetable.Installment(k); return inst.DueAt }

	// Messages land on due instants, where a run is most likely to be ending.
	var skips []func() updateResult
	for _, k := range []int{5, 12, 13, 20, 33} {
		h.at(due(k), func() {
			var res updateResult
			done := false
			h.env.UpdateWorkflowByID(planID, workflows.UpdateSkipNext, fmt.Sprint("skip", k), &testsuite.TestUpdateCallback{
				OnAccept: func() {}, OnReject: func(err error) { res.rejected, done = err, true },
				OnComplete: func(v any, err error) { res.err, done = err, true },
			}, workflows.SkipNextRequest{})
			skips = append(skips, func() updateResult {
				if !done {
					t.Errorf("skip_next at installment %d's due instant was lost", k)
				}
				return res
			})
		})
	}
	h.at(due(40), func() {
		if err := h.env.SignalWorkflowByID(planID, workflows.SignalBlock, workflows.PaymentMethodSignal{}); err != nil {
			t.Errorf("block: %v", err)
		}
	})
	unblockAt := due(43).Add(6 * time.Hour)
	h.at(unblockAt, func() {
		if err := h.env.SignalWorkflowByID(planID, workflows.SignalUnblock, workflows.PaymentMethodSignal{}); err != nil {
			t.Errorf("unblock: %v", err)
		}
	})
	// Not exactly on a due instant: the test environment, unlike the server, can hand a
	// signal to a run that has already returned continue-as-new (the server refuses
	// that completion and replays the task with the signal). Signals buffered when a
	// run decides to continue are drained: TestSignalBufferedAtContinueAsNewIsApplied.
	h.at(due(50).Add(time.Second), func() {
		if err := h.env.SignalWorkflowByID(planID, workflows.SignalCancel, workflows.CancelRequest{}); err != nil {
			t.Errorf("cancel: %v", err)
		}
	})
	res := h.runAsChild(in)

	accepted := 0
	for _, s := range skips {
		if r := s(); r.rejected == nil && r.err == nil {
			accepted++
		}
	}
	if accepted != 5 {
		t.Errorf("%d of 5 skip_next updates accepted", accepted)
	}
	if res.Status != billing.PlanCanceled || res.Skipped != accepted {
		t.Errorf("result %+v, want canceled with %d skipped", res, accepted)
	}
	if res.Runs < 10 {
		t.Errorf("only %d runs: the test did not cross continue-as-new often", res.Runs)
	}
	// Every installment before 50 was charged or skipped, each exactly once.
	charged := map[int]time.Time{}
	for _, p := range h.ledger.Payments() {
		if _, dup := charged[p.Installment]; dup {
			t.Errorf("installment %d charged twice", p.Installment)
		}
		charged[p.Installment] = p.AttemptedAt
	}
	if got := len(charged) + res.Skipped; got != 49 && got != 50 {
		t.Errorf("%d charged + %d skipped, want installments 1–49 (or 50) handled", len(charged), res.Skipped)
	}
	// While blocked nothing was charged; on unblock the waiting installments were
	// charged at once, and the next one on its date.
	for k, at := range charged {
		if at.After(due(40)) && at.Before(unblockAt) {
			t.Errorf("installment %d charged at %s, while the card was blocked", k, at)
		}
	}
	if at, ok := charged[44]; !ok || !at.Equal(due(44)) {
		t.Errorf("installment 44 charged at %v, want its own date %s", at, due(44))
	}
	if at, ok := charged[43]; !ok || !at.Equal(unblockAt) {
		t.Errorf("installment 43 charged at %v, want at the unblock, %s", at, unblockAt)
	}
}

func TestSignalBufferedAtContinueAsNewIsApplied(t *testing.T) {
	h := newHarness(t, nil)
	in := input(t, monthly("2027-01-31", 3))
	in.MaxRunCharges = -1 // continue as new at the first chance
	// The block arrives without a workflow task of its own, so it is still in its
	// channel when the next task runs the main loop straight to continue-as-new.
	var a *activities.Activities
	h.env.OnActivity(a.CreatePlan, mock.Anything, mock.Anything).Return(func(ctx context.Context, req activities.CreatePlanRequest) error {
		h.env.SignalWorkflowSkippingWorkflowTask(workflows.SignalBlock, workflows.PaymentMethodSignal{})
		return h.acts.CreatePlan(ctx, req)
	})
	h.env.ExecuteWorkflow(workflows.Plan, in)
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow ended with %v, want continue-as-new", err)
	}
	var next workflows.PlanInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.State == nil || !next.State.Blocked || next.State.Runs != 1 || next.Create != nil {
		t.Errorf("carried state %+v, want the block applied before continuing as new", next.State)
	}
}
