package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
)

// Payment is one charge attempt in the ledger: a plan installment's attempt, or a
// one-off or initial payment (PlanID empty, Installment 0). IdempotencyKey is the key
// the provider saw (plan_<id>/<installment>/<attempt> for plans), unique like the
// (plan, installment, attempt) triple.
//
// Its JSON form is not the API's (that is Object): it is the data payment events
// carried before data.object, which upgradeEvents still reads, so keep its tags.
type Payment struct {
	ID                   string     `db:"id" json:"id"`
	Seq                  int64      `db:"seq" json:"-"`
	MerchantID           string     `db:"merchant_id" json:"-"`
	Mode                 Mode       `db:"mode" json:"mode"`
	PlanID               *string    `db:"plan_id" json:"plan_id"`
	CustomerID           string     `db:"customer_id" json:"customer_id"`
	PaymentMethodID      string     `db:"payment_method_id" json:"payment_method_id"`
	Installment          int        `db:"installment" json:"installment,omitempty"`
	Attempt              int        `db:"attempt" json:"attempt"`
	Amount               int64      `db:"amount" json:"amount"`
	Currency             string     `db:"currency" json:"currency"`
	Status               string     `db:"status" json:"status"` // billing.PaymentSucceeded | PaymentFailed | PaymentPending
	PaymentType          string     `db:"payment_type" json:"payment_type"`
	IsRecurring          bool       `db:"is_recurring" json:"is_recurring"`
	Provider             string     `db:"provider" json:"provider"`
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

// Object renders the payment as the API shows it: the body of GET /v1/payments/{id}
// and the data.object of its events.
func (p Payment) Object() rest.Payment {
	out := rest.Payment{
		ID: p.ID, Object: "payment", Customer: p.CustomerID, PaymentMethod: p.PaymentMethodID,
		Amount: p.Amount, Currency: p.Currency, Status: p.Status, PaymentType: p.PaymentType,
		IsRecurring: p.IsRecurring, Provider: p.Provider, Livemode: p.Mode == ModeLive,
		CreatedAt: p.CreatedAt.UTC(), DueAt: rest.UTC(p.DueAt),
		ProviderChargeID: rest.OptString(p.ProviderChargeID), FailureCode: rest.OptString(p.FailureCode),
		FailureClass: rest.OptString(p.FailureClass), FailureMessage: rest.OptString(p.FailureMessage),
	}
	if p.PlanID != nil && *p.PlanID != "" {
		plan, inst, attempt := *p.PlanID, p.Installment, p.Attempt
		out.Plan, out.Installment, out.Attempt = &plan, &inst, &attempt
	}
	return out
}

// outcomeUnknown reports whether a pending payment is an attempt whose outcome nobody
// knows yet (the provider never answered), as opposed to a charge the provider
// accepted and settles later.
func (p Payment) outcomeUnknown() bool {
	return p.Status == billing.PaymentPending && p.FailureClass != ""
}

// RecordPayment stores an attempt and, in the same transaction, its
// payment.succeeded or payment.failed event. It is idempotent on IdempotencyKey: the
// same attempt recorded again returns the stored row and emits nothing, except that a
// pending attempt whose outcome was unknown is settled by a later record of the same
// key with a final status (and then emits its event).
func (db *DB) RecordPayment(ctx context.Context, p Payment) (Payment, error) {
	if p.IdempotencyKey == "" {
		return Payment{}, fmt.Errorf("record payment: idempotency key is required")
	}
	now := ledgerTime(time.Now())
	if p.ID == "" {
		p.ID = billing.NewID(billing.PrefixPayment)
	}
	if p.AttemptedAt.IsZero() {
		p.AttemptedAt = now
	}
	p.AttemptedAt = ledgerTime(p.AttemptedAt)
	p.DueAt = ledgerTimePtr(p.DueAt)
	p.CreatedAt, p.UpdatedAt = now, now
	if p.PlanID != nil && *p.PlanID == "" {
		p.PlanID = nil
	}

	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return Payment{}, fmt.Errorf("record payment: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := sqlx.NamedExecContext(ctx, tx, `INSERT INTO payments (id, merchant_id, mode, plan_id, customer_id,
		payment_method_id, installment, attempt, amount, currency, status, payment_type, is_recurring, provider,
		provider_charge_id, network_transaction_id, idempotency_key, failure_code, failure_class, failure_message,
		due_at, attempted_at, created_at, updated_at)
		VALUES (:id, :merchant_id, :mode, :plan_id, :customer_id, :payment_method_id, :installment, :attempt,
		:amount, :currency, :status, :payment_type, :is_recurring, :provider, :provider_charge_id,
		:network_transaction_id, :idempotency_key, :failure_code, :failure_class, :failure_message, :due_at,
		:attempted_at, :created_at, :updated_at)
		ON CONFLICT DO NOTHING`, p)
	if err != nil {
		return Payment{}, translate(err, "record payment")
	}
	inserted, err := res.RowsAffected()
	if err != nil {
		return Payment{}, fmt.Errorf("record payment: %w", err)
	}
	out := p
	emit := inserted == 1
	if inserted == 0 {
		if err := tx.GetContext(ctx, &out, db.Rebind(`SELECT * FROM payments WHERE idempotency_key = ?`), p.IdempotencyKey); err != nil {
			return Payment{}, translate(err, "record payment")
		}
		if out.MerchantID != p.MerchantID {
			return Payment{}, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeResourceExists, Message: "record payment: idempotency key taken"}
		}
		if out.outcomeUnknown() {
			// A retry of an attempt nobody knew the outcome of: take the new outcome
			// (or the newer failure, if still unknown) and keep the row's identity.
			out.Status, out.ProviderChargeID, out.NetworkTransactionID = p.Status, p.ProviderChargeID, p.NetworkTransactionID
			out.FailureCode, out.FailureClass, out.FailureMessage = p.FailureCode, p.FailureClass, p.FailureMessage
			out.AttemptedAt, out.UpdatedAt = p.AttemptedAt, now
			if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE payments SET status = ?, provider_charge_id = ?,
				network_transaction_id = ?, failure_code = ?, failure_class = ?, failure_message = ?, attempted_at = ?,
				updated_at = ? WHERE id = ?`), out.Status, out.ProviderChargeID, out.NetworkTransactionID,
				out.FailureCode, out.FailureClass, out.FailureMessage, out.AttemptedAt, out.UpdatedAt, out.ID); err != nil {
				return Payment{}, translate(err, "record payment")
			}
			emit = out.Status != billing.PaymentPending
		}
	}
	if emit {
		// The event shows the row as stored, as GET /v1/payments/{id} reads it.
		if err := tx.GetContext(ctx, &out, db.Rebind(`SELECT * FROM payments WHERE id = ?`), out.ID); err != nil {
			return Payment{}, translate(err, "record payment")
		}
		if ev, ok := paymentEvent(out); ok {
			if _, err := appendEvent(ctx, db, tx, ev); err != nil {
				return Payment{}, err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return Payment{}, fmt.Errorf("record payment: %w", err)
	}
	return out, nil
}

// paymentEvent returns the event announcing p's outcome, with p as its data.object;
// pending payments have none yet.
func paymentEvent(p Payment) (Event, bool) {
	typ := ""
	switch p.Status {
	case billing.PaymentSucceeded:
		typ = billing.EventPaymentSucceeded
	case billing.PaymentFailed:
		typ = billing.EventPaymentFailed
	default:
		return Event{}, false
	}
	return Event{
		MerchantID: p.MerchantID, Mode: p.Mode, Type: typ, Data: eventData(p.Object()),
		IdempotencyKey: "payment/" + p.IdempotencyKey + "/" + p.Status,
	}, true
}

// eventData is an event's data member for object: {"object": …}.
func eventData[T any](object T) JSONDoc {
	data, err := json.Marshal(rest.EventData[T]{Object: object})
	if err != nil {
		// The rest types are plain fields and JSON documents that were decoded from
		// JSON: they always marshal.
		panic(fmt.Sprintf("render event data: %v", err))
	}
	return data
}

// GetPayment returns one of the caller's payments.
func (db *DB) GetPayment(ctx context.Context, caller Caller, id string) (Payment, error) {
	var p Payment
	err := db.GetContext(ctx, &p, db.Rebind(`SELECT * FROM payments WHERE id = ? AND merchant_id = ? AND mode = ?`),
		id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return Payment{}, notFound("payment", id)
	}
	if err != nil {
		return Payment{}, fmt.Errorf("get payment: %w", err)
	}
	return p, nil
}

// ListPlanPayments returns a page of a plan's attempts, newest first. A plan the
// caller cannot see is not found.
func (db *DB) ListPlanPayments(ctx context.Context, caller Caller, planID string, p ListParams) (Page[Payment], error) {
	limit, err := p.limit()
	if err != nil {
		return Page[Payment]{}, err
	}
	if _, err := db.GetPlan(ctx, caller, planID); err != nil {
		return Page[Payment]{}, err
	}
	after, err := db.cursor(ctx, "payments", caller, p.StartingAfter)
	if err != nil {
		return Page[Payment]{}, err
	}
	q := `SELECT * FROM payments WHERE plan_id = ? AND merchant_id = ? AND mode = ?`
	args := []any{planID, caller.MerchantID, caller.Mode}
	if after > 0 {
		q, args = q+` AND seq < ?`, append(args, after)
	}
	var rows []Payment
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return Page[Payment]{}, fmt.Errorf("list plan payments: %w", err)
	}
	return page(rows, limit), nil
}

// FailedAttemptsSince returns when the card's attempts that did not succeed (declines,
// and attempts whose outcome is still unknown) happened after since, across every plan
// and payment of the merchant: the input of billing.AttemptLimit.
func (db *DB) FailedAttemptsSince(ctx context.Context, merchantID, paymentMethodID string, since time.Time) ([]time.Time, error) {
	var out []time.Time
	err := db.SelectContext(ctx, &out, db.Rebind(`SELECT attempted_at FROM payments
		WHERE merchant_id = ? AND payment_method_id = ? AND attempted_at > ?
		AND (status = ? OR (status = ? AND failure_class <> ''))`),
		merchantID, paymentMethodID, ledgerTime(since), billing.PaymentFailed, billing.PaymentPending)
	if err != nil {
		return nil, translate(err, "count card attempts")
	}
	return out, nil
}

// Event is one entry of the merchant's event log, the source of webhooks.
type Event struct {
	ID         string `db:"id" json:"id"`
	Seq        int64  `db:"seq" json:"-"`
	MerchantID string `db:"merchant_id" json:"-"`
	Mode       Mode   `db:"mode" json:"mode"`
	Type       string `db:"type" json:"type"`
	// Data is {"object": …}: the payment or plan the event is about, rendered by
	// Payment.Object or Plan.Object when the event is written (older data is
	// converted when read: see upgradeEvents).
	Data      JSONDoc   `db:"data" json:"data"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	// IdempotencyKey makes appending the same event twice a no-op.
	IdempotencyKey string `db:"idempotency_key" json:"-"`
	// DispatchedAt is when webhook deliveries were started for the event (the outbox
	// marker); nil while the dispatcher has not seen it.
	DispatchedAt *time.Time `db:"dispatched_at" json:"-"`
}

// AppendEvent adds ev to the log unless an event with its idempotency key exists, and
// returns the stored event.
func (db *DB) AppendEvent(ctx context.Context, ev Event) (Event, error) {
	return appendEvent(ctx, db, db.DB, ev)
}

func appendEvent(ctx context.Context, db *DB, ext sqlx.ExtContext, ev Event) (Event, error) {
	if ev.IdempotencyKey == "" || ev.Type == "" {
		return Event{}, fmt.Errorf("append event: type and idempotency key are required")
	}
	if ev.ID == "" {
		ev.ID = billing.NewID(billing.PrefixEvent)
	}
	if len(ev.Data) == 0 {
		ev.Data = JSONDoc("{}")
	}
	ev.CreatedAt = ledgerTime(db.now())
	if _, err := sqlx.NamedExecContext(ctx, ext, `INSERT INTO events (id, merchant_id, mode, type, data, idempotency_key, created_at)
		VALUES (:id, :merchant_id, :mode, :type, :data, :idempotency_key, :created_at) ON CONFLICT DO NOTHING`, ev); err != nil {
		return Event{}, translate(err, "append event")
	}
	var out Event
	if err := sqlx.GetContext(ctx, ext, &out, db.Rebind(`SELECT * FROM events WHERE idempotency_key = ?`), ev.IdempotencyKey); err != nil {
		return Event{}, translate(err, "append event")
	}
	return out, nil
}

// ListEvents returns a page of the caller's events, newest first; typ, when set, keeps
// only events of that type.
func (db *DB) ListEvents(ctx context.Context, caller Caller, typ string, p ListParams) (Page[Event], error) {
	limit, err := p.limit()
	if err != nil {
		return Page[Event]{}, err
	}
	after, err := db.cursor(ctx, "events", caller, p.StartingAfter)
	if err != nil {
		return Page[Event]{}, err
	}
	q := `SELECT * FROM events WHERE merchant_id = ? AND mode = ?`
	args := []any{caller.MerchantID, caller.Mode}
	if typ != "" {
		q, args = q+` AND type = ?`, append(args, typ)
	}
	if after > 0 {
		q, args = q+` AND seq < ?`, append(args, after)
	}
	var rows []Event
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return Page[Event]{}, fmt.Errorf("list events: %w", err)
	}
	out := page(rows, limit)
	if err := db.upgradeEvents(ctx, out.Items); err != nil {
		return Page[Event]{}, err
	}
	return out, nil
}
