package providers

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/recurring/recurring/billing"
)

// The payment methods of the capability matrix (ChargeRequest.Method).
const (
	// MethodCard is the payment method of card-not-present card payments.
	MethodCard = "card"
	// MethodPayPal is a PayPal billing agreement charged through the provider.
	MethodPayPal = "paypal"
)

// Capability is one row of the capability matrix: what a provider can do with one
// payment method. GET /v1/providers renders the matrix as is.
type Capability struct {
	Provider string `json:"provider"`
	Method   string `json:"method"`
	// Recurring is true when merchant-initiated charges on a saved method are supported;
	// plans need it.
	Recurring bool `json:"recurring"`
	Refunds   bool `json:"refunds"`
	// ThreeDS is true when the customer-present first payment can be strongly
	// authenticated on the hosted page (the adapter is an Authenticator).
	ThreeDS bool `json:"three_d_secure"`
	// MOTO is true when a mail or telephone order is flagged as such to the provider
	// (ChargeRequest.MOTO is sent on).
	MOTO bool `json:"moto"`
	// HostedPage is true when the customer can give this method on the engine's hosted
	// page: a card typed in, or a PayPal agreement approved through PayPal's redirect
	// (the adapter's BeginAuthentication takes AuthenticationRequest.Method).
	HostedPage bool `json:"hosted_page"`
	// Currencies lists the upper-case ISO 4217 codes accepted; empty means any.
	Currencies []string `json:"currencies,omitempty"`
}

// SupportsCurrency reports whether the row accepts currency.
func (c Capability) SupportsCurrency(currency string) bool {
	return len(c.Currencies) == 0 || slices.Contains(c.Currencies, strings.ToUpper(currency))
}

// Find returns the row for method in caps.
func Find(caps []Capability, method string) (Capability, bool) {
	for _, c := range caps {
		if c.Method == method {
			return c, true
		}
	}
	return Capability{}, false
}

// CheckMethod refuses a charge whose payment method the provider's capabilities do
// not list (a PayPal agreement sent to a card-only adapter): an invalid request that
// wraps ErrNotSupported, so nothing is sent.
func CheckMethod(caps []Capability, req ChargeRequest) error {
	if _, ok := Find(caps, req.MethodOf()); ok {
		return nil
	}
	provider := ""
	if len(caps) > 0 {
		provider = caps[0].Provider
	}
	return &Error{Class: ClassInvalidRequest, Code: billing.CodePaymentMethodUnusable, Param: "method", Provider: provider,
		Message: fmt.Sprintf("%s cannot charge a %s payment method", provider, req.MethodOf()), Err: ErrNotSupported}
}

// RecurringNotSupported is the error for a plan or recurring charge on a provider and
// method that cannot charge off session. It is a hard decline: no retry can fix it.
func RecurringNotSupported(provider, method string) *Error {
	return &Error{
		Class:    ClassHardDecline,
		Code:     billing.CodeRecurringNotSupported,
		Provider: provider,
		Message:  fmt.Sprintf("%s does not support recurring payments with %s", provider, method),
		Err:      ErrNotSupported,
	}
}

// Registry holds the configured providers by name. It is built once at start-up and
// read-only afterwards, so it needs no locking.
type Registry struct {
	byName map[string]Provider
	names  []string
}

// NewRegistry registers providers under their Name; names must be unique and non-empty.
func NewRegistry(ps ...Provider) (*Registry, error) {
	r := &Registry{byName: make(map[string]Provider, len(ps))}
	for _, p := range ps {
		name := p.Name()
		if name == "" {
			return nil, fmt.Errorf("register provider: empty name")
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("register provider %q: registered twice", name)
		}
		r.byName[name] = p
		r.names = append(r.names, name)
	}
	sort.Strings(r.names)
	return r, nil
}

// Names lists the registered providers, sorted.
func (r *Registry) Names() []string { return slices.Clone(r.names) }

// Get returns the provider called name, or an unknown_provider error about the
// "provider" field.
func (r *Registry) Get(name string) (Provider, error) {
	p, ok := r.byName[name]
	if !ok {
		return nil, &Error{Class: ClassInvalidRequest, Code: billing.CodeUnknownProvider, Param: "provider",
			Message: fmt.Sprintf("no provider named %q is configured", name)}
	}
	return p, nil
}

// Capabilities is the whole matrix, sorted by provider then method, for GET
// /v1/providers. It is never nil, so it renders as [] rather than null.
func (r *Registry) Capabilities() []Capability {
	out := []Capability{}
	for _, name := range r.names {
		caps := slices.Clone(r.byName[name].Capabilities())
		sort.Slice(caps, func(i, j int) bool { return caps[i].Method < caps[j].Method })
		out = append(out, caps...)
	}
	return out
}

// Capability returns the row for provider and method.
func (r *Registry) Capability(provider, method string) (Capability, bool) {
	p, ok := r.byName[provider]
	if !ok {
		return Capability{}, false
	}
	return Find(p.Capabilities(), method)
}

// CheckRecurring rejects a plan or merchant-initiated payment on a provider and method
// that cannot charge off session: unknown_provider for a provider that is not
// configured, recurring_not_supported for a method the provider does not offer or
// offers without recurring.
func (r *Registry) CheckRecurring(provider, method string) error {
	if _, err := r.Get(provider); err != nil {
		return err
	}
	c, ok := r.Capability(provider, method)
	if !ok || !c.Recurring {
		return RecurringNotSupported(provider, method)
	}
	return nil
}
