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

// The event log: appended in the ledger's transactions (payments.go, plans.go), read
// by the API, drained by the webhook dispatcher.

// eventData is an event's data member for object: {"object": …}.
func eventData[T any](object T) billing.JSONDoc {
	data, err := json.Marshal(rest.EventData[T]{Object: object})
	if err != nil {
		// The rest types are plain fields and JSON documents that were decoded from
		// JSON: they always marshal.
		panic(fmt.Sprintf("render event data: %v", err))
	}
	return data
}

func appendEvent(ctx context.Context, db *DB, ext sqlx.ExtContext, ev billing.Event) (billing.Event, error) {
	if ev.IdempotencyKey == "" || ev.Type == "" {
		return billing.Event{}, fmt.Errorf("append event: type and idempotency key are required")
	}
	if ev.ID == "" {
		ev.ID = billing.NewID(billing.PrefixEvent)
	}
	if len(ev.Data) == 0 {
		ev.Data = billing.JSONDoc("{}")
	}
	ev.CreatedAt = ledgerTime(db.now())
	if _, err := ext.ExecContext(ctx, ext.Rebind(`INSERT INTO events (id, merchant_id, mode, type, data, idempotency_key, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		ev.ID, ev.MerchantID, ev.Mode, ev.Type, jsonText(ev.Data), ev.IdempotencyKey, ev.CreatedAt); err != nil {
		return billing.Event{}, translate(err, "append event")
	}
	var out billing.Event
	if err := sqlx.GetContext(ctx, ext, &out, db.Rebind(`SELECT * FROM events WHERE idempotency_key = ?`), ev.IdempotencyKey); err != nil {
		return billing.Event{}, translate(err, "append event")
	}
	return out, nil
}

// legacyPlanState is what plan events carried as data before data.object: the plan
// workflow's state, of which the recorded fields are kept here.
type legacyPlanState struct {
	PlanID          string             `json:"plan_id"`
	Status          billing.PlanStatus `json:"status"`
	PaymentMethodID string             `json:"payment_method_id"`
	NextChargeAt    *time.Time         `json:"next_charge_at"`
	Paid            int                `json:"paid"`
	PaidAmount      int64              `json:"paid_amount"`
}

// AppendEvent adds ev to the log unless an event with its idempotency key exists, and
// returns the stored event.
func (db *DB) AppendEvent(ctx context.Context, ev billing.Event) (billing.Event, error) {
	return appendEvent(ctx, db, db.DB, ev)
}

// ListEvents returns a page of the caller's events, newest first; typ, when set, keeps
// only events of that type.
func (db *DB) ListEvents(ctx context.Context, caller billing.Caller, typ string, p billing.ListParams) (billing.Page[billing.Event], error) {
	limit, err := p.PageLimit()
	if err != nil {
		return billing.Page[billing.Event]{}, err
	}
	after, err := db.cursor(ctx, "events", caller, p.StartingAfter)
	if err != nil {
		return billing.Page[billing.Event]{}, err
	}
	q := `SELECT * FROM events WHERE merchant_id = ? AND mode = ?`
	args := []any{caller.MerchantID, caller.Mode}
	if typ != "" {
		q, args = q+` AND type = ?`, append(args, typ)
	}
	if after > 0 {
		q, args = q+` AND seq < ?`, append(args, after)
	}
	var rows []billing.Event
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return billing.Page[billing.Event]{}, fmt.Errorf("list events: %w", err)
	}
	out := page(rows, limit)
	if err := db.upgradeEvents(ctx, out.Items); err != nil {
		return billing.Page[billing.Event]{}, err
	}
	return out, nil
}

// GetEvent returns one of the caller's events.
func (db *DB) GetEvent(ctx context.Context, caller billing.Caller, id string) (billing.Event, error) {
	var ev billing.Event
	err := db.GetContext(ctx, &ev, db.Rebind(`SELECT * FROM events WHERE id = ? AND merchant_id = ? AND mode = ?`),
		id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.Event{}, notFound("event", id)
	}
	if err != nil {
		return billing.Event{}, fmt.Errorf("get event: %w", err)
	}
	evs := []billing.Event{ev}
	if err := db.upgradeEvents(ctx, evs); err != nil {
		return billing.Event{}, err
	}
	return evs[0], nil
}

// EventByID returns an event of the merchant (for deliveries, which carry no caller).
func (db *DB) EventByID(ctx context.Context, merchantID, id string) (billing.Event, error) {
	var ev billing.Event
	err := db.GetContext(ctx, &ev, db.Rebind(`SELECT * FROM events WHERE id = ? AND merchant_id = ?`), id, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.Event{}, notFound("event", id)
	}
	if err != nil {
		return billing.Event{}, fmt.Errorf("get event: %w", err)
	}
	evs := []billing.Event{ev}
	if err := db.upgradeEvents(ctx, evs); err != nil {
		return billing.Event{}, err
	}
	return evs[0], nil
}

// upgradeEvents gives events written before data.object existed the data a new event
// has. Those carried, for payment events, the ledger row itself (Payment's JSON:
// plan_id, customer_id, payment_method_id, mode, …) and, for plan events, the plan
// workflow's state (plan_id, status, payment_method_id, next_charge_at, paid, …).
//
// They are converted when read, not rewritten by a migration: the log stays
// append-only, a deploy runs nothing over it, and every reader (GET /v1/events, a
// delivery or redelivery, also one retried across the upgrade) gets the one
// documented shape. A payment converts exactly, the old data being the whole row. A
// plan takes the fields that never change from its row and the recorded ones that do
// (status, payment method, next charge, paid) from the old data: what a new event would
// have shown at the time. Data of any other shape is left as it is.
func (db *DB) upgradeEvents(ctx context.Context, evs []billing.Event) error {
	plans := map[int]legacyPlanState{}
	var planIDs []string
	for i := range evs {
		ev := &evs[i]
		var probe map[string]json.RawMessage
		if json.Unmarshal(ev.Data, &probe) != nil {
			continue
		}
		if _, current := probe["object"]; current {
			continue
		}
		switch {
		case strings.HasPrefix(ev.Type, "payment."):
			var p billing.Payment
			if json.Unmarshal(ev.Data, &p) != nil || !strings.HasPrefix(p.ID, billing.PrefixPayment) {
				continue
			}
			p.Mode = ev.Mode
			ev.Data = eventData(rest.PaymentObject(p))
		case strings.HasPrefix(ev.Type, "plan."):
			var st legacyPlanState
			if json.Unmarshal(ev.Data, &st) != nil || !strings.HasPrefix(st.PlanID, billing.PrefixPlan) {
				continue
			}
			plans[i] = st
			planIDs = append(planIDs, st.PlanID)
		}
	}
	if len(planIDs) == 0 {
		return nil
	}
	query, args, err := sqlx.In(`SELECT * FROM plans WHERE id IN (?)`, planIDs)
	if err != nil {
		return fmt.Errorf("read plans of old events: %w", err)
	}
	var rows []billing.Plan
	if err := db.SelectContext(ctx, &rows, db.Rebind(query), args...); err != nil {
		return fmt.Errorf("read plans of old events: %w", err)
	}
	byID := make(map[string]billing.Plan, len(rows))
	for _, r := range rows {
		byID[r.ID] = r
	}
	for i, st := range plans {
		row, ok := byID[st.PlanID]
		if !ok || row.MerchantID != evs[i].MerchantID || row.Mode != evs[i].Mode {
			continue
		}
		row.Status, row.NextChargeAt = st.Status, ledgerTimePtr(st.NextChargeAt)
		row.Paid, row.PaidAmount = st.Paid, st.PaidAmount
		if st.PaymentMethodID != "" {
			row.PaymentMethodID = st.PaymentMethodID
		}
		evs[i].Data = eventData(rest.PlanObject(row))
	}
	return nil
}

// UndispatchedEvents returns up to limit events not yet dispatched, oldest first.
func (db *DB) UndispatchedEvents(ctx context.Context, limit int) ([]billing.Event, error) {
	var out []billing.Event
	if err := db.SelectContext(ctx, &out, db.Rebind(`SELECT * FROM events WHERE dispatched_at IS NULL ORDER BY seq LIMIT ?`),
		limit); err != nil {
		return nil, fmt.Errorf("list undispatched events: %w", err)
	}
	return out, nil
}

// MarkEventDispatched records that an event's deliveries were started.
func (db *DB) MarkEventDispatched(ctx context.Context, id string) error {
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE events SET dispatched_at = ? WHERE id = ? AND dispatched_at IS NULL`),
		db.now(), id); err != nil {
		return translate(err, "mark event dispatched")
	}
	return nil
}
