package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recurring/recurring/billing"
)

// Webhook endpoint statuses.
const (
	WebhookEnabled  = "enabled"
	WebhookDisabled = "disabled"
)

// WebhookEndpoint is where a merchant receives events. Its signing secrets never leave
// the store except through WebhookTarget (for signing) and the create/rotate answers.
type WebhookEndpoint struct {
	ID                string     `json:"id"`
	MerchantID        string     `json:"-"`
	Mode              Mode       `json:"mode"`
	URL               string     `json:"url"`
	Description       string     `json:"description"`
	EventTypes        []string   `json:"event_types"`
	Status            string     `json:"status"`
	DisabledReason    string     `json:"disabled_reason,omitempty"`
	PreviousExpiresAt *time.Time `json:"previous_secret_expires_at,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// Matches reports whether the endpoint wants events of type typ ("*" is every type).
func (e WebhookEndpoint) Matches(typ string) bool {
	return slices.Contains(e.EventTypes, "*") || slices.Contains(e.EventTypes, typ)
}

type webhookEndpointRow struct {
	Seq                 int64          `db:"seq"`
	ID                  string         `db:"id"`
	MerchantID          string         `db:"merchant_id"`
	Mode                Mode           `db:"mode"`
	URL                 string         `db:"url"`
	Description         string         `db:"description"`
	EventTypes          string         `db:"event_types"`
	SecretKeyID         string         `db:"secret_key_id"`
	Secret              []byte         `db:"secret"`
	PreviousSecretKeyID sql.NullString `db:"previous_secret_key_id"`
	PreviousSecret      []byte         `db:"previous_secret"`
	PreviousExpiresAt   *time.Time     `db:"previous_expires_at"`
	Status              string         `db:"status"`
	DisabledReason      string         `db:"disabled_reason"`
	CreatedAt           time.Time      `db:"created_at"`
	UpdatedAt           time.Time      `db:"updated_at"`
}

func (r webhookEndpointRow) endpoint() WebhookEndpoint {
	e := WebhookEndpoint{ID: r.ID, MerchantID: r.MerchantID, Mode: r.Mode, URL: r.URL, Description: r.Description,
		Status: r.Status, DisabledReason: r.DisabledReason, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	_ = json.Unmarshal([]byte(r.EventTypes), &e.EventTypes) // written by us as a JSON array
	if e.EventTypes == nil {
		e.EventTypes = []string{}
	}
	if r.PreviousExpiresAt != nil {
		t := r.PreviousExpiresAt.UTC()
		e.PreviousExpiresAt = &t
	}
	return e
}

// secretAAD binds a sealed secret to its endpoint and slot.
func secretAAD(merchantID string, mode Mode, id, slot string) []byte {
	return []byte("webhook_endpoint/" + merchantID + "/" + string(mode) + "/" + id + "/" + slot)
}

// NewWebhookEndpoint is a webhook endpoint to create; Secret is the whsec_… signing
// secret, chosen by the caller.
type NewWebhookEndpoint struct {
	URL         string
	Description string
	EventTypes  []string
	Secret      string
}

// CreateWebhookEndpoint stores an enabled endpoint with its secret sealed.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, caller Caller, in NewWebhookEndpoint) (WebhookEndpoint, error) {
	kr, err := db.keyring()
	if err != nil {
		return WebhookEndpoint{}, err
	}
	types, err := json.Marshal(in.EventTypes)
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("create webhook endpoint: %w", err)
	}
	now := db.now()
	row := webhookEndpointRow{ID: billing.NewID(billing.PrefixWebhook), MerchantID: caller.MerchantID, Mode: caller.Mode,
		URL: in.URL, Description: in.Description, EventTypes: string(types), Status: WebhookEnabled,
		CreatedAt: now, UpdatedAt: now}
	row.SecretKeyID, row.Secret, err = kr.Seal([]byte(in.Secret), secretAAD(row.MerchantID, row.Mode, row.ID, "current"))
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("create webhook endpoint: %w", err)
	}
	if _, err := sqlx.NamedExecContext(ctx, db, `INSERT INTO webhook_endpoints (id, merchant_id, mode, url, description,
		event_types, secret_key_id, secret, status, disabled_reason, created_at, updated_at)
		VALUES (:id, :merchant_id, :mode, :url, :description, :event_types, :secret_key_id, :secret, :status,
		:disabled_reason, :created_at, :updated_at)`, row); err != nil {
		return WebhookEndpoint{}, translate(err, "create webhook endpoint")
	}
	return row.endpoint(), nil
}

func (db *DB) getWebhookEndpointRow(ctx context.Context, q sqlx.QueryerContext, caller Caller, id string, lock bool) (webhookEndpointRow, error) {
	query := `SELECT * FROM webhook_endpoints WHERE id = ? AND merchant_id = ? AND mode = ?`
	if lock {
		query += db.forUpdate()
	}
	var row webhookEndpointRow
	err := sqlx.GetContext(ctx, q, &row, db.Rebind(query), id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return row, notFound("webhook endpoint", id)
	}
	if err != nil {
		return row, fmt.Errorf("get webhook endpoint: %w", err)
	}
	return row, nil
}

// GetWebhookEndpoint returns one of the caller's endpoints.
func (db *DB) GetWebhookEndpoint(ctx context.Context, caller Caller, id string) (WebhookEndpoint, error) {
	row, err := db.getWebhookEndpointRow(ctx, db, caller, id, false)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	return row.endpoint(), nil
}

// ListWebhookEndpoints returns a page of the caller's endpoints, newest first.
func (db *DB) ListWebhookEndpoints(ctx context.Context, caller Caller, p ListParams) (Page[WebhookEndpoint], error) {
	limit, err := p.limit()
	if err != nil {
		return Page[WebhookEndpoint]{}, err
	}
	after, err := db.cursor(ctx, "webhook_endpoints", caller, p.StartingAfter)
	if err != nil {
		return Page[WebhookEndpoint]{}, err
	}
	q := `SELECT * FROM webhook_endpoints WHERE merchant_id = ? AND mode = ?`
	args := []any{caller.MerchantID, caller.Mode}
	if after > 0 {
		q, args = q+` AND seq < ?`, append(args, after)
	}
	var rows []webhookEndpointRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return Page[WebhookEndpoint]{}, fmt.Errorf("list webhook endpoints: %w", err)
	}
	pg := page(rows, limit)
	out := Page[WebhookEndpoint]{Items: make([]WebhookEndpoint, len(pg.Items)), HasMore: pg.HasMore}
	for i, r := range pg.Items {
		out.Items[i] = r.endpoint()
	}
	return out, nil
}

// DeleteWebhookEndpoint removes an endpoint; deliveries in flight stop at their next
// attempt. Its attempts stay listed under their events.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, caller Caller, id string) error {
	res, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM webhook_endpoints WHERE id = ? AND merchant_id = ? AND mode = ?`),
		id, caller.MerchantID, caller.Mode)
	if err != nil {
		return translate(err, "delete webhook endpoint")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("webhook endpoint", id)
	}
	return nil
}

// RotateWebhookSecret makes secret the endpoint's signing secret; the current one keeps
// signing (beside it) until previousExpiresAt.
func (db *DB) RotateWebhookSecret(ctx context.Context, caller Caller, id, secret string, previousExpiresAt time.Time) (WebhookEndpoint, error) {
	kr, err := db.keyring()
	if err != nil {
		return WebhookEndpoint{}, err
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	row, err := db.getWebhookEndpointRow(ctx, tx, caller, id, true)
	if err != nil {
		return WebhookEndpoint{}, err
	}
	old, err := kr.Open(row.SecretKeyID, row.Secret, secretAAD(row.MerchantID, row.Mode, row.ID, "current"))
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	pkid, psealed, err := kr.Seal(old, secretAAD(row.MerchantID, row.Mode, row.ID, "previous"))
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	kid, sealed, err := kr.Seal([]byte(secret), secretAAD(row.MerchantID, row.Mode, row.ID, "current"))
	if err != nil {
		return WebhookEndpoint{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	exp := previousExpiresAt.UTC().Truncate(time.Microsecond)
	now := db.now()
	if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE webhook_endpoints SET secret_key_id = ?, secret = ?,
		previous_secret_key_id = ?, previous_secret = ?, previous_expires_at = ?, updated_at = ? WHERE id = ?`),
		kid, sealed, pkid, psealed, exp, now, row.ID); err != nil {
		return WebhookEndpoint{}, translate(err, "rotate webhook secret")
	}
	if err := tx.Commit(); err != nil {
		return WebhookEndpoint{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	row.PreviousExpiresAt, row.UpdatedAt = &exp, now
	return row.endpoint(), nil
}

// WebhookTarget is what a delivery needs of an endpoint: where, and the secrets to sign
// with (the current one first; a rotated-out one until it expires).
type WebhookTarget struct {
	Endpoint WebhookEndpoint
	Secrets  []string
}

// WebhookTarget returns the merchant's endpoint with its unsealed signing secrets, as
// of now.
func (db *DB) WebhookTarget(ctx context.Context, merchantID, endpointID string) (WebhookTarget, error) {
	kr, err := db.keyring()
	if err != nil {
		return WebhookTarget{}, err
	}
	var row webhookEndpointRow
	err = db.GetContext(ctx, &row, db.Rebind(`SELECT * FROM webhook_endpoints WHERE id = ? AND merchant_id = ?`),
		endpointID, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return WebhookTarget{}, notFound("webhook endpoint", endpointID)
	}
	if err != nil {
		return WebhookTarget{}, fmt.Errorf("get webhook target: %w", err)
	}
	cur, err := kr.Open(row.SecretKeyID, row.Secret, secretAAD(row.MerchantID, row.Mode, row.ID, "current"))
	if err != nil {
		return WebhookTarget{}, fmt.Errorf("get webhook target: %w", err)
	}
	t := WebhookTarget{Endpoint: row.endpoint(), Secrets: []string{string(cur)}}
	if row.PreviousSecret != nil && row.PreviousExpiresAt != nil && db.now().Before(*row.PreviousExpiresAt) {
		prev, err := kr.Open(row.PreviousSecretKeyID.String, row.PreviousSecret,
			secretAAD(row.MerchantID, row.Mode, row.ID, "previous"))
		if err != nil {
			return WebhookTarget{}, fmt.Errorf("get webhook target: %w", err)
		}
		t.Secrets = append(t.Secrets, string(prev))
	}
	return t, nil
}

// DisableWebhookEndpoint stops deliveries to an endpoint (a receiver answered 410 Gone).
func (db *DB) DisableWebhookEndpoint(ctx context.Context, merchantID, endpointID, reason string) error {
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE webhook_endpoints SET status = ?, disabled_reason = ?, updated_at = ?
		WHERE id = ? AND merchant_id = ?`), WebhookDisabled, reason, db.now(), endpointID, merchantID); err != nil {
		return translate(err, "disable webhook endpoint")
	}
	return nil
}

// EnabledWebhookEndpoints returns the merchant's enabled endpoints in mode that want
// events of type typ, oldest first.
func (db *DB) EnabledWebhookEndpoints(ctx context.Context, merchantID string, mode Mode, typ string) ([]WebhookEndpoint, error) {
	var rows []webhookEndpointRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT * FROM webhook_endpoints
		WHERE merchant_id = ? AND mode = ? AND status = ? ORDER BY seq`), merchantID, mode, WebhookEnabled); err != nil {
		return nil, fmt.Errorf("list enabled webhook endpoints: %w", err)
	}
	var out []WebhookEndpoint
	for _, r := range rows {
		if e := r.endpoint(); e.Matches(typ) {
			out = append(out, e)
		}
	}
	return out, nil
}

// GetEvent returns one of the caller's events.
func (db *DB) GetEvent(ctx context.Context, caller Caller, id string) (Event, error) {
	var ev Event
	err := db.GetContext(ctx, &ev, db.Rebind(`SELECT * FROM events WHERE id = ? AND merchant_id = ? AND mode = ?`),
		id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, notFound("event", id)
	}
	if err != nil {
		return Event{}, fmt.Errorf("get event: %w", err)
	}
	evs := []Event{ev}
	if err := db.upgradeEvents(ctx, evs); err != nil {
		return Event{}, err
	}
	return evs[0], nil
}

// EventByID returns an event of the merchant (for deliveries, which carry no caller).
func (db *DB) EventByID(ctx context.Context, merchantID, id string) (Event, error) {
	var ev Event
	err := db.GetContext(ctx, &ev, db.Rebind(`SELECT * FROM events WHERE id = ? AND merchant_id = ?`), id, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return Event{}, notFound("event", id)
	}
	if err != nil {
		return Event{}, fmt.Errorf("get event: %w", err)
	}
	evs := []Event{ev}
	if err := db.upgradeEvents(ctx, evs); err != nil {
		return Event{}, err
	}
	return evs[0], nil
}

// legacyPlanState is what plan events carried as data before data.object: the plan
// workflow's state, of which the recorded fields are kept here.
type legacyPlanState struct {
	PlanID          string     `json:"plan_id"`
	Status          string     `json:"status"`
	PaymentMethodID string     `json:"payment_method_id"`
	NextChargeAt    *time.Time `json:"next_charge_at"`
	Paid            int        `json:"paid"`
	PaidAmount      int64      `json:"paid_amount"`
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
func (db *DB) upgradeEvents(ctx context.Context, evs []Event) error {
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
			var p Payment
			if json.Unmarshal(ev.Data, &p) != nil || !strings.HasPrefix(p.ID, billing.PrefixPayment) {
				continue
			}
			p.Mode = ev.Mode
			ev.Data = eventData(p.Object())
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
	var rows []Plan
	if err := db.SelectContext(ctx, &rows, db.Rebind(query), args...); err != nil {
		return fmt.Errorf("read plans of old events: %w", err)
	}
	byID := make(map[string]Plan, len(rows))
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
		evs[i].Data = eventData(row.Object())
	}
	return nil
}

// UndispatchedEvents returns up to limit events not yet dispatched, oldest first.
func (db *DB) UndispatchedEvents(ctx context.Context, limit int) ([]Event, error) {
	var out []Event
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

// WebhookAttempt is one HTTP attempt to deliver an event to an endpoint.
type WebhookAttempt struct {
	ID         string    `db:"id" json:"id"`
	Seq        int64     `db:"seq" json:"-"`
	MerchantID string    `db:"merchant_id" json:"-"`
	Mode       Mode      `db:"mode" json:"mode"`
	EventID    string    `db:"event_id" json:"event_id"`
	EndpointID string    `db:"endpoint_id" json:"endpoint_id"`
	DeliveryID string    `db:"delivery_id" json:"delivery_id"`
	Attempt    int       `db:"attempt" json:"attempt"`
	URL        string    `db:"url" json:"url"`
	StatusCode int       `db:"status_code" json:"status_code"`
	Error      string    `db:"error" json:"error,omitempty"`
	DurationMS int64     `db:"duration_ms" json:"duration_ms"`
	CreatedAt  time.Time `db:"created_at" json:"created_at"`
}

// RecordWebhookAttempt stores an attempt unless (DeliveryID, Attempt) is stored.
func (db *DB) RecordWebhookAttempt(ctx context.Context, a WebhookAttempt) error {
	if a.ID == "" {
		a.ID = billing.NewID("wha_")
	}
	a.CreatedAt = db.now()
	if _, err := sqlx.NamedExecContext(ctx, db, `INSERT INTO webhook_attempts (id, merchant_id, mode, event_id,
		endpoint_id, delivery_id, attempt, url, status_code, error, duration_ms, created_at)
		VALUES (:id, :merchant_id, :mode, :event_id, :endpoint_id, :delivery_id, :attempt, :url, :status_code, :error,
		:duration_ms, :created_at) ON CONFLICT DO NOTHING`, a); err != nil {
		return translate(err, "record webhook attempt")
	}
	return nil
}

// ListWebhookAttempts returns an event's delivery attempts, oldest first (at most
// MaxListLimit*10: a redelivered event has a few dozen).
func (db *DB) ListWebhookAttempts(ctx context.Context, caller Caller, eventID string) ([]WebhookAttempt, error) {
	if _, err := db.GetEvent(ctx, caller, eventID); err != nil {
		return nil, err
	}
	out := []WebhookAttempt{}
	if err := db.SelectContext(ctx, &out, db.Rebind(`SELECT * FROM webhook_attempts
		WHERE event_id = ? AND merchant_id = ? AND mode = ? ORDER BY seq LIMIT ?`),
		eventID, caller.MerchantID, caller.Mode, MaxListLimit*10); err != nil {
		return nil, fmt.Errorf("list webhook attempts: %w", err)
	}
	return out, nil
}
