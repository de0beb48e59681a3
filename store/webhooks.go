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
)

type webhookEndpointRow struct {
	Seq                 int64                         `db:"seq"`
	ID                  string                        `db:"id"`
	MerchantID          string                        `db:"merchant_id"`
	Mode                billing.Mode                  `db:"mode"`
	URL                 string                        `db:"url"`
	Description         string                        `db:"description"`
	EventTypes          string                        `db:"event_types"`
	SecretKeyID         string                        `db:"secret_key_id"`
	Secret              []byte                        `db:"secret"`
	PreviousSecretKeyID sql.NullString                `db:"previous_secret_key_id"`
	PreviousSecret      []byte                        `db:"previous_secret"`
	PreviousExpiresAt   *time.Time                    `db:"previous_expires_at"`
	Status              billing.WebhookEndpointStatus `db:"status"`
	DisabledReason      string                        `db:"disabled_reason"`
	CreatedAt           time.Time                     `db:"created_at"`
	UpdatedAt           time.Time                     `db:"updated_at"`
}

func (r webhookEndpointRow) endpoint() billing.WebhookEndpoint {
	e := billing.WebhookEndpoint{ID: r.ID, MerchantID: r.MerchantID, Mode: r.Mode, URL: r.URL, Description: r.Description,
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
func secretAAD(merchantID string, mode billing.Mode, id, slot string) []byte {
	return []byte("webhook_endpoint/" + merchantID + "/" + string(mode) + "/" + id + "/" + slot)
}

// CreateWebhookEndpoint stores an enabled endpoint with its secret sealed.
func (db *DB) CreateWebhookEndpoint(ctx context.Context, caller billing.Caller, in billing.NewWebhookEndpoint) (billing.WebhookEndpoint, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.WebhookEndpoint{}, err
	}
	types, err := json.Marshal(in.EventTypes)
	if err != nil {
		return billing.WebhookEndpoint{}, fmt.Errorf("create webhook endpoint: %w", err)
	}
	now := db.now()
	row := webhookEndpointRow{ID: billing.NewID(billing.PrefixWebhook), MerchantID: caller.MerchantID, Mode: caller.Mode,
		URL: in.URL, Description: in.Description, EventTypes: string(types), Status: billing.WebhookEnabled,
		CreatedAt: now, UpdatedAt: now}
	row.SecretKeyID, row.Secret, err = kr.Seal([]byte(in.Secret), secretAAD(row.MerchantID, row.Mode, row.ID, "current"))
	if err != nil {
		return billing.WebhookEndpoint{}, fmt.Errorf("create webhook endpoint: %w", err)
	}
	if _, err := sqlx.NamedExecContext(ctx, db, `INSERT INTO webhook_endpoints (id, merchant_id, mode, url, description,
		event_types, secret_key_id, secret, status, disabled_reason, created_at, updated_at)
		VALUES (:id, :merchant_id, :mode, :url, :description, :event_types, :secret_key_id, :secret, :status,
		:disabled_reason, :created_at, :updated_at)`, row); err != nil {
		return billing.WebhookEndpoint{}, translate(err, "create webhook endpoint")
	}
	return row.endpoint(), nil
}

func (db *DB) getWebhookEndpointRow(ctx context.Context, q sqlx.QueryerContext, caller billing.Caller, id string, lock bool) (webhookEndpointRow, error) {
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
func (db *DB) GetWebhookEndpoint(ctx context.Context, caller billing.Caller, id string) (billing.WebhookEndpoint, error) {
	row, err := db.getWebhookEndpointRow(ctx, db, caller, id, false)
	if err != nil {
		return billing.WebhookEndpoint{}, err
	}
	return row.endpoint(), nil
}

// ListWebhookEndpoints returns a page of the caller's endpoints, newest first.
func (db *DB) ListWebhookEndpoints(ctx context.Context, caller billing.Caller, p billing.ListParams) (billing.Page[billing.WebhookEndpoint], error) {
	limit, err := p.PageLimit()
	if err != nil {
		return billing.Page[billing.WebhookEndpoint]{}, err
	}
	after, err := db.cursor(ctx, "webhook_endpoints", caller, p.StartingAfter)
	if err != nil {
		return billing.Page[billing.WebhookEndpoint]{}, err
	}
	q := `SELECT * FROM webhook_endpoints WHERE merchant_id = ? AND mode = ?`
	args := []any{caller.MerchantID, caller.Mode}
	if after > 0 {
		q, args = q+` AND seq < ?`, append(args, after)
	}
	var rows []webhookEndpointRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return billing.Page[billing.WebhookEndpoint]{}, fmt.Errorf("list webhook endpoints: %w", err)
	}
	pg := page(rows, limit)
	out := billing.Page[billing.WebhookEndpoint]{Items: make([]billing.WebhookEndpoint, len(pg.Items)), HasMore: pg.HasMore}
	for i, r := range pg.Items {
		out.Items[i] = r.endpoint()
	}
	return out, nil
}

// DeleteWebhookEndpoint removes an endpoint; deliveries in flight stop at their next
// attempt. Its attempts stay listed under their events.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, caller billing.Caller, id string) error {
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
func (db *DB) RotateWebhookSecret(ctx context.Context, caller billing.Caller, id, secret string, previousExpiresAt time.Time) (billing.WebhookEndpoint, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.WebhookEndpoint{}, err
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return billing.WebhookEndpoint{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	row, err := db.getWebhookEndpointRow(ctx, tx, caller, id, true)
	if err != nil {
		return billing.WebhookEndpoint{}, err
	}
	old, err := kr.Open(row.SecretKeyID, row.Secret, secretAAD(row.MerchantID, row.Mode, row.ID, "current"))
	if err != nil {
		return billing.WebhookEndpoint{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	pkid, psealed, err := kr.Seal(old, secretAAD(row.MerchantID, row.Mode, row.ID, "previous"))
	if err != nil {
		return billing.WebhookEndpoint{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	kid, sealed, err := kr.Seal([]byte(secret), secretAAD(row.MerchantID, row.Mode, row.ID, "current"))
	if err != nil {
		return billing.WebhookEndpoint{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	exp := previousExpiresAt.UTC().Truncate(time.Microsecond)
	now := db.now()
	if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE webhook_endpoints SET secret_key_id = ?, secret = ?,
		previous_secret_key_id = ?, previous_secret = ?, previous_expires_at = ?, updated_at = ? WHERE id = ?`),
		kid, sealed, pkid, psealed, exp, now, row.ID); err != nil {
		return billing.WebhookEndpoint{}, translate(err, "rotate webhook secret")
	}
	if err := tx.Commit(); err != nil {
		return billing.WebhookEndpoint{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	row.PreviousExpiresAt, row.UpdatedAt = &exp, now
	return row.endpoint(), nil
}

// WebhookTarget returns the merchant's endpoint with its unsealed signing secrets, as
// of now.
func (db *DB) WebhookTarget(ctx context.Context, merchantID, endpointID string) (billing.WebhookTarget, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.WebhookTarget{}, err
	}
	var row webhookEndpointRow
	err = db.GetContext(ctx, &row, db.Rebind(`SELECT * FROM webhook_endpoints WHERE id = ? AND merchant_id = ?`),
		endpointID, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.WebhookTarget{}, notFound("webhook endpoint", endpointID)
	}
	if err != nil {
		return billing.WebhookTarget{}, fmt.Errorf("get webhook target: %w", err)
	}
	cur, err := kr.Open(row.SecretKeyID, row.Secret, secretAAD(row.MerchantID, row.Mode, row.ID, "current"))
	if err != nil {
		return billing.WebhookTarget{}, fmt.Errorf("get webhook target: %w", err)
	}
	t := billing.WebhookTarget{Endpoint: row.endpoint(), Secrets: []string{string(cur)}}
	if row.PreviousSecret != nil && row.PreviousExpiresAt != nil && db.now().Before(*row.PreviousExpiresAt) {
		prev, err := kr.Open(row.PreviousSecretKeyID.String, row.PreviousSecret,
			secretAAD(row.MerchantID, row.Mode, row.ID, "previous"))
		if err != nil {
			return billing.WebhookTarget{}, fmt.Errorf("get webhook target: %w", err)
		}
		t.Secrets = append(t.Secrets, string(prev))
	}
	return t, nil
}

// DisableWebhookEndpoint stops deliveries to an endpoint (a receiver answered 410 Gone).
func (db *DB) DisableWebhookEndpoint(ctx context.Context, merchantID, endpointID, reason string) error {
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE webhook_endpoints SET status = ?, disabled_reason = ?, updated_at = ?
		WHERE id = ? AND merchant_id = ?`), billing.WebhookDisabled, reason, db.now(), endpointID, merchantID); err != nil {
		return translate(err, "disable webhook endpoint")
	}
	return nil
}

// EnabledWebhookEndpoints returns the merchant's enabled endpoints in mode that want
// events of type typ, oldest first.
func (db *DB) EnabledWebhookEndpoints(ctx context.Context, merchantID string, mode billing.Mode, typ string) ([]billing.WebhookEndpoint, error) {
	var rows []webhookEndpointRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT * FROM webhook_endpoints
		WHERE merchant_id = ? AND mode = ? AND status = ? ORDER BY seq`), merchantID, mode, billing.WebhookEnabled); err != nil {
		return nil, fmt.Errorf("list enabled webhook endpoints: %w", err)
	}
	var out []billing.WebhookEndpoint
	for _, r := range rows {
		if e := r.endpoint(); e.Matches(typ) {
			out = append(out, e)
		}
	}
	return out, nil
}

// RecordWebhookAttempt stores an attempt unless (DeliveryID, Attempt) is stored.
func (db *DB) RecordWebhookAttempt(ctx context.Context, a billing.WebhookAttempt) error {
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
func (db *DB) ListWebhookAttempts(ctx context.Context, caller billing.Caller, eventID string) ([]billing.WebhookAttempt, error) {
	if _, err := db.GetEvent(ctx, caller, eventID); err != nil {
		return nil, err
	}
	out := []billing.WebhookAttempt{}
	if err := db.SelectContext(ctx, &out, db.Rebind(`SELECT * FROM webhook_attempts
		WHERE event_id = ? AND merchant_id = ? AND mode = ? ORDER BY seq LIMIT ?`),
		eventID, caller.MerchantID, caller.Mode, billing.MaxListLimit*10); err != nil {
		return nil, fmt.Errorf("list webhook attempts: %w", err)
	}
	return out, nil
}
