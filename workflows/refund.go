package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
)

// RefundInput is a refund asked for through POST /v1/refunds. Its workflow id is the
// refund id (re_…), which is also the ledger row's id and the provider's idempotency
// key, so a retried request can never refund twice.
type RefundInput struct {
	Refund billing.NewRefund `json:"refund"`
}

// RefundResult is how the refund ended: the ledger's row (pending when the provider
// never answered), or why the ledger would not open it.
type RefundResult struct {
	Refund   billing.Refund              `json:"refund"`
	Rejected *activities.RefundRejection `json:"rejected,omitempty"`
}

// Refund returns money from a payment: it opens the refund in the ledger, which
// reserves the amount against the payment (so concurrent refunds never return more
// than was paid), asks the provider, and records the outcome with its refund.succeeded
// or refund.failed event. A provider that does not answer within the send's retries
// leaves the refund pending: its amount stays reserved and nothing refunds it again
// until an operator settles it.
func Refund(ctx workflow.Context, in RefundInput) (RefundResult, error) {
	opened, err := activities.OpenRefund(ctx, in.Refund)
	if err != nil {
		return RefundResult{}, fmt.Errorf("open refund %s: %w", in.Refund.ID, err)
	}
	if opened.Rejected != nil {
		return RefundResult{Rejected: opened.Rejected}, nil
	}
	r := opened.Refund
	if r.Status != billing.RefundPending {
		return RefundResult{Refund: r}, nil // settled by an earlier run
	}
	sent, err := activities.SendRefund(ctx, activities.SendRefundRequest{Refund: r})
	if err != nil {
		workflow.GetLogger(ctx).Warn("refund outcome unknown; it stays pending", "refund_id", r.ID, "err", err)
		return RefundResult{Refund: r}, nil
	}
	if sent.Pending {
		workflow.GetLogger(ctx).Info("refund taken by the provider, not settled yet; it stays pending", "refund_id", r.ID)
		return RefundResult{Refund: r}, nil
	}
	outcome := billing.RefundOutcome{RefundID: r.ID, MerchantID: in.Refund.MerchantID, Status: billing.RefundSucceeded,
		ProviderRefundID: sent.ProviderRefundID}
	if sent.Refused {
		outcome.Status, outcome.FailureCode, outcome.FailureMessage = billing.RefundFailed, sent.Code, sent.Message
	}
	settled, err := activities.SettleRefund(ctx, outcome)
	if err != nil {
		return RefundResult{Refund: r}, fmt.Errorf("settle refund %s: %w", r.ID, err)
	}
	return RefundResult{Refund: settled}, nil
}

// RemoveCredentialInput names a detached payment method; its workflow id is
// RemoveCredentialID(payment method id).
type RemoveCredentialInput struct {
	MerchantID      string `json:"merchant_id"`
	PaymentMethodID string `json:"payment_method_id"`
}

// RemoveCredentialID is the workflow id of the removal of a payment method's
// credential at its provider.
func RemoveCredentialID(paymentMethodID string) string { return "detach_" + paymentMethodID }

// RemoveCredential removes a detached card's stored credential at its provider,
// retrying until the provider answers: detaching a card in the engine is immediate, and
// this makes it final at the provider too.
func RemoveCredential(ctx workflow.Context, in RemoveCredentialInput) (string, error) {
	res, err := activities.RemoveCredential(ctx, activities.RemoveCredentialRequest{MerchantID: in.MerchantID,
		PaymentMethodID: in.PaymentMethodID})
	if err != nil {
		return "", fmt.Errorf("remove the credential of %s: %w", in.PaymentMethodID, err)
	}
	return res.Outcome, nil
}
