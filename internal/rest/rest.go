// Package rest holds the engine's objects as the HTTP API shows them: the JSON of
// api/openapi.yaml's Payment and Plan. Each object is rendered once, from its domain record
// (PaymentObject, PlanObject), and that one rendering is both the body
// of GET /v1/payments/{id} or GET /v1/plans/{id} and the data.object of the events
// announcing the object, so a webhook cannot say something else than the API.
//
// The store renders an event's object when it writes the event, in the transaction
// that writes the row, rather than keeping a snapshot of its own and rendering it on
// every read: an event is a fact, delivered and redelivered with the body it had
// when it happened, and the log stays free of a second, internal format. The store
// cannot import api (api imports the store), hence this small package below both;
// api turns these types into its generated ones by their JSON, which a test in api
// holds field for field to openapi.yaml.
package rest

import "time"

// Payment is one charge attempt as GET /v1/payments/{id} answers it.
type Payment struct {
	ID            string `json:"id"`
	Object        string `json:"object"` // "payment"
	Customer      string `json:"customer"`
	PaymentMethod string `json:"payment_method"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	// AmountRefunded is what succeeded refunds returned of Amount.
	AmountRefunded   int64      `json:"amount_refunded"`
	Status           string     `json:"status"`
	PaymentType      string     `json:"payment_type"`
	IsRecurring      bool       `json:"is_recurring"`
	Provider         string     `json:"provider"`
	ProviderAccount  *string    `json:"provider_account,omitempty"`
	Livemode         bool       `json:"livemode"`
	CreatedAt        time.Time  `json:"created_at"`
	Plan             *string    `json:"plan,omitempty"`
	Installment      *int       `json:"installment,omitempty"`
	Attempt          *int       `json:"attempt,omitempty"`
	DueAt            *time.Time `json:"due_at,omitempty"`
	ProviderChargeID *string    `json:"provider_charge_id,omitempty"`
	FailureCode      *string    `json:"failure_code,omitempty"`
	FailureClass     *string    `json:"failure_class,omitempty"`
	FailureMessage   *string    `json:"failure_message,omitempty"`
	// ExpiresAt and PaymentURL are a hosted session's (status requires_action):
	// when the page stops taking the payment, and the page. Events never carry the URL.
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	PaymentURL *string    `json:"payment_url,omitempty"`
}

// Plan is a payment plan as GET /v1/plans/{id} answers it. Its row fills the recorded
// fields (LiveState false); the API overlays the workflow's live state (paid,
// remaining, next installment, last error, …) when the workflow answers in time.
type Plan struct {
	ID              string          `json:"id"`
	Object          string          `json:"object"` // "plan"
	Customer        string          `json:"customer"`
	PaymentMethod   string          `json:"payment_method"`
	Provider        string          `json:"provider"`
	ProviderAccount *string         `json:"provider_account,omitempty"`
	Currency        string          `json:"currency"`
	Status          string          `json:"status"`
	Livemode        bool            `json:"livemode"`
	CreatedAt       time.Time       `json:"created_at"`
	NextChargeAt    *time.Time      `json:"next_charge_at,omitempty"`
	LiveState       *bool           `json:"live_state,omitempty"`
	Type            *string         `json:"type,omitempty"`
	Reference       *string         `json:"reference,omitempty"`
	MerchantData    *map[string]any `json:"merchant_data,omitempty"`
	Schedule        *map[string]any `json:"schedule,omitempty"`

	// The workflow's live state; a row alone leaves these zero.
	Paid            int        `json:"paid"`
	PaidAmount      int64      `json:"paid_amount"`
	Skipped         *int       `json:"skipped,omitempty"`
	Remaining       *int       `json:"remaining,omitempty"`
	NextInstallment *int       `json:"next_installment,omitempty"`
	NextAmount      *int64     `json:"next_amount,omitempty"`
	NextDueAt       *time.Time `json:"next_due_at,omitempty"`
	LastError       *PlanError `json:"last_error,omitempty"`
	CancelReason    *string    `json:"cancel_reason,omitempty"`
	// An incomplete plan's hosted page, shown by the API from the plan's open session
	// (events carry the plan as recorded, without them).
	PaymentURL      *string    `json:"payment_url,omitempty"`
	PaymentSession  *string    `json:"payment_session,omitempty"`
	IncompleteUntil *time.Time `json:"incomplete_until,omitempty"`
	// The plan's pause and charge policies, from its workflow.
	PauseBehavior         *string    `json:"pause_behavior,omitempty"`
	ResumeAt              *time.Time `json:"resume_at,omitempty"`
	CatchUp               *string    `json:"catch_up,omitempty"`
	MinDaysBetweenCharges *int       `json:"min_days_between_charges,omitempty"`
}

// PaymentMethod is a saved card or PayPal agreement as GET /v1/payment-methods/{id}
// answers it and its events carry.
type PaymentMethod struct {
	ID              string     `json:"id"`
	Object          string     `json:"object"` // "payment_method"
	Type            string     `json:"type"`
	Customer        string     `json:"customer"`
	Provider        string     `json:"provider"`
	ProviderAccount *string    `json:"provider_account,omitempty"`
	Status          string     `json:"status"`
	Card            *Card      `json:"card,omitempty"`
	Paypal          *PayPal    `json:"paypal,omitempty"`
	Imported        *bool      `json:"imported,omitempty"`
	Livemode        bool       `json:"livemode"`
	CreatedAt       time.Time  `json:"created_at"`
	DetachedAt      *time.Time `json:"detached_at,omitempty"`
}

// Card is a saved card's display data.
type Card struct {
	Brand       string `json:"brand"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	Fingerprint string `json:"fingerprint"`
	Last4       string `json:"last4"`
}

// PayPal is a PayPal agreement's display data.
type PayPal struct {
	PayerEmail *string `json:"payer_email,omitempty"`
}

// Refund is a refund as GET /v1/refunds/{id} answers it and its events carry.
type Refund struct {
	ID               string    `json:"id"`
	Object           string    `json:"object"` // "refund"
	Payment          string    `json:"payment"`
	Amount           int64     `json:"amount"`
	Currency         string    `json:"currency"`
	Status           string    `json:"status"`
	Reason           *string   `json:"reason,omitempty"`
	Provider         string    `json:"provider"`
	ProviderAccount  *string   `json:"provider_account,omitempty"`
	ProviderRefundID *string   `json:"provider_refund_id,omitempty"`
	FailureCode      *string   `json:"failure_code,omitempty"`
	FailureMessage   *string   `json:"failure_message,omitempty"`
	Livemode         bool      `json:"livemode"`
	CreatedAt        time.Time `json:"created_at"`
}

// PlanError is a plan's last charge failure.
type PlanError struct {
	Code    string  `json:"code"`
	Class   *string `json:"class,omitempty"`
	Message string  `json:"message"`
}

// EventData is an event's data member: {"object": <the object the event is about>}.
type EventData[T any] struct {
	Object T `json:"object"`
}

// OptString returns a pointer to s, or nil when s is empty: the API omits empty
// optional strings.
func OptString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// UTC returns t in UTC (what the API shows whatever the driver's location), nil for
// nil.
func UTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
