package stripe_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/stripe/stripetest"
)

// visitACS plays the customer on Stripe's page: it answers and returns the query the
// customer's browser brings back to the engine's callback route.
func visitACS(t *testing.T, challengeURL, answer string) url.Values {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(challengeURL + "?answer=" + answer)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), "https://engine.example/v1/providers/stripe/callback?") {
		t.Fatalf("Stripe's page sent the customer to %q", res.Header.Get("Location"))
	}
	return back.Query()
}

var session = providers.Callback{MerchantID: "mer_1", Mode: billing.ModeTest, SessionID: "pay_hosted1"}

func authReq(pm string, setup bool) providers.AuthenticationRequest {
	return providers.AuthenticationRequest{Token: pm, CustomerRef: "cus_1", Amount: 1050, Currency: "EUR",
		IdempotencyKey: "pay_hosted1/3ds", Setup: setup, ReturnURL: "https://engine.example/v1/providers/stripe/callback",
		Session: session}
}

// TestStripeThreeDSecureRedirect: a card that needs 3-D Secure gets Stripe's page as
// the challenge; the customer's return is verified by reading the intent back (a wrong
// client secret or an unknown intent is refused) and names the engine's session; the
// approved intent is the charge (no second PaymentIntent), refused for another amount;
// a denied one fails authentication.
func TestStripeThreeDSecureRedirect(t *testing.T) {
	ctx := context.Background()
	fake := stripetest.New(t)
	p := newProvider(t, fake.URL, 5*time.Second)

	a, err := p.BeginAuthentication(ctx, authReq("pm_card_authenticationRequired", false))
	if err != nil || a.Status != providers.AuthenticationChallenge || !strings.HasPrefix(a.ChallengeURL, fake.URL+"/acs/pi_") {
		t.Fatalf("begin: %+v, %v; want a challenge on Stripe's page", a, err)
	}
	if again, err := p.BeginAuthentication(ctx, authReq("pm_card_authenticationRequired", false)); err != nil || again.ID != a.ID {
		t.Errorf("a retried begin: %+v, %v; want the same intent %s", again, err, a.ID)
	}
	back := visitACS(t, a.ChallengeURL, "approve")
	cb, err := p.VerifyCallback(ctx, back, time.Now())
	want := providers.Callback{MerchantID: "mer_1", Mode: billing.ModeTest, SessionID: "pay_hosted1", AuthenticationID: a.ID, Answer: "return"}
	if err != nil || cb != want {
		t.Errorf("callback: %+v, %v; want %+v", cb, err, want)
	}
	for name, form := range map[string]url.Values{
		"wrong client secret": {"payment_intent": {a.ID}, "payment_intent_client_secret": {a.ID + "_secret_forged"}},
		"no client secret":    {"payment_intent": {a.ID}},
		"unknown intent":      {"payment_intent": {"pi_404"}, "payment_intent_client_secret": {"pi_404_secret_abc"}},
		"nothing":             {},
	} {
		if _, err := p.VerifyCallback(ctx, form, time.Now()); !errors.Is(err, providers.ErrCallbackSignature) {
			t.Errorf("%s: %v, want ErrCallbackSignature", name, err)
		}
	}
	if _, err := p.VerifyCallback(ctx, back, time.Now().Add(25*time.Hour)); !errors.Is(err, providers.ErrCallbackStale) {
		t.Errorf("a return a day later: %v, want ErrCallbackStale", err)
	}
	done, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a.ID, Answer: cb.Answer})
	if err != nil || done.Status != providers.AuthenticationSucceeded {
		t.Fatalf("complete: %+v, %v", done, err)
	}
	if st := fake.Status(a.ID); st != "requires_capture" {
		t.Errorf("after the customer's approval the intent is %s, want requires_capture: no money moves before the charge step", st)
	}
	charge := providers.ChargeRequest{Token: "pm_card_authenticationRequired", CustomerRef: "cus_1", Amount: 1050, Currency: "EUR",
		IdempotencyKey: "pay_hosted1", Initiator: providers.InitiatorCustomer, Authentication: &done}
	wrong := charge
	wrong.Amount = 999
	if _, err := p.Charge(ctx, wrong); err == nil {
		t.Error("an authentication for 10.50 paid a 9.99 charge")
	} else if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeAuthenticationFailed || fake.Status(a.ID) != "requires_capture" {
		t.Errorf("a 9.99 charge on a 10.50 authentication: %v, intent %s; want authentication_failed and nothing captured", err, fake.Status(a.ID))
	}
	res, err := p.Charge(ctx, charge)
	if err != nil || res.ID != a.ID || res.Status != providers.ChargeSucceeded || res.NetworkTransactionID != "nti_"+a.ID ||
		fake.Status(a.ID) != "succeeded" {
		t.Errorf("charge: %+v, %v, intent %s; want the authenticated intent captured", res, err, fake.Status(a.ID))
	}
	if again, err := p.Charge(ctx, charge); err != nil || again.ID != a.ID || again.Status != providers.ChargeSucceeded {
		t.Errorf("a retried charge: %+v, %v; want the same captured intent", again, err)
	}
	if n := fake.Created("payment_intents"); n != 1 {
		t.Errorf("%d PaymentIntents created, want 1: authentication and charge are one intent", n)
	}

	// Denied on Stripe's page: authentication failed.
	denied := authReq("pm_card_authenticationRequired", false)
	denied.IdempotencyKey = "pay_hosted2/3ds"
	a2, _ := p.BeginAuthentication(ctx, denied)
	visitACS(t, a2.ChallengeURL, "deny")
	if got, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: a2.ID}); err != nil || got.Status != providers.AuthenticationFailed {
		t.Errorf("denied: %+v, %v; want failed", got, err)
	}
}

// TestStripeFrictionlessSetupAndNoReturnURL: a frictionless card is charged by the
// intent that authenticated it; a setup (card change, verification) uses a SetupIntent
// and creates no PaymentIntent; without a return URL the adapter says unavailable and
// calls nothing.
func TestStripeFrictionlessSetupAndNoReturnURL(t *testing.T) {
	ctx := context.Background()
	fake := stripetest.New(t)
	p := newProvider(t, fake.URL, 5*time.Second)

	a, err := p.BeginAuthentication(ctx, authReq("pm_card_visa", false))
	if err != nil || a.Status != providers.AuthenticationSucceeded || !strings.HasPrefix(a.ID, "pi_") {
		t.Fatalf("frictionless: %+v, %v", a, err)
	}
	res, err := p.Charge(ctx, providers.ChargeRequest{Token: "pm_card_visa", Amount: 1050, Currency: "EUR", IdempotencyKey: "pay_1",
		Initiator: providers.InitiatorCustomer, Authentication: &a})
	if err != nil || res.ID != a.ID || fake.Created("payment_intents") != 1 {
		t.Errorf("charge after a frictionless authentication: %+v, %v, %d intents", res, err, fake.Created("payment_intents"))
	}

	setup := authReq("pm_card_authenticationRequired", true)
	setup.IdempotencyKey = "ps_change1/3ds"
	s, err := p.BeginAuthentication(ctx, setup)
	if err != nil || s.Status != providers.AuthenticationChallenge || !strings.HasPrefix(s.ID, "seti_") {
		t.Fatalf("setup: %+v, %v", s, err)
	}
	back := visitACS(t, s.ChallengeURL, "approve")
	if cb, err := p.VerifyCallback(ctx, back, time.Now()); err != nil || cb.AuthenticationID != s.ID || cb.SessionID != "pay_hosted1" {
		t.Errorf("setup callback: %+v, %v", cb, err)
	}
	if got, err := p.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: s.ID}); err != nil || got.Status != providers.AuthenticationSucceeded {
		t.Errorf("setup complete: %+v, %v", got, err)
	}
	if n := fake.Created("payment_intents"); n != 1 {
		t.Errorf("a setup created a PaymentIntent (%d in all)", n)
	}

	before := fake.Created("payment_intents") + fake.Created("setup_intents")
	noReturn := authReq("pm_card_visa", false)
	noReturn.ReturnURL = ""
	if got, err := p.BeginAuthentication(ctx, noReturn); err != nil || got.Status != providers.AuthenticationUnavailable {
		t.Errorf("without a return URL: %+v, %v; want unavailable", got, err)
	}
	if after := fake.Created("payment_intents") + fake.Created("setup_intents"); after != before {
		t.Error("without a return URL the adapter still called Stripe")
	}
}

// TestAuthenticationRequestsAgainstStripeMock: stripe-mock validates requests against
// Stripe's OpenAPI specification, so the PaymentIntent and SetupIntent the adapter
// creates for 3-D Secure (return_url, setup_future_usage, usage, metadata) are requests
// Stripe takes.
func TestAuthenticationRequestsAgainstStripeMock(t *testing.T) {
	p := newProvider(t, stripeMockURL(t), 10*time.Second)
	for _, setup := range []bool{false, true} {
		req := authReq("pm_card_visa", setup)
		req.IdempotencyKey = fmt.Sprintf("mock-3ds-%v", setup)
		if _, err := p.BeginAuthentication(context.Background(), req); err != nil {
			t.Errorf("setup=%v: stripe-mock refused the request: %v", setup, err)
		}
	}
}

// TestStripeCancelAndDeclinedCards: an authorised intent nothing will charge is
// canceled (a captured one is left alone); a declined card's authentication fails and
// a second card needs its own idempotency key (Stripe refuses a key reused with other
// parameters).
func TestStripeCancelAndDeclinedCards(t *testing.T) {
	ctx := context.Background()
	fake := stripetest.New(t)
	p := newProvider(t, fake.URL, 5*time.Second)

	held, err := p.BeginAuthentication(ctx, authReq("pm_card_visa", false))
	if err != nil || fake.Status(held.ID) != "requires_capture" {
		t.Fatalf("begin: %+v, %v, %s", held, err, fake.Status(held.ID))
	}
	if err := p.CancelAuthentication(ctx, held.ID); err != nil || fake.Status(held.ID) != "canceled" {
		t.Errorf("cancel: %v, intent %s; want canceled", err, fake.Status(held.ID))
	}
	paid := authReq("pm_card_visa", false)
	paid.IdempotencyKey = "pay_hosted9/3ds/pm_card_visa"
	a, _ := p.BeginAuthentication(ctx, paid)
	if _, err := p.Charge(ctx, providers.ChargeRequest{Token: "pm_card_visa", Amount: 1050, Currency: "EUR", IdempotencyKey: "pay_hosted9",
		Initiator: providers.InitiatorCustomer, Authentication: &a}); err != nil {
		t.Fatal(err)
	}
	if err := p.CancelAuthentication(ctx, a.ID); err != nil || fake.Status(a.ID) != "succeeded" {
		t.Errorf("cancel after capture: %v, intent %s; want it left succeeded", err, fake.Status(a.ID))
	}

	declined := authReq("pm_card_chargeDeclined", false)
	declined.IdempotencyKey = "pay_hosted2/3ds/pm_card_chargeDeclined"
	if _, err := p.BeginAuthentication(ctx, declined); err == nil {
		t.Fatal("a declined card authenticated")
	} else if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeCardDeclined {
		t.Errorf("declined card: %v", err)
	}
	next := authReq("pm_card_visa", false)
	next.IdempotencyKey = "pay_hosted2/3ds/pm_card_visa"
	if a, err := p.BeginAuthentication(ctx, next); err != nil || a.Status != providers.AuthenticationSucceeded {
		t.Errorf("the second card of the session: %+v, %v", a, err)
	}
	next.IdempotencyKey = declined.IdempotencyKey
	if _, err := p.BeginAuthentication(ctx, next); err == nil {
		t.Error("Stripe's double took a key reused with another card")
	}
}
