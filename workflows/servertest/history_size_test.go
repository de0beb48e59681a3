package servertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"

	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// maxInstallmentEvents is issue 14's bound on the history a paid merchant-initiated
// installment writes, asleep to asleep.
const maxInstallmentEvents = 12

// installmentEvents splits a plan run's history into its installments, asleep to
// asleep: from each fired timer to the next timer started (both included). The last
// one, which ends the run instead, is left out.
func installmentEvents(h *historypb.History) []int {
	var sizes []int
	from := -1
	for i, ev := range h.GetEvents() {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_TIMER_FIRED:
			from = i
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			if from >= 0 {
				sizes = append(sizes, i-from+1)
			}
			from = -1
		}
	}
	return sizes
}

// TestInstallmentHistoryOnRealServer runs a 6-installment plan (every 2 s) whose
// charges all succeed on the embedded server and measures the history each paid
// installment wrote: at most 12 events (timer fired, workflow task, Charge — which
// records its own ledger row and plan state, plan version 5 — workflow task, the
// NextChargeAt upsert, the next timer). The ledger has every installment paid once
// and the plan row ends completed. With -record the history is written to
// workflows/testdata/plan_charge_records.json.
func TestInstallmentHistoryOnRealServer(t *testing.T) {
	e := start(t, activitiestest.Succeed)
	in := testPlan(t, e, "plan_lean", 6, 2)
	ctx := context.Background()
	if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCompleted || res.Paid != 6 {
		t.Fatalf("plan result %+v, want completed with 6 paid", res)
	}
	h := history(t, e.c, in.PlanID)
	sizes := installmentEvents(h)
	// Installment 1's timer is the first; five timers fired and were followed by the
	// next one's (the sixth fired and completed the plan).
	if len(sizes) != 5 {
		t.Fatalf("%d installments asleep to asleep in the history, want 5: %v", len(sizes), sizes)
	}
	if worst := slices.Max(sizes); worst > maxInstallmentEvents {
		t.Errorf("a paid installment wrote %d history events (%v), want at most %d", worst, sizes, maxInstallmentEvents)
	}
	t.Logf("history events per paid installment: %v (whole run %d)", sizes, len(h.GetEvents()))
	if rows := paidInstallments(t, e, in.PlanID); !slices.Equal(rows, []string{
		"1 succeeded pm_card1", "2 succeeded pm_card1", "3 succeeded pm_card1",
		"4 succeeded pm_card1", "5 succeeded pm_card1", "6 succeeded pm_card1",
	}) {
		t.Errorf("ledger rows %v, want each installment paid once", rows)
	}
	if keys := chargedKeys(e, in.PlanID); len(keys) != 6 {
		t.Errorf("the provider was charged %d times: %v", len(keys), keys)
	}
	row, err := e.db.GetPlan(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, in.PlanID)
	if err != nil || row.Status != billing.PlanCompleted || row.NextChargeAt != nil {
		t.Fatalf("plan row %+v, %v; want completed with no next charge", row, err)
	}
	recordSingleRun(t, e, res, in.PlanID, "plan_charge_records.json")
}

// TestCancelWhileAChargeRecordsItselfOnRealServer: cancel_plan arrives while
// installment 2's charge is at the provider; the charge succeeds and its activity
// records the row with the state foreseen before the cancel (active, next charge
// set). The plan then publishes the cancel under a later sequence number: the row
// ends canceled with no next charge, both installments are in the ledger once, and
// the event log has plan.canceled once.
func TestCancelWhileAChargeRecordsItselfOnRealServer(t *testing.T) {
	held := holdCharge("/2/1")
	e := start(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		held.hold(c)
		return activitiestest.Succeed(c)
	})
	in := testPlan(t, e, "plan_cancel_in_flight", 4, 2)
	ctx := context.Background()
	if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	held.wait(t)
	st, err := starter.CancelPlan(ctx, e.c, in.PlanID, "customer asked")
	if err != nil || st.Status != billing.PlanCanceled {
		t.Fatalf("cancel during the charge = %+v, %v", st, err)
	}
	close(held.release)
	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCanceled || res.Paid != 2 {
		t.Fatalf("plan result %+v, want canceled with 2 paid", res)
	}
	if rows := paidInstallments(t, e, in.PlanID); !slices.Equal(rows, []string{"1 succeeded pm_card1", "2 succeeded pm_card1"}) {
		t.Errorf("ledger rows %v", rows)
	}
	caller := billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}
	row, err := e.db.GetPlan(ctx, caller, in.PlanID)
	if err != nil || row.Status != billing.PlanCanceled || row.NextChargeAt != nil {
		t.Fatalf("plan row %+v, %v; want canceled with no next charge", row, err)
	}
	events, err := e.db.ListEvents(ctx, caller, billing.EventPlanCanceled, billing.ListParams{Limit: 10})
	if err != nil || len(events.Items) != 1 {
		t.Fatalf("plan.canceled events: %d, %v; want 1", len(events.Items), err)
	}
}

// TestRunsStayShortOnRealServer runs a 9-installment plan (every second) that
// continues as new every 4 charges (MaxRunCharges; the default is
// workflows.DefaultMaxRunCharges) and measures every run's history on the embedded
// server: 3 runs, none longer than a run's start, its charges at 12 events each and
// the continue-as-new. At the default of 50 charges that bound is about 620 events,
// under the 2,000 no run may pass. Every installment is paid once across the runs.
// With -record the first run is written to
// workflows/testdata/plan_charges_per_run.json.
func TestRunsStayShortOnRealServer(t *testing.T) {
	e := start(t, activitiestest.Succeed)
	in := testPlan(t, e, "plan_short_runs", 9, 1)
	in.MaxRunCharges = 4
	ctx := context.Background()
	run, err := starter.StartPlan(ctx, e.c, in)
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.PlanResult
	if err := e.c.GetWorkflow(ctx, in.PlanID, "").Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if res.Status != billing.PlanCompleted || res.Paid != 9 || res.Runs != 3 {
		t.Fatalf("plan result %+v, want completed with 9 paid in 3 runs", res)
	}
	runs := runHistories(t, e.c, in.PlanID, run.GetRunID())
	var lengths []int
	for _, h := range runs {
		lengths = append(lengths, len(h.GetEvents()))
	}
	// A run's start (started, task, CreatePlan or not, first timer) is under 20 events.
	if bound := 20 + maxInstallmentEvents*in.MaxRunCharges; len(runs) != 3 || slices.Max(lengths) > bound {
		t.Errorf("run lengths %v, want 3 runs of at most %d events", lengths, bound)
	}
	t.Logf("run lengths %v", lengths)
	if rows := paidInstallments(t, e, in.PlanID); len(rows) != 9 {
		t.Errorf("ledger rows %v, want 9", rows)
	}
	if keys := chargedKeys(e, in.PlanID); len(keys) != 9 {
		t.Errorf("charged %d times: %v", len(keys), keys)
	}
	if *record && !t.Failed() {
		writeHistory(t, runs[0], "plan_charges_per_run.json")
	}
}

// TestCreateAgainAnswersTheStateNowOnRealServer: starter.CreatePlan (Update-With-Start
// with the created update) answers once the row is written (by a local activity in the
// first workflow task, plan version 8); called again for the same plan it answers the
// plan's state now (paused), not the first call's answer; once the plan has finished,
// ended, and nothing starts again. With -record the history is written to
// workflows/testdata/plan_local_create.json.
func TestCreateAgainAnswersTheStateNowOnRealServer(t *testing.T) {
	e := start(t, activitiestest.Succeed)
	in := testPlan(t, e, "plan_create_again", 3, 60)
	ctx := context.Background()
	st, ended, err := starter.CreatePlan(ctx, e.c, in)
	if err != nil || ended || st.Status != billing.PlanActive {
		t.Fatalf("create = %+v, ended %v, %v", st, ended, err)
	}
	if _, err := e.db.GetPlan(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, in.PlanID); err != nil {
		t.Fatalf("the row after create: %v", err)
	}
	if _, err := starter.PausePlan(ctx, e.c, in.PlanID, workflows.PauseRequest{}); err != nil {
		t.Fatal(err)
	}
	if st, ended, err = starter.CreatePlan(ctx, e.c, in); err != nil || ended || st.Status != billing.PlanPaused {
		t.Fatalf("create again = %+v, ended %v, %v; want the paused state", st, ended, err)
	}
	if _, err := starter.CancelPlan(ctx, e.c, in.PlanID, "done"); err != nil {
		t.Fatal(err)
	}
	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCanceled {
		t.Fatalf("plan ended %+v", res)
	}
	if _, ended, err = starter.CreatePlan(ctx, e.c, in); err != nil || !ended {
		t.Fatalf("create after the plan finished: ended %v, %v; want ended", ended, err)
	}
	if keys := chargedKeys(e, in.PlanID); len(keys) != 0 {
		t.Errorf("charged %v", keys)
	}
	recordSingleRun(t, e, res, in.PlanID, "plan_local_create.json")
}

// TestSkipWhileChargingOnRealServer: skip_next arrives while installment 2's first
// attempt is at the provider, which then declines it (soft). Plan version 7 skips
// installment 3, the next one not being charged: installment 2 keeps its debt, its
// dunning retry pays it (2/2), 3 is skipped and 4 charged on its date. Before version
// 7 the skip took installment 2 itself and its retry charged installment 3 (3/2, with
// no 3/1). With -record the history is written to
// workflows/testdata/plan_skip_in_flight.json.
func TestSkipWhileChargingOnRealServer(t *testing.T) {
	held := holdCharge("/2/1")
	e := start(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if held.hold(c) {
			return providers.ChargeResult{}, &providers.Error{Provider: "fake", Class: providers.ClassSoftDecline,
				Code: billing.CodeInsufficientFunds, Message: "insufficient funds"}
		}
		return activitiestest.Succeed(c)
	})
	in := testPlan(t, e, "plan_skip_in_flight", 4, 3)
	in.Dunning = billing.DunningPolicy{Retries: []billing.Duration{billing.Duration(time.Second)}, Outcome: billing.OutcomePastDue}
	ctx := context.Background()
	if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	held.wait(t)
	if _, err := starter.SkipNextInstallment(ctx, e.c, in.PlanID); err != nil {
		t.Fatalf("skip_next during the charge: %v", err)
	}
	close(held.release)
	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCompleted || res.Paid != 3 || res.Skipped != 1 {
		t.Fatalf("plan result %+v, want completed with 3 paid and 1 skipped", res)
	}
	page, err := e.db.ListPlanPayments(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, in.PlanID, billing.ListParams{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, p := range page.Items {
		rows = append(rows, fmt.Sprintf("%d/%d %s", p.Installment, p.Attempt, p.Status))
	}
	slices.Sort(rows)
	if want := []string{"1/1 succeeded", "2/1 failed", "2/2 succeeded", "4/1 succeeded"}; !slices.Equal(rows, want) {
		t.Fatalf("ledger %v, want %v: installment 2 keeps its debt, 3 is the one skipped", rows, want)
	}
	recordSingleRun(t, e, res, in.PlanID, "plan_skip_in_flight.json")
}

// heldCharge keeps the first charge under a key ending in suffix at the provider until
// released, so a test can act while it is in flight.
type heldCharge struct {
	suffix            string
	inFlight, release chan struct{}
}

func holdCharge(suffix string) *heldCharge {
	return &heldCharge{suffix: suffix, inFlight: make(chan struct{}), release: make(chan struct{})}
}

// hold blocks c, if it is the held charge, until released, and reports whether it was.
func (h *heldCharge) hold(c activitiestest.Call) bool {
	if !strings.HasSuffix(c.IdempotencyKey, h.suffix) || c.N != 1 {
		return false
	}
	close(h.inFlight)
	<-h.release
	return true
}

// wait waits until the held charge is at the provider.
func (h *heldCharge) wait(t *testing.T) {
	t.Helper()
	select {
	case <-h.inFlight:
	case <-time.After(30 * time.Second):
		t.Fatalf("the charge %s… was never sent", h.suffix)
	}
}
