package billing

import (
	"context"
	"time"
)

// Mode separates test objects and keys from live ones: a test key never sees live data.
type Mode string

// Modes. Anything but ModeTest is treated as live, the stricter one.
const (
	ModeLive Mode = "live"
	ModeTest Mode = "test"
)

// Merchant owns every other object; each query is scoped by merchant and mode.
type Merchant struct {
	ID        string    `db:"id"`
	Name      string    `db:"name"`
	CreatedAt time.Time `db:"created_at"`
}

// Caller is who an API key authenticates: a merchant acting in one mode. Every service
// method that takes a Caller sees only that merchant's objects of that mode.
type Caller struct {
	MerchantID string
	Mode       Mode
}

// MerchantService keeps merchants and their API keys.
type MerchantService interface {
	// CreateMerchant creates a merchant with the given secret keys (sk_test_… /
	// sk_live_…), stored hashed.
	CreateMerchant(ctx context.Context, name string, secrets ...string) (Merchant, error)
	// AddAPIKey adds a secret key to a merchant.
	AddAPIKey(ctx context.Context, merchantID, secret string) error
	// Authenticate returns who a secret key belongs to; an unknown or revoked key is a
	// KindUnauthenticated error.
	Authenticate(ctx context.Context, secret string) (Caller, error)
	// CountMerchants counts the installation's merchants.
	CountMerchants(ctx context.Context) (int, error)
}
