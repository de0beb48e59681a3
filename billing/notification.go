package billing

import (
	"context"
	"time"
)

// Notification kinds: why the customer is told.
const (
	// NotifyPaymentFailed: an installment could not be collected for good (hard decline
	// or last dunning retry); the plan went past_due or canceled.
	NotifyPaymentFailed = "payment_failed"
	// NotifyActionRequired: the customer must act (authenticate, or give a new card).
	NotifyActionRequired = "action_required"
	// NotifyPlanFailed: the plan cannot go on.
	NotifyPlanFailed = "plan_failed"
	// NotifyPaymentRetrying: an installment's first attempt was declined (soft) and
	// will be tried again at RetryAt; the customer may give another card meanwhile.
	NotifyPaymentRetrying = "payment_retrying"
	// NotifyCardExpiring and NotifyCardExpired: a saved card expires within 30 days,
	// or has expired (PaymentMethodID names it, ExpiresAt when).
	NotifyCardExpiring = "payment_method_expiring"
	NotifyCardExpired  = "payment_method_expired"
	// NotifyPaymentUpcoming: an installment is charged soon (DueAt, Amount).
	NotifyPaymentUpcoming = "payment_upcoming"
)

// Notification asks for the customer to be told about their plan.
type Notification struct {
	Kind        string     `json:"kind"`
	MerchantID  string     `json:"merchant_id"`
	Mode        Mode       `json:"mode"`
	CustomerID  string     `json:"customer_id"`
	PlanID      string     `json:"plan_id,omitempty"`
	Installment int        `json:"installment,omitempty"`
	Amount      int64      `json:"amount,omitempty"`
	Currency    string     `json:"currency,omitempty"`
	Status      PlanStatus `json:"status,omitempty"`
	Code        string     `json:"code,omitempty"`
	Message     string     `json:"message,omitempty"`
	// DueAt is when an upcoming installment is charged (payment_upcoming).
	DueAt time.Time `json:"due_at,omitzero"`
	// RetryAt is when a declined installment is tried again (payment_retrying).
	RetryAt time.Time `json:"retry_at,omitzero"`
	// PaymentMethodID and ExpiresAt are a card expiry notice's (card_expiring,
	// card_expired): the card, and the end of its expiry month.
	PaymentMethodID string    `json:"payment_method_id,omitempty"`
	ExpiresAt       time.Time `json:"expires_at,omitzero"`
	// IdempotencyKey is the same for retries of one notification, so a sender can
	// drop duplicates.
	IdempotencyKey string `json:"idempotency_key"`
	// PaymentURL is the hosted page where the customer fixes the plan (authenticates,
	// or gives a new card). The Notify activity sets it as it sends: it holds a secret
	// token, which never enters a workflow.
	PaymentURL string `json:"-"`
}

// Notifier tells customers about their plans (internal/notify sends email over SMTP, or
// only logs when no SMTP server is configured).
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}
