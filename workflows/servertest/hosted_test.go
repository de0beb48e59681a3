package servertest

import (
	"context"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// TestHostedPaymentOnRealServer runs a hosted payment whose card is challenged and
// approved, and one nobody completes, on the embedded server. With -record their
// histories are written to workflows/testdata (hosted_payment_challenge.json,
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
	}
}
