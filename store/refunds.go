package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
)

// OpenRefund writes r pending in one transaction with the check that the payment has
// that much left to refund (its succeeded and pending refunds reserve theirs), so two
// refunds racing for the last of a payment cannot both be written. The payment's row
// is locked for the check (SQLite's transactions hold the write lock already). An
// existing refund with r's id is returned as it is: the workflow's activity is retried.
func (db *DB) OpenRefund(ctx context.Context, r billing.NewRefund) (billing.Refund, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return billing.Refund{}, fmt.Errorf("open refund: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var out billing.Refund
	err = tx.GetContext(ctx, &out, db.Rebind(`SELECT * FROM refunds WHERE id = ?`), r.ID)
	switch {
	case err == nil:
		if out.MerchantID != r.MerchantID {
			return billing.Refund{}, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeResourceExists, Message: "open refund: id taken"}
		}
		return out, nil
	case !errors.Is(err, sql.ErrNoRows):
		return billing.Refund{}, translate(err, "open refund")
	}
	var p billing.Payment
	err = tx.GetContext(ctx, &p, db.Rebind(`SELECT * FROM payments WHERE id = ? AND merchant_id = ? AND mode = ?`+db.forUpdate()),
		r.PaymentID, r.MerchantID, r.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.Refund{}, paymentRef(notFound("payment", r.PaymentID))
	}
	if err != nil {
		return billing.Refund{}, translate(err, "open refund")
	}
	// Another attempt of the same activity may have written the refund while this one
	// waited for the lock: it is this refund, not a second one.
	err = tx.GetContext(ctx, &out, db.Rebind(`SELECT * FROM refunds WHERE id = ?`), r.ID)
	if err == nil && out.MerchantID == r.MerchantID {
		return out, nil
	} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return billing.Refund{}, translate(err, "open refund")
	}
	reserved, err := reservedRefunds(ctx, db, tx, billing.Caller{MerchantID: r.MerchantID, Mode: r.Mode}, p.ID)
	if err != nil {
		return billing.Refund{}, err
	}
	amount, err := billing.Refundable(p, reserved, r.Amount, r.Currency)
	if err != nil {
		return billing.Refund{}, err
	}
	now := db.now()
	out = billing.Refund{
		ID: r.ID, MerchantID: r.MerchantID, Mode: r.Mode, PaymentID: p.ID, Amount: amount, Currency: p.Currency,
		Reason: r.Reason, Status: billing.RefundPending, Provider: p.Provider, ProviderAccount: p.ProviderAccount,
		ProviderChargeID: p.ProviderChargeID, CreatedAt: now, UpdatedAt: now,
	}
	if _, err := tx.NamedExecContext(ctx, `INSERT INTO refunds (id, merchant_id, mode, payment_id, amount, currency,
		reason, status, provider, provider_account, provider_charge_id, created_at, updated_at)
		VALUES (:id, :merchant_id, :mode, :payment_id, :amount, :currency, :reason, :status, :provider,
		:provider_account, :provider_charge_id, :created_at, :updated_at)`, out); err != nil {
		if billing.KindOf(translate(err, "")) == billing.KindConflict {
			// Written by a concurrent attempt after the check (SQLite): read it.
			_ = tx.Rollback()
			var again billing.Refund
			if gerr := db.GetContext(ctx, &again, db.Rebind(`SELECT * FROM refunds WHERE id = ? AND merchant_id = ?`),
				r.ID, r.MerchantID); gerr == nil {
				return again, nil
			}
		}
		return billing.Refund{}, translate(err, "open refund")
	}
	if err := tx.GetContext(ctx, &out, db.Rebind(`SELECT * FROM refunds WHERE id = ?`), r.ID); err != nil {
		return billing.Refund{}, translate(err, "open refund")
	}
	if err := tx.Commit(); err != nil {
		return billing.Refund{}, fmt.Errorf("open refund: %w", err)
	}
	return out, nil
}

type queryer interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

// reservedRefunds is how much of the caller's payment its succeeded and pending
// refunds return.
func reservedRefunds(ctx context.Context, db *DB, q queryer, caller billing.Caller, paymentID string) (int64, error) {
	var sum int64
	if err := q.GetContext(ctx, &sum, db.Rebind(`SELECT COALESCE(SUM(amount), 0) FROM refunds
		WHERE payment_id = ? AND merchant_id = ? AND mode = ? AND status IN (?, ?)`),
		paymentID, caller.MerchantID, caller.Mode, billing.RefundPending, billing.RefundSucceeded); err != nil {
		return 0, translate(err, "sum refunds")
	}
	return sum, nil
}

// ReservedRefunds is how much of one of the caller's payments is refunded or on its way,
// counting only the caller's refunds (the caller has read the payment already).
func (db *DB) ReservedRefunds(ctx context.Context, caller billing.Caller, paymentID string) (int64, error) {
	return reservedRefunds(ctx, db, db.DB, caller, paymentID)
}

// SettleRefund records a pending refund's outcome, in one transaction with its event
// and, for a success, the payment's amount_refunded. A refund already settled is
// returned unchanged and announces nothing again; a pending outcome changes nothing.
func (db *DB) SettleRefund(ctx context.Context, o billing.RefundOutcome) (billing.Refund, error) {
	if o.Status != billing.RefundSucceeded && o.Status != billing.RefundFailed {
		return billing.Refund{}, fmt.Errorf("settle refund %s: status %q is not an outcome", o.RefundID, o.Status)
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return billing.Refund{}, fmt.Errorf("settle refund: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var r billing.Refund
	if err := tx.GetContext(ctx, &r, db.Rebind(`SELECT * FROM refunds WHERE id = ? AND merchant_id = ?`+db.forUpdate()),
		o.RefundID, o.MerchantID); err != nil {
		return billing.Refund{}, translate(err, "settle refund")
	}
	if r.Status != billing.RefundPending {
		return r, nil
	}
	r.Status, r.ProviderRefundID, r.FailureCode, r.FailureMessage = o.Status, o.ProviderRefundID, o.FailureCode, o.FailureMessage
	r.UpdatedAt = db.now()
	if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE refunds SET status = ?, provider_refund_id = ?, failure_code = ?,
		failure_message = ?, updated_at = ? WHERE id = ?`), r.Status, r.ProviderRefundID, r.FailureCode,
		r.FailureMessage, r.UpdatedAt, r.ID); err != nil {
		return billing.Refund{}, translate(err, "settle refund")
	}
	typ := billing.EventRefundFailed
	if r.Status == billing.RefundSucceeded {
		typ = billing.EventRefundSucceeded
		if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE payments SET amount_refunded = amount_refunded + ?, updated_at = ?
			WHERE id = ?`), r.Amount, r.UpdatedAt, r.PaymentID); err != nil {
			return billing.Refund{}, translate(err, "settle refund")
		}
	}
	if err := tx.GetContext(ctx, &r, db.Rebind(`SELECT * FROM refunds WHERE id = ?`), r.ID); err != nil {
		return billing.Refund{}, translate(err, "settle refund")
	}
	if _, err := appendEvent(ctx, db, tx, billing.Event{MerchantID: r.MerchantID, Mode: r.Mode, Type: typ,
		Data: eventData(rest.RefundObject(r)), IdempotencyKey: "refund/" + r.ID + "/" + string(r.Status)}); err != nil {
		return billing.Refund{}, err
	}
	if err := tx.Commit(); err != nil {
		return billing.Refund{}, fmt.Errorf("settle refund: %w", err)
	}
	return r, nil
}

// GetRefund returns one of the caller's refunds.
func (db *DB) GetRefund(ctx context.Context, caller billing.Caller, id string) (billing.Refund, error) {
	var r billing.Refund
	err := db.GetContext(ctx, &r, db.Rebind(`SELECT * FROM refunds WHERE id = ? AND merchant_id = ? AND mode = ?`),
		id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.Refund{}, notFound("refund", id)
	}
	if err != nil {
		return billing.Refund{}, fmt.Errorf("get refund: %w", err)
	}
	return r, nil
}

// ListRefunds returns a page of the caller's refunds, newest first; paymentID, when
// set, keeps one payment's (a payment the caller cannot see is not found).
func (db *DB) ListRefunds(ctx context.Context, caller billing.Caller, paymentID string, p billing.ListParams) (billing.Page[billing.Refund], error) {
	limit, err := p.PageLimit()
	if err != nil {
		return billing.Page[billing.Refund]{}, err
	}
	q := `SELECT * FROM refunds WHERE merchant_id = ? AND mode = ?`
	args := []any{caller.MerchantID, caller.Mode}
	if paymentID != "" {
		if _, err := db.GetPayment(ctx, caller, paymentID); err != nil {
			return billing.Page[billing.Refund]{}, paymentRef(err)
		}
		q, args = q+` AND payment_id = ?`, append(args, paymentID)
	}
	after, err := db.cursor(ctx, "refunds", caller, p.StartingAfter)
	if err != nil {
		return billing.Page[billing.Refund]{}, err
	}
	if after > 0 {
		q, args = q+` AND seq < ?`, append(args, after)
	}
	var rows []billing.Refund
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return billing.Page[billing.Refund]{}, fmt.Errorf("list refunds: %w", err)
	}
	return page(rows, limit), nil
}

// paymentRef names the payment field of a request as the param of a not-found error.
func paymentRef(err error) error {
	var be *billing.Error
	if errors.As(err, &be) && be.Kind == billing.KindNotFound {
		cp := *be
		cp.Param = "payment"
		return &cp
	}
	return err
}
