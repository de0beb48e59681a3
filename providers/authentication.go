package providers

import "context"

// Authenticator is implemented by providers that run 3-D Secure for customer-present
// payments: the first payment of a stored credential is strongly authenticated, which
// is what exempts the later merchant-initiated charges. The engine's hosted payment
// page calls BeginAuthentication once the customer gave a card; a challenge sends the
// customer to the issuer's page (ChallengeURL, or the engine's simulated ACS when it is
// empty), whose answer comes back (a signed callback, see CallbackVerifier) and goes to
// CompleteAuthentication; the charge then carries the Authentication.
type Authenticator interface {
	BeginAuthentication(ctx context.Context, req AuthenticationRequest) (Authentication, error)
	CompleteAuthentication(ctx context.Context, req CompleteAuthenticationRequest) (Authentication, error)
}

// AuthenticationCanceler is implemented by providers whose authentication holds money
// (Stripe's authorised PaymentIntent): the engine cancels one that no charge will
// follow, so the customer's funds are released.
type AuthenticationCanceler interface {
	CancelAuthentication(ctx context.Context, id string) error
}

// AuthenticationStatus is where a 3-D Secure authentication stands.
type AuthenticationStatus string

// Authentication statuses.
const (
	// AuthenticationSucceeded: the cardholder was authenticated (frictionless, or after
	// a challenge); Proof is the issuer's cryptogram to charge with.
	AuthenticationSucceeded AuthenticationStatus = "authenticated"
	// AuthenticationChallenge: the issuer wants the cardholder on its page first.
	AuthenticationChallenge AuthenticationStatus = "challenge"
	// AuthenticationUnavailable: the card or issuer does not take part; the payment may
	// go on without it (ECI 07), without the liability shift.
	AuthenticationUnavailable AuthenticationStatus = "unavailable"
	// AuthenticationFailed: the cardholder failed or refused the challenge; the payment
	// must not be charged.
	AuthenticationFailed AuthenticationStatus = "failed"
)

// BrowserInfo is what 3-D Secure 2 asks of the customer's browser, collected by the
// hosted page (device fields by its script, the rest from the request).
type BrowserInfo struct {
	AcceptHeader   string `json:"accept_header,omitempty"`
	Language       string `json:"language,omitempty"`
	UserAgent      string `json:"user_agent,omitempty"`
	IP             string `json:"ip,omitempty"`
	TimeZoneOffset int    `json:"time_zone_offset"` // minutes, as JavaScript's getTimezoneOffset
	ScreenWidth    int    `json:"screen_width,omitempty"`
	ScreenHeight   int    `json:"screen_height,omitempty"`
	ColorDepth     int    `json:"color_depth,omitempty"`
	JavaEnabled    bool   `json:"java_enabled,omitempty"`
}

// AuthenticationRequest starts 3-D Secure for a charge of Amount on a saved card.
type AuthenticationRequest struct {
	Token       string
	CustomerRef string
	Amount      int64
	Currency    string
	// IdempotencyKey makes a retried begin return the same authentication.
	IdempotencyKey string
	Browser        BrowserInfo
	// Setup: no charge follows (a plan's card change, or a verification for a later
	// start). Providers that charge as they authenticate (Stripe) set the card up
	// instead.
	Setup bool
	// ReturnURL is where a provider's own page sends the customer back: the engine's
	// callback route for the provider. Empty when the engine has no public URL; a
	// provider that needs it then answers AuthenticationUnavailable.
	ReturnURL string
	// Session names the hosted session, for the provider to echo in its callback.
	Session Callback
	// Method is the saved method's kind, MethodCard when empty. For MethodPayPal the
	// begin is the payer's approval at PayPal (a ChallengeURL to PayPal's page), made
	// with the first payment; Token is empty until the approval gives the agreement,
	// which CompleteAuthentication returns as MethodToken.
	Method string
}

// CompleteAuthenticationRequest finishes a challenged authentication with the answer
// the cardholder's visit to the challenge page produced.
type CompleteAuthenticationRequest struct {
	ID       string
	Token    string
	Amount   int64
	Currency string
	// Answer is what the challenge page returned: for the simulator's ACS "approve" or
	// "deny"; for a provider, its signed result.
	Answer string
	// Method is the begin's AuthenticationRequest.Method.
	Method string
}

// Authentication is an authentication's state; the charge carries it once Status is
// AuthenticationSucceeded or AuthenticationUnavailable. It holds no card data.
type Authentication struct {
	ID     string               `json:"id"`
	Status AuthenticationStatus `json:"status"`
	// ChallengeURL is the issuer's page for AuthenticationChallenge; empty means the
	// engine's simulated ACS page (test mode).
	ChallengeURL string `json:"challenge_url,omitempty"`
	// ECI is the electronic commerce indicator: 05 authenticated, 07 not.
	ECI string `json:"eci,omitempty"`
	// Proof is the issuer's cryptogram (CAVV) binding the authentication to the card,
	// amount and currency.
	Proof string `json:"proof,omitempty"`
	// MethodToken is the stored credential a succeeded PayPal approval created (the
	// billing agreement's token), read from the provider, never from the browser. It is
	// never serialised: the activity seals it into the payment method and it stays out
	// of workflow payloads.
	MethodToken string `json:"-"`
}
