package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
)

type paymentSessionRow struct {
	billing.PaymentSession
	TokenKeyID string `db:"token_key_id"`
	Sealed     []byte `db:"token"`
}

func sessionTokenAAD(merchantID string, mode billing.Mode, id string) []byte {
	return []byte("payment_session/" + merchantID + "/" + string(mode) + "/" + id)
}

// CreatePaymentSession stores s with its token sealed unless a session with its id
// exists, and returns the stored session with its token.
func (db *DB) CreatePaymentSession(ctx context.Context, caller billing.Caller, s billing.PaymentSession) (billing.PaymentSession, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.PaymentSession{}, err
	}
	s.MerchantID, s.Mode = caller.MerchantID, caller.Mode
	now := ledgerTime(db.now())
	s.CreatedAt, s.UpdatedAt, s.ExpiresAt = now, now, ledgerTime(s.ExpiresAt)
	if s.Status == "" {
		s.Status = billing.PaymentSessionOpen
	}
	kid, sealed, err := kr.Seal([]byte(s.Token), sessionTokenAAD(s.MerchantID, s.Mode, s.ID))
	if err != nil {
		return billing.PaymentSession{}, fmt.Errorf("create payment session: %w", err)
	}
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO payment_sessions (id, merchant_id, mode, customer_id,
		amount, currency, type, save_card, provider, return_url, description, reference, token_hash, token_key_id,
		token, status, payment_method_id, plan_id, start_plan, expires_at, created_at, updated_at, provider_account)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		s.ID, s.MerchantID, s.Mode, s.CustomerID, s.Amount, s.Currency, s.Type, s.SaveCard, s.Provider, s.ReturnURL,
		s.Description, s.Reference, s.TokenHash, kid, sealed, s.Status, s.PaymentMethodID, s.PlanID, s.StartPlan,
		s.ExpiresAt, s.CreatedAt, s.UpdatedAt, s.ProviderAccount); err != nil {
		return billing.PaymentSession{}, translate(err, "create payment session")
	}
	return db.GetPaymentSession(ctx, caller, s.ID)
}

// GetPaymentSession returns one of the caller's sessions with its token.
func (db *DB) GetPaymentSession(ctx context.Context, caller billing.Caller, id string) (billing.PaymentSession, error) {
	return db.paymentSession(ctx, `id = ? AND merchant_id = ? AND mode = ?`, id, caller.MerchantID, caller.Mode)
}

// OpenPlanSession returns the newest open session of one of the caller's plans.
func (db *DB) OpenPlanSession(ctx context.Context, caller billing.Caller, planID string, startPlan bool) (billing.PaymentSession, error) {
	return db.paymentSession(ctx, `plan_id = ? AND merchant_id = ? AND mode = ? AND status = ? AND expires_at > ?
		AND start_plan = ? ORDER BY created_at DESC, id DESC LIMIT 1`, planID, caller.MerchantID, caller.Mode,
		billing.PaymentSessionOpen, ledgerTime(db.now()), startPlan)
}

// FirstPlanSession returns the first session a plan had, open or not: the hosted page
// it was created with, which names where its cards are saved.
func (db *DB) FirstPlanSession(ctx context.Context, caller billing.Caller, planID string) (billing.PaymentSession, error) {
	return db.paymentSession(ctx, `plan_id = ? AND merchant_id = ? AND mode = ? ORDER BY created_at, id LIMIT 1`,
		planID, caller.MerchantID, caller.Mode)
}

// PaymentSessionByToken finds the session a payment_url's token opens.
func (db *DB) PaymentSessionByToken(ctx context.Context, tokenHash string) (billing.PaymentSession, error) {
	return db.paymentSession(ctx, `token_hash = ?`, tokenHash)
}

func (db *DB) paymentSession(ctx context.Context, where string, args ...any) (billing.PaymentSession, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.PaymentSession{}, err
	}
	var row paymentSessionRow
	if err := db.GetContext(ctx, &row, db.Rebind(`SELECT * FROM payment_sessions WHERE `+where), args...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return billing.PaymentSession{}, &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing,
				Message: "no such payment session"}
		}
		return billing.PaymentSession{}, fmt.Errorf("get payment session: %w", err)
	}
	token, err := kr.Open(row.TokenKeyID, row.Sealed, sessionTokenAAD(row.MerchantID, row.Mode, row.ID))
	if err != nil {
		return billing.PaymentSession{}, fmt.Errorf("get payment session: unseal token: %w", err)
	}
	s := row.PaymentSession
	s.Token = string(token)
	return s, nil
}

// SetPaymentSession records the session's card and status (see
// billing.PaymentSessionRecorder). Only an open session changes; expiring one appends
// payment.expired in the same transaction; an ended session's card is detached unless
// keepCard.
func (db *DB) SetPaymentSession(ctx context.Context, u billing.PaymentSessionUpdate) error {
	merchantID, id, status, paymentMethodID, keepCard := u.MerchantID, u.ID, u.Status, u.PaymentMethodID, u.KeepCard
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("set payment session: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE payment_sessions SET status = ?,
		payment_method_id = CASE WHEN ? = '' THEN payment_method_id ELSE ? END, outcome = ?, updated_at = ?
		WHERE id = ? AND merchant_id = ? AND status = ?`),
		status, paymentMethodID, paymentMethodID, u.Outcome, ledgerTime(db.now()), id, merchantID, billing.PaymentSessionOpen)
	if err != nil {
		return translate(err, "set payment session")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("set payment session: %w", err)
	}
	if n == 1 && status == billing.PaymentSessionExpired && !strings.HasPrefix(id, billing.PrefixPaymentSession) {
		var row paymentSessionRow
		if err := sqlx.GetContext(ctx, tx, &row, tx.Rebind(`SELECT * FROM payment_sessions WHERE id = ?`), id); err != nil {
			return fmt.Errorf("set payment session: %w", err)
		}
		if _, err := appendEvent(ctx, db, tx, billing.Event{MerchantID: row.MerchantID, Mode: row.Mode,
			Type: billing.EventPaymentExpired, Data: eventData(rest.SessionPaymentObject(row.PaymentSession)),
			IdempotencyKey: "payment/" + id + "/expired"}); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set payment session: %w", err)
	}
	if status == billing.PaymentSessionOpen || keepCard {
		return nil
	}
	// The session ended: drop a card it must not keep (also on a retry after a crash
	// between the commit above and here; detaching twice changes nothing).
	var row paymentSessionRow
	if err := db.GetContext(ctx, &row, db.Rebind(`SELECT * FROM payment_sessions WHERE id = ? AND merchant_id = ?`), id, merchantID); err != nil {
		return fmt.Errorf("set payment session: %w", err)
	}
	if row.PaymentMethodID == "" || row.Status == billing.PaymentSessionOpen {
		return nil
	}
	if _, err := db.DetachPaymentMethod(ctx, billing.Caller{MerchantID: row.MerchantID, Mode: row.Mode}, row.PaymentMethodID); err != nil &&
		billing.KindOf(err) != billing.KindNotFound {
		return err
	}
	return nil
}

// SettlePaymentSession records the final outcome of a completed session that ended
// pending (see billing.PaymentSessionRecorder).
func (db *DB) SettlePaymentSession(ctx context.Context, merchantID, id string, outcome billing.PaymentStatus) error {
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE payment_sessions SET outcome = ?, updated_at = ?
		WHERE id = ? AND merchant_id = ? AND status = ? AND outcome = ?`), outcome, ledgerTime(db.now()), id, merchantID,
		billing.PaymentSessionCompleted, billing.PaymentPending); err != nil {
		return translate(err, "settle payment session")
	}
	return nil
}
