package workflows_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/workflows"
)

func TestChargesEveryInstallmentOnceAtItsDueInstant(t *testing.T) {
	h := newHarness(t, nil)
	s := monthly("2027-01-31", 4)
	first, final := int64(500), int64(1500)
	s.FirstAmount, s.FinalAmount = &first, &final
	res := h.run(input(t, s))

	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 500, "pm_card1"},
		{2, 1, "succeeded", utc("2027-02-28T09:00:00Z"), 1000, "pm_card1"}, // Jan 31 → Feb 28
		{3, 1, "succeeded", utc("2027-03-31T09:00:00Z"), 1000, "pm_card1"}, // and back to the 31st
		{4, 1, "succeeded", utc("2027-04-30T09:00:00Z"), 1500, "pm_card1"},
	})
	h.wantEvents("payment.succeeded", "payment.succeeded", "payment.succeeded", "payment.succeeded", "plan.completed")
	if res.Status != billing.PlanCompleted || res.Paid != 4 || res.PaidAmount != 4000 {
		t.Errorf("result = %+v, want completed with 4 paid, 4000", res)
	}

	calls := h.provider.Calls()
	if len(calls) != 4 {
		t.Fatalf("provider got %d charges, want 4", len(calls))
	}
	// No initial payment was given: the first charge is the customer-initiated one and
	// its network transaction id anchors every merchant-initiated charge after it.
	if c := calls[0]; c.Initiator != providers.InitiatorCustomer || c.IdempotencyKey != "plan_test1/1/1" {
		t.Errorf("first charge = %+v, want customer-initiated with key plan_test1/1/1", c.ChargeRequest)
	}
	for i, c := range calls[1:] {
		wantKey := "plan_test1/" + string(rune('2'+i)) + "/1"
		if c.Initiator != providers.InitiatorMerchant || c.NetworkTransactionID != "nti_plan_test1/1/1" || c.IdempotencyKey != wantKey {
			t.Errorf("charge %d = %+v, want merchant-initiated, key %s, initial NTI", i+2, c.ChargeRequest, wantKey)
		}
	}
	types := []string{}
	for _, p := range h.ledger.Payments() {
		if !p.IsRecurring {
			t.Errorf("payment %d: is_recurring false", p.Installment)
		}
		types = append(types, string(p.PaymentType))
	}
	if want := []string{"initial", "recurring", "recurring", "recurring"}; !slices.Equal(types, want) {
		t.Errorf("payment types %v, want %v", types, want)
	}
	if got := h.pms.Card("pm_card1").NetworkTransactionID; got != "nti_plan_test1/1/1" {
		t.Errorf("card's network id %q, want the first charge's", got)
	}
	row, ok := h.ledger.Plan(planID)
	if !ok || row.Status != "completed" || row.CustomerID != "cus_1" || row.NextChargeAt != nil {
		t.Errorf("plan row = %+v (found %v), want completed with no next charge", row, ok)
	}
}

func TestInitialNetworkTransactionIDMakesEveryChargeRecurring(t *testing.T) {
	h := newHarness(t, nil)
	in := input(t, monthly("2027-01-31", 2))
	in.InitialNetworkTransactionID = "nti_initial"
	h.run(in)
	for _, c := range h.provider.Calls() {
		if c.Initiator != providers.InitiatorMerchant || c.NetworkTransactionID != "nti_initial" {
			t.Errorf("charge %s: %s with NTI %q, want merchant-initiated with nti_initial", c.IdempotencyKey, c.Initiator, c.NetworkTransactionID)
		}
	}
	for _, p := range h.ledger.Payments() {
		if p.PaymentType != "recurring" {
			t.Errorf("payment %d type %s, want recurring", p.Installment, p.PaymentType)
		}
	}
}

func TestKeepsWallClockAcrossDST(t *testing.T) {
	h := newHarness(t, nil)
	n := 3
	amount := int64(700)
	// US DST starts on 2027-03-14: 09:00 New York is 14:00Z before, 13:00Z after.
	h.run(input(t, billing.Schedule{Frequency: billing.FrequencyWeeks, StartDate: "2027-03-08",
		RecurringAmount: &amount, Installments: &n, Timezone: "America/New_York"}))
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-03-08T14:00:00Z"), 700, "pm_card1"},
		{2, 1, "succeeded", utc("2027-03-15T13:00:00Z"), 700, "pm_card1"},
		{3, 1, "succeeded", utc("2027-03-22T13:00:00Z"), 700, "pm_card1"},
	})
}

func TestStopsAtExpiresOn(t *testing.T) {
	h := newHarness(t, nil)
	s := monthly("2027-01-15", 0) // unlimited…
	s.ExpiresOn = "2027-04-20"    // …until expires_on
	res := h.run(input(t, s))
	if res.Status != billing.PlanCompleted || res.Paid != 4 {
		t.Fatalf("result %+v, want completed after 4", res)
	}
	if last := h.payments()[3].at; !last.Equal(utc("2027-04-15T09:00:00Z")) {
		t.Errorf("last charge at %s, want 2027-04-15T09:00Z", last)
	}
}

func TestSoftDeclinesFollowDunningThenPastDueUntilNewCard(t *testing.T) {
	h := newHarness(t, declineToken("tok_1", activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)))
	in := input(t, monthly("2027-01-31", 2))
	var pastDue workflows.PlanState
	h.at(utc("2027-02-17T00:00:00Z"), func() { pastDue = h.state() })
	var changed func() updateResult
	h.at(utc("2027-02-20T12:00:00Z"), func() {
		changed = h.update(workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"})
	})
	res := h.run(in)

	due := utc("2027-01-31T09:00:00Z")
	day := 24 * time.Hour
	h.wantPayments([]payment{
		{1, 1, "failed", due, 1000, "pm_card1"},
		{1, 2, "failed", due.Add(1 * day), 1000, "pm_card1"},  // +1d
		{1, 3, "failed", due.Add(4 * day), 1000, "pm_card1"},  // +3d
		{1, 4, "failed", due.Add(9 * day), 1000, "pm_card1"},  // +5d
		{1, 5, "failed", due.Add(16 * day), 1000, "pm_card1"}, // +7d, the last
		// The new card is tried at once, with a new key; installment 2 keeps its date.
		{1, 6, "succeeded", utc("2027-02-20T12:00:00Z"), 1000, "pm_card2"},
		{2, 1, "succeeded", utc("2027-02-28T09:00:00Z"), 1000, "pm_card2"},
	})
	if pastDue.Status != billing.PlanPastDue || pastDue.LastError == nil || pastDue.LastError.Code != billing.CodeInsufficientFunds ||
		!pastDue.NextChargeAt.IsZero() || pastDue.Attempts != 5 || pastDue.DunningRetries != 4 {
		t.Errorf("state after the last retry = %+v, want past_due, no next charge, 5 attempts, last error insufficient_funds", pastDue)
	}
	if st := changed().state; st.Status != billing.PlanActive || st.PaymentMethodID != "pm_card2" {
		t.Errorf("change_payment_method returned %+v, want active on pm_card2", st)
	}
	// The first decline is told at once, with its retry date; the last one with the plan past_due.
	notes := h.notifier.Sent()
	if len(notes) != 2 || notes[0].Kind != activities.NotifyPaymentRetrying || notes[0].Installment != 1 ||
		!notes[0].RetryAt.Equal(utc("2027-02-01T09:00:00Z")) ||
		notes[1].Kind != activities.NotifyPaymentFailed || notes[1].Installment != 1 || notes[1].Status != billing.PlanPastDue {
		t.Errorf("notifications %+v, want payment_retrying (retry 2027-02-01) then payment_failed for installment 1, past_due", notes)
	}
	h.wantEvents("payment.failed", "payment.failed", "payment.failed", "payment.failed", "payment.failed",
		"plan.past_due", "payment.succeeded", "payment.succeeded", "plan.completed")
	if res.Status != billing.PlanCompleted || res.Paid != 2 {
		t.Errorf("result %+v, want completed with 2 paid", res)
	}
}

func TestDunningOutcomeCanceled(t *testing.T) {
	h := newHarness(t, declineToken("tok_1", activitiestest.Decline(providers.ClassSoftDecline, billing.CodeCardDeclined)))
	in := input(t, monthly("2027-01-31", 3))
	in.Dunning = billing.DunningPolicy{Retries: []billing.Duration{billing.Duration(30 * time.Second)}, Outcome: billing.OutcomeCanceled}
	res := h.run(in)
	due := utc("2027-01-31T09:00:00Z")
	h.wantPayments([]payment{
		{1, 1, "failed", due, 1000, "pm_card1"},
		{1, 2, "failed", due.Add(30 * time.Second), 1000, "pm_card1"}, // seconds in test mode
	})
	if res.Status != billing.PlanCanceled {
		t.Errorf("status %s, want canceled", res.Status)
	}
	h.wantEvents("payment.failed", "payment.failed", "plan.canceled")
	if n := h.notifier.Sent(); len(n) != 2 || n[0].Kind != activities.NotifyPaymentRetrying ||
		n[1].Kind != activities.NotifyPaymentFailed || n[1].Status != billing.PlanCanceled {
		t.Errorf("notifications %+v, want payment_retrying, then payment_failed with status canceled", n)
	}
}

func TestSoftDeclineRecoversAndLaterInstallmentsKeepTheirDates(t *testing.T) {
	h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.IdempotencyKey == "plan_test1/2/1" {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)
		}
		return activitiestest.Succeed(c)
	})
	h.run(input(t, monthly("2027-01-31", 3)))
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
		{2, 1, "failed", utc("2027-02-28T09:00:00Z"), 1000, "pm_card1"},
		{2, 2, "succeeded", utc("2027-03-01T09:00:00Z"), 1000, "pm_card1"},
		{3, 1, "succeeded", utc("2027-03-31T09:00:00Z"), 1000, "pm_card1"},
	})
	// Told once, at the first decline, with the retry date; nothing after the recovery.
	if n := h.notifier.Sent(); len(n) != 1 || n[0].Kind != activities.NotifyPaymentRetrying || n[0].Installment != 2 ||
		!n[0].RetryAt.Equal(utc("2027-03-01T09:00:00Z")) || n[0].IdempotencyKey != "plan_test1/2/1/payment_retrying" {
		t.Errorf("notified %+v on a recovered decline, want one payment_retrying for installment 2", n)
	}
}

func TestHardDeclineStopsAtOnce(t *testing.T) {
	h := newHarness(t, declineToken("tok_1", activitiestest.Decline(providers.ClassHardDecline, billing.CodeCardExpired)))
	var st workflows.PlanState
	h.at(utc("2027-03-30T00:00:00Z"), func() { st = h.state() })
	h.cancelAt(utc("2027-04-01T00:00:00Z"))
	h.run(input(t, monthly("2027-01-31", 3)))
	h.wantPayments([]payment{{1, 1, "failed", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"}})
	if st.Status != billing.PlanPastDue || st.LastError == nil || st.LastError.Class != "hard_decline" {
		t.Errorf("state %+v, want past_due after a hard decline", st)
	}
	if n := h.notifier.Sent(); len(n) != 1 || n[0].Code != billing.CodeCardExpired {
		t.Errorf("notifications %+v, want one about card_expired", n)
	}
	h.wantEvents("payment.failed", "plan.past_due", "plan.canceled")
}

func TestTransientErrorsAreRetriedWithTheSameKey(t *testing.T) {
	h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.N <= 2 {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeProcessingError)
		}
		return activitiestest.Succeed(c)
	})
	h.run(input(t, monthly("2027-01-31", 2)))
	var keys []string
	for _, c := range h.provider.Calls() {
		keys = append(keys, c.IdempotencyKey)
	}
	want := []string{"plan_test1/1/1", "plan_test1/1/1", "plan_test1/1/1", "plan_test1/2/1", "plan_test1/2/1", "plan_test1/2/1"}
	if !slices.Equal(keys, want) {
		t.Errorf("provider keys %v, want %v", keys, want)
	}
	if p := h.payments(); len(p) != 2 || p[0].status != "succeeded" || p[1].status != "succeeded" {
		t.Errorf("ledger %v, want one succeeded row per installment", p)
	}
}

func TestUnknownOutcomeReusesTheKeyOnTheDunningRetry(t *testing.T) {
	h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.IdempotencyKey == "plan_test1/1/1" && c.N <= activities.ChargeMaxAttempts {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeTimeout)
		}
		return activitiestest.Succeed(c)
	})
	var mid workflows.PlanState
	h.at(utc("2027-02-01T00:00:00Z"), func() { mid = h.state() })
	h.run(input(t, monthly("2027-01-31", 2)))

	calls := h.provider.Calls()
	if len(calls) != activities.ChargeMaxAttempts+2 {
		t.Fatalf("provider got %d calls, want %d", len(calls), activities.ChargeMaxAttempts+2)
	}
	for _, c := range calls[:activities.ChargeMaxAttempts+1] {
		if c.IdempotencyKey != "plan_test1/1/1" {
			t.Fatalf("call with key %s: an attempt with an unknown outcome must be retried with its own key", c.IdempotencyKey)
		}
	}
	if mid.Status != billing.PlanActive || mid.LastError == nil || mid.LastError.Code != billing.CodeTimeout ||
		!mid.NextChargeAt.After(utc("2027-02-01T09:00:00Z")) {
		t.Errorf("state while the outcome is unknown = %+v, want active, retrying a day later", mid)
	}
	p := h.payments()
	if len(p) != 2 || p[0].status != "succeeded" || p[0].attempt != 1 || p[0].at.Before(utc("2027-02-01T09:00:00Z")) {
		t.Errorf("ledger %v, want attempt 1 settled as succeeded by the retry a day later", p)
	}
	h.wantEvents("payment.succeeded", "payment.succeeded", "plan.completed")
	// Every resend of the key was preceded by a lookup: the activity's retries and the
	// retry a day later (which the workflow marks Resolve).
	if got := h.provider.Lookups(); len(got) != activities.ChargeMaxAttempts || got[len(got)-1] != "plan_test1/1/1" {
		t.Errorf("lookups = %v, want %d under plan_test1/1/1", got, activities.ChargeMaxAttempts)
	}
}

// TestUnknownOutcomeFoundAtTheProviderIsNotSentAgain: the installment's answer was lost
// every time, but the charge did happen; the retry a day later asks the provider first,
// finds it and records it, without sending the charge again.
func TestUnknownOutcomeFoundAtTheProviderIsNotSentAgain(t *testing.T) {
	h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.IdempotencyKey == "plan_test1/1/1" {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeTimeout)
		}
		return activitiestest.Succeed(c)
	})
	lookups := 0
	h.provider.Find = func(r providers.ChargeRequest) (providers.ChargeResult, error) {
		if lookups++; lookups < activities.ChargeMaxAttempts {
			return providers.ChargeResult{}, providers.ErrNoSuchCharge // the activity's own retries
		}
		return providers.ChargeResult{ID: "ch_found", Status: providers.ChargeSucceeded, Amount: r.Amount, Currency: r.Currency}, nil
	}
	h.run(input(t, monthly("2027-01-31", 2)))

	sent := 0
	for _, c := range h.provider.Calls() {
		if c.IdempotencyKey == "plan_test1/1/1" {
			sent++
		}
	}
	if sent != activities.ChargeMaxAttempts {
		t.Errorf("the key was sent %d times, want %d (none after the charge was found)", sent, activities.ChargeMaxAttempts)
	}
	p := h.ledger.Payments()
	if len(p) != 2 || p[0].Attempt != 1 || p[0].Status != billing.PaymentSucceeded || p[0].ProviderChargeID != "ch_found" {
		t.Errorf("ledger %+v, want attempt 1 settled with the charge found", p)
	}
	h.wantEvents("payment.succeeded", "payment.succeeded", "plan.completed")
}

// TestCardChangeSettlesTheUnknownAttemptOnItsOwnCard: the first attempt's outcome is
// unknown when the merchant gives the plan a new card. The attempt is not dropped: the
// plan asks the old card's provider under the old key, sending nothing (LookupOnly).
// When the charge is found, it pays the installment and the new card is not charged for
// it; when the provider has no such charge, the attempt is recorded failed and the new
// card is charged at once under the next key.
func TestCardChangeSettlesTheUnknownAttemptOnItsOwnCard(t *testing.T) {
	for _, tc := range []struct {
		name  string
		found bool
		want  []string // installment/attempt status card, in order
	}{
		{"found", true, []string{"1/1 succeeded pm_card1", "2/1 succeeded pm_card2"}},
		{"never reached the provider", false, []string{"1/1 failed pm_card1", "1/2 succeeded pm_card2", "2/1 succeeded pm_card2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
				if c.IdempotencyKey == "plan_test1/1/1" {
					return providers.ChargeResult{}, activitiestest.Decline(providers.ClassTransient, billing.CodeTimeout)
				}
				return activitiestest.Succeed(c)
			})
			var lookups []string
			h.provider.Find = func(r providers.ChargeRequest) (providers.ChargeResult, error) {
				lookups = append(lookups, r.Token)
				if !tc.found || len(lookups) < activities.ChargeMaxAttempts {
					return providers.ChargeResult{}, providers.ErrNoSuchCharge
				}
				return providers.ChargeResult{ID: "ch_found", Status: providers.ChargeSucceeded, Amount: r.Amount, Currency: r.Currency}, nil
			}
			var changed func() updateResult
			h.at(utc("2027-01-31T12:00:00Z"), func() {
				changed = h.update(workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"})
			})
			res := h.run(input(t, monthly("2027-01-31", 2)))
			if st := changed().state; st.PaymentMethodID != "pm_card2" {
				t.Fatalf("change_payment_method = %+v", st)
			}
			var got []string
			for _, p := range h.ledger.Payments() {
				got = append(got, fmt.Sprintf("%d/%d %s %s", p.Installment, p.Attempt, p.Status, p.PaymentMethodID))
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("ledger %v, want %v", got, tc.want)
			}
			for _, c := range h.provider.Calls() {
				if c.Token == "tok_1" && c.IdempotencyKey != "plan_test1/1/1" {
					t.Errorf("the old card was charged under %s", c.IdempotencyKey)
				}
			}
			if last := lookups[len(lookups)-1]; last != "tok_1" {
				t.Errorf("the settling lookup asked about card token %q, want the old card's tok_1", last)
			}
			if res.Status != billing.PlanCompleted || res.Paid != 2 {
				t.Errorf("result %+v, want completed with 2 paid", res)
			}
		})
	}
}

func TestCancelSignal(t *testing.T) {
	h := newHarness(t, nil)
	h.cancelAt(utc("2027-02-10T00:00:00Z"))
	res := h.run(input(t, monthly("2027-01-31", 3)))
	if res.Status != billing.PlanCanceled || res.Paid != 1 {
		t.Errorf("result %+v, want canceled after 1 paid", res)
	}
	h.wantEvents("payment.succeeded", "plan.canceled")
	if row, _ := h.ledger.Plan(planID); row.Status != "canceled" {
		t.Errorf("plan row status %s, want canceled", row.Status)
	}
}

func TestUpdatesValidateTransitions(t *testing.T) {
	h := newHarness(t, nil)
	results := map[string]func() updateResult{}
	// One update a minute, as clients would send them.
	for i, u := range []struct {
		name, update string
		arg          any
	}{
		{"resume active", workflows.UpdateResume, workflows.ResumeRequest{}},
		{"pause", workflows.UpdatePause, workflows.PauseRequest{}},
		{"pause paused", workflows.UpdatePause, workflows.PauseRequest{}},
		{"bad pm", workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "card_x"}},
		{"cancel", workflows.UpdateCancel, workflows.CancelRequest{Reason: "customer left"}},
	} {
		h.at(utc("2027-02-10T00:00:00Z").Add(time.Duration(i)*time.Minute), func() { results[u.name] = h.update(u.update, u.arg) })
	}
	// A canceled plan's workflow ends at once, so later updates never reach a
	// validator: the server refuses them and starter reports a conflict (tested on a
	// real server in servertest); billing.CheckAction covers terminal statuses.
	res := h.run(input(t, monthly("2027-01-31", 3)))
	for name, wantType := range map[string]string{
		"resume active": workflows.ErrInvalidTransition, "pause paused": workflows.ErrInvalidTransition,
		"bad pm": workflows.ErrInvalidArgument,
	} {
		var appErr *temporal.ApplicationError
		r := results[name]()
		if !errors.As(r.rejected, &appErr) || appErr.Type() != wantType {
			t.Errorf("%s: rejected with %v, want an ApplicationError of type %s", name, r.rejected, wantType)
			continue
		}
		var rej workflows.Rejection
		if err := appErr.Details(&rej); err != nil || (wantType == workflows.ErrInvalidTransition && rej.Code != billing.CodeInvalidTransition) {
			t.Errorf("%s: details code %q (%v)", name, rej.Code, err)
		}
	}
	if r := results["pause"](); r.rejected != nil || r.state.Status != billing.PlanPaused {
		t.Errorf("pause: %+v, want accepted with status paused", r)
	}
	if r := results["cancel"](); r.rejected != nil || r.state.Status != billing.PlanCanceled || r.state.CancelReason != "customer left" {
		t.Errorf("cancel: %+v, want canceled", r)
	}
	if res.Status != billing.PlanCanceled {
		t.Errorf("result %+v, want canceled", res)
	}
}

func TestBlockAndUnblock(t *testing.T) {
	h := newHarness(t, nil)
	var blocked workflows.PlanState
	h.at(utc("2027-02-10T00:00:00Z"), func() {
		h.env.SignalWorkflow(workflows.SignalBlock, workflows.PaymentMethodSignal{PaymentMethodID: "pm_card1"})
	})
	h.at(utc("2027-03-01T00:00:00Z"), func() {
		blocked = h.state()
		// Another card's unblock does not apply to this plan.
		h.env.SignalWorkflow(workflows.SignalUnblock, workflows.PaymentMethodSignal{PaymentMethodID: "pm_other"})
	})
	h.at(utc("2027-03-03T12:00:00Z"), func() {
		h.env.SignalWorkflow(workflows.SignalUnblock, workflows.PaymentMethodSignal{PaymentMethodID: "pm_card1"})
	})
	h.run(input(t, monthly("2027-01-31", 3)))
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
		{2, 1, "succeeded", utc("2027-03-03T12:00:00Z"), 1000, "pm_card1"}, // at once on unblock
		{3, 1, "succeeded", utc("2027-03-31T09:00:00Z"), 1000, "pm_card1"}, // its own date
	})
	if blocked.Status != billing.PlanBlocked || !blocked.NextChargeAt.IsZero() || blocked.NextInstallment != 2 {
		t.Errorf("state while blocked = %+v, want blocked, installment 2 waiting, no next charge", blocked)
	}
}

func TestDetachWaitsForANewPaymentMethod(t *testing.T) {
	h := newHarness(t, nil)
	var detached workflows.PlanState
	h.at(utc("2027-02-10T00:00:00Z"), func() {
		h.env.SignalWorkflow(workflows.SignalDetach, workflows.PaymentMethodSignal{PaymentMethodID: "pm_card1"})
	})
	h.at(utc("2027-03-04T00:00:00Z"), func() { detached = h.state() })
	h.at(utc("2027-03-05T10:00:00Z"), func() {
		h.update(workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"})
	})
	h.run(input(t, monthly("2027-01-31", 3)))
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
		{2, 1, "succeeded", utc("2027-03-05T10:00:00Z"), 1000, "pm_card2"},
		{3, 1, "succeeded", utc("2027-03-31T09:00:00Z"), 1000, "pm_card2"},
	})
	if detached.Status != billing.PlanActionRequired || !detached.Detached {
		t.Errorf("state after detach = %+v, want action_required", detached)
	}
	h.wantEvents("payment.succeeded", "plan.action_required", "payment.succeeded", "payment.succeeded", "plan.completed")
	if n := h.notifier.Sent(); len(n) != 1 || n[0].Kind != activities.NotifyActionRequired {
		t.Errorf("notifications %+v, want one action_required", n)
	}
	if row, _ := h.ledger.Plan(planID); row.PaymentMethodID != "pm_card2" {
		t.Errorf("plan row payment method %s, want pm_card2", row.PaymentMethodID)
	}
}

func TestPauseSkipsWhatFallsDueAndResumeKeepsDates(t *testing.T) {
	h := newHarness(t, nil)
	var paused func() updateResult
	h.at(utc("2027-02-10T00:00:00Z"), func() { paused = h.update(workflows.UpdatePause, workflows.PauseRequest{}) })
	var resumed func() updateResult
	h.at(utc("2027-04-05T00:00:00Z"), func() { resumed = h.update(workflows.UpdateResume, workflows.ResumeRequest{}) })
	res := h.run(input(t, monthly("2027-01-31", 5)))
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
		{4, 1, "succeeded", utc("2027-04-30T09:00:00Z"), 1000, "pm_card1"},
		{5, 1, "succeeded", utc("2027-05-31T09:00:00Z"), 1000, "pm_card1"},
	})
	if st := paused().state; st.Status != billing.PlanPaused || !st.NextChargeAt.IsZero() {
		t.Errorf("pause returned %+v, want paused without a next charge", st)
	}
	if st := resumed().state; st.Status != billing.PlanActive || st.NextInstallment != 4 || st.Skipped != 2 ||
		!st.NextChargeAt.Equal(utc("2027-04-30T09:00:00Z")) || st.Remaining == nil || *st.Remaining != 2 {
		t.Errorf("resume returned %+v, want active, installment 4 next at 2027-04-30, 2 skipped, 2 remaining", st)
	}
	if res.Paid != 3 || res.Skipped != 2 || res.Status != billing.PlanCompleted {
		t.Errorf("result %+v, want completed with 3 paid and 2 skipped", res)
	}
}

func TestSkipNext(t *testing.T) {
	h := newHarness(t, nil)
	var skipped func() updateResult
	h.at(utc("2027-02-10T00:00:00Z"), func() { skipped = h.update(workflows.UpdateSkipNext, workflows.SkipNextRequest{}) })
	res := h.run(input(t, monthly("2027-01-31", 4)))
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
		{3, 1, "succeeded", utc("2027-03-31T09:00:00Z"), 1000, "pm_card1"},
		{4, 1, "succeeded", utc("2027-04-30T09:00:00Z"), 1000, "pm_card1"},
	})
	if st := skipped().state; st.NextInstallment != 3 || st.Skipped != 1 || !st.NextChargeAt.Equal(utc("2027-03-31T09:00:00Z")) {
		t.Errorf("skip_next returned %+v, want installment 3 next at its date", st)
	}
	if res.Skipped != 1 || res.Paid != 3 {
		t.Errorf("result %+v", res)
	}
}

func TestSkipNextSparesTheInstallmentInDunningAndRefusesWhenNothingIsLeft(t *testing.T) {
	h := newHarness(t, declineToken("tok_1", activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)))
	var r func() updateResult
	h.at(utc("2027-01-31T12:00:00Z"), func() { r = h.update(workflows.UpdateSkipNext, workflows.SkipNextRequest{}) })
	h.cancelAt(utc("2027-01-31T13:00:00Z"))
	h.run(input(t, monthly("2027-01-31", 1)))
	var appErr *temporal.ApplicationError
	var rej workflows.Rejection
	if res := r(); !errors.As(res.rejected, &appErr) || appErr.Details(&rej) != nil || rej.Code != billing.CodeNothingToSkip {
		t.Errorf("skip_next on the last installment, in dunning: %+v, want rejected with nothing_to_skip", res)
	}
}

func TestAuthenticationRequiredAsksTheCustomer(t *testing.T) {
	h := newHarness(t, declineToken("tok_1", activitiestest.Decline(providers.ClassAuthenticationRequired, billing.CodeAuthenticationRequired)))
	var st workflows.PlanState
	h.at(utc("2027-02-01T00:00:00Z"), func() { st = h.state() })
	h.cancelAt(utc("2027-02-02T00:00:00Z"))
	h.run(input(t, monthly("2027-01-31", 2)))
	if st.Status != billing.PlanActionRequired {
		t.Errorf("status %s, want action_required", st.Status)
	}
	if n := h.notifier.Sent(); len(n) != 1 || n[0].Kind != activities.NotifyActionRequired {
		t.Errorf("notifications %+v", n)
	}
	h.wantEvents("payment.failed", "plan.action_required", "plan.canceled")
}

func TestInvalidRequestFailsThePlan(t *testing.T) {
	h := newHarness(t, declineToken("tok_1", activitiestest.Decline(providers.ClassInvalidRequest, billing.CodeCurrencyNotSupported)))
	res := h.run(input(t, monthly("2027-01-31", 2)))
	if res.Status != billing.PlanFailed {
		t.Errorf("status %s, want failed", res.Status)
	}
	h.wantEvents("payment.failed", "plan.failed")
}

func TestCardBlockedInTheStoreWaitsForUnblock(t *testing.T) {
	h := newHarness(t, nil)
	h.pms.Set("pm_card1", storeCard("tok_1", true))
	h.at(utc("2027-02-03T00:00:00Z"), func() {
		h.pms.Set("pm_card1", storeCard("tok_1", false))
		h.env.SignalWorkflow(workflows.SignalUnblock, workflows.PaymentMethodSignal{})
	})
	h.run(input(t, monthly("2027-01-31", 1)))
	h.wantPayments([]payment{{1, 1, "succeeded", utc("2027-02-03T00:00:00Z"), 1000, "pm_card1"}})
}

func TestNoCardFailsMoreThan15TimesIn30Days(t *testing.T) {
	h := newHarness(t, declineToken("tok_1", activitiestest.Decline(providers.ClassSoftDecline, billing.CodeCardDeclined)))
	in := input(t, monthly("2027-01-31", 2))
	hour := billing.Duration(time.Hour)
	in.Dunning = billing.DunningPolicy{Retries: slices.Repeat([]billing.Duration{hour}, 10), Outcome: billing.OutcomePastDue}
	// 11 failures on day 0, then past_due; the same card given again fails 4 more
	// times, and the 16th attempt has to wait until the first failure is 30 days old.
	h.at(utc("2027-02-01T09:00:00Z"), func() {
		h.update(workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card1"})
	})
	var deferred workflows.PlanState
	h.at(utc("2027-02-02T00:00:00Z"), func() { deferred = h.state() })
	h.cancelAt(utc("2027-03-05T00:00:00Z"))
	h.run(in)

	var fails []time.Time
	for _, p := range h.payments() {
		fails = append(fails, p.at)
	}
	if len(fails) < 17 {
		t.Fatalf("only %d attempts", len(fails))
	}
	for i := range fails {
		n := 0
		for _, f := range fails {
			if !f.Before(fails[i]) && f.Before(fails[i].Add(30*24*time.Hour)) {
				n++
			}
		}
		if n > 15 {
			t.Fatalf("%d failed attempts within 30 days from %s", n, fails[i])
		}
	}
	first := utc("2027-01-31T09:00:00Z")
	if !fails[15].Equal(first.Add(30 * 24 * time.Hour)) {
		t.Errorf("16th attempt at %s, want when the first failure leaves the window, %s", fails[15], first.Add(30*24*time.Hour))
	}
	if !deferred.NextChargeAt.Equal(first.Add(30 * 24 * time.Hour)) {
		t.Errorf("next charge while over the limit = %s, want %s", deferred.NextChargeAt, first.Add(30*24*time.Hour))
	}
}

func TestAttemptLimitCountsOtherPlansFailures(t *testing.T) {
	h := newHarness(t, nil)
	other := utc("2027-01-20T00:00:00Z")
	for i := range 15 {
		otherPlan := "plan_other"
		h.ledger.AddPayment(storePayment(otherPlan, i+1, other.Add(time.Duration(i)*time.Minute)))
	}
	h.run(input(t, monthly("2027-01-31", 1)))
	h.wantPayments(append(h.payments()[:15], payment{1, 1, "succeeded", other.Add(30 * 24 * time.Hour), 1000, "pm_card1"}))
}

func TestSearchAttributesStayCurrent(t *testing.T) {
	h := newHarness(t, nil)
	h.at(utc("2027-02-10T00:00:00Z"), func() { h.env.SignalWorkflow(workflows.SignalBlock, workflows.PaymentMethodSignal{}) })
	h.at(utc("2027-02-12T00:00:00Z"), func() { h.env.SignalWorkflow(workflows.SignalUnblock, workflows.PaymentMethodSignal{}) })
	h.run(input(t, monthly("2027-01-31", 2)))

	for _, c := range []struct {
		at   string
		want map[string]any
	}{
		{"2027-01-01T00:00:00Z", map[string]any{"PlanStatus": "active", "CustomerId": "cus_1", "MerchantId": "mer_1", "NextChargeAt": utc("2027-01-31T09:00:00Z")}},
		{"2027-02-01T00:00:00Z", map[string]any{"PlanStatus": "active", "CustomerId": "cus_1", "MerchantId": "mer_1", "NextChargeAt": utc("2027-02-28T09:00:00Z")}},
		{"2027-02-11T00:00:00Z", map[string]any{"PlanStatus": "blocked", "CustomerId": "cus_1", "MerchantId": "mer_1"}},
		{"2027-02-13T00:00:00Z", map[string]any{"PlanStatus": "active", "CustomerId": "cus_1", "MerchantId": "mer_1", "NextChargeAt": utc("2027-02-28T09:00:00Z")}},
		{"2027-03-01T00:00:00Z", map[string]any{"PlanStatus": "completed", "CustomerId": "cus_1", "MerchantId": "mer_1"}},
	} {
		got := h.searchAttributes(utc(c.at))
		if len(got) != len(c.want) {
			t.Errorf("at %s: search attributes %v, want %v", c.at, got, c.want)
			continue
		}
		for k, v := range c.want {
			if tv, ok := v.(time.Time); ok {
				if gt, ok := got[k].(time.Time); !ok || !gt.Equal(tv) {
					t.Errorf("at %s: %s = %v, want %v", c.at, k, got[k], v)
				}
			} else if got[k] != v {
				t.Errorf("at %s: %s = %v, want %v", c.at, k, got[k], v)
			}
		}
	}
}

func TestStateQuery(t *testing.T) {
	h := newHarness(t, nil)
	s := monthly("2027-01-31", 3)
	first := int64(250)
	s.FirstAmount = &first
	var before, after workflows.PlanState
	h.at(utc("2027-01-02T00:00:00Z"), func() { before = h.state() })
	h.at(utc("2027-02-01T00:00:00Z"), func() { after = h.state() })
	h.run(input(t, s))
	if before.PlanID != planID || before.Status != billing.PlanActive || before.NextInstallment != 1 || before.NextAmount != 250 ||
		!before.NextChargeAt.Equal(utc("2027-01-31T09:00:00Z")) || before.Paid != 0 || before.Remaining == nil || *before.Remaining != 3 {
		t.Errorf("state before the first charge = %+v", before)
	}
	if after.NextInstallment != 2 || after.Paid != 1 || after.PaidAmount != 250 || *after.Remaining != 2 ||
		!after.NextDueAt.Equal(utc("2027-02-28T09:00:00Z")) || after.PaymentMethodID != "pm_card1" {
		t.Errorf("state after the first charge = %+v", after)
	}
}
