package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/stripe"
	"github.com/recurring/recurring/providers/stripe/stripetest"
)

// TestHostedPaymentWithStripeRedirect: a hosted payment on Stripe whose card needs
// 3-D Secure sends the customer to Stripe's page (next_action.redirect_to_url); Stripe
// returns them to GET /v1/providers/stripe/callback with the PaymentIntent's id and
// client secret; the engine reads the intent back, completes the session and shows
// the outcome. The PaymentIntent that authenticated is the charge (one intent), the
// card is saved, and a replayed or forged return changes nothing. Stripe's 3-D Secure
// is played by stripetest.Fake (stripe-mock cannot redirect). SQLite and Postgres.
func TestHostedPaymentWithStripeRedirect(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	fake := stripetest.New(t)
	sp, err := stripe.New(stripe.Config{SecretKey: "sk_test_fake_for_the_double", BaseURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	// The worker tells Stripe to send the customer back to this host; the test's
	// browser brings the return to the test server instead.
	const publicHost = "http://engine.test"
	eachStore(t, fixtureOptions{temporal: withTemporalAt(publicHost), providers: []providers.Provider{sp}}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		cus := f.createCustomer(t, f.testKey, "sam@example.com")
		var p hostedBody
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(
			`{"customer":%q,"amount":1999,"currency":"EUR","provider":"stripe","save_card":true}`, cus.ID), &p); code != http.StatusCreated {
			t.Fatalf("create hosted payment = %d", code)
		}
		before := fake.Created("payment_intents")
		c := newCustomer(t)
		_, u, page := c.get(p.PaymentURL)
		_, acsURL, acs := c.post(u, page, card(stripetest.AuthenticationRequiredCard))
		if !strings.HasPrefix(acsURL, fake.URL+"/acs/pi_") || !strings.Contains(acs, "Stripe test authentication") {
			t.Fatalf("after the card the customer is at %s: %s", acsURL, acs)
		}
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := noFollow.Get(acsURL + "?answer=approve")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		back, err := url.Parse(res.Header.Get("Location"))
		if err != nil || !strings.HasPrefix(back.String(), publicHost+"/v1/providers/stripe/callback?") ||
			!strings.HasPrefix(back.Query().Get("payment_intent"), "pi_") {
			t.Fatalf("Stripe sent the customer back to %q", res.Header.Get("Location"))
		}
		returnURL := srv.URL + back.RequestURI()
		code, doneURL, done := c.get(returnURL)
		if m := outcome.FindStringSubmatch(done); code != http.StatusOK || m == nil || m[1] != "succeeded" || !strings.HasSuffix(doneURL, "/done") {
			t.Fatalf("back from Stripe: %d %s %s", code, doneURL, done)
		}
		var got struct {
			hostedBody
			ProviderChargeID string `json:"provider_charge_id"`
			Provider         string `json:"provider"`
		}
		f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &got)
		if got.Status != "succeeded" || got.PaymentType != "initial" || got.Provider != "stripe" ||
			got.ProviderChargeID != back.Query().Get("payment_intent") {
			t.Errorf("payment %+v, want succeeded on the authenticated intent %s", got, back.Query().Get("payment_intent"))
		}
		if n := fake.Created("payment_intents") - before; n != 1 {
			t.Errorf("%d PaymentIntents for one hosted payment, want 1", n)
		}
		var pm paymentMethodBody
		f.apiCall(t, srv, http.MethodGet, "/v1/payment-methods/"+got.PaymentMethod, f.testKey, "", &pm)
		if pm.Status != "active" {
			t.Errorf("the saved card is %s", pm.Status)
		}

		// The same return again, and one with a forged client secret.
		if code, _, _ := newCustomer(t).get(returnURL); code != http.StatusBadRequest {
			t.Errorf("a replayed return = %d, want 400", code)
		}
		forged := back.Query()
		forged.Set("payment_intent_client_secret", "pi_forged_secret")
		if code, _, _ := newCustomer(t).get(srv.URL + "/v1/providers/stripe/callback?" + forged.Encode()); code != http.StatusUnauthorized {
			t.Errorf("a forged return = %d, want 401", code)
		}
		if n := fake.Created("payment_intents") - before; n != 1 {
			t.Errorf("%d PaymentIntents after the replays, want 1", n)
		}
	})
}
