// Package axerve adapts Axerve Ecommerce Solutions (formerly Gestpay, Banca Sella) to
// providers.Provider, from its public REST API reference (api.axerve.com): JSON to
// https://{host}/api/v1/{object}/{method}, authenticated with the header
// "Authorization: apikey <key>", every answer wrapped as {error: {code, description},
// payload}, where error.code "0" is success.
//
//   - Saving a card is shop/token with requestToken MASKEDPAN: Axerve keeps the card
//     and answers its token (BIN, letters, last four).
//   - A charge is two calls: payment/create (amount, currency, shopTransactionID, the
//     stored-credential type) answers a paymentID and a paymentToken, and
//     payment/submit (header paymentToken) pays it with the saved card's token
//     (paymentTypeDetails.creditcard.token) or the payer's PayPal billing agreement
//     (paymentTypeDetails.payPal.token).
//   - Cards: the customer-initiated first charge is transDetails.type 03F, and every
//     merchant-initiated one 03N with previousTransDetails.paymentID, the first
//     charge's paymentID, which the engine keeps as the card's network transaction id
//     (ChargeResult.NetworkTransactionID). A mail or telephone order is type 08.
//   - shopTransactionID is derived from the installment's idempotency key
//     (ShopTransactionID), so a retry is recognised: payment/detail by
//     shopTransactionID is the lookup (FindCharge) that resolves a lost answer.
//   - Amounts are decimal strings with a dot ("10.50"), ISO 4217 alpha currencies;
//     Axerve takes at most two decimals and the currencies of its currency table.
//   - payment/refund refunds by paymentID; Axerve takes no key for a refund, so a
//     repeated refund is not recognised (the caller looks the payment up first).
//
// Axerve does not sign its REST answers (their authenticity is the TLS connection to
// its host); an answer the adapter cannot read, or one that names another
// transaction, is never taken as success: the outcome is unknown and is looked up.
// Points the public reference leaves open, and what the adapter assumes, are listed in
// the README next to this file.
package axerve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Name is the adapter's registry name.
const Name = "axerve"

// The documented hosts; APIPath stays whatever BaseURL says.
const (
	ProductionURL = "https://ecomms2s.sella.it"
	SandboxURL    = "https://sandbox.gestpay.net"
	APIPath       = "/api/v1"
)

// Currencies are the ISO 4217 codes of Axerve's currency table (its UIC codes), EUR
// first.
var Currencies = []string{"EUR", "USD", "GBP", "CHF", "DKK", "NOK", "SEK", "CAD", "CLP", "INR", "COP", "MYR", "ISK", "JPY",
	"BOB", "SAR", "CRC", "GTQ", "PYG", "HKD", "AUD", "NZD", "DOP", "HNL", "KRW", "NIO", "SGD", "TWD", "CNY", "HUF", "AED",
	"QAR", "PEN", "ILS", "ARS", "MXN", "CZK", "BRL", "PLN", "UAH", "RUB", "BGN", "TRY", "RON"}

// Config is an Axerve shop, named as in its back office. String, GoString, LogValue
// and MarshalJSON redact the API key.
type Config struct {
	ShopLogin string
	APIKey    string
	// BaseURL replaces the scheme and host (production by default; SandboxURL for the
	// sandbox; a test double's address in tests).
	BaseURL string
	// Timeout bounds every call; providers.DefaultTimeout when zero.
	Timeout    time.Duration
	HTTPClient *http.Client
}

var shopLoginChars = regexp.MustCompile(`^[A-Za-z0-9_-]{1,30}$`)

// Validate reports what is wrong with the configuration, without echoing the key.
func (c Config) Validate() error {
	switch {
	case c.ShopLogin == "":
		return errors.New("axerve: shop_login is required")
	case !shopLoginChars.MatchString(c.ShopLogin):
		return errors.New("axerve: shop_login is letters and digits (GESPAY12345)")
	case c.APIKey == "":
		return errors.New("axerve: api_key is required")
	case strings.ContainsAny(c.APIKey, " \r\n\t"):
		return errors.New("axerve: api_key has whitespace in it")
	case c.Timeout < 0:
		return errors.New("axerve: timeout must not be negative")
	}
	if c.BaseURL != "" {
		p, err := url.Parse(c.BaseURL)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || strings.Trim(p.Path, "/") != "" {
			return errors.New("axerve: base URL must be a scheme and host (the documented path is kept)")
		}
	}
	return nil
}

// String describes the configuration with the API key redacted.
func (c Config) String() string {
	return fmt.Sprintf("axerve.Config{ShopLogin:%q APIKey:[REDACTED] BaseURL:%q}", c.ShopLogin, c.BaseURL)
}

// GoString makes %#v as safe as %v.
func (c Config) GoString() string { return c.String() }

// LogValue keeps the key out of slog.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("shop_login", c.ShopLogin), slog.String("base_url", c.BaseURL))
}

// MarshalJSON keeps the key out of JSON dumps of configuration.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{"shop_login": c.ShopLogin, "base_url": c.BaseURL, "api_key": "[REDACTED]"})
}

// Provider is the Axerve adapter. It is safe for concurrent use.
type Provider struct {
	// inflight makes concurrent charges under one key in this process one call: the
	// reference does not say that Axerve refuses a second payment under a
	// shopTransactionID before the first is submitted.
	mu       sync.Mutex
	inflight map[string]*flight
	cfg      Config
	api      string
	client   *http.Client
	timeout  time.Duration
	fpKey    []byte
}

var (
	_ providers.Provider        = (*Provider)(nil)
	_ providers.ChargeFinder    = (*Provider)(nil)
	_ providers.AmountConverter = (*Provider)(nil)
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
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = providers.DefaultTimeout
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	fp := sha256.Sum256([]byte("axerve-fingerprint\x00" + cfg.ShopLogin + "\x00" + cfg.APIKey))
	return &Provider{cfg: cfg, api: base + APIPath, client: client, timeout: timeout, fpKey: fp[:], inflight: map[string]*flight{}}, nil
}

// IsProduction reports whether baseURL (empty: the default) points at Axerve's
// production host, the only one that takes live payments.
func IsProduction(baseURL string) bool {
	if baseURL == "" {
		return true
	}
	u, err := url.Parse(baseURL)
	return err != nil || strings.TrimSuffix(strings.ToLower(u.Hostname()), ".") == "ecomms2s.sella.it"
}

// Name returns the registry name.
func (p *Provider) Name() string { return Name }

// String names the adapter without its key.
func (p *Provider) String() string { return "axerve.Provider(" + p.cfg.ShopLogin + ")" }

// GoString keeps %#v from printing the key.
func (p *Provider) GoString() string { return p.String() }

// LogValue keeps slog from printing the key.
func (p *Provider) LogValue() slog.Value { return slog.StringValue(p.String()) }

// Capabilities is Axerve's support table for the two methods the engine charges
// through it: cards (recurring, refunds, mail and telephone orders, 3-D Secure on the
// hosted page's first payment: threeds.go) and PayPal billing agreements (recurring,
// refunds), both in the currencies of its table.
func (p *Provider) Capabilities() []providers.Capability {
	return []providers.Capability{
		{Provider: Name, Method: providers.MethodCard, Recurring: true, Refunds: true, MOTO: true, ThreeDS: true, HostedPage: true, Currencies: slices.Clone(Currencies)},
		{Provider: Name, Method: providers.MethodPayPal, Recurring: true, Refunds: true, HostedPage: true, Currencies: slices.Clone(Currencies)},
	}
}

// ProviderAmount is the identity for the currencies Axerve takes (it counts in their
// ISO 4217 minor units, written as decimals); any other currency is refused.
func (p *Provider) ProviderAmount(amount int64, currency string) (int64, error) {
	if _, err := decimal(amount, currency); err != nil {
		return 0, err
	}
	return amount, nil
}

// ISOAmount is the identity, as ProviderAmount.
func (p *Provider) ISOAmount(amount int64, _ string) int64 { return amount }

// decimal writes a minor-unit amount the way Axerve reads it: a dot and as many
// decimals as the currency has (at most two), no thousands separator.
func decimal(amount int64, currency string) (string, error) {
	c, err := billing.LookupCurrency(currency)
	if err != nil || !slices.Contains(Currencies, currency) {
		return "", fmt.Errorf("%w: Axerve does not take %s", providers.ErrAmountNotSupported, currency)
	}
	if amount <= 0 {
		return "", fmt.Errorf("%w: amount must be positive", providers.ErrAmountNotSupported)
	}
	out := strconv.FormatInt(amount, 10)
	if c.Exponent > 0 {
		unit := int64(1)
		for range c.Exponent {
			unit *= 10
		}
		out = fmt.Sprintf("%d.%0*d", amount/unit, c.Exponent, amount%unit)
	}
	if len(out) > maxAmountChars {
		return "", fmt.Errorf("%w: Axerve takes amounts of at most %d characters (%s %s is %d)", providers.ErrAmountNotSupported,
			maxAmountChars, out, currency, len(out))
	}
	return out, nil
}

// maxAmountChars is the reference's limit on an amount's length, separator included
// ("999999.99").
const maxAmountChars = 9

// minor reads an amount Axerve wrote back ("10.5", "10.50", "1000") into minor units.
func minor(s, currency string) (int64, bool) {
	c, err := billing.LookupCurrency(currency)
	if err != nil || s == "" {
		return 0, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	for len(frac) > c.Exponent && strings.HasSuffix(frac, "0") {
		frac = frac[:len(frac)-1] // "1000.00" yen is 1000
	}
	if len(frac) > c.Exponent || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, false
	}
	frac += strings.Repeat("0", c.Exponent-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	return n, err == nil && whole != ""
}

var transactionIDChars = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,50}$`)

// ShopTransactionID derives Axerve's shopTransactionID (at most 50 characters; the
// adapter keeps to letters, digits, "_", "-" and ".") from an idempotency key, the
// same every time: plan_x/3/1 becomes plan_x.3.1; a key that does not fit (too long,
// other characters, or a dot of its own, which would make two keys one id) becomes
// "k-" and 40 hex digits of its SHA-256.
func ShopTransactionID(key string) string {
	if r := strings.ReplaceAll(key, "/", "."); !strings.Contains(key, ".") && transactionIDChars.MatchString(r) {
		return r
	}
	sum := sha256.Sum256([]byte(key))
	return "k-" + hex.EncodeToString(sum[:])[:40]
}

// SaveCard has Axerve tokenize the card (shop/token, MASKEDPAN) and returns its token.
// Axerve has no customer object: the saved card's CustomerRef is the customer's
// email, the buyer of later charges.
func (p *Provider) SaveCard(ctx context.Context, req providers.SaveCardRequest) (providers.SavedCard, error) {
	card, err := providers.CheckCard(req.Card, time.Now())
	if err != nil {
		return providers.SavedCard{}, own(err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	body := map[string]any{
		"shopLogin": p.cfg.ShopLogin, "requestToken": "MASKEDPAN", "withAuth": "False",
		"creditCard": map[string]string{"number": card.Number, "expMonth": fmt.Sprintf("%02d", card.ExpMonth),
			"expYear": fmt.Sprintf("%02d", card.ExpYear%100), "CVV": card.CVC},
	}
	var out struct {
		TransactionResult string `json:"transactionResult"`
		Token             string `json:"token"`
		ErrorCode         string `json:"authorizationErrorCode"`
	}
	if err := p.call(ctx, http.MethodPost, "/shop/token/", nil, body, &out, ""); err != nil {
		return providers.SavedCard{}, err
	}
	if out.Token == "" || (out.TransactionResult != "" && out.TransactionResult != "OK") {
		return providers.SavedCard{}, failure(out.ErrorCode, "Axerve did not tokenize the card", "")
	}
	email := req.Email
	if email == "" {
		email = req.ProviderCustomerRef
	}
	return providers.SavedCard{Token: out.Token, CustomerRef: email, Brand: card.Brand(), Last4: card.Last4(),
		ExpMonth: card.ExpMonth, ExpYear: card.ExpYear, Fingerprint: providers.Fingerprint(p.fpKey, card.Number)}, nil
}

type flight struct {
	done chan struct{}
	res  providers.ChargeResult
	err  error
}

// Charge creates and submits a payment; see the package comment. A charge under a key
// already in flight on this adapter waits for that one and answers its outcome (the
// engine never runs two attempts of one key at once; this guards other callers).
func (p *Provider) Charge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	p.mu.Lock()
	if f, ok := p.inflight[req.IdempotencyKey]; ok && req.IdempotencyKey != "" {
		p.mu.Unlock()
		select {
		case <-f.done:
			// The first call's outcome is this one's, as a repeated key's is: an unknown
			// outcome stays unknown (and is looked up), it is never sent again here.
			return f.res, f.err
		case <-ctx.Done():
			return providers.ChargeResult{}, providers.TransportError(Name, ctx.Err())
		}
	}
	f := &flight{done: make(chan struct{})}
	p.inflight[req.IdempotencyKey] = f
	p.mu.Unlock()
	f.res, f.err = p.charge(ctx, req)
	p.mu.Lock()
	delete(p.inflight, req.IdempotencyKey)
	p.mu.Unlock()
	close(f.done)
	return f.res, f.err
}

func (p *Provider) charge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	if err := req.Validate(); err != nil {
		return providers.ChargeResult{}, own(err)
	}
	if err := providers.CheckMethod(p.Capabilities(), req); err != nil {
		return providers.ChargeResult{}, own(err)
	}
	if id := paymentOf(req); id != "" {
		ctx, cancel := context.WithTimeout(ctx, p.timeout)
		defer cancel()
		return p.paid(ctx, req, id)
	}
	if a := req.Authentication; a != nil && a.Status != providers.AuthenticationUnavailable {
		// A 3-D Secure result from another server cannot be carried here; "unavailable"
		// (this provider authenticates nothing for the engine) charges without one.
		return providers.ChargeResult{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeInvalidRequest, Message: "3-D Secure through the engine's page is not supported on Axerve yet",
			Err: providers.ErrNotSupported}
	}
	amount, err := decimal(req.Amount, req.Currency)
	if err != nil {
		return providers.ChargeResult{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeAmountNotSupported, Param: "amount", Message: err.Error(), Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	id := ShopTransactionID(req.IdempotencyKey)
	paypal := req.MethodOf() == providers.MethodPayPal
	create := map[string]any{"shopLogin": p.cfg.ShopLogin, "amount": amount, "currency": req.Currency, "shopTransactionID": id}
	if strings.Contains(req.CustomerRef, "@") {
		create["buyerEmail"] = req.CustomerRef
	}
	if paypal {
		if req.MOTO {
			return providers.ChargeResult{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest, Code: billing.CodeInvalidRequest,
				Param: "type", Message: "a PayPal agreement cannot pay a mail or telephone order", Err: providers.ErrNotSupported}
		}
		create["paymentType"] = []string{"PAYPAL"}
	} else {
		create["paymentType"] = []string{"CREDITCARD"}
		details := map[string]any{"type": "03F"}
		switch {
		case req.Initiator == providers.InitiatorMerchant:
			details["type"] = "03N"
			if req.NetworkTransactionID != "" {
				details["previousTransDetails"] = map[string]string{"paymentID": req.NetworkTransactionID}
			}
		case req.MOTO:
			details["type"] = "08"
		}
		create["transDetails"] = details
	}
	var created struct {
		PaymentToken string `json:"paymentToken"`
		PaymentID    string `json:"paymentID"`
	}
	if err := p.call(ctx, http.MethodPost, "/payment/create/", nil, create, &created, id); err != nil {
		if e, ok := providers.AsError(err); ok && duplicate(e) {
			// The id was paid or declined before: this key's outcome is the answer, as a
			// repeated idempotency key is at other providers.
			return p.repeated(ctx, req, id)
		}
		return providers.ChargeResult{}, err
	}
	if created.PaymentToken == "" {
		return providers.ChargeResult{}, unknown(id, "payment/create answered no paymentToken")
	}
	submit := map[string]any{"shopLogin": p.cfg.ShopLogin}
	if paypal {
		submit["paymentType"] = "PAYPAL"
		submit["paymentTypeDetails"] = map[string]any{"payPal": map[string]string{"token": req.Token}}
	} else {
		submit["paymentType"] = "CREDITCARD"
		submit["paymentTypeDetails"] = map[string]any{"creditcard": map[string]string{"token": req.Token}}
	}
	var res submitPayload
	if err := p.call(ctx, http.MethodPost, "/payment/submit/", map[string]string{"paymentToken": created.PaymentToken}, submit, &res, id); err != nil {
		if e, ok := providers.AsError(err); ok && duplicate(e) {
			return p.repeated(ctx, req, id)
		}
		return providers.ChargeResult{}, err
	}
	if res.TransactionResult == "KO" && duplicateCode(res.TransactionErrorCode) {
		return p.repeated(ctx, req, id)
	}
	paymentID := created.PaymentID
	if paymentID == "" {
		paymentID = res.PaymentID
	}
	chain := paymentID // a card's first payment is what its later ones reference
	if paypal {
		chain = "" // a PayPal agreement is chained by its token, not a card network
	}
	switch {
	case res.ShopTransactionID != id || (res.PaymentID != "" && created.PaymentID != "" && res.PaymentID != created.PaymentID) ||
		(res.Currency != "" && res.Currency != req.Currency):
		return providers.ChargeResult{}, unknown(id, "the answer names another transaction or currency")
	case paymentID == "":
		return providers.ChargeResult{}, unknown(id, "Axerve named no paymentID")
	case res.TransactionResult == "OK":
		return providers.ChargeResult{ID: paymentID, Status: providers.ChargeSucceeded, Amount: req.Amount,
			Currency: req.Currency, NetworkTransactionID: chain}, nil
	case res.TransactionResult == "KO":
		return providers.ChargeResult{}, failure(res.TransactionErrorCode, res.TransactionErrorDescription, paymentID)
	case res.TransactionResult == "" && (res.TransactionErrorCode == "8006" || res.TransactionErrorCode == "8026"):
		// The issuer (or PayPal) wants the payer on its page: a merchant-initiated
		// charge cannot do that.
		return providers.ChargeResult{}, failure(res.TransactionErrorCode, res.TransactionErrorDescription, paymentID)
	}
	// XX, PENDING, or an empty result without a redirect: not decided yet.
	return providers.ChargeResult{}, unknown(id, "payment/submit answered transactionResult "+strconv.Quote(res.TransactionResult))
}

type submitPayload struct {
	TransactionResult           string `json:"transactionResult"`
	TransactionErrorCode        string `json:"transactionErrorCode"`
	TransactionErrorDescription string `json:"transactionErrorDescription"`
	ShopTransactionID           string `json:"shopTransactionID"`
	PaymentID                   string `json:"paymentID"`
	Currency                    string `json:"currency"`
}

// repeated answers a charge whose shopTransactionID Axerve already has: the first
// payment's outcome, found by payment/detail.
func (p *Provider) repeated(ctx context.Context, req providers.ChargeRequest, id string) (providers.ChargeResult, error) {
	res, err := p.FindCharge(ctx, req)
	if errors.Is(err, providers.ErrNoSuchCharge) {
		return providers.ChargeResult{}, unknown(id, "Axerve reports the transaction both as existing and as not found")
	}
	if e, ok := providers.AsError(err); ok && providers.IsFound(err) {
		return providers.ChargeResult{}, e
	}
	return res, err
}

// FindCharge asks payment/detail about the key's shopTransactionID: an approved
// payment is the charge (an idempotency conflict when it was for another amount or
// currency), a declined one its decline, an unknown id or a payment created and never
// submitted is ErrNoSuchCharge (no money moved), anything else cannot be told yet.
func (p *Provider) FindCharge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	if err := req.ValidateLookup(); err != nil {
		return providers.ChargeResult{}, own(err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if pid := paymentOf(req); pid != "" {
		return p.paid(ctx, req, pid)
	}
	id := ShopTransactionID(req.IdempotencyKey)
	d, err := p.detail(ctx, "shopTransactionID", id)
	if e, ok := providers.AsError(err); ok && e.DeclineCode == codeNotFound {
		return providers.ChargeResult{}, fmt.Errorf("axerve: %w", providers.ErrNoSuchCharge)
	}
	if err != nil {
		if e, ok := providers.AsError(err); ok && e.Class != providers.ClassTransient {
			// The query itself was refused (a key or configuration problem): that
			// says nothing about the payment.
			return providers.ChargeResult{}, unknown(id, "payment/detail was refused: "+e.Message)
		}
		return providers.ChargeResult{}, err
	}
	if d.ShopTransactionID != id {
		return providers.ChargeResult{}, unknown(id, "payment/detail named another transaction")
	}
	switch d.TransactionResult {
	case "UNSUBMITTED":
		return providers.ChargeResult{}, fmt.Errorf("axerve: payment %s was created and never submitted: %w", d.PaymentID, providers.ErrNoSuchCharge)
	case "OK", "APPROVED":
		cur := d.Currency
		if cur == "" {
			cur = req.Currency // the reference's examples omit it at times
		}
		paid, ok := d.authorized(cur)
		if !ok {
			// Approved, for an amount the adapter cannot read: neither a success for this
			// charge nor a conflict can be told.
			return providers.ChargeResult{}, unknown(id, "payment/detail answered an approved payment without a readable authorized amount")
		}
		if cur != req.Currency || paid != req.Amount {
			return providers.ChargeResult{}, providers.Found(&providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
				Code: billing.CodeIdempotencyConflict, ChargeID: d.PaymentID,
				Message: fmt.Sprintf("this idempotency key's payment was authorized for %d %s, not %d %s", paid, cur, req.Amount, req.Currency)})
		}
		chain := d.PaymentID
		if req.MethodOf() == providers.MethodPayPal {
			chain = ""
		}
		return providers.ChargeResult{ID: d.PaymentID, Status: providers.ChargeSucceeded, Amount: req.Amount, Currency: req.Currency,
			NetworkTransactionID: chain}, nil
	case "KO", "DECLINED":
		e := failure(d.TransactionErrorCode, d.TransactionErrorDescription, d.PaymentID)
		if e.Retryable() {
			// Even a technical failure is over: the next attempt is a new payment.
			e = &providers.Error{Provider: Name, Class: providers.ClassSoftDecline, Code: billing.CodeCardDeclined, ChargeID: d.PaymentID,
				DeclineCode: e.DeclineCode, Message: "the payment failed at Axerve: " + e.Message}
		}
		return providers.ChargeResult{}, providers.Found(e)
	}
	return providers.ChargeResult{}, unknown(id, "Axerve cannot tell the payment's outcome yet ("+d.TransactionResult+")")
}

// detail reads payment/detail for one payment, named by field (paymentID or
// shopTransactionID).
func (p *Provider) detail(ctx context.Context, field, value string) (detailPayload, error) {
	var d detailPayload
	err := p.call(ctx, http.MethodPost, "/payment/detail", nil, map[string]string{"shopLogin": p.cfg.ShopLogin, field: value}, &d, value)
	return d, err
}

type detailPayload struct {
	TransactionResult           string        `json:"transactionResult"`
	TransactionState            string        `json:"transactionState"`
	TransactionErrorCode        string        `json:"transactionErrorCode"`
	TransactionErrorDescription string        `json:"transactionErrorDescription"`
	ShopTransactionID           string        `json:"shopTransactionID"`
	PaymentID                   string        `json:"paymentID"`
	Currency                    string        `json:"currency"`
	Events                      []detailEvent `json:"events"`
	// Token is the stored credential the payment used or created (a PayPal payment's
	// billing agreement).
	Token string `json:"token"`
}

// detailEvent is one of payment/detail's events, flat or wrapped in {"event": {…}}
// (the reference shows both).
type detailEvent struct {
	Type   string `json:"eventtype"`
	Amount string `json:"eventamount"`
}

func (e *detailEvent) UnmarshalJSON(b []byte) error {
	type flat detailEvent
	var wrapped struct {
		Event *flat `json:"event"`
	}
	if err := json.Unmarshal(b, &wrapped); err == nil && wrapped.Event != nil {
		*e = detailEvent(*wrapped.Event)
		return nil
	}
	var f flat
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*e = detailEvent(f)
	return nil
}

// authorized is the minor-unit amount of the payment's authorization event in
// currency, and whether there is one that reads.
func (d detailPayload) authorized(currency string) (int64, bool) {
	for _, e := range d.Events {
		if e.Type == "AUT" {
			return minor(e.Amount, currency)
		}
	}
	return 0, false
}

// Refund sends payment/refund for a payment. Axerve needs the amount and currency.
func (p *Provider) Refund(ctx context.Context, req providers.RefundRequest) (providers.RefundResult, error) {
	if err := req.Validate(); err != nil {
		return providers.RefundResult{}, own(err)
	}
	if req.Amount == 0 {
		return providers.RefundResult{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeInvalidAmount, Param: "amount", Message: "Axerve refunds need the amount and currency"}
	}
	amount, err := decimal(req.Amount, req.Currency)
	if err != nil {
		return providers.RefundResult{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeAmountNotSupported, Param: "amount", Message: err.Error(), Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	body := map[string]string{"shopLogin": p.cfg.ShopLogin, "paymentID": req.ChargeID, "amount": amount, "currency": req.Currency}
	if r := strings.TrimSpace(req.Reason); r != "" {
		body["refundReason"] = r
	}
	var out submitPayload
	if err := p.call(ctx, http.MethodPost, "/payment/refund/", nil, body, &out, req.ChargeID); err != nil {
		return providers.RefundResult{}, err
	}
	if out.TransactionResult != "OK" {
		return providers.RefundResult{}, failure(out.TransactionErrorCode, out.TransactionErrorDescription, req.ChargeID)
	}
	return providers.RefundResult{ID: req.ChargeID + "/" + ShopTransactionID(req.IdempotencyKey), Status: "succeeded", Amount: req.Amount}, nil
}

// Detach is not supported: the engine forgets the token, but no call removing a
// stored credential at Axerve is implemented (README: Detach at the provider).
func (p *Provider) Detach(context.Context, providers.DetachRequest) error {
	return fmt.Errorf("Axerve: removing a stored credential: %w", providers.ErrNotSupported)
}

// call sends one request and decodes the payload of a successful answer into out. No
// answer, a 5xx, or an answer that is not Axerve's JSON is a transient error (the
// outcome is unknown); an answer with error.code other than "0" is Axerve's refusal,
// classified by its code. ref names the transaction in errors.
func (p *Provider) call(ctx context.Context, method, path string, headers map[string]string, body, out any, ref string) error {
	var reader io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		reader = bytes.NewReader(raw)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, p.api+path, reader)
	if err != nil {
		return providers.TransportError(Name, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if headers["paymentToken"] == "" {
		hreq.Header.Set("Authorization", "apikey "+p.cfg.APIKey)
	}
	for k, v := range headers {
		hreq.Header.Set(k, v)
	}
	res, err := p.client.Do(hreq)
	if err != nil {
		return providers.TransportError(Name, providers.ScrubURLError(err))
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return providers.TransportError(Name, err)
	}
	var env struct {
		Error *struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
		Payload json.RawMessage `json:"payload"`
	}
	if res.StatusCode >= 500 || json.Unmarshal(data, &env) != nil || env.Error == nil {
		return unknown(ref, fmt.Sprintf("Axerve answered HTTP %d without its JSON envelope; the outcome is unknown", res.StatusCode))
	}
	if env.Error.Code != "0" {
		if res.StatusCode == http.StatusForbidden {
			return &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest, Code: billing.CodeProviderAuthenticationFailed,
				DeclineCode: env.Error.Code, Message: "Axerve refused the API key or shop login (" + env.Error.Code + "): check the account's credentials"}
		}
		return failure(env.Error.Code, env.Error.Description, ref)
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(env.Payload, out) != nil {
		return unknown(ref, fmt.Sprintf("Axerve answered HTTP %d with a payload the adapter cannot read; the outcome is unknown", res.StatusCode))
	}
	return nil
}

// unknown: nothing can be told about the transaction; it is looked up before anything
// is sent again.
func unknown(ref, msg string) *providers.Error {
	return providers.Classify(providers.Failure{Provider: Name, Reason: billing.CodeProcessingError, ChargeID: ref, Message: msg})
}

func own(err error) error {
	if e, ok := providers.AsError(err); ok {
		e.Provider = Name
	}
	return err
}
