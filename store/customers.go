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

// MaxMetadataKeys bounds a customer's metadata after every update.
const MaxMetadataKeys = 50

type customerRow struct {
	Seq        int64          `db:"seq"`
	ID         string         `db:"id"`
	MerchantID string         `db:"merchant_id"`
	Mode       billing.Mode   `db:"mode"`
	Email      sql.NullString `db:"email"`
	FirstName  sql.NullString `db:"first_name"`
	LastName   sql.NullString `db:"last_name"`
	Line1      sql.NullString `db:"address_line1"`
	Line2      sql.NullString `db:"address_line2"`
	City       sql.NullString `db:"address_city"`
	State      sql.NullString `db:"address_state"`
	PostalCode sql.NullString `db:"address_postal_code"`
	Country    sql.NullString `db:"address_country"`
	Metadata   string         `db:"metadata"`
	CreatedAt  time.Time      `db:"created_at"`
	UpdatedAt  time.Time      `db:"updated_at"`
	DeletedAt  *time.Time     `db:"deleted_at"`
}

const customerColumns = `seq, id, merchant_id, mode, email, first_name, last_name, address_line1, address_line2,
	address_city, address_state, address_postal_code, address_country, metadata, created_at, updated_at, deleted_at`

func (r customerRow) customer() (billing.Customer, error) {
	c := billing.Customer{
		ID: r.ID, MerchantID: r.MerchantID, Mode: r.Mode, Email: r.Email.String,
		FirstName: r.FirstName.String, LastName: r.LastName.String,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.Country.Valid {
		c.Address = &billing.Address{Line1: r.Line1.String, Line2: r.Line2.String, City: r.City.String,
			State: r.State.String, PostalCode: r.PostalCode.String, Country: r.Country.String}
	}
	if err := json.Unmarshal([]byte(r.Metadata), &c.Metadata); err != nil {
		return billing.Customer{}, fmt.Errorf("read customer %s metadata: %w", r.ID, err)
	}
	if c.Metadata == nil {
		c.Metadata = map[string]string{}
	}
	return c, nil
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func (r *customerRow) setAddress(a *billing.Address) {
	if a == nil {
		a = &billing.Address{}
	}
	r.Line1, r.Line2, r.City = nullable(a.Line1), nullable(a.Line2), nullable(a.City)
	r.State, r.PostalCode, r.Country = nullable(a.State), nullable(a.PostalCode), nullable(a.Country)
}

func encodeMetadata(m map[string]string) (string, error) {
	if len(m) > MaxMetadataKeys {
		return "", billing.Invalid("metadata", billing.CodeInvalidMetadata, "metadata holds at most %d keys", MaxMetadataKeys)
	}
	if m == nil {
		m = map[string]string{}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode metadata: %w", err)
	}
	return string(b), nil
}

// CreateCustomer stores a new customer for the caller.
func (db *DB) CreateCustomer(ctx context.Context, caller billing.Caller, in billing.NewCustomer) (billing.Customer, error) {
	now := db.now()
	row := customerRow{
		ID: billing.NewID(billing.PrefixCustomer), MerchantID: caller.MerchantID, Mode: caller.Mode,
		Email: nullable(in.Email), FirstName: nullable(in.FirstName), LastName: nullable(in.LastName),
		CreatedAt: now, UpdatedAt: now,
	}
	row.setAddress(in.Address)
	meta := map[string]string{}
	for k, v := range in.Metadata {
		if v != "" {
			meta[k] = v
		}
	}
	var err error
	if row.Metadata, err = encodeMetadata(meta); err != nil {
		return billing.Customer{}, err
	}
	if _, err := sqlx.NamedExecContext(ctx, db.DB, `INSERT INTO customers (id, merchant_id, mode, email, first_name,
		last_name, address_line1, address_line2, address_city, address_state, address_postal_code, address_country,
		metadata, created_at, updated_at)
		VALUES (:id, :merchant_id, :mode, :email, :first_name, :last_name, :address_line1, :address_line2,
		:address_city, :address_state, :address_postal_code, :address_country, :metadata, :created_at, :updated_at)`, row); err != nil {
		return billing.Customer{}, translate(err, "create customer")
	}
	return row.customer()
}

// getCustomerRow reads a live (not deleted) customer of the caller.
func (db *DB) getCustomerRow(ctx context.Context, q sqlx.QueryerContext, caller billing.Caller, id string, lock bool) (customerRow, error) {
	query := `SELECT ` + customerColumns + ` FROM customers WHERE id = ? AND merchant_id = ? AND mode = ? AND deleted_at IS NULL`
	if lock {
		query += db.forUpdate()
	}
	var row customerRow
	err := sqlx.GetContext(ctx, q, &row, db.Rebind(query), id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return customerRow{}, notFound("customer", id)
	}
	if err != nil {
		return customerRow{}, fmt.Errorf("get customer: %w", err)
	}
	return row, nil
}

// GetCustomer returns one of the caller's customers; another merchant's, the other
// mode's and deleted customers are not found.
func (db *DB) GetCustomer(ctx context.Context, caller billing.Caller, id string) (billing.Customer, error) {
	row, err := db.getCustomerRow(ctx, db.DB, caller, id, false)
	if err != nil {
		return billing.Customer{}, err
	}
	return row.customer()
}

// UpdateCustomer applies patch to one of the caller's customers and returns the result.
func (db *DB) UpdateCustomer(ctx context.Context, caller billing.Caller, id string, patch billing.CustomerPatch) (billing.Customer, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return billing.Customer{}, fmt.Errorf("update customer: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	row, err := db.getCustomerRow(ctx, tx, caller, id, true)
	if err != nil {
		return billing.Customer{}, err
	}
	if patch.Email != nil {
		row.Email = nullable(*patch.Email)
	}
	if patch.FirstName != nil {
		row.FirstName = nullable(*patch.FirstName)
	}
	if patch.LastName != nil {
		row.LastName = nullable(*patch.LastName)
	}
	if patch.SetAddress {
		row.setAddress(patch.Address)
	}
	if len(patch.Metadata) > 0 {
		meta := map[string]string{}
		if err := json.Unmarshal([]byte(row.Metadata), &meta); err != nil {
			return billing.Customer{}, fmt.Errorf("read customer %s metadata: %w", id, err)
		}
		for k, v := range patch.Metadata {
			if v == "" {
				delete(meta, k)
			} else {
				meta[k] = v
			}
		}
		if row.Metadata, err = encodeMetadata(meta); err != nil {
			return billing.Customer{}, err
		}
	}
	row.UpdatedAt = db.now()
	if _, err := sqlx.NamedExecContext(ctx, tx, `UPDATE customers SET email = :email, first_name = :first_name,
		last_name = :last_name, address_line1 = :address_line1, address_line2 = :address_line2,
		address_city = :address_city, address_state = :address_state, address_postal_code = :address_postal_code,
		address_country = :address_country, metadata = :metadata, updated_at = :updated_at
		WHERE id = :id AND merchant_id = :merchant_id AND mode = :mode`, row); err != nil {
		return billing.Customer{}, translate(err, "update customer")
	}
	if err := tx.Commit(); err != nil {
		return billing.Customer{}, fmt.Errorf("update customer: %w", err)
	}
	return row.customer()
}

// DeleteCustomer deletes one of the caller's customers: its personal data is erased and
// its saved cards are detached (see DetachPaymentMethod), keeping tombstone rows so
// payment history stays whole. It returns the ids of the cards it detached. The caller
// checks first that no plan still uses the customer.
func (db *DB) DeleteCustomer(ctx context.Context, caller billing.Caller, id string) ([]string, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete customer: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := db.getCustomerRow(ctx, tx, caller, id, true); err != nil {
		return nil, err
	}
	now := db.now()
	if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE customers SET email = NULL, first_name = NULL, last_name = NULL,
		address_line1 = NULL, address_line2 = NULL, address_city = NULL, address_state = NULL,
		address_postal_code = NULL, address_country = NULL, metadata = '{}', updated_at = ?, deleted_at = ?
		WHERE id = ? AND merchant_id = ? AND mode = ?`), now, now, id, caller.MerchantID, caller.Mode); err != nil {
		return nil, fmt.Errorf("delete customer: %w", err)
	}
	var cards []string
	if err := tx.SelectContext(ctx, &cards, db.Rebind(`SELECT id FROM payment_methods
		WHERE customer_id = ? AND merchant_id = ? AND mode = ? AND status <> 'detached' ORDER BY seq`),
		id, caller.MerchantID, caller.Mode); err != nil {
		return nil, fmt.Errorf("delete customer: list cards: %w", err)
	}
	for _, pm := range cards {
		if err := db.detach(ctx, tx, caller, pm, now); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete customer: %w", err)
	}
	return cards, nil
}

// ListCustomers returns a page of the caller's customers, newest first.
func (db *DB) ListCustomers(ctx context.Context, caller billing.Caller, filter billing.CustomerFilter, p billing.ListParams) (billing.Page[billing.Customer], error) {
	limit, err := p.PageLimit()
	if err != nil {
		return billing.Page[billing.Customer]{}, err
	}
	after, err := db.cursor(ctx, "customers", caller, p.StartingAfter)
	if err != nil {
		return billing.Page[billing.Customer]{}, err
	}
	query := `SELECT ` + customerColumns + ` FROM customers WHERE merchant_id = ? AND mode = ? AND deleted_at IS NULL`
	args := []any{caller.MerchantID, caller.Mode}
	if filter.Email != "" {
		query += ` AND lower(email) = lower(?)`
		args = append(args, filter.Email)
	}
	if after > 0 {
		query += ` AND seq < ?`
		args = append(args, after)
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit+1)
	var rows []customerRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(query), args...); err != nil {
		return billing.Page[billing.Customer]{}, fmt.Errorf("list customers: %w", err)
	}
	out := make([]billing.Customer, 0, len(rows))
	for _, r := range rows {
		c, err := r.customer()
		if err != nil {
			return billing.Page[billing.Customer]{}, err
		}
		out = append(out, c)
	}
	return page(out, limit), nil
}
