package billing

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// PaymentMethodStatus is where a saved card stands.
type PaymentMethodStatus string

// Payment method statuses. Detached is final: the token and card details are erased.
const (
	PaymentMethodActive   PaymentMethodStatus = "active"
	PaymentMethodBlocked  PaymentMethodStatus = "blocked"
	PaymentMethodDetached PaymentMethodStatus = "detached"
)

// PaymentMethodType is the kind of a saved payment method.
type PaymentMethodType string

// Payment method types. A card is charged with its provider token and the card
// network's stored-credential rules; a PayPal method is a billing agreement the payer
// gave at PayPal (through the merchant's provider), charged with its recurrence token.
const (
	PaymentMethodCard   PaymentMethodType = "card"
	PaymentMethodPayPal PaymentMethodType = "paypal"
)

// PayPalDetails is what may be shown of a saved PayPal billing agreement.
type PayPalDetails struct {
	// PayerEmail is the PayPal account's email as the provider reported it (or the
	// merchant gave it on import); "" when unknown.
	PayerEmail string
}

// CardDetails is what may be shown of a saved card.
type CardDetails struct {
	Brand       string
	Last4       string
	ExpMonth    int
	ExpYear     int
	Fingerprint string
}

// PaymentMethod is a saved card or PayPal agreement without its token.
type PaymentMethod struct {
	ID                  string
	MerchantID          string
	Mode                Mode
	CustomerID          string
	Provider            string
	ProviderCustomerRef string
	// Type is card or paypal; Card or PayPal holds its details accordingly.
	Type PaymentMethodType
	// Card is nil for a PayPal method and once the card is detached.
	Card *CardDetails
	// PayPal is nil for a card and once the agreement is detached.
	PayPal     *PayPalDetails
	Status     PaymentMethodStatus
	CreatedAt  time.Time
	UpdatedAt  time.Time
	DetachedAt *time.Time
	// Imported: the card was saved at the provider before the engine knew it (token
	// import), so its cardholder consent exists and a plan's first charge on it is
	// merchant-initiated.
	Imported bool
	// ProviderAccount is the merchant's provider account (pa_…) the card is saved in;
	// "" for the installation's provider.
	ProviderAccount string
}

// NewPaymentMethod is a card a provider has just tokenized, or a PayPal agreement.
type NewPaymentMethod struct {
	CustomerID          string
	Provider            string
	ProviderCustomerRef string
	// Token is the provider's token in the clear; it is stored sealed.
	Token string
	// Type is card when empty; Card is used for a card, PayPal for paypal.
	Type   PaymentMethodType
	Card   CardDetails
	PayPal PayPalDetails
	// Imported marks a card brought over from the provider (token import), with the
	// network transaction id of its original customer-initiated payment, if known.
	Imported             bool
	NetworkTransactionID string
	// ProviderAccount is the merchant's account the card was saved in, if any.
	ProviderAccount string
	// AwaitingApproval creates a PayPal method without its agreement (Token empty): the
	// hosted page's payer is about to approve one at PayPal, and KeepPayPalAgreement
	// gives it the token. Until then no charge can use it.
	AwaitingApproval bool
}

// ChargeableCard is what a charge needs from a saved card. Token is set only for an
// active card; a blocked or detached card comes with its flag and no token. It never
// prints the token.
type ChargeableCard struct {
	PaymentMethodID string
	CustomerID      string
	Provider        string
	// Type is the method's type (card or paypal); the provider charges each its way.
	Type PaymentMethodType
	// ProviderAccount is the merchant's provider account to charge through; "" for the
	// installation's provider.
	ProviderAccount string
	// CustomerRef is the provider's customer the card belongs to.
	CustomerRef string
	// Token is the provider's token, unsealed.
	Token string
	// NetworkTransactionID is the initial customer-initiated payment's network id, which
	// merchant-initiated charges reference; empty until one is recorded.
	NetworkTransactionID string
	Blocked              bool
	Detached             bool
	// MaxChargesPerSecond is the provider account's charge pace (0: not paced).
	MaxChargesPerSecond int
}

// String describes the card without its token.
func (c ChargeableCard) String() string {
	return fmt.Sprintf("ChargeableCard{%s %s via %s blocked=%v detached=%v}", c.PaymentMethodID, c.CustomerID,
		c.Provider, c.Blocked, c.Detached)
}

// GoString keeps %#v as safe as %v.
func (c ChargeableCard) GoString() string { return c.String() }

// LogValue keeps slog from printing the token.
func (c ChargeableCard) LogValue() slog.Value { return slog.StringValue(c.String()) }

// CardCharger is what charging needs of the saved cards: the workflow's activities
// depend on this much of PaymentMethodService.
type CardCharger interface {
	// ChargeableCard returns the merchant's saved card: provider, customer reference,
	// stored network transaction id, and the token when the card is active. A blocked
	// or detached card comes back with its flag set; a missing one (or another
	// merchant's) is a KindNotFound error.
	ChargeableCard(ctx context.Context, merchantID, paymentMethodID string) (ChargeableCard, error)
	// RecordNetworkTransactionID keeps a saved card's initial network transaction id
	// (the first one recorded stays).
	RecordNetworkTransactionID(ctx context.Context, merchantID, paymentMethodID, networkTransactionID string) error
	// KeepPayPalAgreement gives a PayPal method created AwaitingApproval the agreement
	// token the payer's approval created, sealed. Repeating it with the same token is a
	// no-op; a method that has another token, is not PayPal, or is no longer active is a
	// KindConflict error.
	KeepPayPalAgreement(ctx context.Context, merchantID, paymentMethodID, token string) error
}

// PaymentMethodService keeps saved cards. Tokens are sealed at rest and leave only
// through ChargeableCard.
type PaymentMethodService interface {
	CardCharger
	CreatePaymentMethod(ctx context.Context, caller Caller, in NewPaymentMethod) (PaymentMethod, error)
	GetPaymentMethod(ctx context.Context, caller Caller, id string) (PaymentMethod, error)
	ListPaymentMethods(ctx context.Context, caller Caller, customerID string, p ListParams) (Page[PaymentMethod], error)
	// ProviderCustomerRef returns the provider's customer an earlier card of this
	// customer was saved under, or "" when there is none. provider is the
	// installation's provider name, or a provider account id (pa_…).
	ProviderCustomerRef(ctx context.Context, caller Caller, customerID, provider string) (string, error)
	// BlockPaymentMethod and UnblockPaymentMethod move a card between active and
	// blocked (a detached card is a conflict); DetachPaymentMethod erases its token and
	// details for good, keeping a tombstone. Repeating either is a no-op.
	BlockPaymentMethod(ctx context.Context, caller Caller, id string) (PaymentMethod, error)
	UnblockPaymentMethod(ctx context.Context, caller Caller, id string) (PaymentMethod, error)
	DetachPaymentMethod(ctx context.Context, caller Caller, id string) (PaymentMethod, error)
}

// StoredCredential is a detached payment method's credential still held at its
// provider: what removing it there needs. Token is unsealed; it never leaves the
// activity that removes it.
type StoredCredential struct {
	PaymentMethodID string
	MerchantID      string
	Provider        string
	ProviderAccount string
	Type            PaymentMethodType
	CustomerRef     string
	Token           string
}

// Outcomes of removing a stored credential at its provider.
const (
	CredentialRemoved      = "removed"       // the provider removed it (or had it no more)
	CredentialNotSupported = "not_supported" // the provider offers no removal; it stays there
	CredentialNoProvider   = "no_provider"   // the provider account is gone: nothing to call
	CredentialRefused      = "refused"       // the provider refused the removal itself
)

// CredentialRemovals is the outbox of credentials that detached payment methods left
// at their providers (written when a card is detached, in the same transaction).
type CredentialRemovals interface {
	// CredentialToRemove returns the payment method's credential still to remove;
	// ok is false when there is none (never held, or removed already).
	CredentialToRemove(ctx context.Context, merchantID, paymentMethodID string) (c StoredCredential, ok bool, err error)
	// FinishCredentialRemoval records the outcome and forgets the token.
	FinishCredentialRemoval(ctx context.Context, merchantID, paymentMethodID, outcome string) error
}

// CredentialRemovalOutbox is how the dispatcher hands credentials to remove to their
// workflows: every detached card gets one, whichever path detached it.
type CredentialRemovalOutbox interface {
	// UnstartedCredentialRemovals returns up to limit removals no workflow was started
	// for yet, oldest first, as (merchant id, payment method id) pairs.
	UnstartedCredentialRemovals(ctx context.Context, limit int) ([][2]string, error)
	// MarkCredentialRemovalStarted records that the removal's workflow was started.
	MarkCredentialRemovalStarted(ctx context.Context, paymentMethodID string) error
}

// CardExpiresAt is when a card with that expiry month stops working: the first instant
// (UTC) of the month after it.
func CardExpiresAt(month, year int) time.Time {
	return time.Date(year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC)
}

// CardExpiringWithin is how long before it expires a card is announced as expiring.
const CardExpiringWithin = 30 * 24 * time.Hour

// CardExpiryNotice is one payment_method.expiring or payment_method.expired event
// written for a card, for the notifier.
type CardExpiryNotice struct {
	Event         string
	PaymentMethod PaymentMethod
	ExpiresAt     time.Time
}

// CardExpiryNotices finds saved cards that expire within CardExpiringWithin or have
// expired and have not been announced so, writes their event (once per card and
// kind), and returns what it wrote.
type CardExpiryNotices interface {
	NoticeExpiringCards(ctx context.Context, now time.Time, limit int) ([]CardExpiryNotice, error)
}
