package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// ProviderAccount is a merchant's own account at a payment provider (its Stripe key,
// its Amazon Payment Services merchant identifier and phrases), so each merchant of
// an installation is paid into its own account. The credentials are sealed at rest and
// never leave the store except to build the adapter that charges with them.
type ProviderAccount struct {
	ID         string
	MerchantID string
	Mode       Mode
	Provider   string
	Name       string
	// BaseURL replaces the provider's scheme and host ("" for the provider's own).
	BaseURL string
	// CredentialFields names the credentials that are set, sorted; never their values.
	CredentialFields []string
	// MaxChargesPerSecond paces the charges sent through the account, across every
	// worker (0: not paced).
	MaxChargesPerSecond int
	CreatedAt           time.Time
}

// NewProviderAccount is an account to create. The API checks the credentials against
// the provider's fields before it gets here.
type NewProviderAccount struct {
	Provider    string
	Name        string
	BaseURL     string
	Credentials Credentials
	// MaxChargesPerSecond: see ProviderAccount (0: not paced).
	MaxChargesPerSecond int
}

// Credentials are a provider account's secrets by field name. String and GoString
// print the field names only.
type Credentials map[string]string

// Fields returns the names of the set credentials, sorted.
func (c Credentials) Fields() []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// String names the fields without their values.
func (c Credentials) String() string { return fmt.Sprintf("Credentials%v", c.Fields()) }

// GoString keeps %#v as safe as %v.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps slog from printing the values.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON names the fields without their values: encoding credentials is never
// how they are stored (the store seals map[string]string(c) explicitly).
func (c Credentials) MarshalJSON() ([]byte, error) { return json.Marshal(c.Fields()) }

// ProviderAccountKeys is what the charge path needs of an account: the provider, its
// base URL and its credentials, unsealed.
type ProviderAccountKeys struct {
	ID          string
	Mode        Mode
	Provider    string
	BaseURL     string
	Credentials Credentials
	// MaxChargesPerSecond: see ProviderAccount (0: not paced).
	MaxChargesPerSecond int
}

// ProviderAccountService keeps merchants' provider accounts.
type ProviderAccountService interface {
	CreateProviderAccount(ctx context.Context, caller Caller, in NewProviderAccount) (ProviderAccount, error)
	GetProviderAccount(ctx context.Context, caller Caller, id string) (ProviderAccount, error)
	ListProviderAccounts(ctx context.Context, caller Caller, p ListParams) (Page[ProviderAccount], error)
	// UpdateProviderAccount changes an account's name or charge pace (nil: unchanged).
	UpdateProviderAccount(ctx context.Context, caller Caller, id string, name *string, maxChargesPerSecond *int) (ProviderAccount, error)
	// DeleteProviderAccount erases an account's credentials for good; a KindConflict
	// error while an unfinished plan charges a card saved on it.
	DeleteProviderAccount(ctx context.Context, caller Caller, id string) error
	// ProviderAccountKeys returns an undeleted account of the merchant with its
	// credentials unsealed (KindNotFound otherwise), for the adapter that charges.
	ProviderAccountKeys(ctx context.Context, merchantID, id string) (ProviderAccountKeys, error)
	// CallbackAccountKeys returns an undeleted account by id alone, with its merchant,
	// for a provider callback to verify (KindNotFound otherwise).
	CallbackAccountKeys(ctx context.Context, id string) (merchantID string, keys ProviderAccountKeys, err error)
}
