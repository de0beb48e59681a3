package workflows_test

import (
	"errors"
	"testing"
	"time"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/workflows"
)

// blockedFebToMay blocks the card on 2027-02-10 and unblocks it on 2027-05-05, so
// installments 2 (Feb 28), 3 (Mar 31) and 4 (Apr 30) are overdue at the unblock.
func (h *harness) blockedFebToMay() {
	h.at(utc("2027-02-10T00:00:00Z"), func() {
		h.env.SignalWorkflow(workflows.SignalBlock, workflows.PaymentMethodSignal{PaymentMethodID: "pm_card1"})
	})
	h.at(utc("2027-05-05T12:00:00Z"), func() {
		h.env.SignalWorkflow(workflows.SignalUnblock, workflows.PaymentMethodSignal{PaymentMethodID: "pm_card1"})
	})
}

// TestCatchUpAfterABlock: after a block over three due dates, catch_up all charges the
// three at once (as before the field), latest only the last of them, none none of
// them; the next installment keeps its date in every case.
func TestCatchUpAfterABlock(t *testing.T) {
	unblocked := utc("2027-05-05T12:00:00Z")
	for policy, want := range map[billing.CatchUp][]payment{
		"": {
			{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
			{2, 1, "succeeded", unblocked, 1000, "pm_card1"},
			{3, 1, "succeeded", unblocked, 1000, "pm_card1"},
			{4, 1, "succeeded", unblocked, 1000, "pm_card1"},
			{5, 1, "succeeded", utc("2027-05-31T09:00:00Z"), 1000, "pm_card1"},
		},
		billing.CatchUpLatest: {
			{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
			{4, 1, "succeeded", unblocked, 1000, "pm_card1"},
			{5, 1, "succeeded", utc("2027-05-31T09:00:00Z"), 1000, "pm_card1"},
		},
		billing.CatchUpNone: {
			{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
			{5, 1, "succeeded", utc("2027-05-31T09:00:00Z"), 1000, "pm_card1"},
		},
	} {
		t.Run(string(policy), func(t *testing.T) {
			h := newHarness(t, nil)
			h.blockedFebToMay()
			in := input(t, monthly("2027-01-31", 5))
			in.CatchUp = policy
			res := h.run(in)
			h.wantPayments(want)
			if res.Skipped != 5-len(want) || res.Paid != len(want) || res.Status != billing.PlanCompleted {
				t.Errorf("result %+v, want %d paid and %d skipped", res, len(want), 5-len(want))
			}
		})
	}
}

// TestCatchUpNoneChargesWhatIsOnTime: under catch_up none an installment charged at
// its due instant (the timer) is on time; catch-up only drops what is late.
func TestCatchUpNoneChargesWhatIsOnTime(t *testing.T) {
	h := newHarness(t, nil)
	in := input(t, monthly("2027-01-31", 3))
	in.CatchUp = billing.CatchUpNone
	if res := h.run(in); res.Paid != 3 || res.Skipped != 0 {
		t.Errorf("result %+v, want every installment paid on its date", res)
	}
}

// TestPauseDeferChargesOnResume: a deferring pause over two due dates keeps them: both
// are charged when the plan resumes (catch_up all), the next keeps its date.
func TestPauseDeferChargesOnResume(t *testing.T) {
	h := newHarness(t, nil)
	var paused func() updateResult
	h.at(utc("2027-02-10T00:00:00Z"), func() {
		paused = h.update(workflows.UpdatePause, workflows.PauseRequest{Behavior: billing.PauseDefer})
	})
	h.at(utc("2027-04-05T00:00:00Z"), func() { h.update(workflows.UpdateResume, workflows.ResumeRequest{}) })
	res := h.run(input(t, monthly("2027-01-31", 4)))
	resumed := utc("2027-04-05T00:00:00Z")
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
		{2, 1, "succeeded", resumed, 1000, "pm_card1"},
		{3, 1, "succeeded", resumed, 1000, "pm_card1"},
		{4, 1, "succeeded", utc("2027-04-30T09:00:00Z"), 1000, "pm_card1"},
	})
	if st := paused().state; st.Status != billing.PlanPaused || st.PauseBehavior != billing.PauseDefer {
		t.Errorf("pause returned %+v, want paused, behavior defer", st)
	}
	if res.Paid != 4 || res.Skipped != 0 {
		t.Errorf("result %+v, want 4 paid, none skipped", res)
	}
}

// TestPauseResumesByItself: a pause with resume_at ends then without a resume: what
// fell due meanwhile is skipped (behavior skip), the rest keep their dates; a
// resume_at in the past, or an unknown behavior, is refused naming the field.
func TestPauseResumesByItself(t *testing.T) {
	h := newHarness(t, nil)
	var paused, late, odd func() updateResult
	var during workflows.PlanState
	// (One update per instant: the harness names updates by the time they are sent.)
	h.at(utc("2027-02-09T23:00:00Z"), func() {
		late = h.update(workflows.UpdatePause, workflows.PauseRequest{ResumeAt: utc("2027-02-09T00:00:00Z")})
	})
	h.at(utc("2027-02-09T23:30:00Z"), func() { odd = h.update(workflows.UpdatePause, workflows.PauseRequest{Behavior: "later"}) })
	h.at(utc("2027-02-10T00:00:00Z"), func() {
		paused = h.update(workflows.UpdatePause, workflows.PauseRequest{ResumeAt: utc("2027-04-01T00:00:00Z")})
	})
	h.at(utc("2027-03-15T00:00:00Z"), func() { during = h.state() })
	res := h.run(input(t, monthly("2027-01-31", 4)))
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
		{4, 1, "succeeded", utc("2027-04-30T09:00:00Z"), 1000, "pm_card1"},
	})
	for name, r := range map[string]func() updateResult{"resume_at in the past": late, "behavior later": odd} {
		if got := r(); got.rejected == nil {
			t.Errorf("pause with %s was accepted: %+v", name, got.state)
		}
	}
	if st := paused().state; st.Status != billing.PlanPaused || !st.ResumeAt.Equal(utc("2027-04-01T00:00:00Z")) ||
		st.PauseBehavior != billing.PauseSkip {
		t.Errorf("pause returned %+v, want paused until 2027-04-01, behavior skip", st)
	}
	if during.Status != billing.PlanPaused {
		t.Errorf("state in the pause: %+v", during)
	}
	if res.Paid != 2 || res.Skipped != 2 || res.Status != billing.PlanCompleted {
		t.Errorf("result %+v, want 2 paid, 2 skipped (Feb and Mar)", res)
	}
}

// TestMinDaysBetweenChargesHoldsThroughDunningAndCatchUp: installment 1 is declined
// once and paid by its dunning retry two days late; with 28 days between charges,
// installment 2 (due 28 days after 1's due date) waits until 28 days after that
// payment, and after a block the overdue installment 3 and 4 are charged 28 days apart,
// not at once.
func TestMinDaysBetweenChargesHoldsThroughDunningAndCatchUp(t *testing.T) {
	declined := false
	h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if !declined {
			declined = true
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)
		}
		return activitiestest.Succeed(c)
	})
	every, amount, n := 28, int64(1000), 5
	s := billing.Schedule{Frequency: billing.FrequencyDays, FrequencyDuration: &every, StartDate: "2027-01-05",
		RecurringAmount: &amount, Installments: &n}
	in := input(t, s)
	in.MinDaysBetweenCharges = 28
	dunning, err := billing.DunningPolicy{Retries: []billing.Duration{billing.Duration(48 * time.Hour)}}.Resolve(billing.ModeTest)
	if err != nil {
		t.Fatal(err)
	}
	in.Dunning = dunning
	h.at(utc("2027-03-01T00:00:00Z"), func() {
		h.env.SignalWorkflow(workflows.SignalBlock, workflows.PaymentMethodSignal{PaymentMethodID: "pm_card1"})
	})
	h.at(utc("2027-04-20T00:00:00Z"), func() {
		h.env.SignalWorkflow(workflows.SignalUnblock, workflows.PaymentMethodSignal{PaymentMethodID: "pm_card1"})
	})
	h.run(in)
	var paid []time.Time
	for _, p := range h.payments() {
		if p.status == "succeeded" {
			paid = append(paid, p.at)
		}
	}
	if len(paid) != 5 {
		t.Fatalf("%d successful charges, want 5: %v", len(paid), h.payments())
	}
	for i := 1; i < len(paid); i++ {
		if gap := paid[i].Sub(paid[i-1]); gap < 28*24*time.Hour {
			t.Errorf("charges %d and %d are %s apart, closer than 28 days", i, i+1, gap)
		}
	}
	// Installment 2 was due 2027-02-02 09:00; installment 1 was paid 2027-01-07 09:00.
	if want := utc("2027-02-04T09:00:00Z"); !paid[1].Equal(want) {
		t.Errorf("installment 2 charged at %s, want %s (28 days after the late first payment)", paid[1], want)
	}
	if want := utc("2027-04-20T00:00:00Z"); !paid[2].Equal(want) {
		t.Errorf("installment 3 charged at %s, want at the unblock %s", paid[2], want)
	}
}

// TestScheduleSpacingIsChecked: a schedule closer than min_days_between_charges is
// refused naming the field; one as far apart is taken.
func TestScheduleSpacingIsChecked(t *testing.T) {
	tt, err := monthly("2027-01-31", 12).Resolve(billing.ModeTest, start)
	if err != nil {
		t.Fatal(err)
	}
	if err := billing.CheckSpacing(tt, 28); err != nil {
		t.Errorf("monthly with 28 days between charges: %v", err)
	}
	for days, code := range map[int]string{29: billing.CodeScheduleTooDense, -1: billing.CodeInvalidValue, 400: billing.CodeInvalidValue} {
		var be *billing.Error
		if err := billing.CheckSpacing(tt, days); !errors.As(err, &be) || be.Param != "min_days_between_charges" || be.Code != code {
			t.Errorf("CheckSpacing(monthly, %d) = %v, want %s naming min_days_between_charges", days, err, code)
		}
	}
}

// TestUpcomingNoticeBeforeEachCharge: with a 3-day notice every installment is
// announced (payment.upcoming and the customer's notification, once each) three days
// before it is due, and still charged on its date.
func TestUpcomingNoticeBeforeEachCharge(t *testing.T) {
	h := newHarness(t, nil)
	in := input(t, monthly("2027-01-31", 3))
	in.UpcomingNotice = 72 * time.Hour
	h.run(in)
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:00:00Z"), 1000, "pm_card1"},
		{2, 1, "succeeded", utc("2027-02-28T09:00:00Z"), 1000, "pm_card1"},
		{3, 1, "succeeded", utc("2027-03-31T09:00:00Z"), 1000, "pm_card1"},
	})
	h.wantEvents("payment.upcoming", "payment.succeeded", "payment.upcoming", "payment.succeeded", "payment.upcoming",
		"payment.succeeded", "plan.completed")
	var notes []activities.Notification
	for _, n := range h.notifier.Sent() {
		if n.Kind == billing.NotifyPaymentUpcoming {
			notes = append(notes, n)
		}
	}
	if len(notes) != 3 || notes[1].Installment != 2 || !notes[1].DueAt.Equal(utc("2027-02-28T09:00:00Z")) || notes[1].Amount != 1000 {
		t.Errorf("upcoming notifications %+v, want one per installment with its date and amount", notes)
	}
}

// TestFirstDeclineToldOnceAfterAnUnknownOutcome: installment 1's first attempt never
// gets an answer (its outcome unknown, which uses a dunning retry), the retry under the
// same key is soft-declined: that is the first decline the customer hears of, told
// once, with the next retry's date.
func TestFirstDeclineToldOnceAfterAnUnknownOutcome(t *testing.T) {
	h := newHarness(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		switch {
		case c.IdempotencyKey == planID+"/1/1" && c.N <= activities.ChargeMaxAttempts:
			return providers.ChargeResult{}, &providers.Error{Class: providers.ClassTransient, Code: billing.CodeTimeout}
		case c.IdempotencyKey == planID+"/1/1":
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)
		}
		return activitiestest.Succeed(c)
	})
	h.run(input(t, monthly("2027-01-31", 2)))
	var told []activities.Notification
	for _, n := range h.notifier.Sent() {
		if n.Kind == billing.NotifyPaymentRetrying {
			told = append(told, n)
		}
	}
	if len(told) != 1 || told[0].Installment != 1 || told[0].RetryAt.IsZero() {
		t.Errorf("payment_retrying notices %+v, want one for installment 1 with its retry date (all sent: %+v)", told, h.notifier.Sent())
	}
}
