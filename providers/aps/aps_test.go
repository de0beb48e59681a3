package aps_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/providers/aps/apstest"
	"github.com/recurring/recurring/providers/providertest"
)

var account = apstest.Account{AccessCode: "SILgpo7pWbmzuURp2qri", MerchantIdentifier: "MxvOupuG",
	RequestPhrase: "req-phrase-never-logged", ResponsePhrase: "resp-phrase-never-logged", SHAType: aps.SHA256}

func newProvider(t *testing.T, d *apstest.Double, timeout time.Duration) *aps.Provider {
	t.Helper()
	cfg := d.Config()
	cfg.Timeout = timeout
	p, err := aps.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSignatureDocumentationVectors: the worked examples of APS's signature
// documentation ("Create Signature Value"): a PURCHASE request, and a Merchant Page
// TOKENIZATION form whose card fields stay out of the signature. The documentation
// prints the hex in upper case; Verify accepts either case.
func TestSignatureDocumentationVectors(t *testing.T) {
	purchase := map[string]string{"command": "PURCHASE", "merchant_reference": "Test010", "amount": "1000",
		"access_code": "SILgpo7pWbmzuURp2qri", "merchant_identifier": "MxvOupuG", "currency": "USD", "language": "en",
		"customer_email": "test@gmail.com", "signature": "b88db48baaa600c3fadac502c75a832e3470029f"}
	wantString := "PASSaccess_code=SILgpo7pWbmzuURp2qriamount=1000command=PURCHASEcurrency=USDcustomer_email=test@gmail.comlanguage=enmerchant_identifier=MxvOupuGmerchant_reference=Test010PASS"
	if got := aps.SigningString(purchase, "PASS"); got != wantString {
		t.Fatalf("signing string\n got %s\nwant %s", got, wantString)
	}
	sig, err := aps.Sign(purchase, "PASS", aps.SHA256)
	if err != nil || sig != strings.ToLower("94C38AFC7BDAE0114FC8C740EDF12416F22998241CE4B4EA70D5521233A2C882") {
		t.Fatalf("Sign = %s, %v; want the documentation's 94C38AFC…2C882", sig, err)
	}
	purchase["signature"] = "94C38AFC7BDAE0114FC8C740EDF12416F22998241CE4B4EA70D5521233A2C882"
	if !aps.Verify(purchase, "PASS", aps.SHA256) {
		t.Error("Verify refused the documentation's upper-case signature")
	}
	purchase["amount"] = "1001"
	if aps.Verify(purchase, "PASS", aps.SHA256) {
		t.Error("Verify accepted a signature over another amount")
	}

	tokenization := map[string]string{"service_command": "TOKENIZATION", "language": "en", "merchant_identifier": "MxvOupuG",
		"access_code": "SILgpo7pWbmzuURp2qri", "merchant_reference": "MyReference0001", "card_security_code": "123",
		"card_number": "4005550000000001", "expiry_date": "2105", "remember_me": "YES", "card_holder_name": "John Smith"}
	if sig, _ := aps.SignTokenizationForm(tokenization, "PASS", aps.SHA256); sig != strings.ToLower("7EE560CCD621DA61BFC772F2F1B5849BABDA768F5EE36D4DE67EFA88403E4B99") {
		t.Errorf("tokenization form signature %s, want the documentation's 7EE560CC…4B99", sig)
	}
	// APS signs its answer to the form over every field, the masked card included
	// (the official SDKs drop only "signature" before checking). The expected value is
	// hashed here from the string written out by hand, not by the adapter's code.
	answer := map[string]string{"service_command": "TOKENIZATION", "access_code": "SILgpo7pWbmzuURp2qri",
		"merchant_identifier": "MxvOupuG", "merchant_reference": "MyReference0001", "language": "en",
		"response_code": "18000", "status": "18", "response_message": "Success", "token_name": "Op9Vmp",
		"card_number": "400555******0001", "expiry_date": "2105", "card_bin": "400555"}
	byHand := sha256.Sum256([]byte("RESPaccess_code=SILgpo7pWbmzuURp2qricard_bin=400555card_number=400555******0001expiry_date=2105" +
		"language=enmerchant_identifier=MxvOupuGmerchant_reference=MyReference0001response_code=18000response_message=Success" +
		"service_command=TOKENIZATIONstatus=18token_name=Op9VmpRESP"))
	answer["signature"] = hex.EncodeToString(byHand[:])
	if !aps.Verify(answer, "RESP", aps.SHA256) {
		t.Error("a tokenization answer signed over all its fields does not verify")
	}

	// SHA-512 over the same string (computed with sha512sum, not from the documentation).
	purchase["amount"] = "1000"
	if sig, _ := aps.Sign(purchase, "PASS", aps.SHA512); sig != "01575815bbdb23a862855bf2087012e243215e6464b6239a422d9a85936adca90bf6c3227c180890ad13b00ddf3a248608053d7174cbe622f24bdf2d5f345638" {
		t.Errorf("SHA-512 signature %s", sig)
	}
	if _, err := aps.Sign(purchase, "PASS", "SHA-1"); err == nil {
		t.Error("an unknown SHA type signed")
	}
}

func TestContract(t *testing.T) {
	d := apstest.New(t, account)
	providertest.Run(t, func(t *testing.T) providers.Provider { return newProvider(t, d, 5*time.Second) },
		providertest.TestCards{
			Success: providertest.Card(apstest.CardVisa),
			Declines: []providertest.Decline{
				{Name: "do not honor", Card: providertest.Card(apstest.CardDeclined), Class: providers.ClassSoftDecline, Code: billing.CodeCardDeclined},
				{Name: "insufficient funds", Card: providertest.Card(apstest.CardNoFunds), Class: providers.ClassSoftDecline, Code: billing.CodeInsufficientFunds},
				{Name: "expired", Card: providertest.Card(apstest.CardExpired), Class: providers.ClassHardDecline, Code: billing.CodeCardExpired},
				{Name: "lost card (acquirer 41)", Card: providertest.Card(apstest.CardLost), Class: providers.ClassHardDecline, Code: billing.CodeLostCard},
				{Name: "3-D Secure requested", Card: providertest.Card(apstest.CardThreeDS), Class: providers.ClassAuthenticationRequired, Code: billing.CodeAuthenticationRequired},
				{Name: "recurring not permitted (acquirer 57)", Card: providertest.Card(apstest.CardRecurringOnly), MerchantInitiated: true,
					Class: providers.ClassHardDecline, Code: billing.CodeTransactionNotAllowed},
			},
			Timeout: providertest.Card(apstest.CardNeverAnswers),
		},
		providertest.ChainsByToken("APS links recurring charges to the consent by token_name and agreement_id"),
	)
}

func save(t *testing.T, p *aps.Provider, number string) providers.SavedCard {
	t.Helper()
	saved, err := p.SaveCard(context.Background(), providers.SaveCardRequest{CustomerID: "cus_1", Email: "ann@example.com",
		Name: "Ann O'Neil", Card: providertest.Card(number), IdempotencyKey: "cus_1/save/" + number})
	if err != nil {
		t.Fatal(err)
	}
	return saved
}

// TestPurchaseFields: what each kind of charge sends. The first, customer-initiated
// charge is eci ECOMMERCE, a MOTO order eci MOTO, every installment eci RECURRING with
// token_name, customer_email and the agreement_id of its stored credential;
// merchant_reference comes from the idempotency key; amounts are ISO 4217 minor units
// (100 JOD is 100000, 500 JPY is 500).
func TestPurchaseFields(t *testing.T) {
	ctx := context.Background()
	d := apstest.New(t, account)
	p := newProvider(t, d, 5*time.Second)
	saved := save(t, p, apstest.CardVisa)
	if saved.CustomerRef != "ann@example.com" || saved.Last4 != "0001" || !strings.HasPrefix(saved.Token, "tok") {
		t.Fatalf("saved card %+v", saved)
	}
	charge := func(key string, init providers.Initiator, amount int64, currency string, moto bool, tok string) {
		t.Helper()
		res, err := p.Charge(ctx, providers.ChargeRequest{Token: tok, CustomerRef: saved.CustomerRef, Amount: amount, Currency: currency,
			IdempotencyKey: key, Initiator: init, MOTO: moto, Description: "plan_1 installment <1>"})
		if err != nil || res.Status != providers.ChargeSucceeded || res.ID != aps.MerchantReference(key) || res.Amount != amount {
			t.Fatalf("charge %s: %+v, %v", key, res, err)
		}
	}
	charge("plan_1/1/1", providers.InitiatorCustomer, 100000, "JOD", false, saved.Token)
	charge("pay_moto", providers.InitiatorCustomer, 500, "JPY", true, saved.Token)
	charge("plan_1/2/1", providers.InitiatorMerchant, 2500, "AED", false, aps.Token(saved.Token, "AGR-778"))

	want := []map[string]string{
		{"merchant_reference": "plan_1.1.1", "amount": "100000", "currency": "JOD", "eci": "ECOMMERCE", "agreement_id": ""},
		{"merchant_reference": "pay_moto", "amount": "500", "currency": "JPY", "eci": "MOTO", "agreement_id": ""},
		{"merchant_reference": "plan_1.2.1", "amount": "2500", "currency": "AED", "eci": "RECURRING", "agreement_id": "AGR-778"},
	}
	reqs := d.Requests()
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		r := reqs[i]
		if r["command"] != "PURCHASE" || r["token_name"] != saved.Token || r["customer_email"] != "ann@example.com" ||
			r["order_description"] != "plan_1 installment  1" {
			t.Errorf("request %d: %v", i, r)
		}
		for k, v := range w {
			if r[k] != v {
				t.Errorf("request %d: %s = %q, want %q", i, k, r[k], v)
			}
		}
	}
}

func TestMerchantReference(t *testing.T) {
	for key, want := range map[string]string{
		"plan_01JABCDEFGHJKMNPQRSTVWXYZ0/12/3": "plan_01JABCDEFGHJKMNPQRSTVWXYZ0.12.3",
		"pay_01JABCDEFGHJKMNPQRSTVWXYZ0":       "pay_01JABCDEFGHJKMNPQRSTVWXYZ0",
	} {
		if got := aps.MerchantReference(key); got != want {
			t.Errorf("MerchantReference(%q) = %q, want %q", key, got, want)
		}
	}
	long := "plan_01JABCDEFGHJKMNPQRSTVWXYZ0/120/13/extra"
	for _, key := range []string{long, "a.b", "a/b", "ümlaut", "with space"} {
		got := aps.MerchantReference(key)
		if len(got) > 40 || strings.Trim(got, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
			t.Errorf("MerchantReference(%q) = %q breaks APS's rules (40 of A-Z a-z 0-9 . _ -)", key, got)
		}
		if got != aps.MerchantReference(key) {
			t.Errorf("MerchantReference(%q) is not stable", key)
		}
	}
	if aps.MerchantReference("a.b") == aps.MerchantReference("a/b") {
		t.Error("two keys share a merchant reference")
	}
}

// TestLostAnswersAreLookedUp: an answer that timed out, came back 5xx, or failed its
// signature check is never taken as success: the charge is a transient error (outcome
// unknown), CHECK_STATUS finds the order, and sending the key again returns that order
// instead of making a second one.
func TestLostAnswersAreLookedUp(t *testing.T) {
	for _, fault := range []struct {
		name string
		kind apstest.FaultKind
	}{{"timeout", apstest.Timeout}, {"5xx", apstest.ServerError}, {"bad signature", apstest.BadSignature}} {
		t.Run(fault.name, func(t *testing.T) {
			ctx := context.Background()
			d := apstest.New(t, account)
			p := newProvider(t, d, 300*time.Millisecond)
			saved := save(t, p, apstest.CardVisa)
			req := providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 1050, Currency: "SAR",
				IdempotencyKey: "plan_9/4/1", Initiator: providers.InitiatorMerchant}
			d.Inject(apstest.Fault{Kind: fault.kind})
			_, err := p.Charge(ctx, req)
			if e, ok := providers.AsError(err); !ok || !e.Retryable() {
				t.Fatalf("charge with a lost answer = %v, want a transient error", err)
			}
			found, err := p.FindCharge(ctx, req)
			if err != nil || found.Status != providers.ChargeSucceeded || found.ID != "plan_9.4.1" {
				t.Fatalf("FindCharge = %+v, %v; want the order plan_9.4.1", found, err)
			}
			again, err := p.Charge(ctx, req)
			if err != nil || again != found {
				t.Fatalf("the key sent again = %+v, %v; want the first order %+v", again, err, found)
			}
			if n := len(d.Orders()); n != 1 {
				t.Fatalf("%d orders, want 1", n)
			}
		})
	}
}

// TestResponseCodes: how APS's answers land in the decline taxonomy.
func TestResponseCodes(t *testing.T) {
	ctx := context.Background()
	d := apstest.New(t, account)
	p := newProvider(t, d, 5*time.Second)
	saved := save(t, p, apstest.CardVisa)
	for i, c := range []struct {
		code, acquirer string
		class          providers.Class
		want           string
	}{
		{"13029", "", providers.ClassSoftDecline, billing.CodeInsufficientFunds},
		{"13012", "", providers.ClassHardDecline, billing.CodeCardExpired},
		{"13016", "", providers.ClassHardDecline, billing.CodeInvalidCardNumber},
		{"13666", "05", providers.ClassSoftDecline, billing.CodeCardDeclined},
		{"13666", "43", providers.ClassHardDecline, billing.CodeStolenCard},
		{"13666", "04", providers.ClassHardDecline, billing.CodeCardBlocked},
		{"13785", "", providers.ClassHardDecline, billing.CodeCardBlocked},
		{"13050", "", providers.ClassSoftDecline, billing.CodeLimitExceeded},
		{"20064", "", providers.ClassAuthenticationRequired, billing.CodeAuthenticationRequired},
		{"13006", "", providers.ClassTransient, billing.CodeProcessingError},
		{"15777", "", providers.ClassTransient, billing.CodeProcessingError},
		{"19000", "", providers.ClassTransient, billing.CodeProcessingError},
		{"00044", "", providers.ClassInvalidRequest, billing.CodePaymentMethodNotFound},
		{"00010", "", providers.ClassInvalidRequest, billing.CodeProviderAuthenticationFailed},
		{"00033", "", providers.ClassInvalidRequest, billing.CodeInvalidRequest},
		{"13013", "", providers.ClassInvalidRequest, billing.CodeInvalidRequest},
		{"20000", "", providers.ClassTransient, billing.CodeProcessingError},
		{"20090", "", providers.ClassTransient, billing.CodeProcessingError},
		{"40000", "", providers.ClassTransient, billing.CodeProcessingError},
	} {
		d.Inject(apstest.Fault{Kind: apstest.Decline, Code: c.code, Acquirer: c.acquirer})
		_, err := p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 100, Currency: "AED",
			IdempotencyKey: fmt.Sprintf("codes/%d", i), Initiator: providers.InitiatorMerchant})
		e, ok := providers.AsError(err)
		if !ok || e.Class != c.class || e.Code != c.want {
			t.Errorf("%s/%s: %v, want %s/%s", c.code, c.acquirer, err, c.class, c.want)
		}
	}
}

// TestWrongPhrasesAndBadInput: a request signed with the wrong phrase is refused by APS
// (008) and is a configuration error; an answer checked with the wrong response phrase
// is never success; a card without an email cannot be saved; a refund needs an amount.
func TestWrongPhrasesAndBadInput(t *testing.T) {
	ctx := context.Background()
	d := apstest.New(t, account)
	good := newProvider(t, d, 5*time.Second)
	saved := save(t, good, apstest.CardVisa)
	req := providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 100, Currency: "AED",
		IdempotencyKey: "phrases/1", Initiator: providers.InitiatorMerchant}

	cfg := d.Config()
	cfg.RequestPhrase = "wrong"
	wrongReq, _ := aps.New(cfg)
	_, err := wrongReq.Charge(ctx, req)
	if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeProviderAuthenticationFailed || e.Retryable() {
		t.Errorf("wrong request phrase: %v, want provider_authentication_failed", err)
	}
	cfg = d.Config()
	cfg.ResponsePhrase = "wrong"
	wrongResp, _ := aps.New(cfg)
	if _, err := wrongResp.Charge(ctx, req); err == nil {
		t.Error("an answer that failed the signature check was taken as success")
	}
	if _, err := good.FindCharge(ctx, req); err != nil {
		t.Errorf("the order behind the unverified answer: %v", err)
	}

	_, err = good.SaveCard(ctx, providers.SaveCardRequest{CustomerID: "cus_2", Card: providertest.Card(apstest.CardVisa)})
	if e, ok := providers.AsError(err); !ok || e.Param != "email" {
		t.Errorf("save without email: %v, want a parameter error naming email", err)
	}
	_, err = good.Refund(ctx, providers.RefundRequest{ChargeID: "phrases.1", IdempotencyKey: "r1"})
	if e, ok := providers.AsError(err); !ok || e.Param != "amount" {
		t.Errorf("refund without amount: %v, want a parameter error naming amount", err)
	}
	if _, err := good.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 100,
		Currency: "XYZ", IdempotencyKey: "bad/cur", Initiator: providers.InitiatorMerchant}); providers.CodeOf(err) != billing.CodeAmountNotSupported {
		t.Errorf("unknown currency: %v", err)
	}
}

// TestSecretsStayOut: the access code and phrases appear in no printed, logged or
// marshalled configuration or provider, and in no error.
func TestSecretsStayOut(t *testing.T) {
	d := apstest.New(t, account)
	cfg := d.Config()
	p := newProvider(t, d, 5*time.Second)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "provider", p)
	js, _ := json.Marshal(cfg)
	_, err := p.Charge(context.Background(), providers.ChargeRequest{Token: "nope", CustomerRef: "a@b.co", Amount: 1, Currency: "AED",
		IdempotencyKey: "x", Initiator: providers.InitiatorMerchant})
	out := fmt.Sprintf("%v %+v %#v %s %s %s %v", cfg, cfg, cfg, js, logs.String(), p, err)
	for _, secret := range []string{account.AccessCode, account.RequestPhrase, account.ResponsePhrase} {
		if strings.Contains(out, secret) {
			t.Errorf("a secret leaked: %s", out)
		}
	}
	for _, bad := range []aps.Config{
		{MerchantIdentifier: "m", RequestPhrase: "r", ResponsePhrase: "s", SHAType: aps.SHA256},
		{AccessCode: "a", MerchantIdentifier: "m", RequestPhrase: "r", ResponsePhrase: "s", SHAType: "MD5"},
		{AccessCode: "a", MerchantIdentifier: "m", RequestPhrase: "r", ResponsePhrase: "s", SHAType: aps.SHA512, BaseURL: "https://x.test/FortAPI/paymentApi"},
	} {
		if _, err := aps.New(bad); err == nil {
			t.Errorf("aps.New(%v) accepted a bad configuration", bad)
		}
	}
}

// TestImportToken: a token_name (with its agreement_id) saved at APS before is taken
// with the merchant's card details and the customer's email, then charged eci
// RECURRING with both; bad or missing fields are refused naming them.
func TestImportToken(t *testing.T) {
	ctx := context.Background()
	d := apstest.New(t, account)
	p := newProvider(t, d, 5*time.Second)
	d.AddToken("legacy-token_42", apstest.CardVisa)
	saved, err := p.ImportToken(ctx, providers.ImportTokenRequest{Fields: map[string]string{"token_name": "legacy-token_42", "agreement_id": "AGR-9"},
		Email: "omar@example.com", Brand: "VISA", Last4: "0001", ExpMonth: 9, ExpYear: 2031})
	if err != nil || saved.CustomerRef != "omar@example.com" || saved.Brand != "visa" || saved.Last4 != "0001" {
		t.Fatalf("import = %+v, %v", saved, err)
	}
	if _, err := p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 990, Currency: "KWD",
		IdempotencyKey: "plan_imp/1/1", Initiator: providers.InitiatorMerchant}); err != nil {
		t.Fatal(err)
	}
	r := d.Requests()[0]
	if r["token_name"] != "legacy-token_42" || r["agreement_id"] != "AGR-9" || r["eci"] != "RECURRING" || r["amount"] != "990" {
		t.Errorf("charge of the imported token sent %v", r)
	}
	full := map[string]string{"token_name": "t1"}
	for _, tc := range []struct {
		fields map[string]string
		email  string
		last4  string
		param  string
	}{
		{map[string]string{}, "a@b.co", "0001", "token.token_name"},
		{map[string]string{"token_name": "bad token!"}, "a@b.co", "0001", "token.token_name"},
		{map[string]string{"token_name": "t1", "payment_method": "pm_1"}, "a@b.co", "0001", "token.payment_method"},
		{full, "", "0001", "customer"},
		{full, "a@b.co", "", "card.last4"},
	} {
		_, err := p.ImportToken(ctx, providers.ImportTokenRequest{Fields: tc.fields, Email: tc.email, Brand: "visa", Last4: tc.last4, ExpMonth: 1, ExpYear: 2030})
		if e, ok := providers.AsError(err); !ok || e.Param != tc.param || e.Class != providers.ClassInvalidRequest {
			t.Errorf("import %v: %v, want an invalid request naming %s", tc.fields, err, tc.param)
		}
	}
}

// TestLookupsOnlySettleWhatWasFound: a CHECK_STATUS that itself failed, or an answer
// that is not 200, says nothing about the order: "cannot tell" (transient), never a
// decline. An order that failed for good, even "technically" (13006), is a found
// decline; one for another amount is a found idempotency conflict.
func TestLookupsOnlySettleWhatWasFound(t *testing.T) {
	ctx := context.Background()
	d := apstest.New(t, account)
	p := newProvider(t, d, 5*time.Second)
	saved := save(t, p, apstest.CardVisa)
	req := providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 700, Currency: "QAR",
		IdempotencyKey: "plan_l/1/1", Initiator: providers.InitiatorMerchant}
	if _, err := p.Charge(ctx, req); err != nil {
		t.Fatal(err)
	}
	for _, f := range []apstest.Fault{{Kind: apstest.Refuse, Code: "11017"}, {Kind: apstest.Refuse, Code: "00010"},
		{Kind: apstest.ServerError, Status: 404}, {Kind: apstest.BadSignature}} {
		d.Inject(f)
		_, err := p.FindCharge(ctx, req)
		if e, ok := providers.AsError(err); !ok || !e.Retryable() || providers.IsFound(err) {
			t.Errorf("lookup answered %+v: %v, want a transient cannot-tell", f, err)
		}
	}
	other := req
	other.Amount = 701
	if _, err := p.FindCharge(ctx, other); providers.CodeOf(err) != billing.CodeIdempotencyConflict || !providers.IsFound(err) {
		t.Errorf("lookup for another amount: %v, want a found idempotency conflict", err)
	}

	technical := req
	technical.IdempotencyKey = "plan_l/2/1"
	d.Inject(apstest.Fault{Kind: apstest.Decline, Code: "13006"})
	if _, err := p.Charge(ctx, technical); !isTransientErr(err) {
		t.Fatalf("13006 at charge time: %v, want transient (looked up next)", err)
	}
	_, err := p.FindCharge(ctx, technical)
	if e, ok := providers.AsError(err); !ok || e.Class != providers.ClassSoftDecline || !providers.IsFound(err) {
		t.Errorf("lookup of an order that failed 13006: %v, want a found soft decline", err)
	}
	if _, err := p.Charge(ctx, technical); !providers.IsFound(err) {
		t.Errorf("the key sent again: %v, want the found decline (no second order)", err)
	}
	if n := len(d.Orders()); n != 2 {
		t.Errorf("%d orders, want 2", n)
	}
}

func isTransientErr(err error) bool {
	e, ok := providers.AsError(err)
	return ok && e.Retryable()
}

func TestIsProduction(t *testing.T) {
	for u, want := range map[string]bool{
		"": true, aps.ProductionURL: true, "https://paymentservices.payfort.com:443": true, "https://PaymentServices.PayFort.com/": true,
		"http://paymentservices.payfort.com": true, aps.SandboxURL: false, "http://127.0.0.1:8080": false,
	} {
		if got := aps.IsProduction(u); got != want {
			t.Errorf("IsProduction(%q) = %v, want %v", u, got, want)
		}
	}
}

// TestThreeDSecureAuthorizesThenCaptures: BeginAuthentication authorizes (no money
// taken) and answers the 3ds_url; the signed return names the session and is refused
// when tampered with or too old; CompleteAuthentication reads the authorization's
// state; the charge captures it once, a repeat of the charge (its answer lost) finds
// the capture instead of capturing again; an authorization nothing charges is voided.
// Without a return URL, or for a card change (Setup), there is no authentication.
func TestThreeDSecureAuthorizesThenCaptures(t *testing.T) {
	ctx := context.Background()
	d := apstest.New(t, account)
	p := newProvider(t, d, 5*time.Second)
	saved := save(t, p, apstest.CardThreeDS)
	begin := func(key string) providers.Authentication {
		t.Helper()
		a, err := p.BeginAuthentication(ctx, providers.AuthenticationRequest{Token: saved.Token, CustomerRef: saved.CustomerRef,
			Amount: 4200, Currency: "SAR", IdempotencyKey: key, ReturnURL: "https://engine.example/v1/provider-accounts/pa_1/callback",
			Session: providers.Callback{MerchantID: "mer_1", Mode: billing.ModeTest, SessionID: "pay_3ds"}})
		if err != nil || a.Status != providers.AuthenticationChallenge || !strings.HasPrefix(a.ChallengeURL, d.URL+"/3ds/") {
			t.Fatalf("begin = %+v, %v; want a challenge on the 3ds_url", a, err)
		}
		return a
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	a := begin("pay_3ds/3ds/pm_1")
	res, err := noFollow.Get(a.ChallengeURL + "?answer=approve")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	var form url.Values
	for _, o := range d.Orders() {
		if o.Reference == a.ID && o.Code != "02000" {
			t.Fatalf("after the challenge the order is %+v, want authorized (02000)", o)
		}
	}
	// A second authorization, denied: its return is the redirect's signed query.
	{
		a2 := begin("pay_3ds2/3ds/pm_1")
		res, err := noFollow.Get(a2.ChallengeURL + "?answer=deny")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		loc, _ := url.Parse(res.Header.Get("Location"))
		form = loc.Query()
		cb, err := p.VerifyCallback(ctx, form, time.Now())
		if err != nil || cb.MerchantID != "mer_1" || cb.Mode != billing.ModeTest || cb.SessionID != "pay_3ds" || cb.AuthenticationID != a2.ID {
			t.Fatalf("callback = %+v, %v", cb, err)
		}
		if _, err := p.VerifyCallback(ctx, form, time.Now().Add(2*time.Hour)); !errors.Is(err, providers.ErrCallbackStale) {
			t.Errorf("a return two hours late = %v, want stale", err)
		}
		forged := url.Values{}
		for k, v := range form {
			forged[k] = v
		}
		forged.Set("merchant_extra2", "pay_other")
		if _, err := p.VerifyCallback(ctx, forged, time.Now()); !errors.Is(err, providers.ErrCallbackSignature) {
			t.Errorf("a return naming another session = %v, want a bad signature", err)
		}
		if st, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a2.ID, Amount: 4200}); err != nil ||
			st.Status != providers.AuthenticationFailed {
			t.Errorf("a denied challenge completes as %+v, %v; want failed", st, err)
		}
	}
	st, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a.ID, Amount: 4200, Currency: "SAR"})
	if err != nil || st.Status != providers.AuthenticationSucceeded {
		t.Fatalf("complete = %+v, %v", st, err)
	}
	charge := providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 4200, Currency: "SAR",
		IdempotencyKey: "pay_3ds", Initiator: providers.InitiatorCustomer, Authentication: &st}
	first, err := p.Charge(ctx, charge)
	if err != nil || first.ID != a.ID || first.Status != providers.ChargeSucceeded {
		t.Fatalf("charge = %+v, %v; want the captured authorization %s", first, err, a.ID)
	}
	again, err := p.Charge(ctx, charge)
	if err != nil || again != first {
		t.Fatalf("the charge repeated = %+v, %v; want %+v", again, err, first)
	}
	if found, err := p.FindCharge(ctx, charge); err != nil || found.ID != a.ID {
		t.Fatalf("FindCharge = %+v, %v", found, err)
	}
	captures := 0
	for _, r := range d.Requests() {
		if r["command"] == "CAPTURE" {
			captures++
		}
	}
	if captures != 2 { // the repeat was answered from the first capture's maintenance_reference
		t.Errorf("%d CAPTURE requests, want 2 (one capture, one repeat answered as the first)", captures)
	}
	for _, o := range d.Orders() {
		if o.Reference == a.ID && o.Captured != "4200" {
			t.Errorf("the authorization %+v, want captured once for 4200", o)
		}
	}

	// Nothing will charge this one: void it.
	a3 := begin("pay_3ds3/3ds/pm_1")
	res, err = noFollow.Get(a3.ChallengeURL + "?answer=approve")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if err := p.CancelAuthentication(ctx, a3.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.CancelAuthentication(ctx, a3.ID); err != nil {
		t.Errorf("voiding twice: %v", err)
	}
	for _, o := range d.Orders() {
		if o.Reference == a3.ID && o.Code != "08000" {
			t.Errorf("the unused authorization %+v, want voided", o)
		}
	}
	for _, req := range []providers.AuthenticationRequest{
		{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 100, Currency: "SAR", IdempotencyKey: "k1"},
		{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 0, Currency: "SAR", IdempotencyKey: "k2", Setup: true, ReturnURL: "https://x"},
	} {
		if a, err := p.BeginAuthentication(ctx, req); err != nil || a.Status != providers.AuthenticationUnavailable {
			t.Errorf("begin %+v = %+v, %v; want unavailable", req, a, err)
		}
	}
}

// TestThreeDSecureHoldsAreReleased: a capture whose answer was lost is found by the
// lookup (no second capture); an authentication naming a purchase, not an
// authorization, is never taken as this charge; an authorization for another amount,
// and one whose capture is refused for good, are voided, not left held.
func TestThreeDSecureHoldsAreReleased(t *testing.T) {
	ctx := context.Background()
	d := apstest.New(t, account)
	p := newProvider(t, d, 300*time.Millisecond)
	saved := save(t, p, apstest.CardVisa)
	authorize := func(key string, amount int64) providers.Authentication {
		t.Helper()
		a, err := p.BeginAuthentication(ctx, providers.AuthenticationRequest{Token: saved.Token, CustomerRef: saved.CustomerRef,
			Amount: amount, Currency: "SAR", IdempotencyKey: key, ReturnURL: "https://engine.example/cb"})
		if err != nil || a.Status != providers.AuthenticationSucceeded {
			t.Fatalf("frictionless begin = %+v, %v", a, err)
		}
		return a
	}
	order := func(ref string) apstest.Order {
		for _, o := range d.Orders() {
			if o.Reference == ref {
				return o
			}
		}
		t.Fatalf("no order %s", ref)
		return apstest.Order{}
	}
	captures := func() int {
		n := 0
		for _, r := range d.Requests() {
			if r["command"] == "CAPTURE" {
				n++
			}
		}
		return n
	}

	a := authorize("lost/3ds/pm", 5000)
	charge := providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 5000, Currency: "SAR",
		IdempotencyKey: "lost", Initiator: providers.InitiatorCustomer, Authentication: &a}
	d.Inject(apstest.Fault{Kind: apstest.Timeout})
	if _, err := p.Charge(ctx, charge); err == nil {
		t.Fatal("a capture whose answer was lost succeeded")
	} else if e, _ := providers.AsError(err); !e.Retryable() {
		t.Fatalf("lost capture = %v, want transient", err)
	}
	if found, err := p.FindCharge(ctx, charge); err != nil || found.ID != a.ID || found.Status != providers.ChargeSucceeded {
		t.Fatalf("FindCharge after a lost capture = %+v, %v; want the captured authorization", found, err)
	}
	if n := captures(); n != 1 || order(a.ID).Captured != "5000" {
		t.Fatalf("%d captures, order %+v; want one capture of 5000", n, order(a.ID))
	}

	if _, err := p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 700, Currency: "SAR",
		IdempotencyKey: "plan_p/1/1", Initiator: providers.InitiatorCustomer}); err != nil {
		t.Fatal(err)
	}
	foreign := providers.Authentication{ID: "plan_p.1.1", Status: providers.AuthenticationSucceeded}
	_, err := p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 700, Currency: "SAR",
		IdempotencyKey: "pay_foreign", Initiator: providers.InitiatorCustomer, Authentication: &foreign})
	if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeIdempotencyConflict {
		t.Fatalf("a charge naming a purchase as its authorization = %v, want a conflict, never that order's success", err)
	}

	other := authorize("other/3ds/pm", 9000)
	st, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: other.ID, Amount: 8000, Currency: "SAR"})
	if err != nil || st.Status != providers.AuthenticationFailed || order(other.ID).Code != "08000" {
		t.Fatalf("an authorization for another amount: %+v, %v, order %+v; want failed and voided", st, err, order(other.ID))
	}

	refused := authorize("refused/3ds/pm", 6000)
	_, err = p.Charge(ctx, providers.ChargeRequest{Token: saved.Token, CustomerRef: saved.CustomerRef, Amount: 6100, Currency: "SAR",
		IdempotencyKey: "refused", Initiator: providers.InitiatorCustomer, Authentication: &refused})
	if err == nil || order(refused.ID).Code != "08000" || order(refused.ID).Captured != "" {
		t.Fatalf("a capture refused for good = %v, order %+v; want an error and the authorization voided", err, order(refused.ID))
	}
}
