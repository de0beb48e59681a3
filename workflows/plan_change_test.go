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
	h.at(utc("2027-03-10T02:00:00Z"), func() {
		changed = h.update(workflows.UpdateChangePlan, workflows.ChangePlanRequest{
			Change:   billing.PlanChange{RecurringAmount: ptr(int64(2500)), Installments: ptr(4)},
			Schedule: json.RawMessage(`{"frequency":"months","recurring_amount":2500,"installments":4}`)})
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
	if st := changed().state; st.NextInstallment != 3 || st.NextAmount != 2500 || st.Remaining == nil || *st.Remaining != 2 {
		t.Errorf("change answered %+v, want installment 3 next at 2500, 2 remaining", st)
	}
	row, _ := h.ledger.Plan(planID)
	var tt billing.Timetable
	if err := json.Unmarshal(row.Timetable, &tt); err != nil || tt.RecurringAmount != 2500 || tt.Installments != 4 {
		t.Errorf("row timetable %s (%v), want 2500 × 4", row.Timetable, err)
	}
	if string(row.Schedule) != `{"frequency":"months","recurring_amount":2500,"installments":4}` {
		t.Errorf("row schedule %s", row.Schedule)
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

// TestChangePlanKeepsAnAttemptedInstallmentsAmount: while installment 1 is in dunning,
// an amount change is refused (its retry keeps its amount and key); a change of the
// installments is taken.
func TestChangePlanKeepsAnAttemptedInstallmentsAmount(t *testing.T) {
	declined := false
	h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if !declined {
			declined = true
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)
		}
		return activitiestest.Succeed(c)
	})
	var amount, count func() updateResult
	h.at(utc("2027-01-31T12:00:00Z"), func() {
		amount = h.update(workflows.UpdateChangePlan, workflows.ChangePlanRequest{Change: billing.PlanChange{RecurringAmount: ptr(int64(3000))}})
	})
	h.at(utc("2027-01-31T13:00:00Z"), func() {
		count = h.update(workflows.UpdateChangePlan, workflows.ChangePlanRequest{Change: billing.PlanChange{Installments: ptr(2)}})
	})
	res := h.run(input(t, monthly("2027-01-31", 3)))
	if r := amount(); r.rejected == nil {
		t.Errorf("an amount change during dunning was accepted: %+v", r.state)
	}
	if r := count(); r.rejected != nil || r.err != nil {
		t.Errorf("an installments change during dunning: %v %v", r.rejected, r.err)
	}
	for _, p := range h.payments() {
		if p.amount != 1000 {
			t.Errorf("payment %+v charged another amount than 1000", p)
		}
	}
	if res.Paid != 2 || res.Status != billing.PlanCompleted {
		t.Errorf("result %+v, want 2 paid", res)
	}
}
