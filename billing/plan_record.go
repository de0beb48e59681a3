package billing

import (
	"context"
	"time"
)

// Plan is a payment plan as recorded. Its workflow (plan_<id>) owns it: the workflow's
// first activity creates it and later ones keep Status, NextChargeAt and
// PaymentMethodID current, so the record is also what GET /v1/plans lists without
// asking Temporal.
type Plan struct {
	ID              string `db:"id"`
	Seq             int64  `db:"seq"` // list order
	MerchantID      string `db:"merchant_id"`
	Mode            Mode   `db:"mode"`
	CustomerID      string `db:"customer_id"`
	PaymentMethodID string `db:"payment_method_id"`
	Provider        string `db:"provider"`
	// ProviderAccount is the merchant's provider account its card is in, set by the
	// store from the card.
	ProviderAccount  string     `db:"provider_account"`
	Currency         string     `db:"currency"`
	Type             string     `db:"type"` // ecom | moto
	Reference        string     `db:"reference"`
	MerchantData     JSONDoc    `db:"merchant_data"`
	Schedule         JSONDoc    `db:"schedule"`  // as the client sent it
	Timetable        JSONDoc    `db:"timetable"` // Timetable, as resolved
	Dunning          JSONDoc    `db:"dunning"`   // DunningPolicy, as resolved
	InitialPaymentID string     `db:"initial_payment_id"`
	Status           PlanStatus `db:"status"`
	NextChargeAt     *time.Time `db:"next_charge_at"`
	// StateSeq orders the workflow's updates, so a late retry of an older update never
	// overwrites a newer one.
	StateSeq  int64     `db:"state_seq"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
	// Paid and PaidAmount are counted from the ledger's succeeded attempts when the plan
	// is read, so the recorded state says what was collected.
	Paid       int   `db:"paid"`
	PaidAmount int64 `db:"paid_amount"`
}

// PlanFilter narrows ListPlans. Zero fields do not filter.
type PlanFilter struct {
	CustomerID      string
	PaymentMethodID string
	Status          PlanStatus
	// Active keeps only plans that are not completed, canceled or failed: the plans a
	// block, unblock or detach of their card must reach.
	Active bool
}

// PlanUpdate is a plan workflow's report of its state, with the event announcing it
// when the workflow names one.
type PlanUpdate struct {
	PlanID          string
	Seq             int64 // increases with every update the workflow makes
	Status          PlanStatus
	NextChargeAt    *time.Time
	PaymentMethodID string
	// Event, when set, names the event announcing the update: its Type and
	// IdempotencyKey are kept; the store fills in the rest (merchant, mode, and the
	// plan as updated as its data.object), so the event says what the record says.
	Event *Event
}

// PlanService reads recorded plans for the API; the plan workflow writes them through
// the Ledger.
type PlanService interface {
	GetPlan(ctx context.Context, caller Caller, id string) (Plan, error)
	ListPlans(ctx context.Context, caller Caller, f PlanFilter, p ListParams) (Page[Plan], error)
	// CountUnfinishedPlans returns how many of the caller's plans for customerID are not
	// completed, canceled or failed: the plans that keep a customer from being deleted.
	CountUnfinishedPlans(ctx context.Context, caller Caller, customerID string) (int, error)
}
