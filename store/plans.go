package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
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
	// Paid and PaidAmount are not columns: reads count the plan's succeeded attempts in
	// the ledger (planColumns), so the recorded state says what was collected.
	Paid       int   `db:"paid"`
	PaidAmount int64 `db:"paid_amount"`
}

// planColumns selects a plan row with Paid and PaidAmount counted from the ledger.
const planColumns = `plans.*,
	(SELECT COUNT(*) FROM payments WHERE payments.plan_id = plans.id AND payments.status = 'succeeded') AS paid,
	(SELECT COALESCE(SUM(payments.amount), 0) FROM payments WHERE payments.plan_id = plans.id AND payments.status = 'succeeded') AS paid_amount`

// Object renders the plan's recorded state as the API shows it: GET /v1/plans (which
// lists rows), GET /v1/plans/{id} before the workflow's live state is laid over it,
// and the data.object of the plan's events.
func (p Plan) Object() rest.Plan {
	live := false
	return rest.Plan{
		ID: p.ID, Object: "plan", Customer: p.CustomerID, PaymentMethod: p.PaymentMethodID,
		Provider: p.Provider, Currency: p.Currency, Status: p.Status, Livemode: p.Mode == ModeLive,
		CreatedAt: p.CreatedAt.UTC(), NextChargeAt: rest.UTC(p.NextChargeAt), LiveState: &live,
		Type: rest.OptString(p.Type), Reference: rest.OptString(p.Reference),
		MerchantData: jsonObject(p.MerchantData), Schedule: jsonObject(p.Schedule),
		Paid: p.Paid, PaidAmount: p.PaidAmount,
	}
}

// jsonObject decodes a stored JSON object for rendering; nil when absent or not an
// object.
func jsonObject(doc JSONDoc) *map[string]any {
	if len(doc) == 0 {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(doc, &m) != nil || m == nil {
		return nil
	}
	return &m
}

// planEvent returns the event of type typ about p, showing p as its data.object (read
// with planColumns in the event's transaction, so plan.completed says what was
// collected).
func planEvent(p Plan, typ, key string) Event {
	return Event{MerchantID: p.MerchantID, Mode: p.Mode, Type: typ, Data: eventData(p.Object()), IdempotencyKey: key}
}

// getPlanRow reads a plan by id alone (the workflow's activities carry no caller),
// locking it on Postgres when lock is set.
func (db *DB) getPlanRow(ctx context.Context, q sqlx.QueryerContext, id string, lock bool) (Plan, error) {
	query := `SELECT ` + planColumns + ` FROM plans WHERE id = ?`
	if lock {
		query += db.forUpdate()
	}
	var p Plan
	err := sqlx.GetContext(ctx, q, &p, db.Rebind(query), id)
	if errors.Is(err, sql.ErrNoRows) {
		return Plan{}, &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: "no plan " + id, Err: err}
	}
	if err != nil {
		return Plan{}, fmt.Errorf("get plan: %w", err)
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
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return Plan{}, false, fmt.Errorf("create plan: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := sqlx.NamedExecContext(ctx, tx, `INSERT INTO plans (id, merchant_id, mode, customer_id,
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
	got, err := db.getPlanRow(ctx, tx, p.ID, false)
	if err != nil {
		return Plan{}, false, err
	}
	if got.MerchantID != p.MerchantID || got.Mode != p.Mode {
		return Plan{}, false, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeResourceExists, Message: "create plan: id taken"}
	}
	if n == 1 {
		if _, err := appendEvent(ctx, db, tx, planEvent(got, billing.EventPlanCreated, got.ID+"/created")); err != nil {
			return Plan{}, false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return Plan{}, false, fmt.Errorf("create plan: %w", err)
	}
	return got, n == 1, nil
}

// GetPlan returns one of the caller's plans; another merchant's, or the other mode's,
// is not found.
func (db *DB) GetPlan(ctx context.Context, caller Caller, id string) (Plan, error) {
	var p Plan
	err := db.GetContext(ctx, &p, db.Rebind(`SELECT `+planColumns+` FROM plans WHERE id = ? AND merchant_id = ? AND mode = ?`),
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
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT `+planColumns+` FROM plans WHERE `+strings.Join(where, " AND ")+
		` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return Page[Plan]{}, fmt.Errorf("list plans: %w", err)
	}
	return page(rows, limit), nil
}

// PlanUpdate is a plan workflow's report of its state, with the event announcing it
// when the workflow names one.
type PlanUpdate struct {
	PlanID          string
	Seq             int64 // increases with every update the workflow makes
	Status          string
	NextChargeAt    *time.Time
	PaymentMethodID string
	// Event, when set, names the event announcing the update: its Type and
	// IdempotencyKey are kept; the store fills in the rest (merchant, mode, and the
	// plan as updated as its data.object), so the event says what the row says.
	Event *Event
}

// UpdatePlanState applies u and appends the event announcing it, in one transaction:
// u.Event when the workflow names one (plan.past_due, plan.canceled, …); otherwise
// plan.updated when the status or the payment method changed. A change of the next
// charge time alone announces nothing (payment events cover installments). An update
// older than the stored one (a lower Seq) changes nothing and announces nothing;
// replaying the same update (an activity retry) is a no-op.
func (db *DB) UpdatePlanState(ctx context.Context, u PlanUpdate) error {
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
		set, args = set+", payment_method_id = ?", append(args, u.PaymentMethodID)
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
