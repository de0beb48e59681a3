package servertest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// TestHostedPaymentOnRealServer runs a hosted payment whose card is challenged and
// approved, one whose challenge is denied (its authentication released), and one
// nobody completes, on the embedded server. With -record their histories are written
// to workflows/testdata (hosted_payment_challenge.json, hosted_payment_denied.json,
// hosted_payment_expired.json) for the replay test.
func TestHostedPaymentOnRealServer(t *testing.T) {
	e := startWithWebhooks(t, nil)
	e.provider.Challenge.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	caller := billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}
	hosted := func(id string, expiresIn time.Duration) workflows.HostedPaymentInput {
		t.Helper()
		s, err := e.db.CreatePaymentSession(ctx, caller, billing.PaymentSession{ID: id, CustomerID: "cus_1", Amount: 1200,
			Currency: "EUR", Type: "ecom", SaveCard: true, Provider: "fake", Token: "tok_" + id, TokenHash: "hash_" + id,
			ExpiresAt: time.Now().Add(expiresIn)})
		if err != nil {
			t.Fatal(err)
		}
		in := workflows.HostedPaymentInput{ExpiresAt: s.ExpiresAt, Payment: workflows.PaymentInput{PaymentID: id,
			MerchantID: e.merchant, Mode: billing.ModeTest, CustomerID: "cus_1", Amount: 1200, Currency: "EUR",
			Type: "ecom", SaveCard: true}}
		if err := starter.StartHostedPayment(ctx, e.c, in); err != nil {
			t.Fatal(err)
		}
		return in
	}

	paid := hosted("pay_record_hosted", time.Hour)
	step, err := starter.SubmitHostedCard(ctx, e.c, paid.Payment.PaymentID, workflows.SubmitCardRequest{PaymentMethodID: "pm_card1"})
	if err != nil || step.Challenge == nil || step.Payment != nil {
		t.Fatalf("submit: %+v, %v; want a challenge", step, err)
	}
	if _, err := starter.SubmitHostedCard(ctx, e.c, paid.Payment.PaymentID, workflows.SubmitCardRequest{PaymentMethodID: "pm_card1"}); billing.KindOf(err) != billing.KindConflict {
		t.Errorf("a second card during the challenge: %v, want a conflict", err)
	}
	step, err = starter.CompleteHostedChallenge(ctx, e.c, paid.Payment.PaymentID, workflows.CompleteChallengeRequest{Answer: "approve"})
	if err != nil || step.Payment == nil || step.Payment.Status != billing.PaymentSucceeded {
		t.Fatalf("approve: %+v, %v; want succeeded", step, err)
	}
	var res workflows.PaymentResult
	if err := e.c.GetWorkflow(ctx, paid.Payment.PaymentID, "").Get(ctx, &res); err != nil || res.Status != billing.PaymentSucceeded {
		t.Fatalf("hosted payment result %+v, %v", res, err)
	}
	if _, err := starter.CompleteHostedChallenge(ctx, e.c, paid.Payment.PaymentID, workflows.CompleteChallengeRequest{Answer: "approve"}); billing.KindOf(err) != billing.KindConflict {
		t.Errorf("a replayed answer after the end: %v, want a conflict", err)
	}
	calls := 0
	for _, c := range e.provider.Calls() {
		if c.IdempotencyKey == paid.Payment.PaymentID {
			calls++
		}
	}
	if calls != 1 {
		t.Errorf("%d charges, want 1", calls)
	}
	if s, err := e.db.GetPaymentSession(ctx, caller, paid.Payment.PaymentID); err != nil ||
		s.Status != billing.PaymentSessionCompleted || s.PaymentMethodID != "pm_card1" {
		t.Errorf("session %+v, %v; want completed with pm_card1", s, err)
	}

	// A denied challenge: the payment fails and its authentication is released
	// (version 1 of "hosted-release-auth").
	denied := hosted("pay_record_hosted_denied", time.Hour)
	if step, err := starter.SubmitHostedCard(ctx, e.c, denied.Payment.PaymentID, workflows.SubmitCardRequest{PaymentMethodID: "pm_card1"}); err != nil || step.Challenge == nil {
		t.Fatalf("submit: %+v, %v; want a challenge", step, err)
	}
	step, err = starter.CompleteHostedChallenge(ctx, e.c, denied.Payment.PaymentID, workflows.CompleteChallengeRequest{Answer: "deny"})
	if err != nil || step.Payment == nil || step.Payment.Status != billing.PaymentFailed {
		t.Fatalf("deny: %+v, %v; want failed", step, err)
	}
	if got := e.provider.Canceled(); !slices.Contains(got, "3ds_fake_"+denied.Payment.PaymentID+"/3ds/pm_card1") {
		t.Errorf("released authentications %v, want the denied one", got)
	}

	expired := hosted("pay_record_hosted_expired", 2*time.Second)
	if err := e.c.GetWorkflow(ctx, expired.Payment.PaymentID, "").Get(ctx, &res); err != nil || res.Status != billing.PaymentExpired {
		t.Fatalf("unfinished session: %+v, %v; want expired", res, err)
	}
	if s, err := e.db.GetPaymentSession(ctx, caller, expired.Payment.PaymentID); err != nil || s.Status != billing.PaymentSessionExpired {
		t.Errorf("session %+v, %v; want expired", s, err)
	}

	if *record {
		writeHistory(t, history(t, e.c, paid.Payment.PaymentID), "hosted_payment_challenge.json")
		writeHistory(t, history(t, e.c, expired.Payment.PaymentID), "hosted_payment_expired.json")
		writeHistory(t, history(t, e.c, denied.Payment.PaymentID), "hosted_payment_denied.json")
	}
}

// TestHostedPlanOnRealServer starts a plan created without a card through its hosted
// session (card challenged, then approved: the session hands the plan the card and
// waits for the plan's first charge), and lets another expire unstarted. With -record
// the plan's and the session's histories are written to workflows/testdata
// (plan_hosted_start.json, hosted_plan_session.json, plan_incomplete_expired.json).
func TestHostedPlanOnRealServer(t *testing.T) {
	e := startWithWebhooks(t, nil)
	e.provider.Challenge.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	caller := billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}
	hostedPlan := func(id string, expiresIn time.Duration) workflows.PlanInput {
		t.Helper()
		in := testPlan(t, e, id, 2, 3)
		in.PaymentMethodID, in.InitialNetworkTransactionID = "", ""
		every, n, amount := 3, 2, int64(1000)
		tt, err := billing.Schedule{Frequency: billing.FrequencySeconds, FrequencyDuration: &every, RecurringAmount: &amount,
			Installments: &n}.Resolve(billing.ModeTest, time.Now()) // the first installment is due now: paid on the page
		if err != nil {
			t.Fatal(err)
		}
		in.Timetable = tt
		in.Hosted = &workflows.HostedPlan{ExpiresAt: time.Now().Add(expiresIn)}
		if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
			t.Fatal(err)
		}
		return in
	}

	plan := hostedPlan("plan_record_hosted", time.Hour)
	s, err := e.db.CreatePaymentSession(ctx, caller, billing.PaymentSession{ID: "ps_record_hosted", CustomerID: "cus_1",
		Amount: 1000, Currency: "USD", Type: "ecom", SaveCard: true, Provider: "fake", PlanID: plan.PlanID, StartPlan: true,
		Token: "tok_ps_record_hosted", TokenHash: "hash_ps_record_hosted", ExpiresAt: plan.Hosted.ExpiresAt})
	if err != nil {
		t.Fatal(err)
	}
	if err := starter.StartHostedPayment(ctx, e.c, workflows.HostedPaymentInput{ExpiresAt: s.ExpiresAt, PlanID: plan.PlanID,
		StartPlan: true, Payment: workflows.PaymentInput{PaymentID: s.ID, MerchantID: e.merchant, Mode: billing.ModeTest,
			CustomerID: "cus_1", Amount: 1000, Currency: "USD", Type: "ecom", SaveCard: true}}); err != nil {
		t.Fatal(err)
	}
	if st, err := starter.PlanState(ctx, e.c, plan.PlanID); err != nil || st.Status != billing.PlanIncomplete || st.Paid != 0 {
		t.Fatalf("before the card: %+v, %v; want incomplete", st, err)
	}
	step, err := starter.SubmitHostedCard(ctx, e.c, s.ID, workflows.SubmitCardRequest{PaymentMethodID: "pm_card1"})
	if err != nil || step.Challenge == nil {
		t.Fatalf("submit: %+v, %v; want a challenge", step, err)
	}
	step, err = starter.CompleteHostedChallenge(ctx, e.c, s.ID, workflows.CompleteChallengeRequest{Answer: "approve"})
	if err != nil || step.Payment == nil || step.Payment.Status != billing.PaymentSucceeded || !strings.HasPrefix(step.Payment.PaymentID, "pay_") {
		t.Fatalf("approve: %+v, %v; want the plan's first payment succeeded", step, err)
	}
	if res := runToEnd(t, e, plan.PlanID); res.Status != billing.PlanCompleted || res.Paid != 2 {
		t.Errorf("plan result %+v, want completed with 2 paid", res)
	}
	var first []activitiestest.Call
	for _, c := range e.provider.Calls() {
		if c.IdempotencyKey == plan.PlanID+"/1/1" {
			first = append(first, c)
		}
	}
	if len(first) != 1 || first[0].Authentication == nil || first[0].Initiator != providers.InitiatorCustomer {
		t.Errorf("first installment's charges %+v, want one customer-initiated charge with the authentication", first)
	}

	expired := hostedPlan("plan_record_incomplete_expired", 2*time.Second)
	if res := runToEnd(t, e, expired.PlanID); res.Status != billing.PlanIncompleteExpired || res.Paid != 0 {
		t.Errorf("unstarted plan %+v, want incomplete_expired", res)
	}

	if *record {
		writeHistory(t, history(t, e.c, plan.PlanID), "plan_hosted_start.json")
		writeHistory(t, history(t, e.c, s.ID), "hosted_plan_session.json")
		writeHistory(t, history(t, e.c, expired.PlanID), "plan_incomplete_expired.json")
	}
}

// TestRecoveryLinkOnRealServer: a plan whose merchant-initiated charge is declined
// with authentication_required opens a recovery page (version 3): a stored card-change
// session of the plan with its running workflow. With -record the plan's history is
// written to workflows/testdata/plan_recovery_link.json.
func TestRecoveryLinkOnRealServer(t *testing.T) {
	e := startWithWebhooks(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		return providers.ChargeResult{}, activitiestest.Decline(providers.ClassAuthenticationRequired, billing.CodeAuthenticationRequired)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	caller := billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}
	in := testPlan(t, e, "plan_record_recovery", 2, 1)
	if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	var session billing.PaymentSession
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := starter.PlanState(ctx, e.c, in.PlanID)
		if err == nil && st.Status == billing.PlanActionRequired {
			if session, err = e.db.OpenPlanSession(ctx, caller, in.PlanID, false); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery page: state %+v, %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if session.StartPlan || session.Amount != 1000 || session.Type != "ecom" || session.Token == "" ||
		session.ExpiresAt.Before(time.Now().Add(6*24*time.Hour)) {
		t.Errorf("recovery session %+v, want a week-long card change for the waiting 1000", session)
	}
	if d, err := e.c.DescribeWorkflowExecution(ctx, session.ID, ""); err != nil ||
		d.GetWorkflowExecutionInfo().GetType().GetName() != "HostedPayment" {
		t.Errorf("the page's workflow: %v, %v", d, err)
	}
	if _, err := starter.CancelPlan(ctx, e.c, in.PlanID, "test over"); err != nil {
		t.Fatal(err)
	}
	if res := runToEnd(t, e, in.PlanID); res.Status != billing.PlanCanceled {
		t.Errorf("plan %+v", res)
	}
	if *record {
		writeHistory(t, history(t, e.c, in.PlanID), "plan_recovery_link.json")
	}
}
