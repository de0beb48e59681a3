package servertest

import (
	"context"
	"testing"
	"time"

	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// TestRefundsOnRealServer pays 1000 and refunds it on the embedded server: 400 that
// the provider returns, 700 the ledger refuses (600 are left), 600 the provider
// refuses, then the 600 again, which it returns. Each refund reaches the provider once,
// under its own id as the key, even when its workflow is asked again; the payment ends
// with amount_refunded 1000. With -record the first and the refused refunds' histories
// are written to workflows/testdata (refund_succeeded.json, refund_refused.json).
func TestRefundsOnRealServer(t *testing.T) {
	e := startWithWebhooks(t, activitiestest.Succeed)
	e.provider.RespondRefund = func(req providers.RefundRequest) (providers.RefundResult, error) {
		if req.IdempotencyKey == "re_refused" {
			return providers.RefundResult{}, &providers.Error{Class: providers.ClassInvalidRequest,
				Code: billing.CodeProcessingError, Provider: "fake", Message: "the acquirer refused the refund"}
		}
		return providers.RefundResult{ID: "rf_" + req.IdempotencyKey, Status: "succeeded", Amount: req.Amount}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	caller := billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}
	paid, err := starter.RunPayment(ctx, e.c, workflows.PaymentInput{PaymentID: "pay_refunded",
		MerchantID: e.merchant, Mode: billing.ModeTest, CustomerID: "cus_1", PaymentMethodID: "pm_card1",
		Amount: 1000, Currency: "EUR", Type: "ecom"})
	if err != nil || paid.Status != billing.PaymentSucceeded {
		t.Fatalf("payment: %+v, %v", paid, err)
	}
	refund := func(id string, amount int64) workflows.RefundResult {
		t.Helper()
		res, err := starter.RunRefund(ctx, e.c, workflows.RefundInput{Refund: billing.NewRefund{ID: id,
			MerchantID: e.merchant, Mode: billing.ModeTest, PaymentID: "pay_refunded", Amount: amount,
			Reason: billing.RefundReasonRequestedByCustomer}})
		if err != nil {
			t.Fatalf("refund %s: %v", id, err)
		}
		return res
	}
	if r := refund("re_first", 400); r.Rejected != nil || r.Refund.Status != billing.RefundSucceeded ||
		r.Refund.ProviderRefundID != "rf_re_first" || r.Refund.Amount != 400 {
		t.Fatalf("first refund: %+v", r)
	}
	if r := refund("re_first", 400); r.Refund.Status != billing.RefundSucceeded {
		t.Fatalf("the first refund asked again: %+v", r)
	}
	if r := refund("re_too_much", 700); r.Rejected == nil || r.Rejected.Code != billing.CodeRefundExceedsPayment ||
		r.Rejected.Param != "amount" {
		t.Fatalf("refund of 700 with 600 left: %+v", r)
	}
	if r := refund("re_refused", 0); r.Refund.Status != billing.RefundFailed || r.Refund.FailureCode != billing.CodeProcessingError ||
		r.Refund.Amount != 600 {
		t.Fatalf("refused refund: %+v", r)
	}
	if r := refund("re_rest", 0); r.Refund.Status != billing.RefundSucceeded || r.Refund.Amount != 600 {
		t.Fatalf("refund of the rest after a refusal: %+v", r)
	}

	var keys []string
	for _, c := range e.provider.RefundCalls() {
		keys = append(keys, c.IdempotencyKey)
		if c.ChargeID != paid.ProviderChargeID || c.Currency != "EUR" || c.Reason != billing.RefundReasonRequestedByCustomer {
			t.Errorf("refund request %+v, want charge %s in EUR with the reason", c, paid.ProviderChargeID)
		}
	}
	if want := []string{"re_first", "re_refused", "re_rest"}; len(keys) != 3 || keys[0] != want[0] || keys[1] != want[1] || keys[2] != want[2] {
		t.Errorf("the provider was asked for %v, want %v once each", keys, want)
	}
	if p, err := e.db.GetPayment(ctx, caller, "pay_refunded"); err != nil || p.AmountRefunded != 1000 {
		t.Errorf("payment after refunds: %+v, %v; want amount_refunded 1000", p, err)
	}
	if _, err := e.db.GetRefund(ctx, caller, "re_too_much"); billing.KindOf(err) != billing.KindNotFound {
		t.Errorf("a rejected refund has a row: %v", err)
	}
	if *record && !t.Failed() {
		writeHistory(t, history(t, e.c, "re_first"), "refund_succeeded.json")
		writeHistory(t, history(t, e.c, "re_refused"), "refund_refused.json")
	}
}

// TestRemoveCredentialOnRealServer: a detached card's credential is removed at its
// provider by its workflow, through two transient failures, with the token from the
// store's outbox (never in the history); the outbox then forgets it. With -record the
// history is written to workflows/testdata/remove_credential_retried.json.
func TestRemoveCredentialOnRealServer(t *testing.T) {
	e := startWithWebhooks(t, activitiestest.Succeed)
	failures := 2
	e.provider.RespondDetach = func(req providers.DetachRequest) error {
		if failures > 0 {
			failures--
			return &providers.Error{Class: providers.ClassTransient, Code: billing.CodeProviderUnavailable, Provider: "fake"}
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	caller := billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}
	cus, err := e.db.CreateCustomer(ctx, caller, billing.NewCustomer{Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	pm, err := e.db.CreatePaymentMethod(ctx, caller, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "fake",
		Token: "tok_removed", ProviderCustomerRef: "cus_fake_1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.DetachPaymentMethod(ctx, caller, pm.ID); err != nil {
		t.Fatal(err)
	}
	in := workflows.RemoveCredentialInput{MerchantID: e.merchant, PaymentMethodID: pm.ID}
	if err := starter.StartCredentialRemoval(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	var outcome string
	if err := e.c.GetWorkflow(ctx, workflows.RemoveCredentialID(pm.ID), "").Get(ctx, &outcome); err != nil || outcome != billing.CredentialRemoved {
		t.Fatalf("removal: %q, %v", outcome, err)
	}
	calls := e.provider.DetachCalls()
	if len(calls) != 3 || calls[2].Token != "tok_removed" || calls[2].CustomerRef != "cus_fake_1" {
		t.Errorf("the provider was asked %+v, want three tries with the card's token", calls)
	}
	if _, left, err := e.db.CredentialToRemove(ctx, e.merchant, pm.ID); left || err != nil {
		t.Errorf("the outbox still holds the token: %v, %v", left, err)
	}
	if *record && !t.Failed() {
		writeHistory(t, history(t, e.c, workflows.RemoveCredentialID(pm.ID)), "remove_credential_retried.json")
	}
	// Started again (the dispatcher's retry after a lost mark), it finds nothing to do.
	if err := starter.StartCredentialRemoval(ctx, e.c, in); err != nil {
		t.Fatal(err)
	}
	if err := e.c.GetWorkflow(ctx, workflows.RemoveCredentialID(pm.ID), "").Get(ctx, &outcome); err != nil || outcome != "" {
		t.Errorf("a second removal: %q, %v; want nothing left to do", outcome, err)
	}
	if len(e.provider.DetachCalls()) != 3 {
		t.Errorf("a second removal called the provider again")
	}
}
