// Package stripe adapts Stripe (github.com/stripe/stripe-go/v85) to providers.Provider.
//
// Saving a card creates a Customer (unless one is given), creates a card PaymentMethod
// from the raw card data and attaches it. Sending raw card numbers to the Stripe API
// requires the "raw card data APIs" permission on live accounts (and PCI SAQ D); without
// it live Stripe answers 402/400 and integrations tokenize in the browser with
// Stripe.js instead. stripe-mock and test mode accept raw test numbers.
//
// Charging creates and confirms a PaymentIntent in one call with the caller's
// idempotency key. A customer-initiated charge sets setup_future_usage=off_session, so
// Stripe records the cardholder's consent and the network transaction id; a
// merchant-initiated charge sets off_session=true and Stripe chains it to that stored
// credential itself. Stripe therefore takes no network transaction id from us (its
// mit_exemption parameter is gated and only needed for cards migrated from another
// processor); the adapter still returns each charge's id so the engine keeps it for a
// future provider migration.
package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdk "github.com/stripe/stripe-go/v85"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Name is the adapter's registry name.
const Name = "stripe"

// Config configures the adapter. Its String, GoString, LogValue and MarshalJSON redact
// the secret key, so logging a Config (or a struct holding one) is safe.
type Config struct {
	// SecretKey is a secret (sk_…) or restricted (rk_…) API key.
	SecretKey string
	// BaseURL overrides https://api.stripe.com, for stripe-mock.
	BaseURL string
	// Timeout bounds every provider call; providers.DefaultTimeout when zero.
	Timeout time.Duration
	// MaxNetworkRetries lets stripe-go retry connection failures itself. The default 0
	// leaves retries to the engine's activity retry policy, which reuses the idempotency
	// key and sees every attempt.
	MaxNetworkRetries int64
	// HTTPClient replaces the default client (whose timeout is Timeout).
	HTTPClient *http.Client
}

// Validate reports what is wrong with the configuration, without echoing the key.
func (c Config) Validate() error {
	if c.SecretKey == "" {
		return errors.New("stripe: secret key is required")
	}
	if !strings.HasPrefix(c.SecretKey, "sk_") && !strings.HasPrefix(c.SecretKey, "rk_") {
		return errors.New("stripe: secret key must start with sk_ (or rk_ for a restricted key); publishable keys (pk_) cannot charge")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("stripe: base URL %q must be an absolute http(s) URL", c.BaseURL)
		}
	}
	if c.Timeout < 0 || c.MaxNetworkRetries < 0 {
		return errors.New("stripe: timeout and max network retries must not be negative")
	}
	return nil
}

func (c Config) redactedKey() string {
	switch {
	case c.SecretKey == "":
		return ""
	case strings.HasPrefix(c.SecretKey, "sk_live_"), strings.HasPrefix(c.SecretKey, "rk_live_"):
		return c.SecretKey[:8] + "[REDACTED]"
	case strings.HasPrefix(c.SecretKey, "sk_test_"), strings.HasPrefix(c.SecretKey, "rk_test_"):
		return c.SecretKey[:8] + "[REDACTED]"
	}
	return "[REDACTED]"
}

// String describes the configuration with the key redacted.
func (c Config) String() string {
	return fmt.Sprintf("stripe.Config{SecretKey:%s BaseURL:%q Timeout:%s MaxNetworkRetries:%d}",
		c.redactedKey(), c.BaseURL, c.Timeout, c.MaxNetworkRetries)
}

// GoString makes %#v as safe as %v.
func (c Config) GoString() string { return c.String() }

// LogValue keeps the key out of slog.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("secret_key", c.redactedKey()),
		slog.String("base_url", c.BaseURL),
		slog.Duration("timeout", c.Timeout),
	)
}

// MarshalJSON keeps the key out of JSON dumps of configuration.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"secret_key": c.redactedKey(), "base_url": c.BaseURL, "timeout": c.Timeout.String(),
		"max_network_retries": c.MaxNetworkRetries,
	})
}

// Provider is the Stripe adapter. It is safe for concurrent use.
type Provider struct {
	client  *sdk.Client
	timeout time.Duration
}

var _ providers.Provider = (*Provider)(nil)

// New validates cfg and builds the adapter. It makes no network call.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = providers.DefaultTimeout
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = &http.Client{Timeout: timeout}
	}
	bc := &sdk.BackendConfig{
		HTTPClient:        httpClient,
		MaxNetworkRetries: sdk.Int64(cfg.MaxNetworkRetries),
		// stripe-go's own logging is off: errors come back as *providers.Error, and the
		// caller logs them without request bodies.
		LeveledLogger: &sdk.LeveledLogger{Level: sdk.LevelNull},
	}
	if cfg.BaseURL != "" {
		bc.URL = sdk.String(strings.TrimRight(cfg.BaseURL, "/"))
	}
	client := sdk.NewClient(cfg.SecretKey, sdk.WithBackends(sdk.NewBackendsWithConfig(bc)))
	return &Provider{client: client, timeout: timeout}, nil
}

// Name returns "stripe".
func (p *Provider) Name() string { return Name }

// String names the adapter; the client inside holds the key and is never printed.
func (p *Provider) String() string { return "stripe.Provider" }

// GoString keeps %#v from dumping the client and its key.
func (p *Provider) GoString() string { return p.String() }

// LogValue keeps slog from dumping the client and its key.
func (p *Provider) LogValue() slog.Value { return slog.StringValue(p.String()) }

// Capabilities: cards, with off-session recurring charges, refunds and 3-D Secure on
// Stripe's page. MOTO is not declared: the adapter does not send Stripe's
// payment_method_options.card.moto (an account-gated feature), so a MOTO order reaches
// Stripe as an ordinary card payment.
func (p *Provider) Capabilities() []providers.Capability {
	return []providers.Capability{{Provider: Name, Method: providers.MethodCard, Recurring: true, Refunds: true, ThreeDS: true, HostedPage: true}}
}

// SaveCard creates the customer if needed, creates the card PaymentMethod and attaches
// it. With an idempotency key each of the three calls gets a derived key, so a retried
// save creates nothing twice.
func (p *Provider) SaveCard(ctx context.Context, req providers.SaveCardRequest) (providers.SavedCard, error) {
	card, err := providers.CheckCard(req.Card, time.Now())
	if err != nil {
		return providers.SavedCard{}, own(err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	customer := req.ProviderCustomerRef
	if customer == "" {
		params := &sdk.CustomerCreateParams{}
		if req.Email != "" {
			params.Email = sdk.String(req.Email)
		}
		if req.Name != "" {
			params.Name = sdk.String(req.Name)
		}
		if req.CustomerID != "" {
			params.Metadata = map[string]string{"recurring_customer_id": req.CustomerID}
		}
		setKey(&params.Params, req.IdempotencyKey, "customer")
		c, err := p.client.V1Customers.Create(ctx, params)
		if err != nil {
			return providers.SavedCard{}, mapError(err)
		}
		customer = c.ID
	}

	pmParams := &sdk.PaymentMethodCreateParams{
		Type: sdk.String("card"),
		Card: &sdk.PaymentMethodCreateCardParams{
			Number:   sdk.String(card.Number),
			ExpMonth: sdk.Int64(int64(card.ExpMonth)),
			ExpYear:  sdk.Int64(int64(card.ExpYear)),
		},
	}
	if card.CVC != "" {
		pmParams.Card.CVC = sdk.String(card.CVC)
	}
	setKey(&pmParams.Params, req.IdempotencyKey, "payment_method")
	pm, err := p.client.V1PaymentMethods.Create(ctx, pmParams)
	if err != nil {
		return providers.SavedCard{}, mapError(err)
	}
	attach := &sdk.PaymentMethodAttachParams{Customer: sdk.String(customer)}
	setKey(&attach.Params, req.IdempotencyKey, "attach")
	if _, err := p.client.V1PaymentMethods.Attach(ctx, pm.ID, attach); err != nil {
		return providers.SavedCard{}, mapError(err)
	}

	saved := providers.SavedCard{Token: pm.ID, CustomerRef: customer}
	if pm.Card != nil {
		saved.Brand = string(pm.Card.Brand)
		saved.Last4 = pm.Card.Last4
		saved.ExpMonth = int(pm.Card.ExpMonth)
		saved.ExpYear = int(pm.Card.ExpYear)
		saved.Fingerprint = pm.Card.Fingerprint
	}
	return saved, nil
}

func setKey(p *sdk.Params, key, step string) {
	if key != "" {
		p.SetIdempotencyKey(key + "/" + step)
	}
}

// Charge creates and confirms a PaymentIntent; see the package comment for how
// customer- and merchant-initiated charges differ.
func (p *Provider) Charge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	if err := req.Validate(); err != nil {
		return providers.ChargeResult{}, own(err)
	}
	if err := providers.CheckMethod(p.Capabilities(), req); err != nil {
		return providers.ChargeResult{}, own(err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if a := req.Authentication; a != nil && strings.HasPrefix(a.ID, "pi_") {
		return p.chargeAuthenticated(ctx, req)
	}
	amount, err := p.ProviderAmount(req.Amount, req.Currency)
	if err != nil {
		return providers.ChargeResult{}, invalidAmount(err)
	}

	params := &sdk.PaymentIntentCreateParams{
		Amount:             sdk.Int64(amount),
		Currency:           sdk.String(strings.ToLower(req.Currency)),
		PaymentMethod:      sdk.String(req.Token),
		PaymentMethodTypes: []*string{sdk.String("card")},
		Confirm:            sdk.Bool(true),
		Metadata:           maps.Clone(req.Metadata),
	}
	if params.Metadata == nil {
		params.Metadata = map[string]string{}
	}
	params.Metadata["recurring_initiator"] = string(req.Initiator)
	// FindCharge recognises the intent by its key after Stripe forgot the key itself.
	params.Metadata[keyMetadata] = req.IdempotencyKey
	if req.CustomerRef != "" {
		params.Customer = sdk.String(req.CustomerRef)
	}
	if req.Description != "" {
		params.Description = sdk.String(req.Description)
	}
	switch req.Initiator {
	case providers.InitiatorMerchant:
		params.OffSession = sdk.Bool(true)
	case providers.InitiatorCustomer:
		params.SetupFutureUsage = sdk.String("off_session")
		// The engine has no page to run 3-D Secure on: fail fast with
		// authentication_required instead of leaving the intent waiting.
		params.ErrorOnRequiresAction = sdk.Bool(true)
	}
	params.AddExpand("latest_charge")
	params.SetIdempotencyKey(req.IdempotencyKey)

	pi, err := p.client.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		return providers.ChargeResult{}, mapError(err)
	}
	return p.chargeResult(pi)
}

// invalidAmount is an amount Stripe cannot represent: an invalid request, never sent.
func invalidAmount(err error) error {
	return &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest, Code: billing.CodeAmountNotSupported,
		Param: "amount", Message: err.Error(), Err: err}
}

func (p *Provider) chargeResult(pi *sdk.PaymentIntent) (providers.ChargeResult, error) {
	cur := strings.ToUpper(string(pi.Currency))
	res := providers.ChargeResult{ID: pi.ID, Amount: p.ISOAmount(pi.Amount, cur), Currency: cur}
	if ch := pi.LatestCharge; ch != nil && ch.PaymentMethodDetails != nil && ch.PaymentMethodDetails.Card != nil {
		res.NetworkTransactionID = ch.PaymentMethodDetails.Card.NetworkTransactionID
	}
	switch pi.Status {
	case sdk.PaymentIntentStatusSucceeded:
		res.Status = providers.ChargeSucceeded
		return res, nil
	case sdk.PaymentIntentStatusProcessing, sdk.PaymentIntentStatusRequiresCapture:
		res.Status = providers.ChargePending
		return res, nil
	case sdk.PaymentIntentStatusRequiresAction:
		return providers.ChargeResult{}, providers.Classify(providers.Failure{
			Provider: Name, Reason: "authentication_required", HTTPStatus: http.StatusOK, ChargeID: pi.ID,
		})
	}
	// requires_payment_method / canceled: the attempt failed; its reason, if Stripe gave
	// one, is the last payment error.
	if pi.LastPaymentError != nil {
		f := failure(pi.LastPaymentError, nil)
		f.HTTPStatus = http.StatusPaymentRequired
		f.ChargeID = pi.ID
		return providers.ChargeResult{}, providers.Classify(f)
	}
	return providers.ChargeResult{}, providers.Classify(providers.Failure{
		Provider: Name, HTTPStatus: http.StatusOK, ChargeID: pi.ID,
		Message: fmt.Sprintf("payment intent ended in status %s", pi.Status),
	})
}

// Refund refunds a PaymentIntent in full (Amount 0) or in part.
func (p *Provider) Refund(ctx context.Context, req providers.RefundRequest) (providers.RefundResult, error) {
	if err := req.Validate(); err != nil {
		return providers.RefundResult{}, own(err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	params := &sdk.RefundCreateParams{PaymentIntent: sdk.String(req.ChargeID)}
	if req.Amount > 0 {
		amount, err := p.ProviderAmount(req.Amount, req.Currency)
		if err != nil {
			return providers.RefundResult{}, invalidAmount(err)
		}
		params.Amount = sdk.Int64(amount)
	}
	switch sdk.RefundReason(req.Reason) {
	case sdk.RefundReasonDuplicate, sdk.RefundReasonFraudulent, sdk.RefundReasonRequestedByCustomer:
		params.Reason = sdk.String(req.Reason)
	case "":
	default:
		params.Metadata = map[string]string{"reason": req.Reason}
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	r, err := p.client.V1Refunds.Create(ctx, params)
	if err != nil {
		return providers.RefundResult{}, mapError(err)
	}
	return providers.RefundResult{ID: r.ID, Status: string(r.Status), Amount: p.ISOAmount(r.Amount, string(r.Currency))}, nil
}

// own stamps the adapter's name on a shared validation error.
// Detach detaches the PaymentMethod from its Customer: Stripe then refuses to charge
// it, and it cannot be attached again. One already detached (or unknown) is
// resource_missing, which providers.IsGone recognizes.
func (p *Provider) Detach(ctx context.Context, req providers.DetachRequest) error {
	if req.Token == "" {
		return &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest, Code: billing.CodePaymentMethodNotFound,
			Param: "token", Message: "detach needs the PaymentMethod id"}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if _, err := p.client.V1PaymentMethods.Detach(ctx, req.Token, &sdk.PaymentMethodDetachParams{}); err != nil {
		return mapError(err)
	}
	return nil
}

func own(err error) error {
	if e, ok := providers.AsError(err); ok {
		e.Provider = Name
	}
	return err
}

// mapError turns anything stripe-go returns into a classified *providers.Error.
func mapError(err error) error {
	var se *sdk.Error
	if !errors.As(err, &se) {
		// No Stripe answer: timeout, refused connection, unreadable body.
		return providers.TransportError(Name, err)
	}
	var resp *sdk.APIResponse
	if se.LastResponse != nil {
		resp = se.LastResponse
	}
	return providers.Classify(failure(se, resp))
}

// errorExtras are error fields stripe-go's Error type does not decode yet.
type errorExtras struct {
	Error struct {
		AdviceCode         string `json:"advice_code"`
		NetworkAdviceCode  string `json:"network_advice_code"`
		NetworkDeclineCode string `json:"network_decline_code"`
		PaymentMethod      struct {
			Card struct {
				Brand string `json:"brand"`
			} `json:"card"`
		} `json:"payment_method"`
	} `json:"error"`
}

// failure describes a Stripe error in the shared vocabulary. It deliberately drops the
// *sdk.Error itself: its text embeds the PaymentIntent, client secret included.
func failure(se *sdk.Error, resp *sdk.APIResponse) providers.Failure {
	f := providers.Failure{
		Provider:   Name,
		HTTPStatus: se.HTTPStatusCode,
		Message:    se.Msg,
		Reason:     string(se.Code),
		ChargeID:   se.ChargeID,
	}
	if se.DeclineCode != "" {
		f.Reason = string(se.DeclineCode)
	}
	if se.Type == sdk.ErrorTypeIdempotency {
		f.Reason = "idempotency_conflict"
	}
	if se.PaymentIntent != nil {
		f.ChargeID = se.PaymentIntent.ID
	}
	if se.PaymentMethod != nil && se.PaymentMethod.Card != nil {
		f.Network = string(se.PaymentMethod.Card.Brand)
	}
	if resp != nil {
		var x errorExtras
		if json.Unmarshal(resp.RawJSON, &x) == nil {
			f.AdviceCode = x.Error.NetworkAdviceCode
			f.NetworkCode = x.Error.NetworkDeclineCode
			f.ProviderAdvice = x.Error.AdviceCode
			if f.Network == "" {
				f.Network = x.Error.PaymentMethod.Card.Brand
			}
		}
		f.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	f.Err = fmt.Errorf("stripe %s error %q (status %d, request %s)", se.Type, se.Code, se.HTTPStatusCode, se.RequestID)
	return f
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
