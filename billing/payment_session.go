package billing

import (
	"context"
	"time"
)

// PaymentSessionStatus is where a hosted payment session stands.
type PaymentSessionStatus string

// Payment session statuses. A session is open until the customer's payment on the
// page ends (completed, whatever the outcome: the ledger's payment says it) or its time
// runs out (expired).
const (
	PaymentSessionOpen      PaymentSessionStatus = "open"
	PaymentSessionCompleted PaymentSessionStatus = "completed"
	PaymentSessionExpired   PaymentSessionStatus = "expired"
)

// Payment statuses a payment shows while it is a session, before the ledger has an
// attempt: the customer has yet to act on the page, or never did.
const (
	PaymentRequiresAction PaymentStatus = "requires_action"
	PaymentExpired        PaymentStatus = "expired"
)

// EventPaymentExpired announces a hosted session that ended unpaid.
const EventPaymentExpired = "payment.expired"

// PaymentSession is a customer-present payment the customer completes on the engine's
// hosted page: card entry, 3-D Secure, then a redirect to ReturnURL. Its ID is the
// payment's. Token is the payment_url's secret, kept sealed by the store; TokenHash
// is how the page finds the session.
type PaymentSession struct {
	ID         string `db:"id"`
	MerchantID string `db:"merchant_id"`
	Mode       Mode   `db:"mode"`
	CustomerID string `db:"customer_id"`
	Amount     int64  `db:"amount"`
	Currency   string `db:"currency"`
	Type       string `db:"type"` // ecom | moto
	SaveCard   bool   `db:"save_card"`
	Provider   string `db:"provider"`
	// ProviderAccount is the merchant's provider account (pa_…) the page saves the card
	// in; "" for the installation's Provider.
	ProviderAccount string               `db:"provider_account"`
	ReturnURL       string               `db:"return_url"`
	Description     string               `db:"description"`
	Reference       string               `db:"reference"`
	Token           string               `db:"-"`
	TokenHash       string               `db:"token_hash"`
	Status          PaymentSessionStatus `db:"status"`
	PaymentMethodID string               `db:"payment_method_id"`
	// PlanID makes the session a change of the plan's card: the customer gives and
	// authenticates a card, nothing is charged, and the plan charges it from then on.
	PlanID string `db:"plan_id"`
	// StartPlan makes the session the start of PlanID, an incomplete plan: the card
	// pays its first installment (Amount), or is verified when Amount is 0.
	StartPlan bool `db:"start_plan"`
	// Outcome is how an ended session went: succeeded or failed (the ledger's payment
	// says the rest for a payment session).
	Outcome   PaymentStatus `db:"outcome"`
	ExpiresAt time.Time     `db:"expires_at"`
	CreatedAt time.Time     `db:"created_at"`
	UpdatedAt time.Time     `db:"updated_at"`
}

// PaymentSessionService keeps hosted payment sessions.
type PaymentSessionService interface {
	// CreatePaymentSession stores s unless a session with its id exists (a retried
	// request) and returns the stored one, token unsealed.
	CreatePaymentSession(ctx context.Context, caller Caller, s PaymentSession) (PaymentSession, error)
	// GetPaymentSession returns one of the caller's sessions, token unsealed.
	GetPaymentSession(ctx context.Context, caller Caller, id string) (PaymentSession, error)
	// OpenPlanSession returns the newest open, unexpired session of one of the
	// caller's plans: one that starts it (startPlan) or one that changes its card (not
	// found when there is none).
	OpenPlanSession(ctx context.Context, caller Caller, planID string, startPlan bool) (PaymentSession, error)
	// FirstPlanSession returns a plan's first session, whatever its status (not found
	// when the plan had none).
	FirstPlanSession(ctx context.Context, caller Caller, planID string) (PaymentSession, error)
	// PaymentSessionByToken finds the session a payment_url's token opens.
	PaymentSessionByToken(ctx context.Context, tokenHash string) (PaymentSession, error)
	PaymentSessionRecorder
}

// PaymentSessionUpdate is what the hosted payment workflow records of its session.
type PaymentSessionUpdate struct {
	MerchantID, ID  string
	Status          PaymentSessionStatus
	PaymentMethodID string // the card the customer gave, once given
	// KeepCard keeps the card once the session ended (save_card, or a plan's new card,
	// and a successful outcome); otherwise the store detaches it.
	KeepCard bool
	Outcome  PaymentStatus
}

// PaymentSessionRecorder is what the hosted payment workflow records of its session.
type PaymentSessionRecorder interface {
	// SetPaymentSession records the card the customer gave and where the session
	// stands. An open session becomes completed or expired once; expiring appends
	// payment.expired (for a payment session) in the same transaction. A session
	// already ended stays as it is. Once the session has ended, its card is detached
	// unless KeepCard: every saved card starts with an authenticated, successful
	// payment or card change. Repeating the call repeats nothing.
	SetPaymentSession(ctx context.Context, u PaymentSessionUpdate) error
	// SettlePaymentSession gives a completed session whose outcome was pending (a plan's
	// first payment whose answer was lost) its final outcome; any other session stays
	// as it is.
	SettlePaymentSession(ctx context.Context, merchantID, id string, outcome PaymentStatus) error
}
