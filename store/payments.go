package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
)

// RecordPayment stores an attempt and, in the same transaction, its
// payment.succeeded or payment.failed event. It is idempotent on IdempotencyKey: the
// same attempt recorded again returns the stored row and emits nothing, except that a
// pending attempt whose outcome was unknown is settled by a later record of the same
// key with a final status (and then emits its event).
func (db *DB) RecordPayment(ctx context.Context, p billing.Payment) (billing.Payment, error) {
	if p.IdempotencyKey == "" {
		return billing.Payment{}, fmt.Errorf("record payment: idempotency key is required")
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
		return billing.Payment{}, fmt.Errorf("record payment: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := sqlx.NamedExecContext(ctx, tx, `INSERT INTO payments (id, merchant_id, mode, plan_id, customer_id,
		payment_method_id, installment, attempt, amount, currency, status, payment_type, is_recurring, provider,
		provider_charge_id, network_transaction_id, idempotency_key, failure_code, failure_class, failure_message,
		due_at, attempted_at, created_at, updated_at, provider_account)
		VALUES (:id, :merchant_id, :mode, :plan_id, :customer_id, :payment_method_id, :installment, :attempt,
		:amount, :currency, :status, :payment_type, :is_recurring, :provider, :provider_charge_id,
		:network_transaction_id, :idempotency_key, :failure_code, :failure_class, :failure_message, :due_at,
		:attempted_at, :created_at, :updated_at,
		COALESCE((SELECT pm.provider_account FROM payment_methods pm WHERE pm.id = :payment_method_id AND pm.merchant_id = :merchant_id), ''))
		ON CONFLICT DO NOTHING`, p)
	if err != nil {
		return billing.Payment{}, translate(err, "record payment")
	}
	inserted, err := res.RowsAffected()
	if err != nil {
		return billing.Payment{}, fmt.Errorf("record payment: %w", err)
	}
	out := p
	emit := inserted == 1
	if inserted == 0 {
		if err := tx.GetContext(ctx, &out, db.Rebind(`SELECT * FROM payments WHERE idempotency_key = ?`), p.IdempotencyKey); err != nil {
			return billing.Payment{}, translate(err, "record payment")
		}
		if out.MerchantID != p.MerchantID {
			return billing.Payment{}, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeResourceExists, Message: "record payment: idempotency key taken"}
		}
		if out.OutcomeUnknown() {
			// A retry of an attempt nobody knew the outcome of: take the new outcome
			// (or the newer failure, if still unknown) and keep the row's identity.
			out.Status, out.ProviderChargeID, out.NetworkTransactionID = p.Status, p.ProviderChargeID, p.NetworkTransactionID
			out.FailureCode, out.FailureClass, out.FailureMessage = p.FailureCode, p.FailureClass, p.FailureMessage
			out.AttemptedAt, out.UpdatedAt = p.AttemptedAt, now
			if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE payments SET status = ?, provider_charge_id = ?,
				network_transaction_id = ?, failure_code = ?, failure_class = ?, failure_message = ?, attempted_at = ?,
				updated_at = ? WHERE id = ?`), out.Status, out.ProviderChargeID, out.NetworkTransactionID,
				out.FailureCode, out.FailureClass, out.FailureMessage, out.AttemptedAt, out.UpdatedAt, out.ID); err != nil {
				return billing.Payment{}, translate(err, "record payment")
			}
			emit = out.Status != billing.PaymentPending
		}
	}
	if emit {
		// The event shows the row as stored, as GET /v1/payments/{id} reads it.
		if err := tx.GetContext(ctx, &out, db.Rebind(`SELECT * FROM payments WHERE id = ?`), out.ID); err != nil {
			return billing.Payment{}, translate(err, "record payment")
		}
		if ev, ok := paymentEvent(out); ok {
			if _, err := appendEvent(ctx, db, tx, ev); err != nil {
				return billing.Payment{}, err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return billing.Payment{}, fmt.Errorf("record payment: %w", err)
	}
	return out, nil
}

// paymentEvent returns the event announcing p's outcome, with p as its data.object;
// pending payments have none yet.
func paymentEvent(p billing.Payment) (billing.Event, bool) {
	typ := ""
	switch p.Status {
	case billing.PaymentSucceeded:
		typ = billing.EventPaymentSucceeded
	case billing.PaymentFailed:
		typ = billing.EventPaymentFailed
	default:
		return billing.Event{}, false
	}
	return billing.Event{
		MerchantID: p.MerchantID, Mode: p.Mode, Type: typ, Data: eventData(rest.PaymentObject(p)),
		IdempotencyKey: "payment/" + p.IdempotencyKey + "/" + string(p.Status),
	}, true
}

// GetPayment returns one of the caller's payments.
func (db *DB) GetPayment(ctx context.Context, caller billing.Caller, id string) (billing.Payment, error) {
	var p billing.Payment
	err := db.GetContext(ctx, &p, db.Rebind(`SELECT * FROM payments WHERE id = ? AND merchant_id = ? AND mode = ?`),
		id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.Payment{}, notFound("payment", id)
	}
	if err != nil {
		return billing.Payment{}, fmt.Errorf("get payment: %w", err)
	}
	return p, nil
}

// ListPlanPayments returns a page of a plan's attempts, newest first. A plan the
// caller cannot see is not found.
func (db *DB) ListPlanPayments(ctx context.Context, caller billing.Caller, planID string, p billing.ListParams) (billing.Page[billing.Payment], error) {
	limit, err := p.PageLimit()
	if err != nil {
		return billing.Page[billing.Payment]{}, err
	}
	if _, err := db.GetPlan(ctx, caller, planID); err != nil {
		return billing.Page[billing.Payment]{}, err
	}
	after, err := db.cursor(ctx, "payments", caller, p.StartingAfter)
	if err != nil {
		return billing.Page[billing.Payment]{}, err
	}
	q := `SELECT * FROM payments WHERE plan_id = ? AND merchant_id = ? AND mode = ?`
	args := []any{planID, caller.MerchantID, caller.Mode}
	if after > 0 {
		q, args = q+` AND seq < ?`, append(args, after)
	}
	var rows []billing.Payment
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return billing.Page[billing.Payment]{}, fmt.Errorf("list plan payments: %w", err)
	}
	return page(rows, limit), nil
}

// ListPayments returns a page of the caller's payments, newest first, narrowed by f:
// "every charge whose outcome is unknown" is status pending, "yesterday's failures" is
// status failed with a created range. The cursor keeps its place whatever the filter.
func (db *DB) ListPayments(ctx context.Context, caller billing.Caller, f billing.PaymentFilter, p billing.ListParams) (billing.Page[billing.Payment], error) {
	limit, err := p.PageLimit()
	if err != nil {
		return billing.Page[billing.Payment]{}, err
	}
	after, err := db.cursor(ctx, "payments", caller, p.StartingAfter)
	if err != nil {
		return billing.Page[billing.Payment]{}, err
	}
	q := `SELECT * FROM payments WHERE merchant_id = ? AND mode = ?`
	args := []any{caller.MerchantID, caller.Mode}
	for _, c := range []struct {
		on   bool
		cond string
		arg  any
	}{
		{f.CustomerID != "", ` AND customer_id = ?`, f.CustomerID},
		{f.PlanID != "", ` AND plan_id = ?`, f.PlanID},
		{f.Status != "", ` AND status = ?`, f.Status},
		{f.CreatedGte != nil, ` AND created_at >= ?`, ledgerTimePtr(f.CreatedGte)},
		{f.CreatedLt != nil, ` AND created_at < ?`, ledgerTimePtr(f.CreatedLt)},
		{after > 0, ` AND seq < ?`, after},
	} {
		if c.on {
			q, args = q+c.cond, append(args, c.arg)
		}
	}
	var rows []billing.Payment
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return billing.Page[billing.Payment]{}, fmt.Errorf("list payments: %w", err)
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
