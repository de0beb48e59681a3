// Package aps adapts Amazon Payment Services (formerly PayFort) to providers.Provider,
// from its public API documentation: JSON requests to /FortAPI/paymentApi signed with
// the merchant's SHA request phrase, every answer's signature checked with the SHA
// response phrase, amounts in the currency's ISO 4217 minor units (100 JOD is 100000),
// and a five-digit response_code (two-digit status, three-digit message).
//
//   - Saving a card is the Merchant Page 2.0 TOKENIZATION form (service_command
//     TOKENIZATION to /FortAPI/paymentPage, the card fields left out of the signature),
//     submitted by the engine, which takes raw card data already (PCI DSS SAQ D, as
//     Stripe's raw card API). The answer is the signed form APS posts to return_url;
//     token_name is the saved card.
//   - A customer-initiated charge is PURCHASE with eci ECOMMERCE (MOTO for a mail or
//     telephone order); every merchant-initiated installment is PURCHASE with eci
//     RECURRING, token_name, customer_email and, where the account uses one, the
//     agreement_id of the stored credential.
//   - merchant_reference is derived from the installment's idempotency key
//     (MerchantReference), so a retry is the same order: APS refuses a second order
//     under it, and CHECK_STATUS finds the first (FindCharge). An answer whose signature
//     fails is never taken as success: its outcome is unknown and is looked up.
//   - REFUND refunds an order by merchant_reference, its maintenance_reference derived
//     from the refund's idempotency key.
//
// APS has no customer object and its recurring PURCHASE needs the customer's email, so
// a saved card's CustomerRef is the email it was saved with. The charge id the engine
// keeps is the order's merchant_reference (what REFUND and CHECK_STATUS take, and what
// the APS back office searches by); APS chains recurring charges to the consent by
// token_name and agreement_id, and reports no network transaction id.
package aps

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Name is the adapter's registry name.
const Name = "amazon_payment_services"

// The documented hosts: paymentApi takes server-to-server JSON, paymentPage the
// browser forms (tokenization).
const (
	ProductionURL     = "https://paymentservices.payfort.com"
	SandboxURL        = "https://sbpaymentservices.payfort.com"
	ProductionPageURL = "https://checkout.payfort.com"
	SandboxPageURL    = "https://sbcheckout.payfort.com"
	// APIPath and PagePath stay whatever BaseURL says.
	APIPath  = "/FortAPI/paymentApi"
	PagePath = "/FortAPI/paymentPage"
)

// Config is an APS merchant account, with the names its dashboard uses. String,
// GoString, LogValue and MarshalJSON redact the access code and both phrases.
type Config struct {
	AccessCode         string
	MerchantIdentifier string
	RequestPhrase      string
	ResponsePhrase     string
	// SHAType is SHA-256, SHA-512, HMAC-256 or HMAC-512, as set in the dashboard.
	SHAType string
	// BaseURL replaces the scheme and host of paymentApi (production by default;
	// SandboxURL for the sandbox; a test double's address in tests).
	BaseURL string
	// PageURL replaces the scheme and host of paymentPage; by default the checkout host
	// that goes with BaseURL (BaseURL itself for any other host).
	PageURL string
	// Language of APS's messages, "en" or "ar"; "en" when empty.
	Language string
	// Timeout bounds every call; providers.DefaultTimeout when zero.
	Timeout    time.Duration
	HTTPClient *http.Client
}

// Validate reports what is wrong with the configuration, without echoing secrets.
func (c Config) Validate() error {
	for name, v := range map[string]string{"access_code": c.AccessCode, "merchant_identifier": c.MerchantIdentifier,
		"request_phrase": c.RequestPhrase, "response_phrase": c.ResponsePhrase} {
		if v == "" {
			return fmt.Errorf("aps: %s is required", name)
		}
	}
	if _, err := hasher(c.SHAType, ""); err != nil {
		return err
	}
	for _, u := range []string{c.BaseURL, c.PageURL} {
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || strings.Trim(p.Path, "/") != "" {
			return fmt.Errorf("aps: base URL %q must be a scheme and host (the documented path is kept)", u)
		}
	}
	if c.Language != "" && c.Language != "en" && c.Language != "ar" {
		return errors.New(`aps: language must be "en" or "ar"`)
	}
	if c.Timeout < 0 {
		return errors.New("aps: timeout must not be negative")
	}
	return nil
}

// String describes the configuration with its secrets redacted.
func (c Config) String() string {
	return fmt.Sprintf("aps.Config{MerchantIdentifier:%q AccessCode:[REDACTED] RequestPhrase:[REDACTED] ResponsePhrase:[REDACTED] SHAType:%s BaseURL:%q}",
		c.MerchantIdentifier, c.SHAType, c.BaseURL)
}

// GoString makes %#v as safe as %v.
func (c Config) GoString() string { return c.String() }

// LogValue keeps the secrets out of slog.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("merchant_identifier", c.MerchantIdentifier), slog.String("sha_type", c.SHAType),
		slog.String("base_url", c.BaseURL))
}

// MarshalJSON keeps the secrets out of JSON dumps of configuration.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"merchant_identifier": c.MerchantIdentifier, "sha_type": c.SHAType,
		"base_url": c.BaseURL, "access_code": "[REDACTED]", "request_phrase": "[REDACTED]", "response_phrase": "[REDACTED]"})
}

// Provider is the APS adapter. It is safe for concurrent use.
type Provider struct {
	cfg     Config
	api     string
	page    string
	client  *http.Client
	timeout time.Duration
	fpKey   []byte
}

var (
	_ providers.Provider     = (*Provider)(nil)
	_ providers.ChargeFinder = (*Provider)(nil)
)

// New validates cfg and builds the adapter. It makes no network call.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.BaseURL, "/")
	if base == "" {
		base = ProductionURL
	}
	page := strings.TrimRight(cfg.PageURL, "/")
	switch {
	case page != "":
	case IsProduction(base):
		page = ProductionPageURL
	case hostOf(base) == "sbpaymentservices.payfort.com":
		page = SandboxPageURL
	default:
		page = base
	}
	if cfg.Language == "" {
		cfg.Language = "en"
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = providers.DefaultTimeout
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	// Fingerprints are per account, as at other providers: a MAC of the number under a
	// key only this account's configuration gives.
	fp := sha256.Sum256([]byte("aps-fingerprint\x00" + cfg.MerchantIdentifier + "\x00" + cfg.RequestPhrase))
	return &Provider{cfg: cfg, api: base + APIPath, page: page + PagePath, client: client, timeout: timeout, fpKey: fp[:]}, nil
}

// IsProduction reports whether baseURL (empty: the default) points at APS's production
// host (any scheme, port or case), the only one that takes live payments.
func IsProduction(baseURL string) bool {
	if baseURL == "" {
		return true
	}
	_, err := url.Parse(baseURL)
	return err != nil || hostOf(baseURL) == "paymentservices.payfort.com"
}

// hostOf is baseURL's host, lower case, without a trailing dot.
func hostOf(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
}

// Name returns the registry name.
func (p *Provider) Name() string { return Name }

// String names the adapter without its configuration.
func (p *Provider) String() string { return "aps.Provider(" + p.cfg.MerchantIdentifier + ")" }

// GoString keeps %#v from printing the phrases.
func (p *Provider) GoString() string { return p.String() }

// LogValue keeps slog from printing the phrases.
func (p *Provider) LogValue() slog.Value { return slog.StringValue(p.String()) }

// Capabilities: cards, recurring (eci RECURRING), refunds, MOTO (eci MOTO), and 3-D
// Secure on the issuer's page behind APS's 3ds_url for the hosted page's first payment
// (threeds.go). A customer-initiated charge without the page that the issuer wants
// authenticated is authentication_required.
func (p *Provider) Capabilities() []providers.Capability {
	return []providers.Capability{{Provider: Name, Method: providers.MethodCard, Recurring: true, Refunds: true, MOTO: true, ThreeDS: true, HostedPage: true}}
}

// ProviderAmount is the identity: APS counts every currency in its ISO 4217 minor units.
func (p *Provider) ProviderAmount(amount int64, currency string) (int64, error) {
	if _, err := billing.LookupCurrency(currency); err != nil {
		return 0, fmt.Errorf("%w: %s is not an ISO 4217 currency", providers.ErrAmountNotSupported, currency)
	}
	return amount, nil
}

// ISOAmount is the identity, as ProviderAmount.
func (p *Provider) ISOAmount(amount int64, _ string) int64 { return amount }

var referenceChars = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// MerchantReference derives APS's merchant_reference (at most 40 of A–Z, a–z, 0–9,
// "-", "_", ".") from an idempotency key, the same every time: plan_x/3/1 becomes
// plan_x.3.1; a key that does not fit (too long, other characters, or a dot of its
// own, which would make two keys one reference) becomes "k-" and 38 hex digits of its
// SHA-256.
func MerchantReference(key string) string {
	if r := strings.ReplaceAll(key, "/", "."); !strings.Contains(key, ".") && len(r) <= 40 &&
		referenceChars.MatchString(strings.ReplaceAll(key, "/", "_")) {
		return r
	}
	sum := sha256.Sum256([]byte(key))
	return "k-" + hex.EncodeToString(sum[:])[:38]
}

// token is a saved card: token_name, and the agreement_id of its stored credential
// when the account uses one, kept together as "token_name#agreement_id" ("#" is not a
// token_name character).
func token(t string) (name, agreement string) {
	name, agreement, _ = strings.Cut(t, "#")
	return name, agreement
}

// Token joins a token_name and an agreement_id into a saved card's token.
func Token(name, agreement string) string {
	if agreement == "" {
		return name
	}
	return name + "#" + agreement
}

// SaveCard tokenizes the card with the Merchant Page 2.0 TOKENIZATION form and returns
// APS's token_name; see the package comment.
func (p *Provider) SaveCard(ctx context.Context, req providers.SaveCardRequest) (providers.SavedCard, error) {
	card, err := providers.CheckCard(req.Card, time.Now())
	if err != nil {
		return providers.SavedCard{}, own(err)
	}
	email := req.Email
	if email == "" {
		email = req.ProviderCustomerRef // an earlier card's: the same customer
	}
	if email == "" {
		return providers.SavedCard{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeParameterMissing, Param: "email",
			Message: "Amazon Payment Services charges saved cards with the customer's email: the customer needs one"}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	ref := MerchantReference(req.IdempotencyKey)
	if req.IdempotencyKey == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		ref = "tok-" + hex.EncodeToString(b)
	}
	form := map[string]string{
		"service_command": "TOKENIZATION", "access_code": p.cfg.AccessCode, "merchant_identifier": p.cfg.MerchantIdentifier,
		"merchant_reference": ref, "language": p.cfg.Language, "return_url": p.page + "?tokenized",
		"card_number": card.Number, "expiry_date": fmt.Sprintf("%02d%02d", card.ExpYear%100, card.ExpMonth),
		"card_security_code": card.CVC,
	}
	if name := sanitize(req.Name, 50); name != "" {
		form["card_holder_name"] = name
	}
	sig, err := SignTokenizationForm(form, p.cfg.RequestPhrase, p.cfg.SHAType)
	if err != nil {
		return providers.SavedCard{}, err
	}
	form["signature"] = sig
	body := url.Values{}
	for k, v := range form {
		body.Set(k, v)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.page, strings.NewReader(body.Encode()))
	if err != nil {
		return providers.SavedCard{}, providers.TransportError(Name, err)
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := p.noRedirects().Do(hreq)
	if err != nil {
		return providers.SavedCard{}, providers.TransportError(Name, providers.ScrubURLError(err))
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return providers.SavedCard{}, providers.TransportError(Name, err)
	}
	answer := formAnswer(res, raw)
	if answer == nil {
		return providers.SavedCard{}, providers.Classify(providers.Failure{Provider: Name, HTTPStatus: statusOrBadGateway(res.StatusCode),
			Message: fmt.Sprintf("tokenization answered HTTP %d without a result", res.StatusCode)})
	}
	if !Verify(answer, p.cfg.ResponsePhrase, p.cfg.SHAType) {
		return providers.SavedCard{}, badSignature("")
	}
	if answer["response_code"] != "18000" || answer["token_name"] == "" {
		return providers.SavedCard{}, p.failure(answer)
	}
	return providers.SavedCard{
		Token: answer["token_name"], CustomerRef: email, Brand: card.Brand(), Last4: card.Last4(),
		ExpMonth: card.ExpMonth, ExpYear: card.ExpYear, Fingerprint: providers.Fingerprint(p.fpKey, card.Number),
	}, nil
}

func (p *Provider) noRedirects() *http.Client {
	c := *p.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

var hiddenInput = regexp.MustCompile(`(?is)<input\b[^>]*>`)
var inputAttr = regexp.MustCompile(`(?is)\b(name|value)\s*=\s*"([^"]*)"`)

// formAnswer reads the tokenization result: the redirect's query, or the hidden fields
// of the form APS posts to return_url.
func formAnswer(res *http.Response, body []byte) map[string]string {
	out := map[string]string{}
	if loc, err := res.Location(); err == nil {
		for k, v := range loc.Query() {
			out[k] = v[0]
		}
	}
	for _, tag := range hiddenInput.FindAll(body, -1) {
		var name, value string
		for _, m := range inputAttr.FindAllSubmatch(tag, -1) {
			if strings.EqualFold(string(m[1]), "name") {
				name = html.UnescapeString(string(m[2]))
			} else {
				value = html.UnescapeString(string(m[2]))
			}
		}
		if name != "" {
			out[name] = value
		}
	}
	if out["response_code"] == "" {
		return nil
	}
	return out
}

// Charge sends PURCHASE; see the package comment for the eci of each kind of charge.
func (p *Provider) Charge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	if err := req.Validate(); err != nil {
		return providers.ChargeResult{}, own(err)
	}
	if err := providers.CheckMethod(p.Capabilities(), req); err != nil {
		return providers.ChargeResult{}, own(err)
	}
	if authorizationOf(req) != "" {
		return p.capture(ctx, req)
	}
	if a := req.Authentication; a != nil && a.Status != providers.AuthenticationUnavailable {
		// Only this adapter's own authorizations are captured; another server's 3-D
		// Secure result cannot be carried. "Unavailable" charges without one.
		return providers.ChargeResult{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeInvalidRequest, Message: "Amazon Payment Services takes only its own 3-D Secure authorizations",
			Err: providers.ErrNotSupported}
	}
	if _, err := p.ProviderAmount(req.Amount, req.Currency); err != nil {
		return providers.ChargeResult{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeAmountNotSupported, Param: "amount", Message: err.Error(), Err: err}
	}
	if req.CustomerRef == "" {
		return providers.ChargeResult{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodePaymentMethodNotFound, Param: "customer_email", Message: "the saved card has no customer email"}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	name, agreement := token(req.Token)
	eci := "ECOMMERCE"
	switch {
	case req.Initiator == providers.InitiatorMerchant:
		eci = "RECURRING"
	case req.MOTO:
		eci = "MOTO"
	}
	params := p.params("command", "PURCHASE")
	params["merchant_reference"] = MerchantReference(req.IdempotencyKey)
	params["amount"] = strconv.FormatInt(req.Amount, 10)
	params["currency"] = req.Currency
	params["customer_email"] = req.CustomerRef
	params["token_name"] = name
	params["eci"] = eci
	if agreement != "" {
		params["agreement_id"] = agreement
	}
	if d := sanitize(req.Description, 150); d != "" {
		params["order_description"] = d
	}
	answer, err := p.call(ctx, params)
	if err != nil {
		return providers.ChargeResult{}, err
	}
	if answer["response_code"] == "14000" {
		if answer["merchant_reference"] != params["merchant_reference"] || answer["amount"] != params["amount"] ||
			answer["currency"] != params["currency"] {
			// Signed, but not this order's answer: believe nothing, look it up.
			return providers.ChargeResult{}, providers.Classify(providers.Failure{Provider: Name, Reason: "processing_error",
				ChargeID: params["merchant_reference"], Message: "the answer names another order, amount or currency; the outcome is unknown"})
		}
		return result(answer, req), nil
	}
	if code := answer["response_code"]; code == "00007" || code == "00066" {
		// The order exists: this key was charged before. Its outcome is the answer,
		// as a repeated idempotency key is at other providers.
		res, err := p.FindCharge(ctx, req)
		if errors.Is(err, providers.ErrNoSuchCharge) {
			// APS has the order and cannot find it: ask again later.
			return providers.ChargeResult{}, providers.Classify(providers.Failure{Provider: Name, Reason: "processing_error",
				ChargeID: params["merchant_reference"], Message: "Amazon Payment Services reports the order both as existing and as not found"})
		}
		return res, err
	}
	return providers.ChargeResult{}, p.failure(answer)
}

func result(answer map[string]string, req providers.ChargeRequest) providers.ChargeResult {
	return providers.ChargeResult{ID: answer["merchant_reference"], Status: providers.ChargeSucceeded,
		Amount: req.Amount, Currency: req.Currency}
}

// FindCharge asks CHECK_STATUS about the order the charge's key names. Message 036
// (order not found) is ErrNoSuchCharge; a purchase that succeeded is the charge (and
// an idempotency conflict when it was for another amount); a failed one is its
// decline; one still pending or on hold cannot be told yet.
func (p *Provider) FindCharge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	if err := req.ValidateLookup(); err != nil {
		return providers.ChargeResult{}, own(err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	params := p.params("query_command", "CHECK_STATUS")
	params["merchant_reference"] = MerchantReference(req.IdempotencyKey)
	authorized := authorizationOf(req) // the charge captures the authorization 3-D Secure made
	if authorized != "" {
		params["merchant_reference"] = authorized
	}
	answer, err := p.call(ctx, params)
	if err != nil {
		return providers.ChargeResult{}, err
	}
	code, ref := answer["response_code"], params["merchant_reference"]
	pending := func(why string) error {
		return providers.Classify(providers.Failure{Provider: Name, Reason: "processing_error", ChargeID: ref,
			Message: "Amazon Payment Services cannot tell the order's outcome yet (" + why + ")"})
	}
	switch {
	case strings.HasSuffix(code, "036"):
		return providers.ChargeResult{}, fmt.Errorf("aps: %w", providers.ErrNoSuchCharge)
	case code != "12000":
		// The status query itself failed: that says nothing about the order.
		return providers.ChargeResult{}, pending("check status " + code)
	case answer["merchant_reference"] != ref:
		return providers.ChargeResult{}, pending("the answer names another order")
	}
	tx := map[string]string{"response_code": answer["transaction_code"], "response_message": answer["transaction_message"],
		"merchant_reference": ref, "acquirer_response_code": answer["acquirer_response_code"],
		"payment_option": answer["payment_option"]}
	txCode := tx["response_code"]
	switch {
	case authorized != "" && txCode == "14000":
		// A purchase, not an authorization this adapter began: never this charge.
		return providers.ChargeResult{}, providers.Found(&providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeIdempotencyConflict, ChargeID: ref, Message: "the authentication names an order that is not an authorization"})
	case authorized != "" && txCode == "02000":
		switch got := answer["captured_amount"]; got {
		case "", "0":
			// Authorized, not captured yet: the capture may be sent (it captures once).
			return providers.ChargeResult{}, fmt.Errorf("aps: authorization %s not captured: %w", ref, providers.ErrNoSuchCharge)
		case strconv.FormatInt(req.Amount, 10):
			return result(answer, req), nil
		default:
			return providers.ChargeResult{}, providers.Found(&providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
				Code: billing.CodeIdempotencyConflict, ChargeID: ref,
				Message: fmt.Sprintf("the authorization was captured for %q, not %d", got, req.Amount)})
		}
	case txCode == "08000":
		return providers.ChargeResult{}, providers.Found(&providers.Error{Provider: Name, Class: providers.ClassSoftDecline,
			Code: billing.CodeCardDeclined, ChargeID: ref, Message: "the authorization was voided at Amazon Payment Services"})
	case txCode == "14000" || txCode == "04000":
		if got := answer["captured_amount"]; got != strconv.FormatInt(req.Amount, 10) {
			return providers.ChargeResult{}, providers.Found(&providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
				Code: billing.CodeIdempotencyConflict, ChargeID: ref,
				Message: fmt.Sprintf("this idempotency key's order was captured for %q, not %d", got, req.Amount)})
		}
		return result(answer, req), nil
	case strings.HasPrefix(txCode, "13"), strings.HasPrefix(txCode, "03"), strings.HasPrefix(txCode, "00"), txCode == "20064":
		// A failed purchase (13), a refused one (00), 3-D Secure asked for and never
		// completed: final. Even a "technical" 13 is over: the next attempt is a new order.
		e := p.failure(tx)
		if e.Retryable() {
			e = &providers.Error{Provider: Name, Class: providers.ClassSoftDecline, Code: billing.CodeCardDeclined, ChargeID: ref,
				Message: "the order failed at Amazon Payment Services: " + e.Message}
		}
		return providers.ChargeResult{}, providers.Found(e)
	}
	return providers.ChargeResult{}, pending("transaction " + txCode)
}

// Refund sends REFUND for an order. APS needs the amount and currency.
func (p *Provider) Refund(ctx context.Context, req providers.RefundRequest) (providers.RefundResult, error) {
	if err := req.Validate(); err != nil {
		return providers.RefundResult{}, own(err)
	}
	if req.Amount == 0 {
		return providers.RefundResult{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeInvalidAmount, Param: "amount", Message: "Amazon Payment Services refunds need the amount and currency"}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	params := p.params("command", "REFUND")
	params["merchant_reference"] = req.ChargeID
	params["maintenance_reference"] = MerchantReference(req.IdempotencyKey)
	params["amount"] = strconv.FormatInt(req.Amount, 10)
	params["currency"] = req.Currency
	answer, err := p.call(ctx, params)
	if err != nil {
		return providers.RefundResult{}, err
	}
	if answer["response_code"] != "06000" {
		return providers.RefundResult{}, p.failure(answer)
	}
	return providers.RefundResult{ID: params["maintenance_reference"], Status: "succeeded", Amount: req.Amount}, nil
}

// Detach is not supported: the engine forgets the token, but no call removing a
// stored credential at Amazon Payment Services is implemented (README: Detach at the provider).
func (p *Provider) Detach(context.Context, providers.DetachRequest) error {
	return fmt.Errorf("Amazon Payment Services: removing a stored credential: %w", providers.ErrNotSupported)
}

// params starts a request with the account's fields.
func (p *Provider) params(commandKey, command string) map[string]string {
	return map[string]string{commandKey: command, "access_code": p.cfg.AccessCode,
		"merchant_identifier": p.cfg.MerchantIdentifier, "language": p.cfg.Language}
}

func (p *Provider) sign(params map[string]string) error {
	sig, err := Sign(params, p.cfg.RequestPhrase, p.cfg.SHAType)
	if err != nil {
		return &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest, Code: billing.CodeProviderAuthenticationFailed, Message: err.Error()}
	}
	params["signature"] = sig
	return nil
}

// call signs params, posts them to paymentApi and returns the answer once its
// signature checks out. No answer, a non-200 status, an unreadable body or a bad
// signature is a transient error: the outcome is unknown.
func (p *Provider) call(ctx context.Context, params map[string]string) (map[string]string, error) {
	if err := p.sign(params); err != nil {
		return nil, err
	}
	body, _ := json.Marshal(params)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, p.api, bytes.NewReader(body))
	if err != nil {
		return nil, providers.TransportError(Name, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(hreq)
	if err != nil {
		return nil, providers.TransportError(Name, providers.ScrubURLError(err))
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, providers.TransportError(Name, err)
	}
	if res.StatusCode != http.StatusOK {
		// Unsigned, so no verdict: whatever the status, the outcome is unknown.
		return nil, providers.Classify(providers.Failure{Provider: Name, HTTPStatus: http.StatusBadGateway,
			Message: fmt.Sprintf("Amazon Payment Services answered HTTP %d; the outcome is unknown", res.StatusCode)})
	}
	answer, err := flatten(raw)
	if err != nil {
		return nil, providers.Classify(providers.Failure{Provider: Name, Reason: "processing_error",
			Message: "Amazon Payment Services answered something that is not its JSON; the outcome is unknown"})
	}
	if !Verify(answer, p.cfg.ResponsePhrase, p.cfg.SHAType) {
		if answer["response_code"] == "00008" {
			// APS could not check our signature: it answers unsigned, and nothing happened.
			return nil, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest, Code: billing.CodeProviderAuthenticationFailed,
				Message: "Amazon Payment Services refused the request signature: check the request phrase and SHA type"}
		}
		return nil, badSignature(answer["merchant_reference"])
	}
	return answer, nil
}

// badSignature: an answer that fails its check is never believed, success or not.
func badSignature(ref string) error {
	return providers.Classify(providers.Failure{Provider: Name, Reason: "processing_error", ChargeID: ref,
		Message: "the answer failed its signature check (response phrase); the outcome is unknown"})
}

// flatten decodes an answer's JSON object into the strings its signature covers.
func flatten(raw []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = strconv.FormatBool(v)
		case nil:
			out[k] = ""
		default:
			return nil, fmt.Errorf("aps: nested field %q in a payment answer", k)
		}
	}
	return out, nil
}

func statusOrBadGateway(s int) int {
	if s == 0 {
		return http.StatusBadGateway
	}
	return s
}

var descriptionChars = regexp.MustCompile(`[^A-Za-z0-9'/._#:$ -]`)

// sanitize keeps what APS accepts in free-text fields, within max bytes.
func sanitize(s string, max int) string {
	s = strings.TrimSpace(descriptionChars.ReplaceAllString(s, " "))
	if len(s) > max {
		s = s[:max]
	}
	return s
}

func own(err error) error {
	if e, ok := providers.AsError(err); ok {
		e.Provider = Name
	}
	return err
}
