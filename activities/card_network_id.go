package activities

import (
	"context"

	"go.temporal.io/sdk/workflow"
)

// RememberNetworkIDRequest names the card and the network id of its initial payment.
type RememberNetworkIDRequest struct {
	MerchantID           string `json:"merchant_id"`
	PaymentMethodID      string `json:"payment_method_id"`
	NetworkTransactionID string `json:"network_transaction_id"`
}

// RememberNetworkID stores the network id of the customer-initiated payment that saved
// a card, so later merchant-initiated charges on it can reference it.
func (a *Activities) RememberNetworkID(ctx context.Context, req RememberNetworkIDRequest) error {
	if req.NetworkTransactionID == "" {
		return nil
	}
	return storeError(a.deps.PaymentMethods.RecordNetworkTransactionID(ctx, req.MerchantID, req.PaymentMethodID, req.NetworkTransactionID))
}

// RememberNetworkID runs Activities.RememberNetworkID from a workflow.
func RememberNetworkID(ctx workflow.Context, req RememberNetworkIDRequest) error {
	var a *Activities
	return workflow.ExecuteActivity(ledgerOptions(ctx), a.RememberNetworkID, req).Get(ctx, nil)
}
