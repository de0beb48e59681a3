package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// PaymentInput is a one-off or initial payment (POST /v1/payments). Its workflow id is
// the payment id (pay_…), which is also the provider's idempotency key and the ledger
// row's id, so a retried request can never charge twice.
type PaymentInput struct {
	PaymentID       string       `json:"payment_id"`
	MerchantID      string       `json:"merchant_id"`
	Mode            billing.Mode `json:"mode"`
	CustomerID      string       `json:"customer_id"`
	PaymentMethodID string       `json:"payment_method_id"`
	Amount          int64        `json:"amount"`
	Currency        string       `json:"currency"`
	Type            string       `json:"type,omitempty"` // ecom | moto
	Reference       string       `json:"reference,omitempty"`
	Description     string       `json:"description,omitempty"`
	// SaveCard makes this the initial payment of a stored credential (payment_type
	// initial): its network transaction id is kept for later merchant-initiated
	// charges. Otherwise the payment is one_off.
	SaveCard bool `json:"save_card,omitempty"`
}

// PaymentResult is how the payment ended. A decline is a result, not a workflow error:
// Status is failed with the failure's class and code (providers' taxonomy).
type PaymentResult struct {
	PaymentID            string                `json:"payment_id"`
	Status               billing.PaymentStatus `json:"status"`
	PaymentType          billing.PaymentType   `json:"payment_type"`
	IsRecurring          bool                  `json:"is_recurring"`
	Provider             string                `json:"provider,omitempty"`
	ProviderChargeID     string                `json:"provider_charge_id,omitempty"`
	NetworkTransactionID string                `json:"network_transaction_id,omitempty"`
	FailureCode          string                `json:"failure_code,omitempty"`
	FailureClass         string                `json:"failure_class,omitempty"`
	FailureMessage       string                `json:"failure_message,omitempty"`
}

// Payment charges a card once, customer-initiated, records the attempt with its event,
// and for a saved card keeps the network transaction id. Money moves only inside
// workflows, so a one-off payment has the same durability and idempotency as a plan's
// installments. A charge whose technical retries run out ends pending: its outcome is
// unknown and stays so in the ledger until settled (the payment is not charged again
// by the engine; the provider's record, FindCharge, tells what happened).
func Payment(ctx workflow.Context, in PaymentInput) (PaymentResult, error) {
	return chargePayment(ctx, in, nil)
}

// chargePayment charges in's card once, customer-initiated (with the 3-D Secure
// result auth when the hosted page ran one), and records the attempt.
func chargePayment(ctx workflow.Context, in PaymentInput, auth *providers.Authentication) (PaymentResult, error) {
	payType := billing.CustomerPaymentType(in.SaveCard)
	now := workflow.Now(ctx)
	res, err := activities.Charge(ctx, activities.ChargeRequest{
		MerchantID: in.MerchantID, Mode: in.Mode, PaymentMethodID: in.PaymentMethodID, Amount: in.Amount,
		Currency: in.Currency, IdempotencyKey: in.PaymentID, Initiator: providers.InitiatorCustomer,
		Description: in.Description, At: now,
		Metadata:       map[string]string{"payment_id": in.PaymentID, "type": in.Type, "reference": in.Reference},
		Authentication: auth, MOTO: in.Type == "moto",
	})
	out := PaymentResult{PaymentID: in.PaymentID, PaymentType: payType, IsRecurring: payType.IsRecurring()}
	rec := activities.RecordPaymentRequest{
		PaymentID: in.PaymentID, MerchantID: in.MerchantID, Mode: in.Mode, CustomerID: in.CustomerID,
		PaymentMethodID: in.PaymentMethodID, Attempt: 1, Amount: in.Amount, Currency: in.Currency,
		PaymentType: payType, IdempotencyKey: in.PaymentID, AttemptedAt: workflow.Now(ctx),
	}
	if err == nil {
		out.Status = billing.PaymentSucceeded
		if res.Status == providers.ChargePending {
			out.Status = billing.PaymentPending
		}
		out.Provider, out.ProviderChargeID, out.NetworkTransactionID = res.Provider, res.ChargeID, res.NetworkTransactionID
	} else {
		f, final := activities.ChargeFailureOf(err)
		// The one log line of a decline (the SDK logs declines at DEBUG only, see
		// activities/errors.go); no card data.
		workflow.GetLogger(ctx).Info("payment failed", "payment_id", in.PaymentID, "class", f.Type, "code", f.Code,
			"provider", f.Provider, "final", final)
		if final && f.Type == activities.ErrAttemptLimit {
			f.Message = fmt.Sprintf("the card failed too often lately; try again after %s", f.Until.Format("2006-01-02T15:04Z"))
		}
		out.Status = billing.PaymentFailed
		if !final {
			out.Status = billing.PaymentPending
		}
		out.Provider, out.ProviderChargeID = f.Provider, f.ChargeID
		out.FailureCode, out.FailureClass, out.FailureMessage = f.Code, f.Class(), f.Message
		if final && (f.Type == activities.ErrPaymentMethodUnavailable || f.Type == activities.ErrAttemptLimit || f.Type == activities.ErrPaced) {
			// Nothing reached the provider: there is no attempt to record.
			return out, nil
		}
	}
	rec.Status, rec.Provider, rec.ProviderChargeID, rec.NetworkTransactionID = out.Status, out.Provider, out.ProviderChargeID, out.NetworkTransactionID
	rec.FailureCode, rec.FailureClass, rec.FailureMessage = out.FailureCode, out.FailureClass, out.FailureMessage
	if _, err := activities.RecordPayment(ctx, rec); err != nil {
		return out, fmt.Errorf("record payment %s: %w", in.PaymentID, err)
	}
	if in.SaveCard && out.Status == billing.PaymentSucceeded && out.NetworkTransactionID != "" {
		if err := activities.RememberNetworkID(ctx, activities.RememberNetworkIDRequest{
			MerchantID: in.MerchantID, PaymentMethodID: in.PaymentMethodID, NetworkTransactionID: out.NetworkTransactionID,
		}); err != nil {
			return out, fmt.Errorf("keep network transaction id: %w", err)
		}
	}
	return out, nil
}
