// Package providers is the one contract every payment provider adapter implements:
// save a card, charge it on or off session with an idempotency key and stored-credential
// data, refund, and say which payment methods support recurring charges.
//
// Adapters live in sub-packages named after what they wrap (simulator, stripe). Every
// failure they return is a *Error classified by the single table in decline.go, so the
// layers above decide retries from a Class, never from a provider's own vocabulary.
// Nothing here knows Temporal, HTTP routing or SQL.
package providers

import (
	"context"
	"regexp"
	"time"

	"github.com/recurring/recurring/billing"
)

// Provider is a payment provider adapter. Implementations are safe for concurrent use,
// bound every call by a timeout even when ctx has none, and return *Error for every
// failure that reached or concerned the provider.
type Provider interface {
	// Name is the provider's registry key, for example "stripe".
	Name() string
	// Capabilities lists the payment methods the provider offers, one row per method.
	Capabilities() []Capability
	// SaveCard tokenizes a card for a customer. The PAN and CVC go to the provider and are
	// never kept; the result holds only the opaque token and display data.
	SaveCard(ctx context.Context, req SaveCardRequest) (SavedCard, error)
	// Charge moves money from a saved card. The same IdempotencyKey always yields the
	// first result and never a second charge.
	Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error)
	// Refund returns money from a charge, or an error wrapping ErrNotSupported.
	Refund(ctx context.Context, req RefundRequest) (RefundResult, error)
	// Detach removes a saved card (or billing agreement) from the provider for good,
	// so nothing can charge it again. One already gone is not an error (IsGone tells
	// the caller). A provider with no way to remove a stored credential returns an
	// error wrapping ErrNotSupported.
	Detach(ctx context.Context, req DetachRequest) error
}

// DetachRequest names a stored credential to remove: SavedCard.Token and CustomerRef
// (or a PayPal agreement, Method MethodPayPal).
type DetachRequest struct {
	Token       string
	CustomerRef string
	Method      string
}

// IsGone reports whether err says the provider has no such stored credential: a
// Detach that finds it already removed has nothing left to do.
func IsGone(err error) bool {
	e, ok := AsError(err)
	return ok && (e.Code == billing.CodeResourceMissing || e.Code == billing.CodePaymentMethodNotFound)
}

// Initiator says who starts a charge, which card networks need to know: the first
// charge of a stored credential is customer-initiated (CIT, the cardholder consents and
// may authenticate); later recurring charges are merchant-initiated (MIT) and reference
// the initial charge's network transaction id.
type Initiator string

// The two initiators of a stored-credential charge.
const (
	// InitiatorCustomer marks a customer-initiated transaction: a one-off or the initial
	// payment of a plan, with the cardholder present.
	InitiatorCustomer Initiator = "customer"
	// InitiatorMerchant marks a merchant-initiated transaction: a recurring installment
	// charged off session.
	InitiatorMerchant Initiator = "merchant"
)

// SaveCardRequest asks a provider to tokenize a card for one customer.
type SaveCardRequest struct {
	// CustomerID is the engine's customer id (cus_…), kept as provider metadata.
	CustomerID string
	// ProviderCustomerRef is the provider's customer from an earlier SaveCard; when set the
	// card is added to that customer instead of creating a new one.
	ProviderCustomerRef string
	Email               string
	Name                string
	Card                Card
	// IdempotencyKey is optional: saving moves no money, but a key makes a retried save
	// return the same token instead of a duplicate one.
	IdempotencyKey string
}

// SavedCard is what remains of a card after tokenizing: nothing that can be charged
// without the provider.
type SavedCard struct {
	// Token is the provider's opaque reference to the stored card; store it encrypted.
	Token string `json:"token"`
	// CustomerRef is the provider's customer the card belongs to.
	CustomerRef string `json:"customer_ref"`
	Brand       string `json:"brand"`
	Last4       string `json:"last4"`
	ExpMonth    int    `json:"exp_month"`
	ExpYear     int    `json:"exp_year"`
	// Fingerprint is the same for the same card number within one provider account, so
	// duplicates can be spotted without the PAN.
	Fingerprint string `json:"fingerprint"`
}

// ChargeRequest asks a provider to charge a saved card.
type ChargeRequest struct {
	// Token is SavedCard.Token.
	Token string
	// CustomerRef is SavedCard.CustomerRef; providers that scope cards to customers need it.
	CustomerRef string
	// Amount is in the currency's ISO 4217 minor unit (1050 USD is $10.50).
	Amount int64
	// Currency is the upper-case ISO 4217 code.
	Currency string
	// IdempotencyKey is required. Retries of the same attempt reuse it, so a crash after
	// the provider accepted the charge can never charge twice.
	IdempotencyKey string
	Initiator      Initiator
	// NetworkTransactionID is the id the card network gave the initial customer-initiated
	// charge; merchant-initiated charges pass it so the issuer links them to the consent.
	NetworkTransactionID string
	Description          string
	Metadata             map[string]string
	// Authentication is the 3-D Secure result a customer-present charge carries (see
	// Authenticator); nil when the cardholder was not authenticated.
	Authentication *Authentication
	// MOTO flags a mail or telephone order: the merchant's agent typed the card, there is
	// no cardholder to authenticate.
	MOTO bool
	// Method is the saved method's kind, MethodCard (also when empty) or MethodPayPal
	// (Token is then the provider's token for the payer's billing agreement). An adapter
	// refuses a method its capabilities do not list (CheckMethod).
	Method string
}

// MethodOf is the request's payment method, MethodCard when unset.
func (r ChargeRequest) MethodOf() string {
	if r.Method == "" {
		return MethodCard
	}
	return r.Method
}

// ChargeStatus is the state of a charge the provider accepted. Declines are errors, not
// statuses.
type ChargeStatus string

// Charge statuses.
const (
	// ChargeSucceeded means the money moved.
	ChargeSucceeded ChargeStatus = "succeeded"
	// ChargePending means the provider accepted the charge and will settle it
	// asynchronously; the outcome arrives later (webhook or lookup).
	ChargePending ChargeStatus = "pending"
)

// ChargeResult is an accepted charge.
type ChargeResult struct {
	// ID is the provider's charge id, the reference for refunds and reconciliation.
	ID     string       `json:"id"`
	Status ChargeStatus `json:"status"`
	// NetworkTransactionID is the card network's id for this charge. Keep the one from the
	// initial charge: later merchant-initiated charges must reference it.
	NetworkTransactionID string `json:"network_transaction_id,omitempty"`
	Amount               int64  `json:"amount"`
	Currency             string `json:"currency"`
}

// RefundRequest asks a provider to return money from a charge.
type RefundRequest struct {
	// ChargeID is ChargeResult.ID.
	ChargeID string
	// Amount in minor units; 0 refunds whatever remains of the charge.
	Amount int64
	// Currency of the charge, upper-case; empty when Amount is 0.
	Currency string
	// IdempotencyKey is required, as for charges.
	IdempotencyKey string
	Reason         string
}

// RefundResult is an accepted refund.
type RefundResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Amount int64  `json:"amount"`
}

// DefaultTimeout bounds a provider call when the adapter is not told otherwise. It is
// long enough for a slow issuer and short enough that a stuck call is retried by the
// activity (with the same idempotency key) well within its schedule.
const DefaultTimeout = 30 * time.Second

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// Validate checks a charge request before it reaches a provider, so every adapter
// rejects the same mistakes with the same codes.
func (r ChargeRequest) Validate() error {
	switch {
	case r.IdempotencyKey == "":
		return invalid(billing.CodeIdempotencyKeyRequired, "idempotency_key", "a charge needs an idempotency key")
	case r.Token == "":
		return invalid(billing.CodePaymentMethodNotFound, "token", "a charge needs a saved card token")
	case r.Amount <= 0:
		return invalid(billing.CodeInvalidAmount, "amount", "amount must be a positive number of minor units")
	case !currencyCode.MatchString(r.Currency):
		return invalid(billing.CodeInvalidCurrency, "currency", "currency must be an upper-case ISO 4217 code")
	case r.Initiator != InitiatorCustomer && r.Initiator != InitiatorMerchant:
		return invalid(billing.CodeInvalidRequest, "initiator", `initiator must be "customer" or "merchant"`)
	case r.MethodOf() != MethodCard && r.MethodOf() != MethodPayPal:
		return invalid(billing.CodeInvalidRequest, "method", `method must be "card" or "paypal"`)
	}
	return nil
}

// ValidateLookup checks a request FindCharge is asked about. Token may be empty: the
// card is gone from the engine (detached) or hidden (blocked), and the charge is found
// by its key alone.
func (r ChargeRequest) ValidateLookup() error {
	if r.Token == "" {
		r.Token = "-"
	}
	return r.Validate()
}

// Validate checks a refund request before it reaches a provider.
func (r RefundRequest) Validate() error {
	switch {
	case r.IdempotencyKey == "":
		return invalid(billing.CodeIdempotencyKeyRequired, "idempotency_key", "a refund needs an idempotency key")
	case r.ChargeID == "":
		return invalid(billing.CodeInvalidRequest, "charge_id", "a refund needs a charge id")
	case r.Amount < 0:
		return invalid(billing.CodeInvalidAmount, "amount", "amount must not be negative")
	case r.Amount > 0 && !currencyCode.MatchString(r.Currency):
		return invalid(billing.CodeInvalidCurrency, "currency", "currency must be an upper-case ISO 4217 code")
	}
	return nil
}

func invalid(code, param, msg string) *Error {
	return &Error{Class: ClassInvalidRequest, Code: code, Param: param, Message: msg}
}
