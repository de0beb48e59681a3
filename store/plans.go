package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
)

// planColumns selects a plan row with Paid and PaidAmount counted from the ledger.
const planColumns = `plans.*,
	(SELECT COUNT(*) FROM payments WHERE payments.plan_id = plans.id AND payments.status = 'succeeded') AS paid,
	(SELECT COALESCE(SUM(payments.amount), 0) FROM payments WHERE payments.plan_id = plans.id AND payments.status = 'succeeded') AS paid_amount`

// planEvent returns the event of type typ about p, showing p as its data.object (read
// with planColumns in the event's transaction, so plan.completed says what was
// collected).
func planEvent(p billing.Plan, typ, key string) billing.Event {
	return billing.Event{MerchantID: p.MerchantID, Mode: p.Mode, Type: typ, Data: eventData(rest.PlanObject(p)), IdempotencyKey: key}
}

// getPlanRow reads a plan by id alone (the workflow's activities carry no caller),
// locking it on Postgres when lock is set.
func (db *DB) getPlanRow(ctx context.Context, q sqlx.QueryerContext, id string, lock bool) (billing.Plan, error) {
	query := `SELECT ` + planColumns + ` FROM plans WHERE id = ?`
	if lock {
		query += db.forUpdate()
	}
	var p billing.Plan
	err := sqlx.GetContext(ctx, q, &p, db.Rebind(query), id)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.Plan{}, &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: "no plan " + id, Err: err}
	}
	if err != nil {
		return billing.Plan{}, fmt.Errorf("get plan: %w", err)
	}
	return p, nil
}

// ledgerTime is how every instant is stored: UTC at microsecond precision (Postgres'),
// so a value reads back equal on both dialects and SQLite's text timestamps sort.
func ledgerTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func ledgerTimePtr(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := ledgerTime(*t)
	return &v
}

// CreatePlan inserts p unless a plan with its id exists, and returns the stored row and
// whether this call created it; the call that creates it also appends plan.created, in
// the same transaction. Creating the same plan twice (a retried activity) is not an
// error and announces nothing; another merchant's plan with the same id is an error.
func (db *DB) CreatePlan(ctx context.Context, p billing.Plan) (billing.Plan, bool, error) {
	now := ledgerTime(time.Now())
	if p.CreatedAt.IsZero() {
		p.CreatedAt = now
	}
	p.CreatedAt = ledgerTime(p.CreatedAt)
	p.UpdatedAt = now
	p.NextChargeAt = ledgerTimePtr(p.NextChargeAt)
	if p.Type == "" {
		p.Type = "ecom"
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return billing.Plan{}, false, fmt.Errorf("create plan: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// A card in a merchant's provider account: the account must not be deleted. The
	// delete locks the same row and counts plans, so one of the two sees the other.
	lock := ""
	if db.Dialect == Postgres {
		lock = " FOR SHARE OF pa" // the delete takes FOR UPDATE: plans on one account do not wait on each other
	}
	var deleted []bool
	if err := tx.SelectContext(ctx, &deleted, tx.Rebind(`SELECT pa.deleted_at IS NOT NULL FROM payment_methods pm
		JOIN provider_accounts pa ON pa.id = pm.provider_account WHERE pm.id = ? AND pm.merchant_id = ?`+lock),
		p.PaymentMethodID, p.MerchantID); err != nil {
		return billing.Plan{}, false, fmt.Errorf("create plan: %w", err)
	}
	if len(deleted) == 1 && deleted[0] {
		return billing.Plan{}, false, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeProviderNotAvailable,
			Message: "create plan: the card's provider account was deleted"}
	}
	res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO plans (id, merchant_id, mode, customer_id,
		payment_method_id, provider, currency, type, reference, merchant_data, schedule, timetable, dunning,
		initial_payment_id, status, next_charge_at, state_seq, created_at, updated_at, provider_account)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
		COALESCE((SELECT provider_account FROM payment_methods WHERE id = ? AND merchant_id = ?), ''))
		ON CONFLICT (id) DO NOTHING`),
		p.ID, p.MerchantID, p.Mode, p.CustomerID, p.PaymentMethodID, p.Provider, p.Currency, p.Type,
		p.Reference, jsonText(p.MerchantData), jsonText(p.Schedule), jsonText(p.Timetable), jsonText(p.Dunning),
		p.InitialPaymentID, p.Status, p.NextChargeAt, p.StateSeq, p.CreatedAt, p.UpdatedAt, p.PaymentMethodID, p.MerchantID)
	if err != nil {
		return billing.Plan{}, false, translate(err, "create plan")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return billing.Plan{}, false, fmt.Errorf("create plan: %w", err)
	}
	got, err := db.getPlanRow(ctx, tx, p.ID, false)
	if err != nil {
		return billing.Plan{}, false, err
	}
	if got.MerchantID != p.MerchantID || got.Mode != p.Mode {
		return billing.Plan{}, false, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeResourceExists, Message: "create plan: id taken"}
	}
	if n == 1 {
		if _, err := appendEvent(ctx, db, tx, planEvent(got, billing.EventPlanCreated, got.ID+"/created")); err != nil {
			return billing.Plan{}, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return billing.Plan{}, false, fmt.Errorf("create plan: %w", err)
	}
	return got, n == 1, nil
}

// GetPlan returns one of the caller's plans; another merchant's, or the other mode's,
// is not found.
func (db *DB) GetPlan(ctx context.Context, caller billing.Caller, id string) (billing.Plan, error) {
	var p billing.Plan
	err := db.GetContext(ctx, &p, db.Rebind(`SELECT `+planColumns+` FROM plans WHERE id = ? AND merchant_id = ? AND mode = ?`),
		id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.Plan{}, notFound("plan", id)
	}
	if err != nil {
		return billing.Plan{}, fmt.Errorf("get plan: %w", err)
	}
	return p, nil
}

// ListPlans returns a page of the caller's plans, newest first.
func (db *DB) ListPlans(ctx context.Context, caller billing.Caller, f billing.PlanFilter, p billing.ListParams) (billing.Page[billing.Plan], error) {
	limit, err := p.PageLimit()
	if err != nil {
		return billing.Page[billing.Plan]{}, err
	}
	after, err := db.cursor(ctx, "plans", caller, p.StartingAfter)
	if err != nil {
		return billing.Page[billing.Plan]{}, err
	}
	where := []string{"merchant_id = ?", "mode = ?"}
	args := []any{caller.MerchantID, caller.Mode}
	if f.CustomerID != "" {
		where, args = append(where, "customer_id = ?"), append(args, f.CustomerID)
	}
	if f.PaymentMethodID != "" {
		where, args = append(where, "payment_method_id = ?"), append(args, f.PaymentMethodID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.Active {
		where, args = append(where, "status NOT IN (?, ?, ?)"), append(args,
			string(billing.PlanCompleted), string(billing.PlanCanceled), string(billing.PlanFailed))
	}
	if after > 0 {
		where, args = append(where, "seq < ?"), append(args, after)
	}
	var rows []billing.Plan
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT `+planColumns+` FROM plans WHERE `+strings.Join(where, " AND ")+
		` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return billing.Page[billing.Plan]{}, fmt.Errorf("list plans: %w", err)
	}
	return page(rows, limit), nil
}

// UpdatePlanState applies u and appends the event announcing it, in one transaction:
// u.Event when the workflow names one (plan.past_due, plan.canceled, …); otherwise
// plan.updated when the status or the payment method changed. A change of the next
// charge time alone announces nothing (payment events cover installments). An update
// older than the stored one (a lower Seq) changes nothing and announces nothing;
// replaying the same update (an activity retry) is a no-op.
func (db *DB) UpdatePlanState(ctx context.Context, u billing.PlanUpdate) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update plan: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	before, err := db.getPlanRow(ctx, tx, u.PlanID, true)
	if err != nil {
		return err
	}
	if u.Seq < before.StateSeq {
		return nil
	}
	set, args := "status = ?, next_charge_at = ?, state_seq = ?, updated_at = ?",
		[]any{u.Status, ledgerTimePtr(u.NextChargeAt), u.Seq, ledgerTime(time.Now())}
	if u.PaymentMethodID != "" {
		set, args = set+`, payment_method_id = ?, provider_account = COALESCE((SELECT pm.provider_account FROM payment_methods pm
			WHERE pm.id = ? AND pm.merchant_id = plans.merchant_id), '')`, append(args, u.PaymentMethodID, u.PaymentMethodID)
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE plans SET `+set+` WHERE id = ? AND state_seq <= ?`),
		append(args, u.PlanID, u.Seq)...); err != nil {
		return translate(err, "update plan")
	}
	after, err := db.getPlanRow(ctx, tx, u.PlanID, false)
	if err != nil {
		return err
	}
	typ, key := "", ""
	switch {
	case u.Event != nil:
		typ, key = u.Event.Type, u.Event.IdempotencyKey
	case after.Status != before.Status || after.PaymentMethodID != before.PaymentMethodID:
		typ, key = billing.EventPlanUpdated, fmt.Sprintf("%s/state/%d/%s", u.PlanID, u.Seq, billing.EventPlanUpdated)
	}
	if typ != "" {
		if _, err := appendEvent(ctx, db, tx, planEvent(after, typ, key)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update plan: %w", err)
	}
	return nil
}

// ChangePlanTerms writes a plan's changed terms (timetable, schedule, merchant data when
// given) and announces them with plan.updated, once per key: a retried activity
// writes and announces nothing twice.
func (db *DB) ChangePlanTerms(ctx context.Context, t billing.PlanTerms) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("change plan terms: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	row, err := db.getPlanRow(ctx, tx, t.PlanID, true)
	if err != nil {
		return err
	}
	if row.MerchantID != t.MerchantID {
		return notFound("plan", t.PlanID)
	}
	key := "plan/" + t.Key + "/" + billing.EventPlanUpdated
	var seen int
	if err := tx.GetContext(ctx, &seen, db.Rebind(`SELECT COUNT(*) FROM events WHERE idempotency_key = ?`), key); err != nil {
		return translate(err, "change plan terms")
	}
	if seen > 0 {
		return nil // written by an earlier attempt
	}
	tt, err := json.Marshal(t.Timetable)
	if err != nil {
		return fmt.Errorf("change plan terms: %w", err)
	}
	schedule, err := t.Change.ApplyToSchedule(row.Schedule)
	if err != nil {
		return fmt.Errorf("change plan terms: the plan's schedule: %w", err)
	}
	set, args := "timetable = ?, schedule = ?, updated_at = ?", []any{string(tt), jsonText(schedule), ledgerTime(time.Now())}
	if len(t.MerchantData) > 0 {
		set, args = set+", merchant_data = ?", append(args, jsonText(t.MerchantData))
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE plans SET `+set+` WHERE id = ?`), append(args, t.PlanID)...); err != nil {
		return translate(err, "change plan terms")
	}
	after, err := db.getPlanRow(ctx, tx, t.PlanID, false)
	if err != nil {
		return err
	}
	if _, err := appendEvent(ctx, db, tx, planEvent(after, billing.EventPlanUpdated, key)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("change plan terms: %w", err)
	}
	return nil
}

// AnnounceUpcoming appends payment.upcoming for a plan's installment, once: the plan as
// recorded, with the installment as its next one.
func (db *DB) AnnounceUpcoming(ctx context.Context, u billing.UpcomingPayment) error {
	row, err := db.getPlanRow(ctx, db.DB, u.PlanID, false)
	if err != nil {
		return err
	}
	if row.MerchantID != u.MerchantID {
		return notFound("plan", u.PlanID)
	}
	obj := rest.PlanObject(row)
	n, amount, due := u.Installment, u.Amount, u.DueAt.UTC()
	obj.NextInstallment, obj.NextAmount, obj.NextDueAt = &n, &amount, &due
	_, err = appendEvent(ctx, db, db.DB, billing.Event{MerchantID: row.MerchantID, Mode: row.Mode, Type: billing.EventPaymentUpcoming,
		Data: eventData(obj), IdempotencyKey: fmt.Sprintf("%s/upcoming/%d", u.PlanID, u.Installment)})
	return err
}
