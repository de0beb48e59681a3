package workflows_test

import (
	"encoding/json"
	"testing"

	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/workflows"
)

func ptr[T any](v T) *T { return &v }

// TestChangePlanFromTheNextInstallment: after installment 2 is paid, change_plan raises
// the recurring amount and cuts the plan to 4 installments: 3 and 4 are charged at the
// new amount on their dates, 1 and 2 keep theirs, the plan completes after 4, and the
// row gets the new timetable and schedule with plan.updated. Changes that would unpay
// or skip a charged installment are refused naming the field and change nothing.
func TestChangePlanFromTheNextInstallment(t *testing.T) {
	h := newHarness(t, nil)
	var changed, tooFew, pastExpiry func() updateResult
	h.at(utc("2027-03-10T00:00:00Z"), func() {
		tooFew = h.update(workflows.UpdateChangePlan, workflows.ChangePlanRequest{Change: billing.PlanChange{Installments: ptr(1)}})
	})
	h.at(utc("2027-03-10T01:00:00Z"), func() {
		pastExpiry = h.update(workflows.UpdateChangePlan, workflows.ChangePlanRequest{Change: billing.PlanChange{ExpiresOn: ptr("2027-02-01")}})
	})
	h.at(utc("2027-03-10T01:30:00Z"), func() {
		changed = h.update(workflows.UpdateChangePlan, workflows.ChangePlanRequest{
			Change: billing.PlanChange{RecurringAmount: ptr(int64(2500))}, MerchantData: json.RawMessage(`{"tier":"gold"}`)})
	})
	// A second change before the loop could write the first: the row gets both.
	h.at(utc("2027-03-10T02:00:00Z"), func() {
		h.update(workflows.UpdateChangePlan, workflows.ChangePlanRequest{Change: billing.PlanChange{Installments: ptr(4)}})
	})
	res := h.run(input(t, monthly("2027-01-31", 6)))
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
		{2, 1, "succeeded", utc("2027-02-28T09:00:00Z"), 1000, "pm_card1"},
		{3, 1, "succeeded", utc("2027-03-31T09:00:00Z"), 2500, "pm_card1"},
		{4, 1, "succeeded", utc("2027-04-30T09:00:00Z"), 2500, "pm_card1"},
	})
	if res.Status != billing.PlanCompleted || res.Paid != 4 || res.PaidAmount != 7000 {
		t.Errorf("result %+v, want completed: 4 paid, 7000", res)
	}
	for name, r := range map[string]func() updateResult{"installments below those charged": tooFew, "expiry before a charge": pastExpiry} {
		if got := r(); got.rejected == nil {
			t.Errorf("%s was accepted: %+v", name, got.state)
		}
	}
	if st := changed().state; st.NextInstallment != 3 || st.NextAmount != 2500 || st.Remaining == nil || *st.Remaining != 4 ||
		st.FirstOpen != 3 || st.Collecting {
		r := -1
		if st.Remaining != nil {
			r = *st.Remaining
		}
		t.Errorf("change answered %+v (remaining %d), want installment 3 next at 2500, 4 of 6 remaining, 3 open", st, r)
	}
	row, _ := h.ledger.Plan(planID)
	var tt billing.Timetable
	if err := json.Unmarshal(row.Timetable, &tt); err != nil || tt.RecurringAmount != 2500 || tt.Installments != 4 {
		t.Errorf("row timetable %s (%v), want 2500 × 4", row.Timetable, err)
	}
	var sched map[string]any
	if err := json.Unmarshal(row.Schedule, &sched); err != nil || sched["installments"] != float64(4) ||
		sched["recurring_amount"] != float64(2500) || string(row.MerchantData) != `{"tier":"gold"}` {
		t.Errorf("row schedule %s, merchant data %s; want both changes and the merchant data", row.Schedule, row.MerchantData)
	}
	updated := 0
	for _, typ := range h.ledger.EventTypes() {
		if typ == billing.EventPlanUpdated {
			updated++
		}
	}
	if updated < 1 {
		t.Errorf("no plan.updated for the change: %v", h.ledger.EventTypes())
	}
}

// TestChangePlanKeepsAnAttemptedInstallmentsAmount: while installment 2 is in dunning,
// an amount change is refused (its retry keeps its amount and key), and so is cutting
// the plan to 2 installments, which would make it the final one at the final amount;
// cutting it to 3 of 4 is taken, and the final amount goes to installment 3.
func TestChangePlanKeepsAnAttemptedInstallmentsAmount(t *testing.T) {
	h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.IdempotencyKey == planID+"/2/1" {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)
		}
		return activitiestest.Succeed(c)
	})
	var amount, final, count func() updateResult
	h.at(utc("2027-02-28T12:00:00Z"), func() {
		amount = h.update(workflows.UpdateChangePlan, workflows.ChangePlanRequest{Change: billing.PlanChange{RecurringAmount: ptr(int64(3000))}})
	})
	h.at(utc("2027-02-28T12:30:00Z"), func() {
		final = h.update(workflows.UpdateChangePlan, workflows.ChangePlanRequest{Change: billing.PlanChange{Installments: ptr(2)}})
	})
	h.at(utc("2027-02-28T13:00:00Z"), func() {
		count = h.update(workflows.UpdateChangePlan, workflows.ChangePlanRequest{Change: billing.PlanChange{Installments: ptr(3)}})
	})
	in := input(t, monthly("2027-01-31", 4))
	in.Timetable.FinalAmount = 500
	res := h.run(in)
	for name, r := range map[string]func() updateResult{"an amount change": amount, "making it the final installment": final} {
		if got := r(); got.rejected == nil {
			t.Errorf("%s during its dunning was accepted: %+v", name, got.state)
		}
	}
	if r := count(); r.rejected != nil || r.err != nil {
		t.Errorf("cutting the plan to 3 during dunning: %v %v", r.rejected, r.err)
	}
	want := map[int]int64{1: 1000, 2: 1000, 3: 500}
	for _, p := range h.payments() {
		if p.amount != want[p.installment] {
			t.Errorf("installment %d attempt %d charged %d, want %d", p.installment, p.attempt, p.amount, want[p.installment])
		}
	}
	if res.Paid != 3 || res.Status != billing.PlanCompleted {
		t.Errorf("result %+v, want 3 paid", res)
	}
}
