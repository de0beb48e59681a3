package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recurring/recurring/billing"
)

// APIKey is a merchant's secret key as stored: only its hash and a hint.
type APIKey struct {
	ID         string       `db:"id"`
	MerchantID string       `db:"merchant_id"`
	Mode       billing.Mode `db:"mode"`
	KeyHash    string       `db:"key_hash"`
	KeyHint    string       `db:"key_hint"`
	CreatedAt  time.Time    `db:"created_at"`
	RevokedAt  *time.Time   `db:"revoked_at"`
}

// NewSecretKey returns a fresh secret key for mode: sk_test_… or sk_live_… with 256
// random bits.
func NewSecretKey(mode billing.Mode) string {
	return "sk_" + string(mode) + "_" + billing.RandomToken(32)
}

func hashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func keyMode(secret string) (billing.Mode, bool) {
	switch {
	case strings.HasPrefix(secret, "sk_test_"):
		return billing.ModeTest, true
	case strings.HasPrefix(secret, "sk_live_"):
		return billing.ModeLive, true
	}
	return "", false
}

// CreateMerchant stores a merchant with the given secret keys (one per mode they name).
// Keys are passed in rather than made here so `recurring dev --api-key` can fix one.
func (db *DB) CreateMerchant(ctx context.Context, name string, secrets ...string) (billing.Merchant, error) {
	m := billing.Merchant{ID: billing.NewID(billing.PrefixMerchant), Name: name, CreatedAt: time.Now().UTC()}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return billing.Merchant{}, fmt.Errorf("create merchant: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO merchants (id, name, created_at) VALUES (?, ?, ?)`),
		m.ID, m.Name, m.CreatedAt); err != nil {
		return billing.Merchant{}, translate(err, "create merchant")
	}
	for _, secret := range secrets {
		if err := insertAPIKey(ctx, tx, m.ID, secret, m.CreatedAt); err != nil {
			return billing.Merchant{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return billing.Merchant{}, fmt.Errorf("create merchant: %w", err)
	}
	return m, nil
}

// AddAPIKey gives merchantID another secret key.
func (db *DB) AddAPIKey(ctx context.Context, merchantID, secret string) error {
	return insertAPIKey(ctx, db.DB, merchantID, secret, time.Now().UTC())
}

func insertAPIKey(ctx context.Context, ext sqlx.ExtContext, merchantID, secret string, now time.Time) error {
	mode, ok := keyMode(secret)
	if !ok || len(secret) < len("sk_test_")+16 {
		return billing.Invalid("api_key", billing.CodeInvalidAPIKey, "an API key must start with sk_test_ or sk_live_ followed by at least 16 characters")
	}
	k := APIKey{
		ID: billing.NewID(billing.PrefixAPIKey), MerchantID: merchantID, Mode: mode,
		KeyHash: hashKey(secret), KeyHint: secret[len(secret)-4:], CreatedAt: now,
	}
	if _, err := sqlx.NamedExecContext(ctx, ext, `INSERT INTO api_keys (id, merchant_id, mode, key_hash, key_hint, created_at)
		VALUES (:id, :merchant_id, :mode, :key_hash, :key_hint, :created_at)`, k); err != nil {
		return translate(err, "create api key")
	}
	return nil
}

// Authenticate returns the caller a secret key belongs to, or an unauthenticated error.
func (db *DB) Authenticate(ctx context.Context, secret string) (billing.Caller, error) {
	unauthenticated := &billing.Error{Kind: billing.KindUnauthenticated, Code: billing.CodeInvalidAPIKey, Message: "invalid API key"}
	if _, ok := keyMode(secret); !ok {
		return billing.Caller{}, unauthenticated
	}
	want := hashKey(secret)
	var k APIKey
	err := db.GetContext(ctx, &k, db.Rebind(`SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL`), want)
	if err != nil {
		if billing.KindOf(translate(err, "")) == billing.KindNotFound {
			return billing.Caller{}, unauthenticated
		}
		return billing.Caller{}, fmt.Errorf("authenticate: %w", err)
	}
	// The index lookup already matched; comparing again in constant time keeps the
	// answer from depending on how much of a guessed hash was right.
	if subtle.ConstantTimeCompare([]byte(k.KeyHash), []byte(want)) != 1 {
		return billing.Caller{}, unauthenticated
	}
	return billing.Caller{MerchantID: k.MerchantID, Mode: k.Mode}, nil
}

// CountMerchants returns how many merchants exist; dev uses it to create a default one
// only on first start.
func (db *DB) CountMerchants(ctx context.Context) (int, error) {
	var n int
	if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM merchants`); err != nil {
		return 0, fmt.Errorf("count merchants: %w", err)
	}
	return n, nil
}
