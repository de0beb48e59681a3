package billing

import (
	"context"
	"fmt"
	"time"
)

// Event types the engine emits. Every event's data.object is the object it is about
// (a payment or a plan) as the API answers it.
const (
	EventPaymentSucceeded = "payment.succeeded"
	EventPaymentFailed    = "payment.failed"
	// EventPlanCreated: the plan's row was first written.
	EventPlanCreated = "plan.created"
	// EventPlanUpdated: the plan's status or payment method changed and none of the
	// events below announces the change (paused, resumed, blocked, unblocked, a new card).
	EventPlanUpdated        = "plan.updated"
	EventPlanCompleted      = "plan.completed"
	EventPlanCanceled       = "plan.canceled"
	EventPlanPastDue        = "plan.past_due"
	EventPlanActionRequired = "plan.action_required"
	EventPlanFailed         = "plan.failed"
	// EventPlanIncompleteExpired: a plan made without a card was not completed on its
	// hosted page in time.
	EventPlanIncompleteExpired = "plan.incomplete_expired"
	// EventRefundSucceeded and EventRefundFailed: the provider returned a refund's
	// money, or refused to; data.object is the Refund.
	EventRefundSucceeded = "refund.succeeded"
	EventRefundFailed    = "refund.failed"
	// EventPaymentMethodExpiring: a saved card expires within 30 days (the end of its
	// expiry month); EventPaymentMethodExpired: it has expired. data.object is the
	// PaymentMethod. Each is sent once per card.
	EventPaymentMethodExpiring = "payment_method.expiring"
	EventPaymentMethodExpired  = "payment_method.expired"
	// EventPaymentUpcoming: a plan's installment is charged in the plan's
	// upcoming_notice_days; data.object is the Plan with next_installment,
	// next_amount and next_due_at set to that installment.
	EventPaymentUpcoming = "payment.upcoming"
)

// EventTypes lists every event type: what a webhook endpoint may subscribe to (besides
// "*"). api/openapi.yaml's EventType enum repeats it; a test keeps the two equal.
var EventTypes = []string{EventPaymentSucceeded, EventPaymentFailed, EventPaymentExpired, EventPlanCreated, EventPlanUpdated,
	EventPlanCompleted, EventPlanCanceled, EventPlanPastDue, EventPlanActionRequired, EventPlanFailed,
	EventPlanIncompleteExpired, EventRefundSucceeded, EventRefundFailed, EventPaymentMethodExpiring, EventPaymentMethodExpired,
	EventPaymentUpcoming}

// Event is one entry of the merchant's event log, the source of webhooks.
type Event struct {
	ID         string `db:"id" json:"id"`
	Seq        int64  `db:"seq" json:"-"`
	MerchantID string `db:"merchant_id" json:"-"`
	Mode       Mode   `db:"mode" json:"mode"`
	Type       string `db:"type" json:"type"`
	// Data is {"object": …}: the payment or plan the event is about, as the API renders
	// it when the event is written (older data is converted when read).
	Data      JSONDoc   `db:"data" json:"data"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	// IdempotencyKey makes appending the same event twice a no-op.
	IdempotencyKey string `db:"idempotency_key" json:"-"`
	// DispatchedAt is when webhook deliveries were started for the event (the outbox
	// marker); nil while the dispatcher has not seen it.
	DispatchedAt *time.Time `db:"dispatched_at" json:"-"`
}

// EventService is the merchant's event log: appended by the ledger, read by the API,
// drained by the webhook dispatcher.
type EventService interface {
	// AppendEvent adds ev unless an event with its idempotency key exists, and returns
	// the stored event.
	AppendEvent(ctx context.Context, ev Event) (Event, error)
	GetEvent(ctx context.Context, caller Caller, id string) (Event, error)
	// ListEvents returns a page of the caller's events, newest first; typ, when set,
	// keeps only events of that type.
	ListEvents(ctx context.Context, caller Caller, typ string, p ListParams) (Page[Event], error)
	// EventByID returns an event of the merchant (for deliveries, which carry no caller).
	EventByID(ctx context.Context, merchantID, id string) (Event, error)
	// UndispatchedEvents returns up to limit events not yet dispatched, oldest first;
	// MarkEventDispatched records that an event's deliveries were started.
	UndispatchedEvents(ctx context.Context, limit int) ([]Event, error)
	MarkEventDispatched(ctx context.Context, id string) error
}

// JSONDoc is a JSON document kept as it was written (a plan's schedule and merchant
// data, an event's data); empty is absent. It marshals as the document itself.
type JSONDoc []byte

// Scan reads a document from text, bytes or NULL: the stores keep documents in JSON
// (Postgres) or TEXT (SQLite) columns. It implements database/sql's Scanner without
// importing it; writing a document is the store's business.
func (j *JSONDoc) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append(JSONDoc(nil), v...)
	case string:
		*j = JSONDoc(v)
	default:
		return fmt.Errorf("scan JSON column: unsupported type %T", src)
	}
	return nil
}

// MarshalJSON returns the document, or null when empty.
func (j JSONDoc) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON keeps the document as given.
func (j *JSONDoc) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*j = nil
		return nil
	}
	*j = append(JSONDoc(nil), b...)
	return nil
}
