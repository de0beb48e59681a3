package stripe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/providertest"
	"github.com/recurring/recurring/providers/stripe"
)

const testKey = "sk_test_51SuperSecretValueThatMustNeverBeLogged"

func newProvider(t *testing.T, baseURL string, timeout time.Duration) *stripe.Provider {
	t.Helper()
	p, err := stripe.New(stripe.Config{SecretKey: testKey, BaseURL: baseURL, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestContractAgainstStripeMock(t *testing.T) {
	base := stripeMockURL(t)
	providertest.Run(t,
		func(t *testing.T) providers.Provider { return newProvider(t, base, 10*time.Second) },
		providertest.TestCards{Success: providertest.Card("4242424242424242")},
		providertest.Stateless("stripe-mock is stateless and answers from fixtures: it neither replays "+
			"idempotency keys nor declines test cards; Stripe decline mapping is covered by TestErrorMapping"),
	)
}

// stripeError is a Stripe-shaped error response.
type stripeError struct {
	status  int
	headers map[string]string
	body    string
}

func serve(t *testing.T, respond func(r *http.Request, body url.Values) stripeError) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		raw, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(raw))
		e := respond(r, form)
		for k, v := range e.headers {
			w.Header().Set(k, v)
		}
		if strings.HasPrefix(e.body, "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(e.status)
		_, _ = io.WriteString(w, e.body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func chargeReq(init providers.Initiator) providers.ChargeRequest {
	return providers.ChargeRequest{Token: "pm_1", CustomerRef: "cus_1", Amount: 1050, Currency: "USD",
		IdempotencyKey: "plan_1/3/1", Initiator: init, NetworkTransactionID: "580150927563045",
		Description: "installment 3", Metadata: map[string]string{"plan_id": "plan_1"}}
}

// TestErrorMapping feeds Stripe-shaped errors through the real stripe-go client, because
// stripe-mock cannot produce declines.
func TestErrorMapping(t *testing.T) {
	cases := []struct {
		name       string
		resp       stripeError
		class      providers.Class
		code       string
		retryAfter time.Duration
		network    string
	}{
		{"insufficient funds",
			stripeError{402, nil, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","network_decline_code":"51","payment_method":{"id":"pm_1","object":"payment_method","card":{"brand":"visa"}}}}`},
			providers.ClassSoftDecline, billing.CodeInsufficientFunds, 0, "51"},
		{"visa R1 overrides a generic decline",
			stripeError{402, nil, `{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","network_decline_code":"R1","payment_method":{"id":"pm_1","object":"payment_method","card":{"brand":"visa"}}}}`},
			providers.ClassHardDecline, billing.CodeAuthorizationRevoked, 0, "R1"},
		{"mastercard advice 03 stops retries",
			stripeError{402, nil, `{"error":{"type":"card_error","code":"card_declined","decline_code":"do_not_honor","network_advice_code":"03","payment_method":{"id":"pm_1","object":"payment_method","card":{"brand":"mastercard"}}}}`},
			providers.ClassHardDecline, billing.CodeDoNotRetry, 0, ""},
		{"mastercard advice 25 hints a day",
			stripeError{402, nil, `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","network_advice_code":"25","payment_method":{"id":"pm_1","object":"payment_method","card":{"brand":"mastercard"}}}}`},
			providers.ClassSoftDecline, billing.CodeInsufficientFunds, 24 * time.Hour, ""},
		{"stripe advice do_not_try_again",
			stripeError{402, nil, `{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","advice_code":"do_not_try_again"}}`},
			providers.ClassHardDecline, billing.CodeDoNotRetry, 0, ""},
		{"expired card code",
			stripeError{402, nil, `{"error":{"type":"card_error","code":"expired_card","message":"Your card has expired."}}`},
			providers.ClassHardDecline, billing.CodeCardExpired, 0, ""},
		{"lost card",
			stripeError{402, nil, `{"error":{"type":"card_error","code":"card_declined","decline_code":"lost_card"}}`},
			providers.ClassHardDecline, billing.CodeLostCard, 0, ""},
		{"authentication required",
			stripeError{402, nil, `{"error":{"type":"card_error","code":"authentication_required","decline_code":"authentication_required","payment_intent":{"id":"pi_123","object":"payment_intent","client_secret":"pi_123_secret_TOPSECRET","status":"requires_payment_method"}}}`},
			providers.ClassAuthenticationRequired, billing.CodeAuthenticationRequired, 0, ""},
		{"processing error",
			stripeError{402, nil, `{"error":{"type":"card_error","code":"processing_error"}}`},
			providers.ClassTransient, billing.CodeProcessingError, 0, ""},
		{"rate limit with retry-after",
			stripeError{429, map[string]string{"Retry-After": "2"}, `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests"}}`},
			providers.ClassTransient, billing.CodeRateLimited, 2 * time.Second, ""},
		{"api error 500",
			stripeError{500, nil, `{"error":{"type":"api_error","message":"Something went wrong"}}`},
			providers.ClassTransient, billing.CodeProviderUnavailable, 0, ""},
		{"html 502 from a proxy",
			stripeError{502, nil, `<html>bad gateway</html>`},
			providers.ClassTransient, billing.CodeNetworkError, 0, ""},
		{"idempotency key reused with other params",
			stripeError{400, nil, `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}`},
			providers.ClassInvalidRequest, billing.CodeIdempotencyConflict, 0, ""},
		{"idempotency key in use",
			stripeError{409, nil, `{"error":{"type":"invalid_request_error","code":"idempotency_key_in_use"}}`},
			providers.ClassTransient, billing.CodeIdempotencyKeyInUse, 0, ""},
		{"bad api key",
			stripeError{401, nil, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_****"}}`},
			providers.ClassInvalidRequest, billing.CodeProviderAuthenticationFailed, 0, ""},
		{"detached payment method",
			stripeError{400, nil, `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"payment_method"}}`},
			providers.ClassInvalidRequest, billing.CodeResourceMissing, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, calls := serve(t, func(*http.Request, url.Values) stripeError { return c.resp })
			p := newProvider(t, srv.URL, 5*time.Second)
			_, err := p.Charge(context.Background(), chargeReq(providers.InitiatorMerchant))
			e, ok := providers.AsError(err)
			if !ok {
				t.Fatalf("Charge = %T %v, want *providers.Error", err, err)
			}
			if e.Class != c.class || e.Code != c.code {
				t.Fatalf("got %s/%s (%v), want %s/%s", e.Class, e.Code, err, c.class, c.code)
			}
			if e.RetryAfter != c.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, c.retryAfter)
			}
			if e.NetworkCode != c.network {
				t.Errorf("NetworkCode = %q, want %q", e.NetworkCode, c.network)
			}
			if e.Provider != stripe.Name {
				t.Errorf("Provider = %q", e.Provider)
			}
			if strings.Contains(err.Error(), "TOPSECRET") || strings.Contains(err.Error(), testKey) {
				t.Errorf("error text leaks a secret: %v", err)
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("%d requests: stripe-go retried on its own; retries belong to the activity", n)
			}
		})
	}
}

func TestChargeRequestShape(t *testing.T) {
	var got []url.Values
	var headers []http.Header
	srv, _ := serve(t, func(r *http.Request, form url.Values) stripeError {
		got, headers = append(got, form), append(headers, r.Header.Clone())
		return stripeError{200, nil, `{"id":"pi_1","object":"payment_intent","amount":1050,"currency":"usd","status":"succeeded",
			"latest_charge":{"id":"ch_1","object":"charge","payment_method_details":{"type":"card","card":{"network_transaction_id":"580150927563045"}}}}`}
	})
	p := newProvider(t, srv.URL, 5*time.Second)
	for _, init := range []providers.Initiator{providers.InitiatorCustomer, providers.InitiatorMerchant} {
		res, err := p.Charge(context.Background(), chargeReq(init))
		if err != nil {
			t.Fatal(err)
		}
		want := providers.ChargeResult{ID: "pi_1", Status: providers.ChargeSucceeded, NetworkTransactionID: "580150927563045", Amount: 1050, Currency: "USD"}
		if res != want {
			t.Errorf("%s charge = %+v, want %+v", init, res, want)
		}
	}
	common := map[string]string{
		"amount": "1050", "currency": "usd", "payment_method": "pm_1", "customer": "cus_1", "confirm": "true",
		"payment_method_types[0]": "card", "expand[0]": "latest_charge", "metadata[plan_id]": "plan_1",
		"description": "installment 3",
	}
	for i, form := range got {
		for k, v := range common {
			if form.Get(k) != v {
				t.Errorf("request %d: %s = %q, want %q (form %v)", i, k, form.Get(k), v, form)
			}
		}
		if h := headers[i].Get("Idempotency-Key"); h != "plan_1/3/1" {
			t.Errorf("request %d: Idempotency-Key = %q", i, h)
		}
		if h := headers[i].Get("Authorization"); h != "Bearer "+testKey {
			t.Errorf("request %d: Authorization = %q", i, h)
		}
	}
	cit, mit := got[0], got[1]
	if cit.Get("setup_future_usage") != "off_session" || cit.Get("error_on_requires_action") != "true" || cit.Has("off_session") {
		t.Errorf("customer-initiated form %v: want setup_future_usage=off_session, error_on_requires_action, no off_session", cit)
	}
	if mit.Get("off_session") != "true" || mit.Has("setup_future_usage") || mit.Has("error_on_requires_action") {
		t.Errorf("merchant-initiated form %v: want off_session=true only", mit)
	}
}

func TestPaymentIntentOutcomes(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		status providers.ChargeStatus
		code   string
	}{
		{"processing", `{"id":"pi_1","object":"payment_intent","amount":1050,"currency":"usd","status":"processing"}`, providers.ChargePending, ""},
		{"requires action", `{"id":"pi_1","object":"payment_intent","status":"requires_action"}`, "", billing.CodeAuthenticationRequired},
		{"failed attempt", `{"id":"pi_1","object":"payment_intent","status":"requires_payment_method","last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"stolen_card"}}`, "", billing.CodeStolenCard},
		{"canceled", `{"id":"pi_1","object":"payment_intent","status":"canceled"}`, "", billing.CodeCardDeclined},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, _ := serve(t, func(*http.Request, url.Values) stripeError { return stripeError{200, nil, c.body} })
			res, err := newProvider(t, srv.URL, 5*time.Second).Charge(context.Background(), chargeReq(providers.InitiatorMerchant))
			if c.code == "" {
				if err != nil || res.Status != c.status {
					t.Fatalf("= %+v %v, want status %s", res, err, c.status)
				}
				return
			}
			e, ok := providers.AsError(err)
			if !ok || e.Code != c.code || e.ChargeID != "pi_1" {
				t.Fatalf("= %v, want %s on pi_1", err, c.code)
			}
		})
	}
}

func TestEveryCallHasATimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	p := newProvider(t, srv.URL, 100*time.Millisecond)

	start := time.Now()
	_, err := p.Charge(context.Background(), chargeReq(providers.InitiatorCustomer))
	if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeTimeout || !e.Retryable() {
		t.Fatalf("hanging charge = %v, want a retryable timeout", err)
	}
	_, err = p.SaveCard(context.Background(), providers.SaveCardRequest{Card: providertest.Card("4242424242424242")})
	if providers.CodeOf(err) != billing.CodeTimeout {
		t.Errorf("hanging save = %v, want timeout", err)
	}
	_, err = p.Refund(context.Background(), providers.RefundRequest{ChargeID: "pi_1", IdempotencyKey: "r"})
	if providers.CodeOf(err) != billing.CodeTimeout {
		t.Errorf("hanging refund = %v, want timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("three 100ms-bounded calls took %v", d)
	}
}

func TestConfigValidation(t *testing.T) {
	cases := map[string]stripe.Config{
		"no key":          {},
		"publishable key": {SecretKey: "pk_test_123"},
		"relative url":    {SecretKey: "sk_test_1", BaseURL: "localhost:12111"},
		"negative":        {SecretKey: "sk_test_1", Timeout: -time.Second},
	}
	for name, cfg := range cases {
		if _, err := stripe.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "pk_test_123") {
			t.Errorf("%s: error echoes the key: %v", name, err)
		}
	}
	for _, key := range []string{"sk_live_x", "sk_test_x", "rk_live_x"} {
		if _, err := stripe.New(stripe.Config{SecretKey: key}); err != nil {
			t.Errorf("%s rejected: %v", key, err)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	cfg := stripe.Config{SecretKey: testKey, BaseURL: "http://127.0.0.1:1"}
	p, err := stripe.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type appConfig struct {
		Stripe stripe.Config
		Port   int
	}
	app := appConfig{Stripe: cfg, Port: 8080}

	var out bytes.Buffer
	for _, v := range []any{cfg, &cfg, app, &app, p} {
		fmt.Fprintf(&out, "%v %+v %#v %s\n", v, v, v, v)
		b, _ := json.Marshal(v)
		out.Write(b)
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("config", "stripe", cfg, "app", app, "provider", p)
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "stripe", cfg, "app", app, "provider", p)
	if strings.Contains(out.String(), "SuperSecret") {
		t.Fatalf("the secret key was printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "sk_test_[REDACTED]") {
		t.Errorf("redacted form missing:\n%s", out.String())
	}
}
