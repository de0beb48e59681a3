package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
	"github.com/recurring/recurring/internal/seal"
)

type paymentMethodRow struct {
	Seq                 int64                       `db:"seq"`
	ID                  string                      `db:"id"`
	MerchantID          string                      `db:"merchant_id"`
	Mode                billing.Mode                `db:"mode"`
	CustomerID          string                      `db:"customer_id"`
	Provider            string                      `db:"provider"`
	ProviderCustomerRef sql.NullString              `db:"provider_customer_ref"`
	TokenKeyID          sql.NullString              `db:"token_key_id"`
	Token               []byte                      `db:"token"`
	Brand               sql.NullString              `db:"brand"`
	Last4               sql.NullString              `db:"last4"`
	ExpMonth            sql.NullInt64               `db:"exp_month"`
	ExpYear             sql.NullInt64               `db:"exp_year"`
	Fingerprint         sql.NullString              `db:"fingerprint"`
	Status              billing.PaymentMethodStatus `db:"status"`
	CreatedAt           time.Time                   `db:"created_at"`
	UpdatedAt           time.Time                   `db:"updated_at"`
	DetachedAt          *time.Time                  `db:"detached_at"`
	NetworkTxID         sql.NullString              `db:"network_transaction_id"`
	Imported            bool                        `db:"imported"`
	ProviderAccount     sql.NullString              `db:"provider_account"`
	Type                billing.PaymentMethodType   `db:"type"`
	PayerEmail          sql.NullString              `db:"payer_email"`
}

const paymentMethodColumns = `seq, id, merchant_id, mode, customer_id, provider, provider_customer_ref, token_key_id,
	token, brand, last4, exp_month, exp_year, fingerprint, status, created_at, updated_at, detached_at,
	network_transaction_id, imported, provider_account, type, payer_email`

func (r paymentMethodRow) paymentMethod() billing.PaymentMethod {
	pm := billing.PaymentMethod{
		ID: r.ID, MerchantID: r.MerchantID, Mode: r.Mode, CustomerID: r.CustomerID, Provider: r.Provider,
		ProviderCustomerRef: r.ProviderCustomerRef.String, Status: r.Status,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), Imported: r.Imported,
		ProviderAccount: r.ProviderAccount.String, Type: r.Type,
	}
	if r.DetachedAt != nil {
		t := r.DetachedAt.UTC()
		pm.DetachedAt = &t
	}
	switch {
	case r.Status == billing.PaymentMethodDetached:
	case r.Type == billing.PaymentMethodPayPal:
		pm.PayPal = &billing.PayPalDetails{PayerEmail: r.PayerEmail.String}
	default:
		pm.Card = &billing.CardDetails{Brand: r.Brand.String, Last4: r.Last4.String, ExpMonth: int(r.ExpMonth.Int64),
			ExpYear: int(r.ExpYear.Int64), Fingerprint: r.Fingerprint.String}
	}
	return pm
}

// tokenAAD binds a sealed token to its row, so a ciphertext copied into another row
// (another merchant's, say) does not open.
func tokenAAD(merchantID string, mode billing.Mode, id string) []byte {
	return []byte("payment_method/" + merchantID + "/" + string(mode) + "/" + id)
}

// CreatePaymentMethod stores a tokenized card for one of the caller's customers.
func (db *DB) CreatePaymentMethod(ctx context.Context, caller billing.Caller, in billing.NewPaymentMethod) (billing.PaymentMethod, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.PaymentMethod{}, err
	}
	if in.AwaitingApproval && (in.Type != billing.PaymentMethodPayPal || in.Token != "") {
		return billing.PaymentMethod{}, errors.New("create payment method: only a PayPal method without a token awaits approval")
	}
	if in.Token == "" && !in.AwaitingApproval {
		return billing.PaymentMethod{}, errors.New("create payment method: the provider returned no token")
	}
	switch in.Type {
	case "":
		in.Type = billing.PaymentMethodCard
	case billing.PaymentMethodCard, billing.PaymentMethodPayPal:
	default:
		return billing.PaymentMethod{}, fmt.Errorf("create payment method: unknown type %q", in.Type)
	}
	now := db.now()
	row := paymentMethodRow{
		ID: billing.NewID(billing.PrefixPaymentMethod), MerchantID: caller.MerchantID, Mode: caller.Mode,
		CustomerID: in.CustomerID, Provider: in.Provider, ProviderCustomerRef: nullable(in.ProviderCustomerRef),
		Brand: nullable(in.Card.Brand), Last4: nullable(in.Card.Last4),
		ExpMonth:    sql.NullInt64{Int64: int64(in.Card.ExpMonth), Valid: true},
		ExpYear:     sql.NullInt64{Int64: int64(in.Card.ExpYear), Valid: true},
		Fingerprint: nullable(in.Card.Fingerprint), Status: billing.PaymentMethodActive, CreatedAt: now, UpdatedAt: now,
		Imported: in.Imported, NetworkTxID: nullable(in.NetworkTransactionID), ProviderAccount: nullable(in.ProviderAccount),
		Type: in.Type,
	}
	if in.Type == billing.PaymentMethodPayPal {
		row.Brand, row.Last4, row.ExpMonth, row.ExpYear, row.Fingerprint = sql.NullString{}, sql.NullString{},
			sql.NullInt64{}, sql.NullInt64{}, sql.NullString{}
		row.PayerEmail = nullable(in.PayPal.PayerEmail)
	}
	kid, sealed, err := kr.Seal([]byte(in.Token), tokenAAD(row.MerchantID, row.Mode, row.ID))
	if err != nil {
		return billing.PaymentMethod{}, fmt.Errorf("create payment method: %w", err)
	}
	row.TokenKeyID, row.Token = nullable(kid), sealed

	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return billing.PaymentMethod{}, fmt.Errorf("create payment method: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// The customer may have been deleted while the provider tokenized the card.
	if _, err := db.getCustomerRow(ctx, tx, caller, in.CustomerID, true); err != nil {
		return billing.PaymentMethod{}, err
	}
	if _, err := sqlx.NamedExecContext(ctx, tx, `INSERT INTO payment_methods (id, merchant_id, mode, customer_id,
		provider, provider_customer_ref, token_key_id, token, brand, last4, exp_month, exp_year, fingerprint, status,
		created_at, updated_at, imported, network_transaction_id, provider_account, type, payer_email)
		VALUES (:id, :merchant_id, :mode, :customer_id, :provider, :provider_customer_ref, :token_key_id, :token,
		:brand, :last4, :exp_month, :exp_year, :fingerprint, :status, :created_at, :updated_at, :imported, :network_transaction_id,
		:provider_account, :type, :payer_email)`, row); err != nil {
		return billing.PaymentMethod{}, translate(err, "create payment method")
	}
	if err := tx.Commit(); err != nil {
		return billing.PaymentMethod{}, fmt.Errorf("create payment method: %w", err)
	}
	return row.paymentMethod(), nil
}

func (db *DB) getPaymentMethodRow(ctx context.Context, q sqlx.QueryerContext, caller billing.Caller, id string, lock bool) (paymentMethodRow, error) {
	query := `SELECT ` + paymentMethodColumns + ` FROM payment_methods WHERE id = ? AND merchant_id = ? AND mode = ?`
	if lock {
		query += db.forUpdate()
	}
	var row paymentMethodRow
	err := sqlx.GetContext(ctx, q, &row, db.Rebind(query), id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return paymentMethodRow{}, notFound("payment method", id)
	}
	if err != nil {
		return paymentMethodRow{}, fmt.Errorf("get payment method: %w", err)
	}
	return row, nil
}

// GetPaymentMethod returns one of the caller's payment methods, detached ones included.
func (db *DB) GetPaymentMethod(ctx context.Context, caller billing.Caller, id string) (billing.PaymentMethod, error) {
	row, err := db.getPaymentMethodRow(ctx, db.DB, caller, id, false)
	if err != nil {
		return billing.PaymentMethod{}, err
	}
	return row.paymentMethod(), nil
}

// ListPaymentMethods returns a page of a customer's saved cards (active and blocked),
// newest first.
func (db *DB) ListPaymentMethods(ctx context.Context, caller billing.Caller, customerID string, p billing.ListParams) (billing.Page[billing.PaymentMethod], error) {
	limit, err := p.PageLimit()
	if err != nil {
		return billing.Page[billing.PaymentMethod]{}, err
	}
	if _, err := db.getCustomerRow(ctx, db.DB, caller, customerID, false); err != nil {
		return billing.Page[billing.PaymentMethod]{}, err
	}
	after, err := db.cursor(ctx, "payment_methods", caller, p.StartingAfter)
	if err != nil {
		return billing.Page[billing.PaymentMethod]{}, err
	}
	query := `SELECT ` + paymentMethodColumns + ` FROM payment_methods
		WHERE customer_id = ? AND merchant_id = ? AND mode = ? AND status <> 'detached'`
	args := []any{customerID, caller.MerchantID, caller.Mode}
	if after > 0 {
		query += ` AND seq < ?`
		args = append(args, after)
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit+1)
	var rows []paymentMethodRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(query), args...); err != nil {
		return billing.Page[billing.PaymentMethod]{}, fmt.Errorf("list payment methods: %w", err)
	}
	out := make([]billing.PaymentMethod, len(rows))
	for i, r := range rows {
		out[i] = r.paymentMethod()
	}
	return page(out, limit), nil
}

// ProviderCustomerRef returns the provider's customer an earlier card of this customer
// was saved under, or "" when there is none, so later cards join the same provider
// customer.
func (db *DB) ProviderCustomerRef(ctx context.Context, caller billing.Caller, customerID, provider string) (string, error) {
	// A provider account's customers are its own: an account id (pa_…) scopes to it,
	// a provider name to the installation's provider.
	where := `provider = ? AND provider_account IS NULL`
	if strings.HasPrefix(provider, billing.PrefixProviderAccount) {
		where = `provider_account = ?`
	}
	var refs []string
	if err := db.SelectContext(ctx, &refs, db.Rebind(`SELECT provider_customer_ref FROM payment_methods
		WHERE customer_id = ? AND merchant_id = ? AND mode = ? AND `+where+` AND provider_customer_ref IS NOT NULL
		ORDER BY seq DESC LIMIT 1`), customerID, caller.MerchantID, caller.Mode, provider); err != nil {
		return "", fmt.Errorf("find provider customer: %w", err)
	}
	if len(refs) == 0 {
		return "", nil
	}
	return refs[0], nil
}

// BlockPaymentMethod blocks a card (suspected fraud, say): it stays saved but must not
// be charged until unblocked. Blocking a blocked card changes nothing; a detached card
// is a conflict.
func (db *DB) BlockPaymentMethod(ctx context.Context, caller billing.Caller, id string) (billing.PaymentMethod, error) {
	return db.setBlocked(ctx, caller, id, billing.PaymentMethodBlocked)
}

// UnblockPaymentMethod makes a blocked card chargeable again. A detached card can never
// be unblocked.
func (db *DB) UnblockPaymentMethod(ctx context.Context, caller billing.Caller, id string) (billing.PaymentMethod, error) {
	return db.setBlocked(ctx, caller, id, billing.PaymentMethodActive)
}

func (db *DB) setBlocked(ctx context.Context, caller billing.Caller, id string, to billing.PaymentMethodStatus) (billing.PaymentMethod, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return billing.PaymentMethod{}, fmt.Errorf("update payment method: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	row, err := db.getPaymentMethodRow(ctx, tx, caller, id, true)
	if err != nil {
		return billing.PaymentMethod{}, err
	}
	switch {
	case row.Status == billing.PaymentMethodDetached:
		return billing.PaymentMethod{}, &billing.Error{Kind: billing.KindConflict, Code: billing.CodePaymentMethodDetached, Param: "id",
			Message: fmt.Sprintf("payment method %s is detached; it can never be used again", id)}
	case row.Status == to:
		return row.paymentMethod(), nil
	}
	row.Status, row.UpdatedAt = to, db.now()
	if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE payment_methods SET status = ?, updated_at = ?
		WHERE id = ? AND merchant_id = ? AND mode = ?`), row.Status, row.UpdatedAt, id, caller.MerchantID, caller.Mode); err != nil {
		return billing.PaymentMethod{}, fmt.Errorf("update payment method: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return billing.PaymentMethod{}, fmt.Errorf("update payment method: %w", err)
	}
	return row.paymentMethod(), nil
}

// DetachPaymentMethod deletes a saved card for good: the token and card details are
// erased and a tombstone row stays, so payments that used the card keep their
// reference. Detaching a detached card changes nothing.
func (db *DB) DetachPaymentMethod(ctx context.Context, caller billing.Caller, id string) (billing.PaymentMethod, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return billing.PaymentMethod{}, fmt.Errorf("detach payment method: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	row, err := db.getPaymentMethodRow(ctx, tx, caller, id, true)
	if err != nil {
		return billing.PaymentMethod{}, err
	}
	if row.Status != billing.PaymentMethodDetached {
		if err := db.detach(ctx, tx, caller, id, db.now()); err != nil {
			return billing.PaymentMethod{}, err
		}
		if row, err = db.getPaymentMethodRow(ctx, tx, caller, id, false); err != nil {
			return billing.PaymentMethod{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return billing.PaymentMethod{}, fmt.Errorf("detach payment method: %w", err)
	}
	return row.paymentMethod(), nil
}

func (db *DB) detach(ctx context.Context, tx *sqlx.Tx, caller billing.Caller, id string, now time.Time) error {
	// The provider still holds the credential: keep its sealed token for the removal
	// there (RemoveCredential), in this transaction, before it is wiped here.
	if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO credential_removals (payment_method_id, merchant_id, mode,
		provider, provider_account, method_type, customer_ref, token_key_id, token, created_at)
		SELECT id, merchant_id, mode, provider, COALESCE(provider_account, ''), type, COALESCE(provider_customer_ref, ''),
		token_key_id, token, ? FROM payment_methods
		WHERE id = ? AND merchant_id = ? AND mode = ? AND token IS NOT NULL AND status <> 'detached'
		ON CONFLICT DO NOTHING`), now, id, caller.MerchantID, caller.Mode); err != nil {
		return fmt.Errorf("keep %s for removal at its provider: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE payment_methods SET status = 'detached', token = NULL,
		token_key_id = NULL, brand = NULL, last4 = NULL, exp_month = NULL, exp_year = NULL, fingerprint = NULL, payer_email = NULL,
		network_transaction_id = NULL, updated_at = ?, detached_at = ? WHERE id = ? AND merchant_id = ? AND mode = ?`),
		now, now, id, caller.MerchantID, caller.Mode); err != nil {
		return fmt.Errorf("detach payment method %s: %w", id, err)
	}
	return nil
}

// ChargeableCard returns one of the merchant's saved cards as the charge activity
// needs it: provider, customer reference, stored-credential network id, and the token
// unsealed if the card is active. A blocked or detached card is returned with its flag
// set and no token, so even a plan that missed the block or detach signal cannot
// charge it. Another merchant's card is not found.
func (db *DB) ChargeableCard(ctx context.Context, merchantID, paymentMethodID string) (billing.ChargeableCard, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.ChargeableCard{}, err
	}
	var row struct {
		paymentMethodRow
		// MaxChargesPerSecond is the card's provider account's pace (0: none).
		MaxChargesPerSecond sql.NullInt64 `db:"max_charges_per_second"`
	}
	err = db.GetContext(ctx, &row, db.Rebind(`SELECT `+paymentMethodColumns+`,
		(SELECT pa.max_charges_per_second FROM provider_accounts pa WHERE pa.id = payment_methods.provider_account
			AND pa.merchant_id = payment_methods.merchant_id) AS max_charges_per_second
		FROM payment_methods WHERE id = ? AND merchant_id = ?`), paymentMethodID, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.ChargeableCard{}, notFound("payment method", paymentMethodID)
	}
	if err != nil {
		return billing.ChargeableCard{}, fmt.Errorf("get chargeable card: %w", err)
	}
	card := billing.ChargeableCard{PaymentMethodID: row.ID, CustomerID: row.CustomerID, Provider: row.Provider,
		Type: row.Type, ProviderAccount: row.ProviderAccount.String,
		CustomerRef: row.ProviderCustomerRef.String, NetworkTransactionID: row.NetworkTxID.String,
		Blocked: row.Status == billing.PaymentMethodBlocked, Detached: row.Status == billing.PaymentMethodDetached,
		MaxChargesPerSecond: int(row.MaxChargesPerSecond.Int64)}
	if row.Status != billing.PaymentMethodActive {
		return card, nil
	}
	token, err := kr.Open(row.TokenKeyID.String, row.Token, tokenAAD(row.MerchantID, row.Mode, row.ID))
	if err != nil {
		return billing.ChargeableCard{}, fmt.Errorf("unseal token of payment method %s: %w", row.ID, err)
	}
	card.Token = string(token)
	return card, nil
}

// reseal moves one sealed value (table.column, its key id in column_key_id) from
// oldKID to the active key, reporting whether it did: the update is conditional on the
// old key id, so a concurrent erase or reseal wins.
func (db *DB) reseal(ctx context.Context, kr *seal.Keyring, table, column, id, oldKID string, value, aad []byte) (bool, error) {
	plain, err := kr.Open(oldKID, value, aad)
	if err != nil {
		return false, err
	}
	kid, sealed, err := kr.Seal(plain, aad)
	if err != nil {
		return false, err
	}
	res, err := db.ExecContext(ctx, db.Rebind(`UPDATE `+table+` SET `+column+` = ?, `+column+`_key_id = ?
		WHERE id = ? AND `+column+`_key_id = ?`), sealed, kid, id, oldKID)
	if err != nil {
		return false, err
	}
	k, _ := res.RowsAffected()
	return k == 1, nil
}

// RecordNetworkTransactionID keeps the network id of the initial customer-initiated
// payment that stored a card, for its later merchant-initiated charges. The first
// recorded id stays; a detached card records nothing.
func (db *DB) RecordNetworkTransactionID(ctx context.Context, merchantID, paymentMethodID, networkTransactionID string) error {
	if networkTransactionID == "" {
		return nil
	}
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE payment_methods SET network_transaction_id = ?
		WHERE id = ? AND merchant_id = ? AND network_transaction_id IS NULL AND status <> 'detached'`),
		networkTransactionID, paymentMethodID, merchantID); err != nil {
		return fmt.Errorf("record network transaction id: %w", err)
	}
	return nil
}

// KeepPayPalAgreement seals the agreement token into a PayPal method created awaiting
// approval (its sealed token is empty). The update is conditional on the sealed value
// read, so a concurrent detach or a second agreement cannot be overwritten.
func (db *DB) KeepPayPalAgreement(ctx context.Context, merchantID, paymentMethodID, token string) error {
	if token == "" {
		return errors.New("keep PayPal agreement: no token")
	}
	// A concurrent reseal changes the sealed bytes the update compares: read again.
	for range 3 {
		done, err := db.keepPayPalAgreement(ctx, merchantID, paymentMethodID, token)
		if done || err != nil {
			return err
		}
	}
	return fmt.Errorf("keep PayPal agreement: payment method %s kept changing", paymentMethodID)
}

// keepPayPalAgreement is one try of KeepPayPalAgreement: false when the row changed
// between the read and the update and nothing else explains it.
func (db *DB) keepPayPalAgreement(ctx context.Context, merchantID, paymentMethodID, token string) (bool, error) {
	kr, err := db.keyring()
	if err != nil {
		return false, err
	}
	var row paymentMethodRow
	err = db.GetContext(ctx, &row, db.Rebind(`SELECT `+paymentMethodColumns+` FROM payment_methods
		WHERE id = ? AND merchant_id = ?`), paymentMethodID, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return false, notFound("payment method", paymentMethodID)
	}
	if err != nil {
		return false, fmt.Errorf("keep PayPal agreement: %w", err)
	}
	conflict := &billing.Error{Kind: billing.KindConflict, Code: billing.CodeInvalidTransition,
		Message: "payment method " + paymentMethodID + " is not a PayPal method awaiting its agreement"}
	if row.Type != billing.PaymentMethodPayPal || row.Status != billing.PaymentMethodActive {
		return false, conflict
	}
	aad := tokenAAD(row.MerchantID, row.Mode, row.ID)
	current, err := kr.Open(row.TokenKeyID.String, row.Token, aad)
	if err != nil {
		return false, fmt.Errorf("unseal token of payment method %s: %w", row.ID, err)
	}
	switch string(current) {
	case token:
		return true, nil
	case "":
	default:
		return false, conflict
	}
	kid, sealed, err := kr.Seal([]byte(token), aad)
	if err != nil {
		return false, fmt.Errorf("keep PayPal agreement: %w", err)
	}
	res, err := db.ExecContext(ctx, db.Rebind(`UPDATE payment_methods SET token = ?, token_key_id = ?, updated_at = ?
		WHERE id = ? AND merchant_id = ? AND status = 'active' AND token = ?`),
		sealed, kid, db.now(), row.ID, merchantID, row.Token)
	if err != nil {
		return false, fmt.Errorf("keep PayPal agreement: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("keep PayPal agreement: %w", err)
	}
	return n == 1, nil // 0: detached, resealed or given an agreement meanwhile; read again
}

// ResealTokens re-encrypts up to limit tokens sealed under a key other than the
// keyring's active one and returns how many it rewrote; run it until it returns 0
// before removing an old key from ENCRYPTION_KEYS.
func (db *DB) ResealTokens(ctx context.Context, limit int) (int, error) {
	kr, err := db.keyring()
	if err != nil {
		return 0, err
	}
	var rows []paymentMethodRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT `+paymentMethodColumns+` FROM payment_methods
		WHERE token IS NOT NULL AND token_key_id <> ? ORDER BY seq LIMIT ?`), kr.ActiveID(), limit); err != nil {
		return 0, fmt.Errorf("reseal tokens: %w", err)
	}
	n := 0
	for _, r := range rows {
		done, err := db.reseal(ctx, kr, "payment_methods", "token", r.ID, r.TokenKeyID.String, r.Token,
			tokenAAD(r.MerchantID, r.Mode, r.ID))
		if err != nil {
			return n, fmt.Errorf("reseal token of payment method %s: %w", r.ID, err)
		}
		if done {
			n++
		}
	}
	if n < limit {
		m, err := db.resealCredentialRemovals(ctx, kr, limit-n)
		if n += m; err != nil {
			return n, err
		}
	}
	if n < limit {
		m, err := db.resealProviderAccounts(ctx, limit-n)
		return n + m, err
	}
	return n, nil
}

// resealCredentialRemovals re-encrypts the tokens detached cards left in the removal
// outbox, so dropping an old key cannot strand a removal at the provider.
func (db *DB) resealCredentialRemovals(ctx context.Context, kr *seal.Keyring, limit int) (int, error) {
	var rows []struct {
		PaymentMethodID string         `db:"payment_method_id"`
		MerchantID      string         `db:"merchant_id"`
		Mode            billing.Mode   `db:"mode"`
		TokenKeyID      sql.NullString `db:"token_key_id"`
		Token           []byte         `db:"token"`
	}
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT payment_method_id, merchant_id, mode, token_key_id, token
		FROM credential_removals WHERE token IS NOT NULL AND token_key_id <> ? ORDER BY created_at LIMIT ?`),
		kr.ActiveID(), limit); err != nil {
		return 0, fmt.Errorf("reseal credential removals: %w", err)
	}
	n := 0
	for _, r := range rows {
		aad := tokenAAD(r.MerchantID, r.Mode, r.PaymentMethodID)
		plain, err := kr.Open(r.TokenKeyID.String, r.Token, aad)
		if err != nil {
			return n, fmt.Errorf("reseal credential removal of %s: %w", r.PaymentMethodID, err)
		}
		kid, sealed, err := kr.Seal(plain, aad)
		if err != nil {
			return n, err
		}
		res, err := db.ExecContext(ctx, db.Rebind(`UPDATE credential_removals SET token = ?, token_key_id = ?
			WHERE payment_method_id = ? AND token_key_id = ?`), sealed, kid, r.PaymentMethodID, r.TokenKeyID.String)
		if err != nil {
			return n, fmt.Errorf("reseal credential removal of %s: %w", r.PaymentMethodID, err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			n++
		}
	}
	return n, nil
}

// CredentialToRemove returns the credential a detached payment method left at its
// provider, its token unsealed; ok is false when none is left to remove.
func (db *DB) CredentialToRemove(ctx context.Context, merchantID, paymentMethodID string) (billing.StoredCredential, bool, error) {
	kr, err := db.keyring()
	if err != nil {
		return billing.StoredCredential{}, false, err
	}
	var row struct {
		Mode            billing.Mode              `db:"mode"`
		Provider        string                    `db:"provider"`
		ProviderAccount string                    `db:"provider_account"`
		Type            billing.PaymentMethodType `db:"method_type"`
		CustomerRef     string                    `db:"customer_ref"`
		TokenKeyID      sql.NullString            `db:"token_key_id"`
		Token           []byte                    `db:"token"`
	}
	err = db.GetContext(ctx, &row, db.Rebind(`SELECT mode, provider, provider_account, method_type, customer_ref,
		token_key_id, token FROM credential_removals WHERE payment_method_id = ? AND merchant_id = ? AND removed_at IS NULL`),
		paymentMethodID, merchantID)
	if errors.Is(err, sql.ErrNoRows) {
		return billing.StoredCredential{}, false, nil
	}
	if err != nil {
		return billing.StoredCredential{}, false, fmt.Errorf("read credential to remove: %w", err)
	}
	token, err := kr.Open(row.TokenKeyID.String, row.Token, tokenAAD(merchantID, row.Mode, paymentMethodID))
	if err != nil {
		return billing.StoredCredential{}, false, fmt.Errorf("unseal credential to remove %s: %w", paymentMethodID, err)
	}
	return billing.StoredCredential{PaymentMethodID: paymentMethodID, MerchantID: merchantID, Provider: row.Provider,
		ProviderAccount: row.ProviderAccount, Type: row.Type, CustomerRef: row.CustomerRef, Token: string(token)}, true, nil
}

// FinishCredentialRemoval records how removing the credential at its provider ended
// and drops its sealed token.
func (db *DB) FinishCredentialRemoval(ctx context.Context, merchantID, paymentMethodID, outcome string) error {
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE credential_removals SET outcome = ?, removed_at = ?, token = NULL,
		token_key_id = NULL WHERE payment_method_id = ? AND merchant_id = ? AND removed_at IS NULL`),
		outcome, db.now(), paymentMethodID, merchantID); err != nil {
		return translate(err, "finish credential removal")
	}
	return nil
}

// UnstartedCredentialRemovals returns up to limit removals no workflow was started for,
// oldest first, as (merchant id, payment method id) pairs.
func (db *DB) UnstartedCredentialRemovals(ctx context.Context, limit int) ([][2]string, error) {
	var rows []struct {
		MerchantID      string `db:"merchant_id"`
		PaymentMethodID string `db:"payment_method_id"`
	}
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT merchant_id, payment_method_id FROM credential_removals
		WHERE started_at IS NULL ORDER BY created_at LIMIT ?`), limit); err != nil {
		return nil, fmt.Errorf("list credential removals: %w", err)
	}
	out := make([][2]string, len(rows))
	for i, r := range rows {
		out[i] = [2]string{r.MerchantID, r.PaymentMethodID}
	}
	return out, nil
}

// MarkCredentialRemovalStarted records that the removal's workflow was started.
func (db *DB) MarkCredentialRemovalStarted(ctx context.Context, paymentMethodID string) error {
	if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE credential_removals SET started_at = ? WHERE payment_method_id = ?`),
		db.now(), paymentMethodID); err != nil {
		return fmt.Errorf("mark credential removal started: %w", err)
	}
	return nil
}

// NoticeExpiringCards writes payment_method.expiring for active cards that expire within
// billing.CardExpiringWithin of now, and payment_method.expired for those that have
// expired, each once per card (the row remembers which it had), up to limit cards,
// and returns what it wrote. A card that expired before it was ever announced as
// expiring gets only payment_method.expired.
func (db *DB) NoticeExpiringCards(ctx context.Context, now time.Time, limit int) ([]billing.CardExpiryNotice, error) {
	now = now.UTC()
	horizon := now.Add(billing.CardExpiringWithin)
	var rows []paymentMethodRow
	// A card with expiry month index m (year×12 + month) stops working at the start of
	// month m+1: it has expired when m < now's index, and expires by the horizon when
	// m < the horizon's index. Only cards owed a notice are read, so announced ones
	// never crowd out the rest; cards without a real expiry (imported 0/0) never are.
	nowIdx, horizonIdx := now.Year()*12+int(now.Month()), horizon.Year()*12+int(horizon.Month())
	if err := db.SelectContext(ctx, &rows, db.Rebind(`SELECT `+paymentMethodColumns+` FROM payment_methods
		WHERE status = 'active' AND type = 'card' AND exp_year > 0 AND exp_month BETWEEN 1 AND 12
		AND ((exp_year * 12 + exp_month < ? AND expiry_notice <> 'expired')
			OR (exp_year * 12 + exp_month < ? AND expiry_notice = ''))
		ORDER BY seq LIMIT ?`), nowIdx, horizonIdx, limit); err != nil {
		return nil, fmt.Errorf("find expiring cards: %w", err)
	}
	var out []billing.CardExpiryNotice
	for _, r := range rows {
		expires := billing.CardExpiresAt(int(r.ExpMonth.Int64), int(r.ExpYear.Int64))
		typ, notice := "", ""
		switch {
		case !now.Before(expires):
			typ, notice = billing.EventPaymentMethodExpired, "expired"
		case !horizon.Before(expires):
			typ, notice = billing.EventPaymentMethodExpiring, "expiring"
		default:
			continue
		}
		n, err := db.noticeCard(ctx, r, typ, notice)
		if err != nil {
			return out, err
		}
		if n != nil {
			n.ExpiresAt = expires
			out = append(out, *n)
		}
	}
	return out, nil
}

// noticeCard records that card r had notice (unless it had it already) with its event,
// in one transaction.
func (db *DB) noticeCard(ctx context.Context, r paymentMethodRow, typ, notice string) (*billing.CardExpiryNotice, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("notice card expiry: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, db.Rebind(`UPDATE payment_methods SET expiry_notice = ? WHERE id = ? AND expiry_notice <> ?
		AND expiry_notice <> 'expired' AND status = 'active'`), notice, r.ID, notice)
	if err != nil {
		return nil, translate(err, "notice card expiry")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil // another worker had it, or the card changed meanwhile
	}
	pm := r.paymentMethod()
	if _, err := appendEvent(ctx, db, tx, billing.Event{MerchantID: pm.MerchantID, Mode: pm.Mode, Type: typ,
		Data: eventData(rest.PaymentMethodObject(pm)), IdempotencyKey: "payment_method/" + pm.ID + "/" + notice}); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("notice card expiry: %w", err)
	}
	return &billing.CardExpiryNotice{Event: typ, PaymentMethod: pm}, nil
}
