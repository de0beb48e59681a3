package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/workflows"
)

// TestRefundWhoseProviderNeverAnswersStaysPending: a provider that times out on every
// try is asked RefundMaxAttempts times with the same refund, then the refund ends
// pending (its amount reserved) and is not settled either way.
func TestRefundWhoseProviderNeverAnswersStaysPending(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	env.RegisterActivity(a.OpenRefund)
	env.RegisterActivity(a.SendRefund)
	env.RegisterActivity(a.SettleRefund)
	opened := billing.Refund{ID: "re_1", MerchantID: "mer_1", PaymentID: "pay_1", Amount: 300, Currency: "EUR",
		Status: billing.RefundPending, Provider: "fake", ProviderChargeID: "ch_1"}
	env.OnActivity(a.OpenRefund, mock.Anything, mock.Anything).Return(activities.OpenRefundResult{Refund: opened}, nil)
	sends := 0
	env.OnActivity(a.SendRefund, mock.Anything, mock.Anything).Return(
		func(_ context.Context, req activities.SendRefundRequest) (activities.SendRefundResult, error) {
			sends++
			if req.Refund.ID != "re_1" {
				t.Errorf("send of %s, want re_1", req.Refund.ID)
			}
			return activities.SendRefundResult{}, temporal.NewApplicationError("timeout", activities.ErrTransient)
		})
	settled := 0
	env.OnActivity(a.SettleRefund, mock.Anything, mock.Anything).Return(
		func(context.Context, billing.RefundOutcome) (billing.Refund, error) {
			settled++
			return billing.Refund{}, errors.New("must not settle")
		}).Maybe()
	env.ExecuteWorkflow(workflows.Refund, workflows.RefundInput{Refund: billing.NewRefund{ID: "re_1", MerchantID: "mer_1",
		Mode: billing.ModeTest, PaymentID: "pay_1", Amount: 300}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res workflows.RefundResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Refund.Status != billing.RefundPending || res.Refund.ID != "re_1" || res.Rejected != nil {
		t.Errorf("result %+v, want re_1 pending", res)
	}
	if sends != activities.RefundMaxAttempts || settled != 0 {
		t.Errorf("sent %d times, settled %d; want %d sends and no settle", sends, settled, activities.RefundMaxAttempts)
	}
}
