package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/recurring/recurring/billing"
)

type providerAccountRow struct {
	Seq              int64          `db:"seq"`
	ID               string         `db:"id"`
	MerchantID       string         `db:"merchant_id"`
	Mode             billing.Mode   `db:"mode"`
	Provider         string         `db:"provider"`
	Name             string         `db:"name"`
	BaseURL          string         `db:"base_url"`
	CredentialFields string         `db:"credential_fields"`
	CredentialsKeyID sql.NullString `db:"credentials_key_id"`
	Credentials      []byte         `db:"credentials"`
	MaxChargesPerSec int            `db:"max_charges_per_second"`
	CreatedAt        time.Time      `db:"created_at"`
	DeletedAt        *time.Time     `db:"deleted_at"`
}

func (r providerAccountRow) account() billing.ProviderAccount {
	a := billing.ProviderAccount{ID: r.ID, MerchantID: r.MerchantID, Mode: r.Mode, Provider: r.Provider, Name: r.Name,
		BaseURL: r.BaseURL, CreatedAt: r.CreatedAt.UTC(), CredentialFields: []string{}, MaxChargesPerSecond: r.MaxChargesPerSec}
	if r.CredentialFields != "" {
		a.CredentialFields = strings.Split(r.CredentialFields, ",")
	}
	return a
}

// credentialsAAD binds sealed credentials to their account.
func credentialsAAD(merchantID string, mode billing.Mode, id string) []byte {
	return []byte("provider_account/" + merchantID + "/" + string(mode) + "/" + id)
}

// CreateProviderAccount stores an account with its credentials sealed.
func (db *DB) CreateProviderAccount(ctx context.Context, caller billing.Caller, in billing.NewProviderAccount) (billing.ProviderAccount, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.ProviderAccount{}, err
	}
	plain, err := json.Marshal(map[string]string(in.Credentials))
	if err != nil {
		return billing.ProviderAccount{}, fmt.Errorf("create provider account: %w", err)
	}
	row := providerAccountRow{ID: billing.NewID(billing.PrefixProviderAccount), MerchantID: caller.MerchantID, Mode: caller.Mode,
		Provider: in.Provider, Name: in.Name, BaseURL: in.BaseURL, CredentialFields: strings.Join(in.Credentials.Fields(), ","),
		MaxChargesPerSec: in.MaxChargesPerSecond, CreatedAt: db.now()}
	kid, sealed, err := kr.Seal(plain, credentialsAAD(row.MerchantID, row.Mode, row.ID))
	if err != nil {
		return billing.ProviderAccount{}, fmt.Errorf("create provider account: %w", err)
	}
	row.CredentialsKeyID, row.Credentials = nullable(kid), sealed
	if _, err := db.NamedExecContext(ctx, `INSERT INTO provider_accounts (id, merchant_id, mode, provider, name, base_url,
		credential_fields, credentials_key_id, credentials, max_charges_per_second, created_at)
		VALUES (:id, :merchant_id, :mode, :provider, :name, :base_url, :credential_fields, :credentials_key_id, :credentials,
		:max_charges_per_second, :created_at)`,
		row); err != nil {
		return billing.ProviderAccount{}, translate(err, "create provider account")
	}
	return row.account(), nil
}

func (db *DB) getProviderAccountRow(ctx context.Context, merchantID string, mode *billing.Mode, id string) (providerAccountRow, error) {
	q := `SELECT * FROM provider_accounts WHERE id = ? AND merchant_id = ? AND deleted_at IS NULL`
	args := []any{id, merchantID}
	if mode != nil {
		q, args = q+` AND mode = ?`, append(args, *mode)
	}
	var row providerAccountRow
	err := db.GetContext(ctx, &row, db.Rebind(q), args...)
	if errors.Is(err, sql.ErrNoRows) {
		return row, notFound("provider account", id)
	}
	if err != nil {
		return row, fmt.Errorf("get provider account: %w", err)
	}
	return row, nil
}

// GetProviderAccount returns one of the caller's accounts (not a deleted one).
func (db *DB) GetProviderAccount(ctx context.Context, caller billing.Caller, id string) (billing.ProviderAccount, error) {
	row, err := db.getProviderAccountRow(ctx, caller.MerchantID, &caller.Mode, id)
	if err != nil {
		return billing.ProviderAccount{}, err
	}
	return row.account(), nil
}

// ListProviderAccounts returns a page of the caller's accounts, newest first.
func (db *DB) ListProviderAccounts(ctx context.Context, caller billing.Caller, p billing.ListParams) (billing.Page[billing.ProviderAccount], error) {
	limit, err := p.PageLimit()
	if err != nil {
		return billing.Page[billing.ProviderAccount]{}, err
	}
	after, err := db.cursor(ctx, "provider_accounts", caller, p.StartingAfter)
	if err != nil {
		return billing.Page[billing.ProviderAccount]{}, err
	}
	q := `SELECT * FROM provider_accounts WHERE merchant_id = ? AND mode = ? AND deleted_at IS NULL`
	args := []any{caller.MerchantID, caller.Mode}
	if after > 0 {
		q, args = q+` AND seq < ?`, append(args, after)
	}
	var rows []providerAccountRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(q+` ORDER BY seq DESC LIMIT ?`), append(args, limit+1)...); err != nil {
		return billing.Page[billing.ProviderAccount]{}, fmt.Errorf("list provider accounts: %w", err)
	}
	pg := page(rows, limit)
	out := billing.Page[billing.ProviderAccount]{Items: make([]billing.ProviderAccount, len(pg.Items)), HasMore: pg.HasMore}
	for i, r := range pg.Items {
		out.Items[i] = r.account()
	}
	return out, nil
}

// DeleteProviderAccount erases an account's credentials, unless a plan that can still
// charge (not completed, canceled, failed or expired unstarted) uses a card saved on it.
func (db *DB) DeleteProviderAccount(ctx context.Context, caller billing.Caller, id string) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete provider account: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Locks the account row, as CreatePlan does for a card in it.
	var ids []string
	if err := tx.SelectContext(ctx, &ids, db.Rebind(`SELECT id FROM provider_accounts WHERE id = ? AND merchant_id = ?
		AND mode = ? AND deleted_at IS NULL`+db.forUpdate()), id, caller.MerchantID, caller.Mode); err != nil {
		return fmt.Errorf("delete provider account: %w", err)
	}
	if len(ids) == 0 {
		return notFound("provider account", id)
	}
	var plans int
	if err := tx.GetContext(ctx, &plans, db.Rebind(`SELECT COUNT(*) FROM plans p JOIN payment_methods pm ON pm.id = p.payment_method_id
		WHERE pm.provider_account = ? AND p.merchant_id = ? AND p.status NOT IN ('completed', 'canceled', 'failed', 'incomplete_expired')`),
		id, caller.MerchantID); err != nil {
		return fmt.Errorf("delete provider account: %w", err)
	}
	if plans > 0 {
		return &billing.Error{Kind: billing.KindConflict, Code: billing.CodeProviderAccountInUse,
			Message: fmt.Sprintf("%d unfinished plan(s) charge cards saved on this account; cancel them or move them to other cards first", plans)}
	}
	// An open hosted page saves its card in the account: a one-off payment's, or an
	// unfinished plan's (its first payment, or a card change).
	var pages int
	if err := tx.GetContext(ctx, &pages, db.Rebind(`SELECT COUNT(*) FROM payment_sessions s
		WHERE s.provider_account = ? AND s.merchant_id = ? AND s.mode = ? AND s.status = 'open'
		AND (s.plan_id = '' OR EXISTS (SELECT 1 FROM plans p WHERE p.id = s.plan_id
			AND p.status NOT IN ('completed', 'canceled', 'failed', 'incomplete_expired')))`),
		id, caller.MerchantID, caller.Mode); err != nil {
		return fmt.Errorf("delete provider account: %w", err)
	}
	if pages > 0 {
		return &billing.Error{Kind: billing.KindConflict, Code: billing.CodeProviderAccountInUse,
			Message: fmt.Sprintf("%d open payment page(s) save cards in this account (a plan waiting for its first payment, a hosted payment or a card change); cancel the plan or let the page expire first", pages)}
	}
	// A payment whose outcome is unknown, or that the provider settles later, is
	// settled by asking the account's provider: the credentials must outlive it. A day
	// is the bound: an unfinished plan's attempts are covered above, and a one-off
	// payment nobody settled in a day would otherwise block the account forever.
	var pending int
	if err := tx.GetContext(ctx, &pending, db.Rebind(`SELECT COUNT(*) FROM payments p JOIN payment_methods pm ON pm.id = p.payment_method_id
		WHERE pm.provider_account = ? AND p.merchant_id = ? AND p.status = 'pending' AND p.attempted_at > ?`),
		id, caller.MerchantID, ledgerTime(db.now().Add(-24*time.Hour))); err != nil {
		return fmt.Errorf("delete provider account: %w", err)
	}
	if pending > 0 {
		return &billing.Error{Kind: billing.KindConflict, Code: billing.CodeProviderAccountInUse,
			Message: fmt.Sprintf("%d payment(s) on this account's cards are still pending; delete it once they are settled", pending)}
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE provider_accounts SET deleted_at = ?, credentials = NULL, credentials_key_id = NULL
		WHERE id = ? AND merchant_id = ? AND mode = ?`), db.now(), id, caller.MerchantID, caller.Mode); err != nil {
		return fmt.Errorf("delete provider account: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete provider account: %w", err)
	}
	return nil
}

// ProviderAccountKeys unseals an undeleted account's credentials for the adapter that
// charges with them.
func (db *DB) ProviderAccountKeys(ctx context.Context, merchantID, id string) (billing.ProviderAccountKeys, error) {
	row, err := db.getProviderAccountRow(ctx, merchantID, nil, id)
	if err != nil {
		return billing.ProviderAccountKeys{}, err
	}
	return db.unsealAccount(row)
}

// CallbackAccountKeys returns an undeleted account by its id alone, with its merchant:
// a provider's callback to the account's route names no merchant until the adapter
// built from these keys has verified it (and its merchant must then be this one).
func (db *DB) CallbackAccountKeys(ctx context.Context, id string) (string, billing.ProviderAccountKeys, error) {
	var row providerAccountRow
	err := db.GetContext(ctx, &row, db.Rebind(`SELECT * FROM provider_accounts WHERE id = ? AND deleted_at IS NULL`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", billing.ProviderAccountKeys{}, notFound("provider account", id)
	}
	if err != nil {
		return "", billing.ProviderAccountKeys{}, fmt.Errorf("get provider account: %w", err)
	}
	keys, err := db.unsealAccount(row)
	return row.MerchantID, keys, err
}

func (db *DB) unsealAccount(row providerAccountRow) (billing.ProviderAccountKeys, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.ProviderAccountKeys{}, err
	}
	plain, err := kr.Open(row.CredentialsKeyID.String, row.Credentials, credentialsAAD(row.MerchantID, row.Mode, row.ID))
	if err != nil {
		return billing.ProviderAccountKeys{}, fmt.Errorf("unseal credentials of provider account %s: %w", row.ID, err)
	}
	var creds map[string]string
	if err := json.Unmarshal(plain, &creds); err != nil {
		return billing.ProviderAccountKeys{}, fmt.Errorf("read credentials of provider account %s: %w", row.ID, err)
	}
	return billing.ProviderAccountKeys{ID: row.ID, Mode: row.Mode, Provider: row.Provider, BaseURL: row.BaseURL,
		Credentials: creds}, nil
}

// resealProviderAccounts moves up to limit accounts' credentials to the active key
// (ResealTokens' second half).
func (db *DB) resealProviderAccounts(ctx context.Context, limit int) (int, error) {
	kr, err := db.keyring()
	if err != nil {
		return 0, err
	}
	var rows []providerAccountRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT * FROM provider_accounts
		WHERE credentials IS NOT NULL AND credentials_key_id <> ? ORDER BY seq LIMIT ?`), kr.ActiveID(), limit); err != nil {
		return 0, fmt.Errorf("reseal provider accounts: %w", err)
	}
	n := 0
	for _, r := range rows {
		done, err := db.reseal(ctx, kr, "provider_accounts", "credentials", r.ID, r.CredentialsKeyID.String, r.Credentials,
			credentialsAAD(r.MerchantID, r.Mode, r.ID))
		if err != nil {
			return n, fmt.Errorf("reseal provider account %s: %w", r.ID, err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

// UpdateProviderAccount changes an account's name or charge pace (nil: unchanged; a
// pace of 0 stops pacing) in one statement, so two changes to different fields both
// stand; a deleted account is not found. Workers read the pace at every charge.
func (db *DB) UpdateProviderAccount(ctx context.Context, caller billing.Caller, id string, name *string, maxChargesPerSecond *int) (billing.ProviderAccount, error) {
	res, err := db.ExecContext(ctx, db.Rebind(`UPDATE provider_accounts SET name = COALESCE(?, name),
		max_charges_per_second = COALESCE(?, max_charges_per_second)
		WHERE id = ? AND merchant_id = ? AND mode = ? AND deleted_at IS NULL`),
		name, maxChargesPerSecond, id, caller.MerchantID, caller.Mode)
	if err != nil {
		return billing.ProviderAccount{}, translate(err, "update provider account")
	}
	if n, err := res.RowsAffected(); err != nil {
		return billing.ProviderAccount{}, fmt.Errorf("update provider account: %w", err)
	} else if n == 0 {
		return billing.ProviderAccount{}, notFound("provider account", id)
	}
	return db.GetProviderAccount(ctx, caller, id)
}
