package axerve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/axerve"
	"github.com/recurring/recurring/providers/axerve/axervetest"
	"github.com/recurring/recurring/providers/providertest"
)

var shop = axervetest.Shop{ShopLogin: "GESPAY65987", APIKey: "R0VTUEFZNjU5ODcjI0VzZXJjZW50ZSBUZXN0-never-logged"}

func newProvider(t *testing.T, d *axervetest.Double, timeout time.Duration) *axerve.Provider {
	t.Helper()
	cfg := d.Config()
	cfg.Timeout = timeout
	p, err := axerve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func save(t *testing.T, p *axerve.Provider, number string) providers.SavedCard {
	t.Helper()
	saved, err := p.SaveCard(context.Background(), providers.SaveCardRequest{CustomerID: "cus_1", Email: "ann@example.com",
		Card: providertest.Card(number)})
	if err != nil {
		t.Fatalf("SaveCard(%s): %v", number, err)
	}
	return saved
}

// TestContract runs the shared provider contract against the double of Axerve's
// documented REST API.
func TestContract(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providers.Provider { return newProvider(t, axervetest.New(t, shop), 2*time.Second) },
		providertest.TestCards{
			Success: providertest.Card(axervetest.CardVisa),
			Declines: []providertest.Decline{
				{Name: "authorization denied (74)", Card: providertest.Card(axervetest.CardDeclined), Class: providers.ClassSoftDecline, Code: billing.CodeCardDeclined},
				{Name: "insufficient credit (251)", Card: providertest.Card(axervetest.CardNoFunds), Class: providers.ClassSoftDecline, Code: billing.CodeInsufficientFunds},
				{Name: "blocked card (441)", Card: providertest.Card(axervetest.CardBlocked), Class: providers.ClassHardDecline, Code: billing.CodeCardBlocked},
				{Name: "3-D Secure redirect (8006)", Card: providertest.Card(axervetest.CardThreeDS), Class: providers.ClassAuthenticationRequired, Code: billing.CodeAuthenticationRequired},
				{Name: "blocked for recurring (57)", Card: providertest.Card(axervetest.CardRecurringOnly), MerchantInitiated: true,
					Class: providers.ClassHardDecline, Code: billing.CodeCardBlocked},
			},
			Timeout: providertest.Card(axervetest.CardNeverAnswers),
		},
		providertest.RefundsWithoutKey("Axerve's payment/refund takes no idempotency key"))
}

// TestAmountsAndCurrencies: amounts go out as Axerve's decimal strings in the
// currency's ISO 4217 decimals; a currency outside Axerve's table is refused before any
// call (amount_not_supported), as are three-decimal currencies, which it cannot write.
func TestAmountsAndCurrencies(t *testing.T) {
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 5*time.Second)
	saved := save(t, p, axervetest.CardVisa)
	for i, tc := range []struct {
		amount   int64
		currency string
		want     string
	}{{1050, "EUR", "10.50"}, {5, "EUR", "0.05"}, {100000, "USD", "1000.00"}, {1000, "JPY", "1000"}, {990, "ISK", "990"}, {12345, "GBP", "123.45"}} {
		res, err := p.Charge(context.Background(), providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef,
			Amount: tc.amount, Currency: tc.currency, IdempotencyKey: fmt.Sprintf("plan_a/%d/1", i+1), Initiator: providers.InitiatorCustomer})
		if err != nil || res.Amount != tc.amount {
			t.Fatalf("charge %d %s = %+v, %v", tc.amount, tc.currency, res, err)
		}
		if got := d.Payments()[i].Amount; got != tc.want {
			t.Errorf("%d %s went out as %q, want %q", tc.amount, tc.currency, got, tc.want)
		}
	}
	for _, cur := range []string{"JOD", "KWD", "XYZ", "ZAR"} {
		if _, err := p.ProviderAmount(1000, cur); !errors.Is(err, providers.ErrAmountNotSupported) {
			t.Errorf("ProviderAmount(1000, %s) = %v, want ErrAmountNotSupported", cur, err)
		}
		_, err := p.Charge(context.Background(), providers.ChargeRequest{Token: saved.Token, Amount: 1000, Currency: cur,
			IdempotencyKey: "x/" + cur, Initiator: providers.InitiatorCustomer})
		if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeAmountNotSupported || e.Param != "amount" {
			t.Errorf("charge in %s = %v, want amount_not_supported", cur, err)
		}
	}
	if n := len(d.Payments()); n != 6 {
		t.Errorf("%d payments created, want 6 (refused currencies never reach Axerve)", n)
	}
}

// TestChargeFields: what each kind of charge sends, as Axerve's reference names it.
func TestChargeFields(t *testing.T) {
	ctx := context.Background()
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 5*time.Second)
	saved := save(t, p, axervetest.CardMastercard)
	if !strings.HasPrefix(saved.Token, "541238") || !strings.HasSuffix(saved.Token, "4012") || saved.Last4 != "4012" ||
		saved.CustomerRef != "ann@example.com" || saved.Fingerprint == "" {
		t.Fatalf("saved card = %+v", saved)
	}
	first, err := p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 2500,
		Currency: "EUR", IdempotencyKey: "plan_x/1/1", Initiator: providers.InitiatorCustomer})
	if err != nil || first.NetworkTransactionID == "" || first.ID != first.NetworkTransactionID {
		t.Fatalf("first charge = %+v, %v; want its paymentID as the id to chain to", first, err)
	}
	_, err = p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 2500,
		Currency: "EUR", IdempotencyKey: "plan_x/2/1", Initiator: providers.InitiatorMerchant, NetworkTransactionID: first.NetworkTransactionID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 2500,
		Currency: "EUR", IdempotencyKey: "pay_moto", Initiator: providers.InitiatorCustomer, MOTO: true})
	if err != nil {
		t.Fatal(err)
	}
	pays := d.Payments()
	for i, want := range []struct{ id, typ, previous string }{{"plan_x.1.1", "03F", ""}, {"plan_x.2.1", "03N", first.ID}, {"pay_moto", "08", ""}} {
		got := pays[i]
		if got.ShopTransactionID != want.id || got.Type != want.typ || got.Previous != want.previous || got.Method != "CREDITCARD" ||
			got.Token != saved.Token || got.BuyerEmail != "ann@example.com" || got.Result != "OK" {
			t.Errorf("payment %d = %+v, want id %s type %s previous %q", i, got, want.id, want.typ, want.previous)
		}
	}
	for _, r := range d.Requests() {
		b, _ := json.Marshal(r.Body)
		if strings.Contains(string(b), axervetest.CardMastercard) {
			t.Errorf("%s carried the card number after tokenization: %s", r.Path, b)
		}
	}
}

// TestPayPal: a PayPal billing agreement is charged with paymentType PAYPAL and its
// token; a revoked agreement is a hard decline (1165, token not found); a PayPal charge
// is never sent as a card.
func TestPayPal(t *testing.T) {
	ctx := context.Background()
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 5*time.Second)
	agreement := d.AddPayPalAgreement()
	req := providers.ChargeRequest{Token: agreement, CustomerRef: "payer@example.com", Amount: 1999, Currency: "EUR",
		IdempotencyKey: "plan_pp/2/1", Initiator: providers.InitiatorMerchant, Method: providers.MethodPayPal}
	res, err := p.Charge(ctx, req)
	if err != nil || res.Status != providers.ChargeSucceeded || res.Amount != 1999 {
		t.Fatalf("PayPal charge = %+v, %v", res, err)
	}
	pay := d.Payments()[0]
	if pay.Method != "PAYPAL" || pay.Token != agreement || pay.Type != "" || pay.Amount != "19.99" {
		t.Fatalf("PayPal payment = %+v, want PAYPAL with the agreement token and no card transDetails", pay)
	}
	if found, err := p.FindCharge(ctx, req); err != nil || found.ID != res.ID {
		t.Fatalf("FindCharge = %+v, %v; want %+v", found, err, res)
	}
	d.RevokePayPalAgreement(agreement)
	req.IdempotencyKey = "plan_pp/3/1"
	_, err = p.Charge(ctx, req)
	if e, ok := providers.AsError(err); !ok || e.Class != providers.ClassHardDecline || e.Code != billing.CodeAuthorizationRevoked {
		t.Fatalf("charge on a revoked agreement = %v, want a hard authorization_revoked", err)
	}
	if caps, ok := providers.Find(p.Capabilities(), providers.MethodPayPal); !ok || !caps.Recurring || !caps.Refunds || caps.ThreeDS {
		t.Fatalf("PayPal capability = %+v", caps)
	}
}

// TestShopTransactionID: derived from the key, stable, within 50 characters of
// [A-Za-z0-9_.-], and two keys never share one.
func TestShopTransactionID(t *testing.T) {
	long := strings.Repeat("k", 60)
	for key, want := range map[string]string{"plan_x/3/1": "plan_x.3.1", "pay_abc": "pay_abc"} {
		if got := axerve.ShopTransactionID(key); got != want {
			t.Errorf("ShopTransactionID(%q) = %q, want %q", key, got, want)
		}
	}
	for _, key := range []string{long, "a b", "a.b", "plan_x/3/1?", "ü"} {
		got := axerve.ShopTransactionID(key)
		if len(got) != 42 || !strings.HasPrefix(got, "k-") || got != axerve.ShopTransactionID(key) {
			t.Errorf("ShopTransactionID(%q) = %q, want a stable 42-character hash id", key, got)
		}
	}
	if axerve.ShopTransactionID("a.b") == axerve.ShopTransactionID("a/b") {
		t.Error("two keys share a shopTransactionID")
	}
}

// TestLostAnswersAreLookedUp: an answer that timed out, came back 5xx or was not
// Axerve's JSON, on create or on submit, is never taken as success: the charge is a
// transient error (outcome unknown), payment/detail tells what happened, and sending
// the key again returns the one payment or makes it, never a second one.
func TestLostAnswersAreLookedUp(t *testing.T) {
	for _, fault := range []struct {
		name string
		kind axervetest.FaultKind
	}{{"timeout", axervetest.Timeout}, {"5xx", axervetest.ServerError}, {"garbled", axervetest.Garble}} {
		for _, onSubmit := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s on submit=%v", fault.name, onSubmit), func(t *testing.T) {
				ctx := context.Background()
				d := axervetest.New(t, shop)
				p := newProvider(t, d, 300*time.Millisecond)
				saved := save(t, p, axervetest.CardVisa)
				req := providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 1050, Currency: "EUR",
					IdempotencyKey: "plan_9/4/1", Initiator: providers.InitiatorCustomer}
				if onSubmit {
					d.Inject(axervetest.Fault{}, axervetest.Fault{Kind: fault.kind})
				} else {
					d.Inject(axervetest.Fault{Kind: fault.kind})
				}
				_, err := p.Charge(ctx, req)
				if e, ok := providers.AsError(err); !ok || !e.Retryable() {
					t.Fatalf("charge with a lost answer = %v, want a transient error", err)
				}
				found, err := p.FindCharge(ctx, req)
				if onSubmit {
					if err != nil || found.Status != providers.ChargeSucceeded || found.Amount != 1050 {
						t.Fatalf("FindCharge = %+v, %v; want the submitted payment", found, err)
					}
				} else if !errors.Is(err, providers.ErrNoSuchCharge) {
					t.Fatalf("FindCharge of a payment never submitted = %+v, %v; want ErrNoSuchCharge", found, err)
				}
				again, err := p.Charge(ctx, req)
				if err != nil || again.Status != providers.ChargeSucceeded || (onSubmit && again != found) {
					t.Fatalf("the key sent again = %+v, %v; want %+v", again, err, found)
				}
				paid := 0
				for _, pay := range d.Payments() {
					if pay.Result == "OK" {
						paid++
					}
				}
				if paid != 1 {
					t.Fatalf("%d payments paid, want 1: %+v", paid, d.Payments())
				}
			})
		}
	}
}

// TestLookupsOnlySettleWhatWasFound: a detail query Axerve refuses says nothing about
// the payment (transient, not "no such charge"); a declined payment is found as its
// decline, final even when its code was a technical one.
func TestLookupsOnlySettleWhatWasFound(t *testing.T) {
	ctx := context.Background()
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 5*time.Second)
	saved := save(t, p, axervetest.CardVisa)
	req := providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 700, Currency: "EUR",
		IdempotencyKey: "plan_l/1/1", Initiator: providers.InitiatorMerchant, NetworkTransactionID: "146972136999"}
	d.Inject(axervetest.Fault{Kind: axervetest.Refuse, Code: "1131"})
	if _, err := p.FindCharge(ctx, req); err == nil || errors.Is(err, providers.ErrNoSuchCharge) || providers.IsFound(err) {
		t.Fatalf("FindCharge refused = %v, want cannot-tell", err)
	} else if e, _ := providers.AsError(err); !e.Retryable() {
		t.Fatalf("FindCharge refused = %v, want transient", err)
	}
	d.Inject(axervetest.Fault{}, axervetest.Fault{Kind: axervetest.Decline, Code: "9999"})
	_, err := p.Charge(ctx, req)
	if e, ok := providers.AsError(err); !ok || !e.Retryable() {
		t.Fatalf("KO 9999 = %v, want transient (looked up)", err)
	}
	_, err = p.FindCharge(ctx, req)
	if e, ok := providers.AsError(err); !providers.IsFound(err) || !ok || e.Class != providers.ClassSoftDecline {
		t.Fatalf("FindCharge of the failed payment = %v, want a found soft decline", err)
	}
	// The key answers its first outcome from now on: 1137 on create, then the detail.
	_, err = p.Charge(ctx, req)
	if e, ok := providers.AsError(err); !ok || e.Class != providers.ClassSoftDecline {
		t.Fatalf("the key sent again = %v, want the found decline", err)
	}
	if n := len(d.Payments()); n != 1 {
		t.Fatalf("%d payments, want 1", n)
	}
	other := req
	other.Amount = 800
	if _, err := p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, Amount: 900, Currency: "EUR", IdempotencyKey: "plan_l/2/1",
		Initiator: providers.InitiatorCustomer}); err != nil {
		t.Fatal(err)
	}
	other.IdempotencyKey = "plan_l/2/1"
	if _, err := p.FindCharge(ctx, other); !providers.IsFound(err) {
		t.Fatalf("FindCharge for another amount = %v, want a found idempotency conflict", err)
	} else if e, _ := providers.AsError(err); e.Code != billing.CodeIdempotencyConflict {
		t.Fatalf("FindCharge for another amount = %v, want idempotency_conflict", err)
	}
}

// TestCodes: how Axerve's codes land in the decline taxonomy.
func TestCodes(t *testing.T) {
	ctx := context.Background()
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 5*time.Second)
	saved := save(t, p, axervetest.CardVisa)
	for i, tc := range []struct {
		code  string
		class providers.Class
		want  string
	}{
		{"251", providers.ClassSoftDecline, billing.CodeInsufficientFunds},
		{"433", providers.ClassHardDecline, billing.CodeCardExpired},
		{"404", providers.ClassHardDecline, billing.CodeCardBlocked},
		{"1149", providers.ClassHardDecline, billing.CodeIncorrectCVC},
		{"8026", providers.ClassAuthenticationRequired, billing.CodeAuthenticationRequired},
		{"2001", providers.ClassSoftDecline, billing.CodeLimitExceeded},
		{"912", providers.ClassSoftDecline, billing.CodeCardDeclined},
		{"1105", providers.ClassInvalidRequest, billing.CodeInvalidRequest},
	} {
		d.Inject(axervetest.Fault{}, axervetest.Fault{Kind: axervetest.Decline, Code: tc.code})
		_, err := p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, Amount: 100, Currency: "EUR",
			IdempotencyKey: fmt.Sprintf("codes/%d", i), Initiator: providers.InitiatorCustomer})
		e, ok := providers.AsError(err)
		if !ok || e.Class != tc.class || e.Code != tc.want || e.DeclineCode != tc.code {
			t.Errorf("KO %s = %v, want %s/%s", tc.code, err, tc.class, tc.want)
		}
	}
	bad, err := axerve.New(axerve.Config{ShopLogin: shop.ShopLogin, APIKey: "wrong", BaseURL: d.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Charge(ctx, providers.ChargeRequest{Token: saved.Token, Amount: 100, Currency: "EUR", IdempotencyKey: "k", Initiator: providers.InitiatorCustomer})
	if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeProviderAuthenticationFailed || e.Retryable() {
		t.Fatalf("wrong API key = %v, want provider_authentication_failed", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error echoes the API key: %v", err)
	}
}

// TestImportToken: a card token must be one of the shop's and match last4; a PayPal
// agreement token is taken as given; unknown fields are refused naming them.
func TestImportToken(t *testing.T) {
	ctx := context.Background()
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 5*time.Second)
	tok := d.AddToken(axervetest.CardVisa)
	card := providers.ImportTokenRequest{Fields: map[string]string{"card_token": tok}, Email: "ann@example.com",
		Brand: "Visa", Last4: "2026", ExpMonth: 5, ExpYear: 2031}
	saved, err := p.ImportToken(ctx, card)
	if err != nil || saved.Token != tok || saved.Brand != "visa" || saved.CustomerRef != "ann@example.com" {
		t.Fatalf("import = %+v, %v", saved, err)
	}
	if _, err := p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 100, Currency: "EUR",
		IdempotencyKey: "imp/1", Initiator: providers.InitiatorMerchant, NetworkTransactionID: "146972136001"}); err != nil {
		t.Fatalf("charge on the imported card: %v", err)
	}
	for _, tc := range []struct {
		name  string
		req   func() providers.ImportTokenRequest
		param string
		code  string
	}{
		{"unknown token", func() providers.ImportTokenRequest {
			r := card
			r.Fields = map[string]string{"card_token": "477571ZZZZZZ2026"}
			return r
		}, "token.card_token", billing.CodePaymentMethodNotFound},
		{"other last4", func() providers.ImportTokenRequest { r := card; r.Last4 = "1111"; return r }, "card.last4", billing.CodeInvalidValue},
		{"no brand", func() providers.ImportTokenRequest { r := card; r.Brand = ""; return r }, "card.brand", billing.CodeParameterMissing},
		{"extra field", func() providers.ImportTokenRequest {
			r := card
			r.Fields = map[string]string{"card_token": tok, "token_name": "x"}
			return r
		}, "token.token_name", billing.CodeParameterUnknown},
		{"paypal field on a card", func() providers.ImportTokenRequest {
			r := card
			r.Fields = map[string]string{"paypal_token": "B-1"}
			return r
		}, "token.paypal_token", billing.CodeParameterUnknown},
		{"no paypal token", func() providers.ImportTokenRequest {
			return providers.ImportTokenRequest{Method: providers.MethodPayPal, Fields: map[string]string{}}
		}, "token.paypal_token", billing.CodeParameterMissing},
	} {
		_, err := p.ImportToken(ctx, tc.req())
		if e, ok := providers.AsError(err); !ok || e.Param != tc.param || e.Code != tc.code {
			t.Errorf("%s: %v, want %s naming %s", tc.name, err, tc.code, tc.param)
		}
	}
	pp, err := p.ImportToken(ctx, providers.ImportTokenRequest{Method: providers.MethodPayPal,
		Fields: map[string]string{"paypal_token": "B-00000000000000042"}, Email: "payer@example.com"})
	if err != nil || pp.Token != "B-00000000000000042" || pp.Last4 != "" {
		t.Fatalf("PayPal import = %+v, %v", pp, err)
	}
}

// TestSecretsStayOut: the API key never appears in the configuration's renderings, in
// the adapter's, or in errors; card numbers never appear in errors.
func TestSecretsStayOut(t *testing.T) {
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 5*time.Second)
	cfg := d.Config()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", cfg, "provider", p)
	j, _ := json.Marshal(cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%#v", p), buf.String(), string(j)} {
		if strings.Contains(s, shop.APIKey) {
			t.Errorf("the API key leaked: %s", s)
		}
	}
	_, err := p.SaveCard(context.Background(), providers.SaveCardRequest{Card: providertest.Card(axervetest.CardExpired)})
	if err == nil || strings.Contains(err.Error(), axervetest.CardExpired) {
		t.Fatalf("SaveCard of a refused card = %v", err)
	}
	const key = "SECRET-API-KEY-0123456789"
	for _, bad := range []axerve.Config{{APIKey: key}, {ShopLogin: "GESPAY1"}, {ShopLogin: "a b", APIKey: key},
		{ShopLogin: "GESPAY1", APIKey: key, BaseURL: "https://x/api/v1"}, {ShopLogin: "GESPAY1", APIKey: key + " x"}} {
		if _, err := axerve.New(bad); err == nil {
			t.Errorf("New(%v) accepted a bad configuration", bad)
		} else if strings.Contains(err.Error(), key) {
			t.Errorf("error echoes the key: %v", err)
		}
	}
	if !axerve.IsProduction("") || !axerve.IsProduction("https://ECOMMS2S.sella.it.") || axerve.IsProduction(axerve.SandboxURL) {
		t.Error("IsProduction misreads the hosts")
	}
}

// TestApprovedLookupsAreReadCarefully: payment/detail answers as the reference's
// examples vary (no currency, wrapped or flat events, "1000.00" yen) still find the
// charge; an approved payment whose authorized amount cannot be read is "cannot tell",
// never a conflict that would fail a paid installment; a readable other amount is.
func TestApprovedLookupsAreReadCarefully(t *testing.T) {
	for _, tc := range []struct {
		name, currency, events string
		amount                 int64
		want                   string // found, unknown, conflict
	}{
		{"flat event, no currency", ``, `[{"eventtype":"AUT","eventamount":"10.50"}]`, 1050, "found"},
		{"wrapped event", `EUR`, `[{"event":{"eventtype":"AUT","eventamount":"10.5"}}]`, 1050, "found"},
		{"yen with decimals", `JPY`, `[{"eventtype":"AUT","eventamount":"1000.00"}]`, 1000, "found"},
		{"no events", `EUR`, `[]`, 1050, "unknown"},
		{"settled only", `EUR`, `[{"eventtype":"MOV","eventamount":"10.50"}]`, 1050, "unknown"},
		{"numeric currency", `242`, `[{"eventtype":"AUT","eventamount":"10.50"}]`, 1050, "unknown"},
		{"another amount", `EUR`, `[{"eventtype":"AUT","eventamount":"11.50"}]`, 1050, "conflict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"error":{"code":"0","description":""},"payload":{"transactionResult":"OK","shopTransactionID":"plan_f.1.1",`+
					`"paymentID":"146972136001","currency":%q,"events":%s}}`, tc.currency, tc.events)
			}))
			defer srv.Close()
			p, err := axerve.New(axerve.Config{ShopLogin: "GESPAY1", APIKey: "k", BaseURL: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			cur := tc.currency
			if cur == "" || cur == "242" {
				cur = "EUR"
			}
			res, err := p.FindCharge(context.Background(), providers.ChargeRequest{Token: "t", Amount: tc.amount, Currency: cur,
				IdempotencyKey: "plan_f/1/1", Initiator: providers.InitiatorMerchant})
			e, _ := providers.AsError(err)
			switch tc.want {
			case "found":
				if err != nil || res.ID != "146972136001" || res.Amount != tc.amount {
					t.Fatalf("FindCharge = %+v, %v; want the charge", res, err)
				}
			case "unknown":
				if err == nil || providers.IsFound(err) || errors.Is(err, providers.ErrNoSuchCharge) || e == nil || !e.Retryable() {
					t.Fatalf("FindCharge = %+v, %v; want cannot-tell", res, err)
				}
			case "conflict":
				if !providers.IsFound(err) || e == nil || e.Code != billing.CodeIdempotencyConflict {
					t.Fatalf("FindCharge = %+v, %v; want a found idempotency conflict", res, err)
				}
			}
		})
	}
}

// TestRepeatsShareTheFirstOutcome: a charge under a key already in flight waits for
// it and answers its outcome, even an unknown one, without a second payment; a
// duplicate refusal on submit (1137) is never a decline that dunning would charge
// again; a PayPal agreement never pays a MOTO order; an amount longer than Axerve's
// nine characters is refused before any call.
func TestRepeatsShareTheFirstOutcome(t *testing.T) {
	ctx := context.Background()
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 300*time.Millisecond)
	saved := save(t, p, axervetest.CardVisa)
	req := providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 990, Currency: "EUR",
		IdempotencyKey: "plan_c/1/1", Initiator: providers.InitiatorCustomer}
	d.Inject(axervetest.Fault{}, axervetest.Fault{Kind: axervetest.Timeout})
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := p.Charge(ctx, req); errs <- err }()
	}
	for range 2 {
		if e, ok := providers.AsError(<-errs); !ok || !e.Retryable() {
			t.Fatalf("a charge sharing a lost answer = %v, want the same transient error", e)
		}
	}
	creates := 0
	for _, r := range d.Requests() {
		if r.Path == "payment/create" {
			creates++
		}
	}
	if creates != 1 {
		t.Fatalf("%d payments created under one key in flight, want 1", creates)
	}

	req.IdempotencyKey = "plan_c/2/1"
	d.Inject(axervetest.Fault{}, axervetest.Fault{Kind: axervetest.Refuse, Code: "1137"})
	_, err := p.Charge(ctx, req)
	if e, ok := providers.AsError(err); !ok || !e.Retryable() || providers.IsFound(err) {
		t.Fatalf("1137 on submit = %v, want the first payment's outcome (here: cannot tell, transient), never a decline", err)
	}

	pp := providers.ChargeRequest{Token: d.AddPayPalAgreement(), Amount: 990, Currency: "EUR", IdempotencyKey: "moto/pp",
		Initiator: providers.InitiatorCustomer, MOTO: true, Method: providers.MethodPayPal}
	if _, err := p.Charge(ctx, pp); !errors.Is(err, providers.ErrNotSupported) {
		t.Fatalf("MOTO on PayPal = %v, want ErrNotSupported", err)
	}
	if _, err := p.ProviderAmount(99999999, "EUR"); err != nil {
		t.Fatalf("999999.99 EUR refused: %v", err)
	}
	if _, err := p.ProviderAmount(100000000, "EUR"); !errors.Is(err, providers.ErrAmountNotSupported) {
		t.Fatalf("1000000.00 EUR (10 characters) = %v, want ErrAmountNotSupported", err)
	}
	if _, err := p.ProviderAmount(1000000000, "JPY"); !errors.Is(err, providers.ErrAmountNotSupported) {
		t.Fatalf("1000000000 JPY (10 characters) = %v, want ErrAmountNotSupported", err)
	}
}

// TestThreeDSecurePaysOnceAndReturnsSigned: a challenged first payment waits on
// Axerve's page; the payer's return carries the session under the adapter's MAC (a
// changed field, or a return over an hour late, is refused); the charge reads that
// payment and never pays again; a frictionless one is paid at once; a payment for
// another amount is canceled; an unused one is canceled; a card change has no
// authentication.
func TestThreeDSecurePaysOnceAndReturnsSigned(t *testing.T) {
	ctx := context.Background()
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 5*time.Second)
	challenged, plain := save(t, p, axervetest.CardThreeDS), save(t, p, axervetest.CardVisa)
	begin := func(card providers.SavedCard, key string, amount int64) providers.Authentication {
		t.Helper()
		a, err := p.BeginAuthentication(ctx, providers.AuthenticationRequest{Token: card.Token, CustomerRef: card.CustomerRef,
			Amount: amount, Currency: "EUR", IdempotencyKey: key, ReturnURL: "https://engine.example/v1/provider-accounts/pa_1/callback",
			Session: providers.Callback{MerchantID: "mer_1", Mode: billing.ModeTest, SessionID: "pay_1"}})
		if err != nil {
			t.Fatalf("begin %s: %v", key, err)
		}
		return a
	}
	a := begin(challenged, "pay_1/3ds/pm_1", 1999)
	if a.Status != providers.AuthenticationChallenge || !strings.HasPrefix(a.ChallengeURL, d.URL+"/pagam/pagam3d.aspx") {
		t.Fatalf("begin = %+v, want a challenge on Axerve's page", a)
	}
	back := answerPage(t, a, "approve")
	cb, err := p.VerifyCallback(ctx, back.Query(), time.Now())
	if err != nil || cb.MerchantID != "mer_1" || cb.SessionID != "pay_1" || cb.Mode != billing.ModeTest || cb.AuthenticationID != a.ID {
		t.Fatalf("callback %+v, %v", cb, err)
	}
	if _, err := p.VerifyCallback(ctx, back.Query(), time.Now().Add(2*time.Hour)); !errors.Is(err, providers.ErrCallbackStale) {
		t.Errorf("a return two hours late = %v, want stale", err)
	}
	for _, field := range []string{"s", "m", "pid", "ts", "mode"} {
		forged := back.Query()
		forged.Set(field, forged.Get(field)+"1")
		if _, err := p.VerifyCallback(ctx, forged, time.Now()); !errors.Is(err, providers.ErrCallbackSignature) {
			t.Errorf("a return with %s changed = %v, want a bad signature", field, err)
		}
	}
	other, err := axerve.New(axerve.Config{ShopLogin: shop.ShopLogin, APIKey: "another-key", BaseURL: d.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.VerifyCallback(ctx, back.Query(), time.Now()); !errors.Is(err, providers.ErrCallbackSignature) {
		t.Errorf("another shop key verifies the return: %v", err)
	}
	st, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a.ID, Amount: 1999, Currency: "EUR"})
	if err != nil || st.Status != providers.AuthenticationSucceeded {
		t.Fatalf("complete = %+v, %v", st, err)
	}
	charge := providers.ChargeRequest{Token: challenged.Token, Amount: 1999, Currency: "EUR", IdempotencyKey: "pay_1",
		Initiator: providers.InitiatorCustomer, Authentication: &st}
	for range 2 {
		got, err := p.Charge(ctx, charge)
		if err != nil || got.ID != a.ID || got.Status != providers.ChargeSucceeded {
			t.Fatalf("charge with the 3-D Secure payment = %+v, %v; want that payment", got, err)
		}
	}
	if found, err := p.FindCharge(ctx, charge); err != nil || found.ID != a.ID {
		t.Fatalf("FindCharge = %+v, %v", found, err)
	}
	charge.Amount = 2000
	if _, err := p.Charge(ctx, charge); !providers.IsFound(err) {
		t.Fatalf("a charge for another amount on the 3-D Secure payment = %v, want a found conflict", err)
	} else if e, _ := providers.AsError(err); e.Code != billing.CodeIdempotencyConflict {
		t.Fatalf("a charge for another amount on the 3-D Secure payment = %v, want idempotency_conflict", err)
	}

	f := begin(plain, "pay_2/3ds/pm_2", 500)
	if f.Status != providers.AuthenticationSucceeded {
		t.Fatalf("frictionless begin = %+v", f)
	}
	if err := p.CancelAuthentication(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.CancelAuthentication(ctx, f.ID); err != nil {
		t.Errorf("canceling twice: %v", err)
	}
	m := begin(plain, "pay_3/3ds/pm_2", 700)
	if st, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: m.ID, Amount: 800, Currency: "EUR"}); err != nil || st.Status != providers.AuthenticationFailed {
		t.Fatalf("a payment for another amount completes as %+v, %v; want failed", st, err)
	}
	paid := 0
	for _, pay := range d.Payments() {
		switch pay.PaymentID {
		case f.ID, m.ID:
			if !pay.Canceled {
				t.Errorf("payment %+v not canceled", pay)
			}
		}
		if pay.Result == "OK" && !pay.Canceled {
			paid++
		}
	}
	if paid != 1 {
		t.Errorf("%d payments paid and kept, want only the 3-D Secure one", paid)
	}
	if s, err := p.BeginAuthentication(ctx, providers.AuthenticationRequest{Token: plain.Token, Amount: 0, Currency: "EUR",
		IdempotencyKey: "ps_1/3ds/pm_2", Setup: true, ReturnURL: "https://x"}); err != nil || s.Status != providers.AuthenticationUnavailable {
		t.Errorf("a card change's authentication = %+v, %v; want unavailable", s, err)
	}
}

// TestThreeDSecureWaitingIsNotFailed: while the payer is on Axerve's 3-D Secure page
// the payment may still be made, so completing or canceling it is "cannot tell yet"
// (retried), never "failed, nothing taken"; once paid, an unused payment is canceled,
// and a canceled payment is never recorded as the charge. A return URL with a query of
// its own keeps it and still verifies.
func TestThreeDSecureWaitingIsNotFailed(t *testing.T) {
	ctx := context.Background()
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 5*time.Second)
	card := save(t, p, axervetest.CardThreeDS)
	a, err := p.BeginAuthentication(ctx, providers.AuthenticationRequest{Token: card.Token, Amount: 990, Currency: "EUR",
		IdempotencyKey: "pay_w/3ds/pm_1", ReturnURL: "https://engine.example/cb?lang=it",
		Session: providers.Callback{MerchantID: "mer_1", Mode: billing.ModeTest, SessionID: "pay_w"}})
	if err != nil || a.Status != providers.AuthenticationChallenge {
		t.Fatalf("begin = %+v, %v", a, err)
	}
	_, err = p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a.ID, Amount: 990, Currency: "EUR"})
	if e, ok := providers.AsError(err); !ok || !e.Retryable() {
		t.Fatalf("completing a payment still on the 3-D Secure page = %v, want cannot-tell (retryable)", err)
	}
	if err := p.CancelAuthentication(ctx, a.ID); err == nil {
		t.Fatal("canceling a payment still on the 3-D Secure page answered done; the payer can still pay it")
	}
	back := answerPage(t, a, "approve")
	if back.Query().Get("lang") != "it" {
		t.Errorf("the return URL lost its own query: %s", back)
	}
	if _, err := p.VerifyCallback(ctx, back.Query(), time.Now()); err != nil {
		t.Errorf("a return URL with a query of its own does not verify: %v", err)
	}
	if err := p.CancelAuthentication(ctx, a.ID); err != nil {
		t.Fatalf("canceling the paid, unused payment: %v", err)
	}
	succeeded := providers.Authentication{ID: a.ID, Status: providers.AuthenticationSucceeded}
	_, err = p.Charge(ctx, providers.ChargeRequest{Token: card.Token, Amount: 990, Currency: "EUR", IdempotencyKey: "pay_w",
		Initiator: providers.InitiatorCustomer, Authentication: &succeeded})
	if e, ok := providers.AsError(err); !ok || e.Class == providers.ClassTransient || !providers.IsFound(err) {
		t.Fatalf("a charge on a canceled 3-D Secure payment = %v, want a found decline, never success", err)
	}
}

// TestPayPalApprovalMakesTheFirstPayment: a PayPal first payment is created with
// paymentType PAYPAL and no agreement; its redirect is PayPal's approval page. Approved,
// CompleteAuthentication returns the agreement payment/detail names (never the
// methodToken on the unsigned return URL); the charge records that payment without
// paying again, and the next, merchant-initiated charge uses the agreement. Refused at
// PayPal, it fails with nothing taken. Without a return URL, or for a card change, no
// agreement can be approved: an invalid request.
func TestPayPalApprovalMakesTheFirstPayment(t *testing.T) {
	ctx := context.Background()
	d := axervetest.New(t, shop)
	p := newProvider(t, d, 5*time.Second)
	begin := func(key string) providers.Authentication {
		t.Helper()
		a, err := p.BeginAuthentication(ctx, providers.AuthenticationRequest{Method: providers.MethodPayPal, CustomerRef: "giulia@example.com",
			Amount: 2500, Currency: "EUR", IdempotencyKey: key, ReturnURL: "https://engine.example/v1/provider-accounts/pa_1/callback",
			Session: providers.Callback{MerchantID: "mer_1", Mode: billing.ModeTest, SessionID: key}})
		if err != nil || a.Status != providers.AuthenticationChallenge || !strings.HasPrefix(a.ChallengeURL, d.URL+axervetest.PayPalPath) {
			t.Fatalf("begin %s = %+v, %v; want PayPal's approval page", key, a, err)
		}
		return a
	}
	visit := func(a providers.Authentication, answer string) url.Values {
		t.Helper()
		return answerPage(t, a, answer).Query()
	}

	a := begin("pay_pp1")
	back := visit(a, "approve")
	cb, err := p.VerifyCallback(ctx, back, time.Now())
	if err != nil || cb.AuthenticationID != a.ID || back.Get("methodToken") == "" {
		t.Fatalf("return %v: %+v, %v", back, cb, err)
	}
	st, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a.ID, Amount: 2500, Currency: "EUR", Method: providers.MethodPayPal})
	if err != nil || st.Status != providers.AuthenticationSucceeded || st.MethodToken != back.Get("methodToken") {
		t.Fatalf("complete = %+v, %v; want succeeded with the agreement %s", st, err, back.Get("methodToken"))
	}
	if b, _ := json.Marshal(st); strings.Contains(string(b), st.MethodToken) {
		t.Errorf("the agreement token is serialised with the authentication: %s", b)
	}
	// A card's completion carries no token, even if Axerve's detail names one.
	if card, _ := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a.ID, Amount: 2500, Currency: "EUR"}); card.MethodToken != "" {
		t.Errorf("a card's completion carried a method token")
	}
	first := providers.ChargeRequest{Token: st.MethodToken, Method: providers.MethodPayPal, Amount: 2500, Currency: "EUR",
		IdempotencyKey: "pay_pp1", Initiator: providers.InitiatorCustomer, Authentication: &st}
	got, err := p.Charge(ctx, first)
	if err != nil || got.ID != a.ID || got.Status != providers.ChargeSucceeded {
		t.Fatalf("first charge = %+v, %v; want the approved payment", got, err)
	}
	next, err := p.Charge(ctx, providers.ChargeRequest{Token: st.MethodToken, Method: providers.MethodPayPal, Amount: 2500, Currency: "EUR",
		IdempotencyKey: "plan_pp/2/1", Initiator: providers.InitiatorMerchant, NetworkTransactionID: got.NetworkTransactionID})
	if err != nil || next.Status != providers.ChargeSucceeded || next.ID == a.ID {
		t.Fatalf("second charge = %+v, %v", next, err)
	}
	var paypal []axervetest.Payment
	for _, pay := range d.Payments() {
		if pay.Method == "PAYPAL" && pay.Result == "OK" {
			paypal = append(paypal, pay)
		}
	}
	if len(paypal) != 2 || paypal[0].PaymentID != a.ID || paypal[1].Token != st.MethodToken {
		t.Fatalf("Axerve's PayPal payments %+v, want the approved one and one on its agreement", paypal)
	}

	refused := begin("pay_pp2")
	visit(refused, "deny")
	if st, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: refused.ID, Amount: 2500, Currency: "EUR",
		Method: providers.MethodPayPal}); err != nil || st.Status != providers.AuthenticationFailed || st.MethodToken != "" {
		t.Fatalf("refused at PayPal: %+v, %v; want failed", st, err)
	}

	for name, req := range map[string]providers.AuthenticationRequest{
		"no return URL": {Method: providers.MethodPayPal, Amount: 2500, Currency: "EUR", IdempotencyKey: "pay_pp3"},
		"card change":   {Method: providers.MethodPayPal, Amount: 2500, Currency: "EUR", IdempotencyKey: "pay_pp4", Setup: true, ReturnURL: "https://engine.example/cb"},
	} {
		if _, err := p.BeginAuthentication(ctx, req); err == nil {
			t.Errorf("%s: a PayPal approval began", name)
		} else if e, ok := providers.AsError(err); !ok || e.Class != providers.ClassInvalidRequest {
			t.Errorf("%s: %v, want an invalid request", name, err)
		}
	}
}

// answerPage answers the double's 3-D Secure or PayPal page for a (approve or deny) and
// returns where Axerve sends the payer back.
func answerPage(t *testing.T, a providers.Authentication, answer string) *url.URL {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(a.ChallengeURL + "&answer=" + answer)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return back
}
