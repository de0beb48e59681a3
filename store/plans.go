package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recurring/recurring/billing"
)

// JSONDoc is a JSON document kept in a column (JSON on Postgres, TEXT on SQLite); empty
// is NULL. It marshals as the document itself.
type JSONDoc []byte

// Value stores the document as text, or NULL when empty.
func (j JSONDoc) Value() (driver.Value, error) {
	if len(j) == 0 {
		return nil, nil
	}
	return string(j), nil
}

// Scan reads a document from text, bytes or NULL.
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

// Plan is a payment plan's row. Its workflow (plan_<id>) owns it: the workflow's first
// activity creates it and later ones keep Status, NextChargeAt and PaymentMethodID
// current, so the row is also what GET /v1/plans lists without asking Temporal.
type Plan struct {
	ID               string     `db:"id"`
	Seq              int64      `db:"seq"` // list order
	MerchantID       string     `db:"merchant_id"`
	Mode             Mode       `db:"mode"`
	CustomerID       string     `db:"customer_id"`
	PaymentMethodID  string     `db:"payment_method_id"`
	Provider         string     `db:"provider"`
	Currency         string     `db:"currency"`
	Type             string     `db:"type"` // ecom | moto
	Reference        string     `db:"reference"`
	MerchantData     JSONDoc    `db:"merchant_data"`
	Schedule         JSONDoc    `db:"schedule"`  // as the client sent it
	Timetable        JSONDoc    `db:"timetable"` // billing.Timetable, as resolved
	Dunning          JSONDoc    `db:"dunning"`   // billing.DunningPolicy, as resolved
	InitialPaymentID string     `db:"initial_payment_id"`
	Status           string     `db:"status"`
	NextChargeAt     *time.Time `db:"next_charge_at"`
	// StateSeq orders the workflow's updates, so a late retry of an older update never
	// overwrites a newer one.
	StateSeq  int64     `db:"state_seq"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
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
// whether this call created it. Creating the same plan twice (a retried activity) is
// not an error; another merchant's plan with the same id is.
func (db *DB) CreatePlan(ctx context.Context, p Plan) (Plan, bool, error) {
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
	res, err := sqlx.NamedExecContext(ctx, db.DB, `INSERT INTO plans (id, merchant_id, mode, customer_id,
		payment_method_id, provider, currency, type, reference, merchant_data, schedule, timetable, dunning,
		initial_payment_id, status, next_charge_at, state_seq, created_at, updated_at)
		VALUES (:id, :merchant_id, :mode, :customer_id, :payment_method_id, :provider, :currency, :type,
		:reference, :merchant_data, :schedule, :timetable, :dunning, :initial_payment_id, :status,
		:next_charge_at, :state_seq, :created_at, :updated_at)
		ON CONFLICT (id) DO NOTHING`, p)
	if err != nil {
		return Plan{}, false, translate(err, "create plan")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Plan{}, false, fmt.Errorf("create plan: %w", err)
	}
	got, err := db.GetPlan(ctx, Caller{MerchantID: p.MerchantID, Mode: p.Mode}, p.ID)
	if err != nil {
		if billing.KindOf(err) == billing.KindNotFound {
			return Plan{}, false, &billing.Error{Kind: billing.KindConflict, Code: "resource_exists", Message: "create plan: id taken"}
		}
		return Plan{}, false, err
	}
	return got, n == 1, nil
}

// GetPlan returns one of the caller's plans; another merchant's, or the other mode's,
// is not found.
func (db *DB) GetPlan(ctx context.Context, caller Caller, id string) (Plan, error) {
	var p Plan
	err := db.GetContext(ctx, &p, db.Rebind(`SELECT * FROM plans WHERE id = ? AND merchant_id = ? AND mode = ?`),
		id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return Plan{}, notFound("plan", id)
	}
	if err != nil {
		return Plan{}, fmt.Errorf("get plan: %w", err)
	}
	return p, nil
}

// PlanFilter narrows ListPlans. Zero fields do not filter.
type PlanFilter struct {
	CustomerID      string
	PaymentMethodID string
	Status          string
	// Active keeps only plans that are not completed, canceled or failed: the plans a
	// block, unblock or detach of their card must reach.
	Active bool
}

// ListPlans returns a page of the caller's plans, newest first.
func (db *DB) ListPlans(ctx context.Context, caller Caller, f PlanFilter, p ListParams) (Page[Plan], error) {
	limit, err := p.limit()
	if err != nil {
		return Page[Plan]{}, err
	}
	after, err := db.cursor(ctx, "plans", caller, p.StartingAfter)
	if err != nil {
		return Page[Plan]{}, err
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
	var rows []Plan
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT * FROM plans WHERE `+strings.Join(where, " AND ")+
		` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return Page[Plan]{}, fmt.Errorf("list plans: %w", err)
	}
	return page(rows, limit), nil
}

// PlanUpdate is a plan workflow's report of its state, with the event announcing it
// when there is one.
type PlanUpdate struct {
	PlanID          string
	Seq             int64 // increases with every update the workflow makes
	Status          string
	NextChargeAt    *time.Time
	PaymentMethodID string
	Event           *Event
}

// UpdatePlanState applies u and appends its event in one transaction. An update older
// than the stored one (a lower Seq) changes nothing; replaying the same update (an
// activity retry) is a no-op.
func (db *DB) UpdatePlanState(ctx context.Context, u PlanUpdate) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("update plan: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	set, args := "status = ?, next_charge_at = ?, state_seq = ?, updated_at = ?",
		[]any{u.Status, ledgerTimePtr(u.NextChargeAt), u.Seq, ledgerTime(time.Now())}
	if u.PaymentMethodID != "" {
		set, args = set+", payment_method_id = ?", append(args, u.PaymentMethodID)
	}
	res, err := tx.ExecContext(ctx, db.Rebind(`UPDATE plans SET `+set+` WHERE id = ? AND state_seq <= ?`),
		append(args, u.PlanID, u.Seq)...)
	if err != nil {
		return translate(err, "update plan")
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update plan: %w", err)
	} else if n == 0 {
		var exists int
		if err := tx.GetContext(ctx, &exists, db.Rebind(`SELECT COUNT(*) FROM plans WHERE id = ?`), u.PlanID); err != nil {
			return fmt.Errorf("update plan: %w", err)
		}
		if exists == 0 {
			return &billing.Error{Kind: billing.KindNotFound, Code: "resource_missing", Message: "update plan: no plan " + u.PlanID}
		}
	}
	if u.Event != nil {
		if _, err := appendEvent(ctx, db, tx, *u.Event); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("update plan: %w", err)
	}
	return nil
}
