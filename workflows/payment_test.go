package workflows_test

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/workflows"
)

func paymentInput(saveCard bool) workflows.PaymentInput {
	return workflows.PaymentInput{PaymentID: "pay_1", MerchantID: "mer_1", Mode: billing.ModeTest, CustomerID: "cus_1",
		PaymentMethodID: "pm_card1", Amount: 2500, Currency: "USD", Type: "ecom", SaveCard: saveCard}
}

func (h *harness) runPayment(in workflows.PaymentInput) workflows.PaymentResult {
	h.t.Helper()
	h.env.RegisterWorkflow(workflows.Payment)
	h.env.ExecuteWorkflow(workflows.Payment, in)
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("payment workflow: %v", err)
	}
	var res workflows.PaymentResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatal(err)
	}
	return res
}

func TestInitialPaymentKeepsTheNetworkID(t *testing.T) {
	h := newHarness(t, nil)
	res := h.runPayment(paymentInput(true))
	if res.Status != billing.PaymentSucceeded || res.PaymentType != billing.PaymentInitial || !res.IsRecurring || res.NetworkTransactionID != "nti_pay_1" {
		t.Fatalf("result %+v", res)
	}
	c := h.provider.Calls()
	if len(c) != 1 || c[0].IdempotencyKey != "pay_1" || c[0].Initiator != providers.InitiatorCustomer {
		t.Errorf("provider calls %+v, want one customer-initiated charge keyed by the payment id", c)
	}
	p := h.ledger.Payments()
	if len(p) != 1 || p[0].ID != "pay_1" || p[0].PlanID != nil || p[0].PaymentType != "initial" || !p[0].IsRecurring {
		t.Errorf("ledger %+v", p)
	}
	if got := h.pms.Card("pm_card1").NetworkTransactionID; got != "nti_pay_1" {
		t.Errorf("card's network id %q, want the initial payment's", got)
	}
	h.wantEvents("payment.succeeded")
}

func TestOneOffPaymentDecline(t *testing.T) {
	h := newHarness(t, declineToken("tok_1", activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds)))
	res := h.runPayment(paymentInput(false))
	if res.Status != billing.PaymentFailed || res.PaymentType != billing.PaymentOneOff || res.IsRecurring ||
		res.FailureCode != billing.CodeInsufficientFunds || res.FailureClass != "soft_decline" {
		t.Fatalf("result %+v, want a failed one_off with the decline", res)
	}
	if n := len(h.provider.Calls()); n != 1 {
		t.Errorf("%d provider calls: a decline is not retried", n)
	}
	if got := h.pms.Card("pm_card1").NetworkTransactionID; got != "" {
		t.Errorf("a one-off payment stored a network id %q", got)
	}
	h.wantEvents("payment.failed")
}

func TestPaymentOnABlockedCardMovesNothing(t *testing.T) {
	h := newHarness(t, nil)
	h.pms.Set("pm_card1", storeCard("tok_1", true))
	res := h.runPayment(paymentInput(false))
	if res.Status != billing.PaymentFailed || res.FailureCode != "payment_method_blocked" {
		t.Errorf("result %+v", res)
	}
	if len(h.provider.Calls()) != 0 || len(h.ledger.Payments()) != 0 {
		t.Error("a blocked card reached the provider or the ledger")
	}
}

// TestPaymentPacedOutMovesNothing: a one-off payment whose provider account stayed at
// its charge rate for as long as the payer can wait (ErrPaced: nothing was sent) fails
// rate_limited with no ledger row, like any charge that never reached the provider.
func TestPaymentPacedOutMovesNothing(t *testing.T) {
	h := newHarness(t, nil)
	h.env.OnActivity(h.acts.Charge, mock.Anything, mock.Anything).Return(activities.ChargeResult{},
		temporal.NewNonRetryableApplicationError("rate_limited", activities.ErrPaced, nil,
			activities.ChargeFailure{Type: activities.ErrPaced, Code: billing.CodeRateLimited, Provider: "fake"}))
	res := h.runPayment(paymentInput(false))
	if res.Status != billing.PaymentFailed || res.FailureCode != billing.CodeRateLimited {
		t.Errorf("result %+v, want failed rate_limited", res)
	}
	if len(h.provider.Calls()) != 0 || len(h.ledger.Payments()) != 0 {
		t.Error("a paced-out payment reached the provider or the ledger")
	}
}
