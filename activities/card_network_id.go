package activities

import (
	"context"

	"go.temporal.io/sdk/workflow"
)

// NetworkIDRecorder keeps a saved card's initial network transaction id. The payment
// method store implements it (*store.DB); when Deps.PaymentMethods does not, the id is
// only kept in the ledger's payment row.
type NetworkIDRecorder interface {
	RecordNetworkTransactionID(ctx context.Context, merchantID, paymentMethodID, networkTransactionID string) error
}

// RememberNetworkIDRequest names the card and the network id of its initial payment.
type RememberNetworkIDRequest struct {
	MerchantID           string `json:"merchant_id"`
	PaymentMethodID      string `json:"payment_method_id"`
	NetworkTransactionID string `json:"network_transaction_id"`
}

// RememberNetworkID stores the network id of the customer-initiated payment that saved
// a card, so later merchant-initiated charges on it can reference it.
func (a *Activities) RememberNetworkID(ctx context.Context, req RememberNetworkIDRequest) error {
	r, ok := a.deps.PaymentMethods.(NetworkIDRecorder)
	if !ok || req.NetworkTransactionID == "" {
		return nil
	}
	return storeError(r.RecordNetworkTransactionID(ctx, req.MerchantID, req.PaymentMethodID, req.NetworkTransactionID))
}

// RememberNetworkID runs Activities.RememberNetworkID from a workflow.
func RememberNetworkID(ctx workflow.Context, req RememberNetworkIDRequest) error {
	var a *Activities
	return workflow.ExecuteActivity(ledgerOptions(ctx), a.RememberNetworkID, req).Get(ctx, nil)
}
