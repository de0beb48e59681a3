package billing

import (
	"context"
	"time"
)

// Address is a billing address; Country is an ISO 3166-1 alpha-2 code.
type Address struct {
	Line1      string
	Line2      string
	City       string
	State      string
	PostalCode string
	Country    string
}

// Customer is a merchant's customer in one mode.
type Customer struct {
	ID         string
	MerchantID string
	Mode       Mode
	Email      string
	FirstName  string
	LastName   string
	// Address is nil when the customer has none.
	Address   *Address
	Metadata  map[string]string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// NewCustomer is what CreateCustomer stores; the caller has validated it.
type NewCustomer struct {
	Email     string
	FirstName string
	LastName  string
	Address   *Address
	Metadata  map[string]string
}

// CustomerPatch changes some of a customer's fields; nil fields stay as they are.
type CustomerPatch struct {
	Email     *string
	FirstName *string // "" clears
	LastName  *string // "" clears
	// SetAddress replaces the address with Address (nil removes it).
	SetAddress bool
	Address    *Address
	// Metadata is merged key by key; a key with an empty value is removed.
	Metadata map[string]string
}

// CustomerFilter narrows ListCustomers.
type CustomerFilter struct {
	// Email matches case-insensitively when set.
	Email string
}

// CustomerService keeps a merchant's customers. A customer another merchant or mode
// owns is KindNotFound, as is a deleted one.
type CustomerService interface {
	CreateCustomer(ctx context.Context, caller Caller, in NewCustomer) (Customer, error)
	GetCustomer(ctx context.Context, caller Caller, id string) (Customer, error)
	UpdateCustomer(ctx context.Context, caller Caller, id string, patch CustomerPatch) (Customer, error)
	// DeleteCustomer erases the customer's personal data and detaches its saved cards,
	// keeping tombstones so payment history stays whole, and returns the detached cards'
	// ids. The caller checks first that no unfinished plan uses the customer
	// (PlanService.CountUnfinishedPlans).
	DeleteCustomer(ctx context.Context, caller Caller, id string) ([]string, error)
	ListCustomers(ctx context.Context, caller Caller, filter CustomerFilter, p ListParams) (Page[Customer], error)
}
