package servertest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// testPlan is a test-mode plan of n installments of 1000, every `every` seconds from
// `every` seconds from now, charging pm_card1 with no dunning retry.
func testPlan(t *testing.T, e *env, id string, n, every int) workflows.PlanInput {
	t.Helper()
	amount := int64(1000)
	tt, err := billing.Schedule{
		Frequency: billing.FrequencySeconds, FrequencyDuration: &every, RecurringAmount: &amount, Installments: &n,
		StartDate: time.Now().Add(time.Duration(every) * time.Second).UTC().Format(time.RFC3339),
	}.Resolve(billing.ModeTest, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return workflows.PlanInput{
		PlanID: id, MerchantID: e.merchant, Mode: billing.ModeTest, CustomerID: "cus_1",
		PaymentMethodID: "pm_card1", Provider: "fake", Currency: "USD", Type: "ecom", Timetable: tt,
		InitialNetworkTransactionID: "nti_initial",
	}
}

// runToEnd waits for the plan's (single) run to finish and returns its result.
func runToEnd(t *testing.T, e *env, planID string) workflows.PlanResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var res workflows.PlanResult
	if err := e.c.GetWorkflow(ctx, planID, "").Get(ctx, &res); err != nil {
		t.Fatalf("plan result: %v", err)
	}
	return res
}

// paidInstallments returns the plan's ledger rows as "installment status pm",
// in installment order.
func paidInstallments(t *testing.T, e *env, planID string) []string {
	t.Helper()
	page, err := e.db.ListPlanPayments(context.Background(), billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest},
		planID, billing.ListParams{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, p := range page.Items {
		rows = append(rows, fmt.Sprintf("%d %s %s", p.Installment, p.Status, p.PaymentMethodID))
	}
	slices.Sort(rows)
	return rows
}

// chargedKeys returns the idempotency keys the provider received for the plan, in
// order, each with the token of the card charged.
func chargedKeys(e *env, planID string) []string {
	var keys []string
	for _, c := range e.provider.Calls() {
		if strings.HasPrefix(c.IdempotencyKey, planID+"/") {
			keys = append(keys, c.IdempotencyKey+" "+c.Token)
		}
	}
	return keys
}

// sleepUntil sleeps until at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// recordSingleRun checks the plan took one run and, with -record and the test passing
// so far, writes its history to workflows/testdata/name.
func recordSingleRun(t *testing.T, e *env, res workflows.PlanResult, planID, name string) {
	t.Helper()
	if res.Runs != 1 {
		t.Fatalf("%d runs, want 1", res.Runs)
	}
	if *record && !t.Failed() {
		writeHistory(t, history(t, e.c, planID), name)
	}
}

// TestPausePlanOnRealServer pauses a plan after its first charge and resumes it after
// the second installment fell due: that one is skipped, the others are charged on
// their dates. With -record the history is written to
// workflows/testdata/plan_pause_resume.json.
func TestPausePlanOnRealServer(t *testing.T) {
	e := startWithWebhooks(t, activitiestest.Succeed)
	ctx := context.Background()
	in := testPlan(t, e, "plan_pause_resume", 4, 3)
	if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e.c, in.PlanID, "the first charge", func(st workflows.PlanState) bool { return st.Paid == 1 })

	paused, err := starter.PausePlan(ctx, e.c, in.PlanID, workflows.PauseRequest{})
	if err != nil || paused.Status != billing.PlanPaused || paused.NextInstallment != 2 || !paused.NextChargeAt.IsZero() {
		t.Fatalf("pause: %+v, %v; want paused before installment 2, nothing to charge", paused, err)
	}
	if !time.Now().Before(paused.NextDueAt) {
		t.Fatalf("paused at %v, after installment 2 fell due (%v): the machine is too slow for this schedule", time.Now(), paused.NextDueAt)
	}
	sleepUntil(paused.NextDueAt.Add(time.Second))
	if st, err := starter.PlanState(ctx, e.c, in.PlanID); err != nil || st.Status != billing.PlanPaused || st.Paid != 1 {
		t.Fatalf("paused past installment 2's date: %+v, %v; want still paused, one paid", st, err)
	}

	resumed, err := starter.ResumePlan(ctx, e.c, in.PlanID)
	if err != nil || resumed.Status != billing.PlanActive || resumed.Skipped != 1 || resumed.NextInstallment != 3 {
		t.Fatalf("resume: %+v, %v; want active, installment 2 skipped, 3 next", resumed, err)
	}
	if !time.Now().Before(resumed.NextDueAt) {
		t.Fatalf("resumed at %v, after installment 3 fell due (%v): the machine is too slow for this schedule", time.Now(), resumed.NextDueAt)
	}

	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCompleted || res.Paid != 3 || res.Skipped != 1 || res.PaidAmount != 3000 {
		t.Errorf("result %+v, want completed: 3 paid, installment 2 skipped", res)
	}
	wantRows := []string{"1 succeeded pm_card1", "3 succeeded pm_card1", "4 succeeded pm_card1"}
	if rows := paidInstallments(t, e, in.PlanID); !slices.Equal(rows, wantRows) {
		t.Errorf("ledger %v, want %v", rows, wantRows)
	}
	wantKeys := []string{"plan_pause_resume/1/1 tok_1", "plan_pause_resume/3/1 tok_1", "plan_pause_resume/4/1 tok_1"}
	if keys := chargedKeys(e, in.PlanID); !slices.Equal(keys, wantKeys) {
		t.Errorf("provider charges %v, want %v", keys, wantKeys)
	}
	if row, err := e.db.GetPlan(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, in.PlanID); err != nil || row.Status != "completed" {
		t.Errorf("plan row %+v, %v; want completed", row, err)
	}
	recordSingleRun(t, e, res, in.PlanID, "plan_pause_resume.json")
}

// TestChangeCardAfterDetachOnRealServer detaches the plan's card after its first
// charge: the plan asks the customer for a new card and charges nothing while the
// second installment falls due; change_payment_method to another card charges that
// installment at once on the new card, and the last one on its date. With -record the
// history is written to workflows/testdata/plan_detach_change_card.json.
func TestChangeCardAfterDetachOnRealServer(t *testing.T) {
	card1 := activitiestest.Card{Provider: "fake", Token: "tok_1"}
	cards := activitiestest.NewPaymentMethods(map[string]activitiestest.Card{
		"pm_card1": card1,
		"pm_card2": {Provider: "fake", Token: "tok_2"},
	})
	notifier := &activitiestest.Notifier{}
	e := startWithFakes(t, activitiestest.Succeed, cards, notifier)
	ctx := context.Background()
	in := testPlan(t, e, "plan_detach_change_card", 3, 3)
	if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	first := waitFor(t, e.c, in.PlanID, "the first charge", func(st workflows.PlanState) bool { return st.Paid == 1 })

	// The customer deletes the card: the store marks it detached, the API signals the
	// plans charging it.
	card1.Detached = true
	cards.Set("pm_card1", card1)
	if err := starter.DetachPlan(ctx, e.c, in.PlanID, "pm_card1"); err != nil {
		t.Fatal(err)
	}
	detached := waitFor(t, e.c, in.PlanID, "action_required", func(st workflows.PlanState) bool {
		return st.Status == billing.PlanActionRequired && st.Detached
	})
	if !time.Now().Before(first.NextDueAt) {
		t.Fatalf("detached at %v, after installment 2 fell due (%v): the machine is too slow for this schedule", time.Now(), first.NextDueAt)
	}
	if detached.NextInstallment != 2 || !detached.NextChargeAt.IsZero() {
		t.Errorf("detached: %+v, want installment 2 waiting, nothing to charge", detached)
	}
	sleepUntil(detached.NextDueAt.Add(time.Second))
	if st, err := starter.PlanState(ctx, e.c, in.PlanID); err != nil || st.Status != billing.PlanActionRequired || st.Paid != 1 {
		t.Fatalf("detached past installment 2's date: %+v, %v; want action_required, one paid", st, err)
	}

	changed, err := starter.ChangePlanPaymentMethod(ctx, e.c, in.PlanID, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"})
	if err != nil || changed.Status != billing.PlanActive || changed.PaymentMethodID != "pm_card2" || changed.Detached {
		t.Fatalf("change_payment_method: %+v, %v; want active on pm_card2", changed, err)
	}

	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCompleted || res.Paid != 3 || res.Skipped != 0 {
		t.Errorf("result %+v, want completed: 3 paid, none skipped", res)
	}
	wantRows := []string{"1 succeeded pm_card1", "2 succeeded pm_card2", "3 succeeded pm_card2"}
	if rows := paidInstallments(t, e, in.PlanID); !slices.Equal(rows, wantRows) {
		t.Errorf("ledger %v, want %v", rows, wantRows)
	}
	wantKeys := []string{"plan_detach_change_card/1/1 tok_1", "plan_detach_change_card/2/1 tok_2", "plan_detach_change_card/3/1 tok_2"}
	if keys := chargedKeys(e, in.PlanID); !slices.Equal(keys, wantKeys) {
		t.Errorf("provider charges %v, want %v", keys, wantKeys)
	}
	var asked []string
	for _, n := range notifier.Sent() {
		asked = append(asked, fmt.Sprintf("%s %d %s", n.Kind, n.Installment, n.Code))
	}
	if want := []string{activities.NotifyActionRequired + " 2 " + billing.CodePaymentMethodDetached}; !slices.Equal(asked, want) {
		t.Errorf("notifications %v, want %v", asked, want)
	}
	if row, err := e.db.GetPlan(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, in.PlanID); err != nil ||
		row.Status != "completed" || row.PaymentMethodID != "pm_card2" {
		t.Errorf("plan row %+v, %v; want completed on pm_card2", row, err)
	}
	recordSingleRun(t, e, res, in.PlanID, "plan_detach_change_card.json")
}

// TestCardChangeSettlesUnknownOnRealServer: the first installment's answer is lost on
// every try (the provider times out; its retries are fast here), so its outcome is
// unknown; the merchant then gives the plan another card. Plan version 4
// (versionResolveOldCard) does not drop the attempt: it asks the old card's provider
// under the old key, sending nothing. Found, it records installment 1 as paid by the
// old card; never sent, it records the attempt failed (not_charged) and charges the
// new card under the next key. Installment 2 goes to the new card. With -record the
// histories are written to workflows/testdata/plan_unknown_change_card.json and
// plan_unknown_change_card_not_charged.json.
func TestCardChangeSettlesUnknownOnRealServer(t *testing.T) {
	for _, tc := range []struct {
		id    string
		found bool
		rows  []string
		keys  []string // installment 1's keys after the lost ones
	}{
		{"plan_unknown_change_card", true, []string{"1 succeeded pm_card1", "2 succeeded pm_card2"}, nil},
		{"plan_unknown_change_card_not_charged", false, []string{"1 failed pm_card1", "1 succeeded pm_card2", "2 succeeded pm_card2"},
			[]string{"/1/2 tok_2"}},
	} {
		t.Run(tc.id, func(t *testing.T) {
			cards := activitiestest.NewPaymentMethods(map[string]activitiestest.Card{
				"pm_card1": {Provider: "fake", Token: "tok_1"},
				"pm_card2": {Provider: "fake", Token: "tok_2"},
			})
			id := tc.id
			e := startWithFakes(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
				if c.IdempotencyKey == id+"/1/1" {
					return providers.ChargeResult{}, &providers.Error{Class: providers.ClassTransient, Code: billing.CodeTimeout,
						Provider: "fake", RetryAfter: 10 * time.Millisecond}
				}
				return activitiestest.Succeed(c)
			}, cards, &activitiestest.Notifier{})
			settle := false
			var mu sync.Mutex
			e.provider.SetFind(func(r providers.ChargeRequest) (providers.ChargeResult, error) {
				mu.Lock()
				defer mu.Unlock()
				if !settle || !tc.found {
					return providers.ChargeResult{}, providers.ErrNoSuchCharge
				}
				return providers.ChargeResult{ID: "ch_found", Status: providers.ChargeSucceeded, Amount: r.Amount, Currency: r.Currency}, nil
			})
			ctx := context.Background()
			in := testPlan(t, e, id, 2, 4)
			if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
				t.Fatal(err)
			}
			unknown := waitFor(t, e.c, id, "the unknown outcome", func(st workflows.PlanState) bool {
				return st.LastError != nil && st.LastError.Code == billing.CodeTimeout
			})
			if unknown.Paid != 0 { // past_due: this test plan has no dunning retries
				t.Fatalf("after the lost answers: %+v", unknown)
			}
			mu.Lock()
			settle = true // the provider's record now says what happened
			mu.Unlock()
			if _, err := starter.ChangePlanPaymentMethod(ctx, e.c, id, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"}); err != nil {
				t.Fatal(err)
			}
			res := runToEnd(t, e, id)
			if res.Status != billing.PlanCompleted || res.Paid != 2 {
				t.Errorf("result %+v, want completed with 2 paid", res)
			}
			if rows := paidInstallments(t, e, id); !slices.Equal(rows, tc.rows) {
				t.Errorf("ledger %v, want %v", rows, tc.rows)
			}
			var later []string
			for _, k := range chargedKeys(e, id) {
				if strings.HasPrefix(k, id+"/1/") && !strings.HasPrefix(k, id+"/1/1 ") {
					later = append(later, strings.TrimPrefix(k, id))
				}
				if strings.HasPrefix(k, id+"/1/1 ") && !strings.HasSuffix(k, " tok_1") {
					t.Errorf("the unknown key went to the new card: %s", k)
				}
			}
			if !slices.Equal(later, tc.keys) {
				t.Errorf("installment 1 sent %v after the lost key, want %v", later, tc.keys)
			}
			recordSingleRun(t, e, res, id, id+".json")
		})
	}
}

// TestPauseDeferOnRealServer: a plan with catch_up latest is paused with behavior
// defer and a resume_at after its second and third installments fell due; it resumes
// by itself then, charges the latest of the deferred ones (3) at once and drops 2,
// then charges 4 and 5 on their dates. With -record the history is written to
// workflows/testdata/plan_pause_defer.json.
func TestPauseDeferOnRealServer(t *testing.T) {
	e := startWithWebhooks(t, activitiestest.Succeed)
	ctx := context.Background()
	in := testPlan(t, e, "plan_pause_defer", 5, 2)
	in.CatchUp = billing.CatchUpLatest
	if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e.c, in.PlanID, "the first charge", func(st workflows.PlanState) bool { return st.Paid == 1 })
	third, _ := in.Timetable.Installment(3)
	resumeAt := third.DueAt.Add(time.Second)
	paused, err := starter.PausePlan(ctx, e.c, in.PlanID, workflows.PauseRequest{Behavior: billing.PauseDefer, ResumeAt: resumeAt})
	if err != nil || paused.Status != billing.PlanPaused || paused.PauseBehavior != billing.PauseDefer ||
		!paused.ResumeAt.Equal(resumeAt) || paused.CatchUp != billing.CatchUpLatest {
		t.Fatalf("pause: %+v, %v", paused, err)
	}
	if !time.Now().Before(paused.NextDueAt) {
		t.Fatalf("paused at %v, after installment 2 fell due (%v): the machine is too slow for this schedule", time.Now(), paused.NextDueAt)
	}
	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCompleted || res.Paid != 4 || res.Skipped != 1 {
		t.Errorf("result %+v, want completed: 4 paid, installment 2 dropped by catch_up latest", res)
	}
	wantKeys := []string{"plan_pause_defer/1/1 tok_1", "plan_pause_defer/3/1 tok_1", "plan_pause_defer/4/1 tok_1", "plan_pause_defer/5/1 tok_1"}
	if keys := chargedKeys(e, in.PlanID); !slices.Equal(keys, wantKeys) {
		t.Errorf("provider charges %v, want %v", keys, wantKeys)
	}
	rows, err := e.db.ListPlanPayments(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, in.PlanID, billing.ListParams{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rows.Items {
		if p.Installment == 3 && p.AttemptedAt.Before(resumeAt) {
			t.Errorf("installment 3 charged at %v, before the pause ended at %v", p.AttemptedAt, resumeAt)
		}
	}
	recordSingleRun(t, e, res, in.PlanID, "plan_pause_defer.json")
}

// TestChangePlanOnRealServer: after the first of 4 installments, change_plan raises the
// amount and cuts the plan to 3: installments 2 and 3 are charged at 2500, the plan
// completes after 3, and the row has the new terms. With -record the history is
// written to workflows/testdata/plan_change_terms.json.
func TestChangePlanOnRealServer(t *testing.T) {
	e := startWithWebhooks(t, activitiestest.Succeed)
	ctx := context.Background()
	in := testPlan(t, e, "plan_change_terms", 4, 2)
	if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	waitFor(t, e.c, in.PlanID, "the first charge", func(st workflows.PlanState) bool { return st.Paid == 1 })
	amount, n := int64(2500), 3
	st, err := starter.ChangePlan(ctx, e.c, in.PlanID, workflows.ChangePlanRequest{
		Change: billing.PlanChange{RecurringAmount: &amount, Installments: &n}})
	if err != nil || st.NextAmount != 2500 || st.Remaining == nil || *st.Remaining != 2 {
		t.Fatalf("change: %+v, %v", st, err)
	}
	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCompleted || res.Paid != 3 || res.PaidAmount != 1000+2*2500 {
		t.Errorf("result %+v, want completed: 3 paid, 6000", res)
	}
	wantKeys := []string{"plan_change_terms/1/1 tok_1", "plan_change_terms/2/1 tok_1", "plan_change_terms/3/1 tok_1"}
	if keys := chargedKeys(e, in.PlanID); !slices.Equal(keys, wantKeys) {
		t.Errorf("provider charges %v, want %v", keys, wantKeys)
	}
	for _, c := range e.provider.Calls() {
		if strings.HasPrefix(c.IdempotencyKey, in.PlanID+"/") && !strings.HasSuffix(c.IdempotencyKey, "/1/1") && c.Amount != 2500 {
			t.Errorf("%s charged %d, want 2500", c.IdempotencyKey, c.Amount)
		}
	}
	row, err := e.db.GetPlan(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, in.PlanID)
	if err != nil || !strings.Contains(string(row.Timetable), `"recurring_amount":2500`) {
		t.Errorf("plan row timetable %s, %v", row.Timetable, err)
	}
	recordSingleRun(t, e, res, in.PlanID, "plan_change_terms.json")
}

// TestFirstDeclineNoticeOnRealServer: plan version 10 (versionFirstFailureNotice): the
// first soft decline of installment 1 opens a card-update page and tells the customer
// at once (payment_retrying, with the retry date); the dunning retry pays it and
// nothing more is sent. With -record the history is written to
// workflows/testdata/plan_first_decline_notice.json.
func TestFirstDeclineNoticeOnRealServer(t *testing.T) {
	notifier := &activitiestest.Notifier{}
	e := startEnv(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.IdempotencyKey == "plan_first_decline/1/1" {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)
		}
		return activitiestest.Succeed(c)
	}, nil, oneCard(), notifier)
	ctx := context.Background()
	in := testPlan(t, e, "plan_first_decline", 2, 4)
	dunning, err := billing.DunningPolicy{Retries: []billing.Duration{billing.Duration(time.Second)}}.Resolve(billing.ModeTest)
	if err != nil {
		t.Fatal(err)
	}
	in.Dunning = dunning
	if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCompleted || res.Paid != 2 {
		t.Errorf("result %+v, want completed with 2 paid", res)
	}
	sent := notifier.Sent()
	if len(sent) != 1 || sent[0].Kind != billing.NotifyPaymentRetrying || sent[0].Installment != 1 || sent[0].RetryAt.IsZero() ||
		sent[0].IdempotencyKey != "plan_first_decline/1/1/payment_retrying" {
		t.Errorf("notifications %+v, want one payment_retrying for installment 1 with its retry date", sent)
	}
	if _, err := e.db.OpenPlanSession(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, in.PlanID, false); err != nil {
		t.Errorf("no card-update page for the declined installment: %v", err)
	}
	recordSingleRun(t, e, res, in.PlanID, "plan_first_decline_notice.json")
}

// TestUpcomingNoticeOnRealServer: a plan with a one-second upcoming notice announces
// each installment (AnnounceUpcoming: payment.upcoming and the customer's
// notification) before charging it. With -record the history is written to
// workflows/testdata/plan_upcoming_notice.json.
func TestUpcomingNoticeOnRealServer(t *testing.T) {
	notifier := &activitiestest.Notifier{}
	e := startEnv(t, activitiestest.Succeed, nil, oneCard(), notifier)
	ctx := context.Background()
	in := testPlan(t, e, "plan_upcoming", 2, 3)
	in.UpcomingNotice = time.Second
	if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	res := runToEnd(t, e, in.PlanID)
	if res.Status != billing.PlanCompleted || res.Paid != 2 {
		t.Errorf("result %+v, want completed with 2 paid", res)
	}
	evs, err := e.db.ListEvents(ctx, billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}, billing.EventPaymentUpcoming, billing.ListParams{})
	if err != nil || len(evs.Items) != 2 {
		t.Errorf("payment.upcoming events: %d, %v; want 2", len(evs.Items), err)
	}
	upcoming := 0
	for _, n := range notifier.Sent() {
		if n.Kind == billing.NotifyPaymentUpcoming {
			upcoming++
		}
	}
	if upcoming != 2 {
		t.Errorf("%d upcoming notifications, want 2", upcoming)
	}
	recordSingleRun(t, e, res, in.PlanID, "plan_upcoming_notice.json")
}
