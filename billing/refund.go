package billing

import (
	"context"
	"time"
)

// RefundStatus is where a refund stands.
type RefundStatus string

// Refund statuses.
const (
	// RefundPending: the refund is on its way to the provider, or the provider never
	// answered; its amount stays reserved, so nothing can refund it twice.
	RefundPending RefundStatus = "pending"
	// RefundSucceeded: the provider returned the money; the payment's AmountRefunded
	// counts it.
	RefundSucceeded RefundStatus = "succeeded"
	// RefundFailed: the provider refused it; its amount is free to refund again.
	RefundFailed RefundStatus = "failed"
)

// Refund returns money from one succeeded payment, in full or in part. Several
// partial refunds of one payment may exist; the pending and succeeded ones never add up
// to more than the payment's amount. Its id (re_…) is the workflow's id and the
// provider's idempotency key.
type Refund struct {
	ID               string       `db:"id" json:"id"`
	Seq              int64        `db:"seq" json:"-"`
	MerchantID       string       `db:"merchant_id" json:"merchant_id"`
	Mode             Mode         `db:"mode" json:"mode"`
	PaymentID        string       `db:"payment_id" json:"payment_id"`
	Amount           int64        `db:"amount" json:"amount"`
	Currency         string       `db:"currency" json:"currency"`
	Reason           string       `db:"reason" json:"reason,omitempty"`
	Status           RefundStatus `db:"status" json:"status"`
	Provider         string       `db:"provider" json:"provider"`
	ProviderAccount  string       `db:"provider_account" json:"provider_account,omitempty"`
	ProviderChargeID string       `db:"provider_charge_id" json:"provider_charge_id"`
	ProviderRefundID string       `db:"provider_refund_id" json:"provider_refund_id,omitempty"`
	FailureCode      string       `db:"failure_code" json:"failure_code,omitempty"`
	FailureMessage   string       `db:"failure_message" json:"failure_message,omitempty"`
	CreatedAt        time.Time    `db:"created_at" json:"created_at"`
	UpdatedAt        time.Time    `db:"updated_at" json:"updated_at"`
}

// Refund reasons a client may give; the provider sees them where it takes one.
const (
	RefundReasonRequestedByCustomer = "requested_by_customer"
	RefundReasonDuplicate           = "duplicate"
	RefundReasonFraudulent          = "fraudulent"
)

// NewRefund asks to refund a payment. Amount 0 refunds whatever of the payment is not
// refunded or reserved yet; Currency, when given, must be the payment's.
type NewRefund struct {
	ID         string `json:"id"`
	MerchantID string `json:"merchant_id"`
	Mode       Mode   `json:"mode"`
	PaymentID  string `json:"payment_id"`
	Amount     int64  `json:"amount,omitempty"`
	Currency   string `json:"currency,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// Refundable checks a refund of amount (0: the rest) in currency (empty: the
// payment's) against payment p, of which reserved is already refunded or on its way,
// and returns the amount to refund. Its errors name the field a client sent.
func Refundable(p Payment, reserved, amount int64, currency string) (int64, error) {
	switch {
	case p.Status != PaymentSucceeded:
		return 0, &Error{Kind: KindConflict, Code: CodePaymentNotRefundable, Param: "payment",
			Message: "only a succeeded payment can be refunded; this one is " + string(p.Status)}
	case p.ProviderChargeID == "":
		return 0, &Error{Kind: KindConflict, Code: CodePaymentNotRefundable, Param: "payment",
			Message: "the provider gave this payment no charge id to refund"}
	case currency != "" && currency != p.Currency:
		return 0, Invalid("currency", CodeCurrencyMismatch, "the payment is in %s, not %s", p.Currency, currency)
	case amount < 0:
		return 0, Invalid("amount", CodeInvalidAmount, "amount must be a positive number of minor units")
	}
	left := p.Amount - reserved
	if left <= 0 {
		return 0, &Error{Kind: KindConflict, Code: CodeRefundExceedsPayment, Param: "payment",
			Message: "the payment is refunded in full already (or its refunds are on their way)"}
	}
	if amount == 0 {
		return left, nil
	}
	if amount > left {
		return 0, Invalid("amount", CodeRefundExceedsPayment,
			"amount %d is more than the %d left to refund of the payment's %d", amount, left, p.Amount)
	}
	return amount, nil
}

// RefundOutcome is what the provider answered a refund.
type RefundOutcome struct {
	RefundID         string       `json:"refund_id"`
	MerchantID       string       `json:"merchant_id"`
	Status           RefundStatus `json:"status"`
	ProviderRefundID string       `json:"provider_refund_id,omitempty"`
	FailureCode      string       `json:"failure_code,omitempty"`
	FailureMessage   string       `json:"failure_message,omitempty"`
}

// RefundLedger is where the refund workflow records a refund. Both methods are
// idempotent, because activities are retried.
type RefundLedger interface {
	// OpenRefund writes the refund pending, reserving its amount on the payment, unless
	// it exists (then it returns it unchanged). A payment that cannot be refunded by
	// that much is an *Error naming the field (see Refundable).
	OpenRefund(ctx context.Context, r NewRefund) (Refund, error)
	// SettleRefund records a pending refund's outcome with its refund.succeeded or
	// refund.failed event, and counts a success in the payment's AmountRefunded. A
	// refund already settled is returned as it is.
	SettleRefund(ctx context.Context, o RefundOutcome) (Refund, error)
}

// RefundService reads refunds for the API.
type RefundService interface {
	GetRefund(ctx context.Context, caller Caller, id string) (Refund, error)
	// ListRefunds returns a page of the caller's refunds, newest first, of one payment
	// when paymentID is set.
	ListRefunds(ctx context.Context, caller Caller, paymentID string, p ListParams) (Page[Refund], error)
	// ReservedRefunds is how much of one of the caller's payments is refunded or on
	// its way (the caller has read the payment).
	ReservedRefunds(ctx context.Context, caller Caller, paymentID string) (int64, error)
}
