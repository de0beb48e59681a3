package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/workflows"
)

// hostedInput is a plan created without a card, waiting for its customer until
// start+1h.
func hostedInput(t *testing.T, s billing.Schedule) workflows.PlanInput {
	t.Helper()
	in := input(t, s)
	in.PaymentMethodID = ""
	in.Hosted = &workflows.HostedPlan{ExpiresAt: start.Add(time.Hour)}
	return in
}

var proof = &providers.Authentication{ID: "3ds_1", Status: providers.AuthenticationSucceeded, ECI: "05", Proof: "cavv_1"}

// TestHostedPlanStartsWithAnAuthenticatedFirstCharge: the plan waits incomplete,
// charging nothing, until start_plan hands it the card; the first installment is then
// charged customer-initiated with the 3-D Secure result, start_plan answers its
// outcome, and the next installment is merchant-initiated with the network id.
func TestHostedPlanStartsWithAnAuthenticatedFirstCharge(t *testing.T) {
	h := newHarness(t, nil)
	in := hostedInput(t, monthly("", 2))
	var before workflows.PlanState
	var started func() updateResult
	h.at(start.Add(10*time.Minute), func() {
		before = h.state()
		started = h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_1",
			PaymentMethodID: "pm_card1", Authentication: proof})
	})
	res := h.run(in)

	if before.Status != billing.PlanIncomplete || !before.IncompleteUntil.Equal(in.Hosted.ExpiresAt) || !before.NextChargeAt.IsZero() {
		t.Errorf("before the card: %+v, want incomplete until %s and no charge planned", before, in.Hosted.ExpiresAt)
	}
	got := started()
	if got.rejected != nil || got.err != nil || got.state.Start == nil {
		t.Fatalf("start_plan: %+v", got)
	}
	if s := got.state.Start; s.Status != billing.PaymentSucceeded || s.PaymentID == "" || got.state.Paid != 1 ||
		got.state.Status != billing.PlanActive {
		t.Errorf("start_plan answered %+v with %+v, want the first installment paid and the plan active", s, got.state)
	}
	if res.Status != billing.PlanCompleted || res.Paid != 2 {
		t.Errorf("result %+v, want completed with 2 paid", res)
	}
	calls := h.provider.Calls()
	if len(calls) != 2 {
		t.Fatalf("%d charges, want 2", len(calls))
	}
	first, second := calls[0], calls[1]
	if first.Initiator != providers.InitiatorCustomer || first.Authentication == nil || first.Authentication.Proof != "cavv_1" {
		t.Errorf("first charge: initiator %s, authentication %+v; want customer-initiated with the proof", first.Initiator, first.Authentication)
	}
	if second.Initiator != providers.InitiatorMerchant || second.Authentication != nil || second.NetworkTransactionID == "" {
		t.Errorf("second charge: initiator %s, authentication %+v, network id %q; want merchant-initiated on the first's network id",
			second.Initiator, second.Authentication, second.NetworkTransactionID)
	}
	pays := h.payments()
	if len(pays) != 2 || pays[0] != (payment{1, 1, "succeeded", start.Add(10 * time.Minute), 1000, "pm_card1"}) ||
		pays[1].installment != 2 || pays[1].status != "succeeded" {
		t.Errorf("payments %v, want installment 1 paid on the page at +10m, then installment 2", pays)
	}
	if p := h.ledger.Payments()[0]; p.PaymentType != billing.PaymentInitial || p.ID != got.state.Start.PaymentID {
		t.Errorf("first payment %s is %s, want the initial payment start_plan named (%s)", p.ID, p.PaymentType, got.state.Start.PaymentID)
	}
}

// TestHostedPlanFirstDeclineLeavesItIncomplete: a declined first charge is recorded,
// starts no dunning and tells nobody; the plan is incomplete again without a card, a
// second start is taken, and a plan nobody completes expires at its deadline.
func TestHostedPlanFirstDeclineLeavesItIncomplete(t *testing.T) {
	h := newHarness(t, func(activitiestest.Call) (providers.ChargeResult, error) {
		return providers.ChargeResult{}, activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)
	})
	in := hostedInput(t, monthly("", 2))
	var first, second func() updateResult
	var between workflows.PlanState
	h.at(start.Add(5*time.Minute), func() {
		first = h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_1",
			PaymentMethodID: "pm_card1", Authentication: proof})
	})
	h.at(start.Add(6*time.Minute), func() {
		between = h.state()
		// A second card that also fails: the next attempt number, a new key.
		second = h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_2",
			PaymentMethodID: "pm_card2", Authentication: proof})
	})
	res := h.run(in)

	if got := first(); got.state.Start == nil || got.state.Start.Status != billing.PaymentFailed ||
		got.state.Start.FailureCode != billing.CodeInsufficientFunds || got.state.Status != billing.PlanIncomplete {
		t.Errorf("first start: %+v", got)
	}
	if between.Status != billing.PlanIncomplete || between.PaymentMethodID != "" || between.DunningRetries != 0 {
		t.Errorf("after the decline: %+v, want incomplete, no card, no dunning", between)
	}
	if got := second(); got.rejected != nil || got.state.Start == nil || got.state.Start.Status != billing.PaymentFailed {
		t.Errorf("second start: %+v", got)
	}
	if res.Status != billing.PlanIncompleteExpired || res.Paid != 0 {
		t.Errorf("result %+v, want incomplete_expired with nothing paid", res)
	}
	h.wantPayments([]payment{
		{1, 1, "failed", start.Add(5 * time.Minute), 1000, "pm_card1"},
		{1, 2, "failed", start.Add(6 * time.Minute), 1000, "pm_card2"},
	})
	h.wantEvents(billing.EventPaymentFailed, billing.EventPaymentFailed, billing.EventPlanIncompleteExpired)
	if n := len(h.notifier.Sent()); n != 0 {
		t.Errorf("%d customer notifications, want none: the customer is on the page", n)
	}
	keys := []string{}
	for _, c := range h.provider.Calls() {
		keys = append(keys, c.IdempotencyKey)
	}
	if len(keys) != 2 || keys[0] == keys[1] {
		t.Errorf("idempotency keys %v, want two different ones", keys)
	}
}

// TestHostedPlanVerifiedForALaterStart: a plan starting next month gets its card from
// a zero-amount verification; nothing is charged until the first date, and that charge
// is merchant-initiated.
func TestHostedPlanVerifiedForALaterStart(t *testing.T) {
	h := newHarness(t, nil)
	in := hostedInput(t, monthly("2027-02-01", 1))
	var started func() updateResult
	h.at(start.Add(time.Minute), func() {
		started = h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_1",
			PaymentMethodID: "pm_card1", Verified: true})
	})
	res := h.run(in)
	got := started()
	if got.state.Start == nil || got.state.Start.Status != billing.PaymentSucceeded || got.state.Paid != 0 ||
		got.state.Status != billing.PlanActive || got.state.NextChargeAt.Before(utc("2027-02-01T00:00:00Z")) {
		t.Errorf("start_plan: %+v", got)
	}
	if res.Status != billing.PlanCompleted || res.Paid != 1 {
		t.Errorf("result %+v", res)
	}
	calls, pays := h.provider.Calls(), h.payments()
	if len(calls) != 1 || calls[0].Initiator != providers.InitiatorMerchant || len(pays) != 1 ||
		pays[0].at.Before(utc("2027-02-01T00:00:00Z")) {
		t.Errorf("charges %+v, payments %v: want one merchant-initiated charge on the first date", calls, pays)
	}
}

// TestHostedPlanRefusals: start_plan is refused on a plan not waiting for a card (a
// second start after the first succeeded), change_payment_method and skip_next are
// refused while it is incomplete (its first card must come from the customer), and a
// plan canceled while incomplete charges nothing.
func TestHostedPlanRefusals(t *testing.T) {
	h := newHarness(t, nil)
	in := hostedInput(t, monthly("", 3))
	var change, skip, startOK, again func() updateResult
	h.at(start.Add(time.Minute), func() {
		change = h.update(workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"})
		skip = h.update(workflows.UpdateSkipNext, workflows.SkipNextRequest{})
	})
	h.at(start.Add(2*time.Minute), func() {
		startOK = h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_1",
			PaymentMethodID: "pm_card1", Authentication: proof})
	})
	h.at(start.Add(3*time.Minute), func() {
		again = h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_2",
			PaymentMethodID: "pm_card2", Authentication: proof})
	})
	h.cancelAt(start.Add(4 * time.Minute))
	res := h.run(in)
	for name, u := range map[string]func() updateResult{"change_payment_method": change, "skip_next": skip, "second start": again} {
		if got := u(); got.rejected == nil {
			t.Errorf("%s: accepted (%+v), want refused", name, got.state)
		}
	}
	if got := startOK(); got.rejected != nil || got.state.Start == nil || got.state.Start.Status != billing.PaymentSucceeded {
		t.Errorf("start: %+v", got)
	}
	if res.Status != billing.PlanCanceled || res.Paid != 1 {
		t.Errorf("result %+v", res)
	}

	h = newHarness(t, nil)
	h.cancelAt(start.Add(time.Minute))
	if res := h.run(hostedInput(t, monthly("", 3))); res.Status != billing.PlanCanceled || len(h.provider.Calls()) != 0 {
		t.Errorf("canceled while incomplete: %+v with %d charges", res, len(h.provider.Calls()))
	}
}

// TestHostedPlanPendingFirstChargeKeepsItsProofForThatChargeOnly: a first charge whose
// outcome is unknown answers start_plan pending; its retry under the same key carries
// the same 3-D Secure proof; once it settles the session is told (SettleSession), and
// later (merchant-initiated) charges carry no proof.
func TestHostedPlanPendingFirstChargeKeepsItsProofForThatChargeOnly(t *testing.T) {
	h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.IdempotencyKey == planID+"/1/1" && c.N <= activities.ChargeMaxAttempts {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeTimeout)
		}
		return activitiestest.Succeed(c)
	})
	var settled []activities.SettleSessionRequest
	h.env.OnActivity(h.acts.SettleSession, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req activities.SettleSessionRequest) error {
			settled = append(settled, req)
			return nil
		})
	var started func() updateResult
	h.at(start.Add(time.Minute), func() {
		started = h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_1",
			PaymentMethodID: "pm_card1", Authentication: proof})
	})
	res := h.run(hostedInput(t, monthly("", 3)))
	if got := started(); got.state.Start == nil || got.state.Start.Status != billing.PaymentPending {
		t.Errorf("start_plan: %+v, want pending", got)
	}
	if len(settled) != 1 || settled[0].SessionID != "ps_1" || settled[0].Outcome != billing.PaymentSucceeded {
		t.Errorf("sessions settled %+v, want ps_1 told succeeded once installment 1 settled", settled)
	}
	if res.Status != billing.PlanCompleted || res.Paid != 3 {
		t.Errorf("result %+v", res)
	}
	for _, c := range h.provider.Calls() {
		first := c.IdempotencyKey == planID+"/1/1"
		if first != (c.Authentication != nil) {
			t.Errorf("charge %s (call %d) carries authentication %v; only installment 1's may", c.IdempotencyKey, c.N, c.Authentication)
		}
	}
}

// TestHostedPlanCanceledDuringItsFirstCharge: a cancel accepted while the first charge
// runs wins over that charge's decline: the plan stays canceled (no return to
// incomplete, no new page can start it), start_plan answers failed.
func TestHostedPlanCanceledDuringItsFirstCharge(t *testing.T) {
	h := newHarness(t, func(activitiestest.Call) (providers.ChargeResult, error) {
		return providers.ChargeResult{}, activitiestest.Decline(providers.ClassHardDecline, billing.CodeCardDeclined)
	})
	// The charge takes 30 s of workflow time, so messages arrive while it runs.
	h.env.OnActivity(h.acts.Charge, mock.Anything, mock.Anything).After(30 * time.Second).Return(
		func(ctx context.Context, req activities.ChargeRequest) (activities.ChargeResult, error) {
			return h.acts.Charge(ctx, req)
		})
	var started, canceled func() updateResult
	h.at(start.Add(time.Minute), func() {
		started = h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_1",
			PaymentMethodID: "pm_card1", Authentication: proof})
	})
	h.at(start.Add(time.Minute+10*time.Second), func() {
		canceled = h.update(workflows.UpdateCancel, workflows.CancelRequest{Reason: "changed my mind"})
	})
	res := h.run(hostedInput(t, monthly("", 3)))
	if got := canceled(); got.rejected != nil || got.state.Status != billing.PlanCanceled {
		t.Errorf("cancel during the first charge: %+v, want accepted and canceled", got)
	}
	if got := started(); got.state.Start == nil || got.state.Start.Status != billing.PaymentFailed {
		t.Errorf("start_plan: %+v, want failed", got)
	}
	if res.Status != billing.PlanCanceled {
		t.Errorf("result %+v, want canceled", res)
	}
	h.wantEvents(billing.EventPaymentFailed, billing.EventPlanCanceled)
}

// TestHostedPlanPauseRefusedWhileStarting: a plan whose first charge is running is not
// active yet: pause is refused, so a failed start cannot leave it paused.
func TestHostedPlanPauseRefusedWhileStarting(t *testing.T) {
	h := newHarness(t, func(activitiestest.Call) (providers.ChargeResult, error) {
		return providers.ChargeResult{}, activitiestest.Decline(providers.ClassHardDecline, billing.CodeCardDeclined)
	})
	// The charge takes 30 s of workflow time, so messages arrive while it runs.
	h.env.OnActivity(h.acts.Charge, mock.Anything, mock.Anything).After(30 * time.Second).Return(
		func(ctx context.Context, req activities.ChargeRequest) (activities.ChargeResult, error) {
			return h.acts.Charge(ctx, req)
		})
	var paused func() updateResult
	h.at(start.Add(time.Minute), func() {
		h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_1",
			PaymentMethodID: "pm_card1", Authentication: proof})
	})
	h.at(start.Add(time.Minute+10*time.Second), func() { paused = h.update(workflows.UpdatePause, workflows.PauseRequest{}) })
	res := h.run(hostedInput(t, monthly("", 3)))
	if got := paused(); got.rejected == nil {
		t.Errorf("pause during the first charge: %+v, want refused", got)
	}
	if res.Status != billing.PlanIncompleteExpired {
		t.Errorf("result %+v", res)
	}
}

// TestHostedPlanStartThatCannotChargeAnswersAtOnce: a card over its attempt limit
// (failures on other plans) cannot pay the first installment now; start_plan answers
// failed at once instead of holding the customer's page until the limit lifts, and the
// plan is incomplete again with nothing charged.
func TestHostedPlanStartThatCannotChargeAnswersAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	for i := range 15 {
		h.ledger.AddPayment(storePayment("plan_other", i+1, start.Add(-time.Hour+time.Duration(i)*time.Minute)))
	}
	var started func() updateResult
	h.at(start.Add(time.Minute), func() {
		started = h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_1",
			PaymentMethodID: "pm_card1", Authentication: proof})
	})
	res := h.run(hostedInput(t, monthly("", 2)))
	got := started()
	if got.state.Start == nil || got.state.Start.Status != billing.PaymentFailed ||
		got.state.Start.FailureCode != billing.CodeAttemptLimitReached || got.state.Status != billing.PlanIncomplete {
		t.Errorf("start_plan on a card over its limit: %+v", got)
	}
	if res.Status != billing.PlanIncompleteExpired || len(h.provider.Calls()) != 0 {
		t.Errorf("result %+v with %d charges, want incomplete_expired and none", res, len(h.provider.Calls()))
	}
}

// TestHostedPlanRefusesAVerificationOnceTheFirstInstallmentIsDue: a page that only
// verified the card (made while the start was in the future) cannot start a plan whose
// first installment has fallen due meanwhile: that one must be paid customer-present.
func TestHostedPlanRefusesAVerificationOnceTheFirstInstallmentIsDue(t *testing.T) {
	h := newHarness(t, nil)
	var verified func() updateResult
	h.at(start.Add(time.Minute), func() {
		verified = h.update(workflows.UpdateStartPlan, activities.StartPlanRequest{PlanID: planID, SessionID: "ps_1",
			PaymentMethodID: "pm_card1", Verified: true})
	})
	res := h.run(hostedInput(t, monthly("", 2)))
	if got := verified(); got.rejected == nil {
		t.Errorf("a verification for a due first installment: %+v, want refused", got)
	}
	if res.Status != billing.PlanIncompleteExpired || len(h.provider.Calls()) != 0 {
		t.Errorf("result %+v with %d charges", res, len(h.provider.Calls()))
	}
}
