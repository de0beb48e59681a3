package billing

import (
	"context"
	"time"
)

// PaymentStatus is where a charge attempt stands in the ledger.
type PaymentStatus string

// Payment statuses in the ledger.
const (
	PaymentSucceeded PaymentStatus = "succeeded"
	PaymentFailed    PaymentStatus = "failed"
	// PaymentPending: the provider accepted the charge and settles it later, or the
	// attempt's outcome is not known yet (the provider never answered); a later attempt
	// with the same idempotency key settles it.
	PaymentPending PaymentStatus = "pending"
)

// Payment is one charge attempt in the ledger: a plan installment's attempt, or a
// one-off or initial payment (PlanID empty, Installment 0). IdempotencyKey is the key
// the provider saw (plan_<id>/<installment>/<attempt> for plans), unique like the
// (plan, installment, attempt) triple.
//
// Its JSON form is not the API's (that is rest.PaymentObject): it is the data payment
// events carried before data.object, which the store still upgrades when it reads them,
// so keep its tags.
type Payment struct {
	ID              string  `db:"id" json:"id"`
	Seq             int64   `db:"seq" json:"-"`
	MerchantID      string  `db:"merchant_id" json:"-"`
	Mode            Mode    `db:"mode" json:"mode"`
	PlanID          *string `db:"plan_id" json:"plan_id"`
	CustomerID      string  `db:"customer_id" json:"customer_id"`
	PaymentMethodID string  `db:"payment_method_id" json:"payment_method_id"`
	Installment     int     `db:"installment" json:"installment,omitempty"`
	Attempt         int     `db:"attempt" json:"attempt"`
	Amount          int64   `db:"amount" json:"amount"`
	Currency        string  `db:"currency" json:"currency"`
	// AmountRefunded is what succeeded refunds returned of Amount (see Refund).
	AmountRefunded int64         `db:"amount_refunded" json:"amount_refunded,omitempty"`
	Status         PaymentStatus `db:"status" json:"status"`
	PaymentType    PaymentType   `db:"payment_type" json:"payment_type"`
	IsRecurring    bool          `db:"is_recurring" json:"is_recurring"`
	Provider       string        `db:"provider" json:"provider"`
	// ProviderAccount is the merchant's provider account the card is in, set by the
	// store from the card when the row is written.
	ProviderAccount      string     `db:"provider_account" json:"provider_account,omitempty"`
	ProviderChargeID     string     `db:"provider_charge_id" json:"provider_charge_id,omitempty"`
	NetworkTransactionID string     `db:"network_transaction_id" json:"network_transaction_id,omitempty"`
	IdempotencyKey       string     `db:"idempotency_key" json:"-"`
	FailureCode          string     `db:"failure_code" json:"failure_code,omitempty"`
	FailureClass         string     `db:"failure_class" json:"failure_class,omitempty"`
	FailureMessage       string     `db:"failure_message" json:"failure_message,omitempty"`
	DueAt                *time.Time `db:"due_at" json:"due_at,omitempty"`
	AttemptedAt          time.Time  `db:"attempted_at" json:"attempted_at"`
	CreatedAt            time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt            time.Time  `db:"updated_at" json:"updated_at"`
}

// OutcomeUnknown reports whether a pending payment is an attempt whose outcome nobody
// knows yet (the provider never answered), as opposed to a charge the provider
// accepted and settles later.
func (p Payment) OutcomeUnknown() bool {
	return p.Status == PaymentPending && p.FailureClass != ""
}

// Ledger is where the plan workflow and the payment activities record what happened.
// Every method is idempotent, because activities are retried.
type Ledger interface {
	// CreatePlan inserts the plan unless it exists and reports whether it created it;
	// the call that creates it also appends plan.created.
	CreatePlan(ctx context.Context, p Plan) (Plan, bool, error)
	// UpdatePlanState records a plan's status, next charge and payment method, with the
	// event announcing the change, unless a newer update (higher Seq) is stored.
	UpdatePlanState(ctx context.Context, u PlanUpdate) error
	// RecordPayment stores an attempt (insert-or-get on its idempotency key) with its
	// payment.succeeded / payment.failed event; a later record of a pending attempt
	// whose outcome was unknown settles it.
	RecordPayment(ctx context.Context, p Payment) (Payment, error)
	// FailedAttemptsSince lists when the card's attempts that did not succeed happened
	// after since, across all plans and payments: the input of AttemptLimit.
	FailedAttemptsSince(ctx context.Context, merchantID, paymentMethodID string, since time.Time) ([]time.Time, error)
}

// PaymentService reads the ledger's payments for the API.
type PaymentService interface {
	GetPayment(ctx context.Context, caller Caller, id string) (Payment, error)
	// ListPlanPayments returns a page of a plan's attempts, newest first; a plan the
	// caller cannot see is KindNotFound.
	ListPlanPayments(ctx context.Context, caller Caller, planID string, p ListParams) (Page[Payment], error)
	// ListPayments returns a page of the caller's payments across plans, newest
	// first, narrowed by f.
	ListPayments(ctx context.Context, caller Caller, f PaymentFilter, p ListParams) (Page[Payment], error)
}

// PaymentFilter narrows a list of payments; zero fields do not filter.
type PaymentFilter struct {
	CustomerID string
	PlanID     string
	Status     PaymentStatus
	// CreatedGte and CreatedLt bound created_at: at or after, and before.
	CreatedGte, CreatedLt *time.Time
}
