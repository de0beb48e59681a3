package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/stripe"
	"github.com/recurring/recurring/providers/stripe/stripetest"
)

// stripeDouble is the Stripe adapter pointed at stripetest.Fake, which plays Stripe's
// 3-D Secure redirect (stripe-mock cannot).
func stripeDouble(t *testing.T) (*stripetest.Fake, *stripe.Provider) {
	t.Helper()
	fake := stripetest.New(t)
	sp, err := stripe.New(stripe.Config{SecretKey: "sk_test_fake_for_the_double", BaseURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	return fake, sp
}

// approveOnStripe plays the customer approving on Stripe's page at acsURL and returns
// where Stripe sends them back (the engine's callback, on the worker's public host).
func approveOnStripe(t *testing.T, acsURL string) *url.URL {
	t.Helper()
	return redirectOf(t, acsURL+"?answer=approve")
}

// redirectOf fetches u without following redirects and returns where it sends the
// browser (an issuer's page sending the customer back to the engine).
func redirectOf(t *testing.T, u string) *url.URL {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Get(u)
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
	fake, sp := stripeDouble(t)
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
		back := approveOnStripe(t, acsURL)
		if !strings.HasPrefix(back.String(), publicHost+"/v1/providers/stripe/callback?") ||
			!strings.HasPrefix(back.Query().Get("payment_intent"), "pi_") {
			t.Fatalf("Stripe sent the customer back to %q", back)
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

// TestAmountsStripeCannotTakeAreRefusedAtCreation: on Stripe, 123.45 MGA (Stripe
// charges ariary whole) and 5.125 JOD (three-decimal amounts must end in 0) are 422
// amount_not_supported naming the field when the payment or plan is created, for a
// saved card, a new card and a hosted page; whole ariary is taken. The simulator takes
// them all. SQLite and Postgres.
func TestAmountsStripeCannotTakeAreRefusedAtCreation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	fake, sp := stripeDouble(t)
	eachStore(t, fixtureOptions{temporal: withTemporal, providers: []providers.Provider{sp}}, func(t *testing.T, f fixture) {
		cus := f.createCustomer(t, f.testKey, "mia@example.com")
		before := fake.Created("payment_intents")
		var saved struct {
			ID string `json:"id"`
		}
		f.ok(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey,
			`{"provider":"stripe","card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123"}}`, &saved)
		newCard := `"card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123"},"provider":"stripe"`
		for _, tc := range []struct{ name, path, body, param string }{
			{"saved card", "/v1/payments", fmt.Sprintf(`{"customer":%q,"payment_method":%q,"amount":12345,"currency":"MGA"}`, cus.ID, saved.ID), "amount"},
			{"new card", "/v1/payments", fmt.Sprintf(`{"customer":%q,%s,"amount":5125,"currency":"JOD"}`, cus.ID, newCard), "amount"},
			{"hosted payment", "/v1/payments", fmt.Sprintf(`{"customer":%q,"provider":"stripe","amount":12345,"currency":"MGA"}`, cus.ID), "amount"},
			{"plan", "/v1/plans", fmt.Sprintf(`{"customer":%q,"payment_method":%q,"currency":"MGA","schedule":{"frequency":"months","first_amount":10000,"recurring_amount":12345}}`, cus.ID, saved.ID), "schedule.recurring_amount"},
			{"hosted plan", "/v1/plans", fmt.Sprintf(`{"customer":%q,"provider":"stripe","currency":"JOD","schedule":{"frequency":"months","recurring_amount":5120,"final_amount":5125,"installments":3}}`, cus.ID), "schedule.final_amount"},
			{"variable plan", "/v1/plans", fmt.Sprintf(`{"customer":%q,"payment_method":%q,"currency":"MGA","schedule":{"payments":[{"date":"2031-01-01","amount":10000},{"date":"2031-02-01","amount":10050}]}}`, cus.ID, saved.ID), "schedule.payments.1.amount"},
		} {
			rec, e := f.do(t, http.MethodPost, tc.path, f.testKey, tc.body)
			if rec.Code != http.StatusUnprocessableEntity || e.Error.Code != "amount_not_supported" || e.Error.Param != tc.param {
				t.Errorf("%s: %d %+v, want 422 amount_not_supported naming %s", tc.name, rec.Code, e.Error, tc.param)
			}
		}
		if n := fake.Created("payment_intents") - before; n != 0 {
			t.Errorf("%d PaymentIntents created for refused amounts", n)
		}
		// A plan on the simulator (which takes fractional ariary) cannot move to a Stripe
		// card that cannot charge it.
		sim := f.saveCard(t, f.testKey, cus.ID, "4242424242424242")
		var onSim struct {
			ID string `json:"id"`
		}
		f.ok(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(`{"customer":%q,"payment_method":%q,"currency":"MGA","schedule":{"frequency":"months","start_date":"2031-01-01","recurring_amount":12345}}`, cus.ID, sim.ID), &onSim)
		rec, e := f.do(t, http.MethodPost, "/v1/plans/"+onSim.ID+"/payment-method", f.testKey, fmt.Sprintf(`{"payment_method":%q}`, saved.ID))
		if rec.Code != http.StatusUnprocessableEntity || e.Error.Code != "amount_not_supported" || e.Error.Param != "payment_method" {
			t.Errorf("moving an MGA 123.45 plan to a Stripe card: %d %+v, want 422 amount_not_supported naming payment_method", rec.Code, e.Error)
		}
		// Whole ariary goes through; the simulator takes fractional ariary.
		var whole struct {
			Status string `json:"status"`
			Amount int64  `json:"amount"`
		}
		f.ok(t, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(`{"customer":%q,"payment_method":%q,"amount":12300,"currency":"MGA"}`, cus.ID, saved.ID), &whole)
		if whole.Status != "succeeded" || whole.Amount != 12300 {
			t.Errorf("123 MGA on Stripe: %+v", whole)
		}
		if rec, _ := f.do(t, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(`{"customer":%q,"payment_method":%q,"amount":12345,"currency":"MGA"}`, cus.ID, sim.ID)); rec.Code != http.StatusCreated {
			t.Errorf("123.45 MGA on the simulator = %d, want 201", rec.Code)
		}
	})
}

// TestHostedPlanWithStripeRedirect: a plan created without a card, on Stripe: the page
// sends the customer to Stripe's 3-D Secure, the return starts the plan, and the plan's
// first installment is the PaymentIntent that authenticated (no second one); the next
// installment is a new, merchant-initiated PaymentIntent. SQLite and Postgres.
func TestHostedPlanWithStripeRedirect(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	fake, sp := stripeDouble(t)
	const publicHost = "http://engine.test"
	eachStore(t, fixtureOptions{temporal: withTemporalAt(publicHost), providers: []providers.Provider{sp}}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		cus := f.createCustomer(t, f.testKey, "noa@example.com")
		var p hostedPlanBody
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"provider":"stripe","currency":"EUR","schedule":{"frequency":"seconds","frequency_duration":3,"recurring_amount":2500,"installments":2}}`,
			cus.ID), &p); code != http.StatusCreated || p.Status != "incomplete" {
			t.Fatalf("create plan = %d %+v", code, p)
		}
		before := fake.Created("payment_intents")
		c := newCustomer(t)
		_, u, page := c.get(p.PaymentURL)
		_, acsURL, _ := c.post(u, page, card(stripetest.AuthenticationRequiredCard))
		if !strings.HasPrefix(acsURL, fake.URL+"/acs/pi_") {
			t.Fatalf("after the card the customer is at %s", acsURL)
		}
		back := approveOnStripe(t, acsURL)
		_, _, done := c.get(srv.URL + back.RequestURI())
		if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
			t.Fatalf("back from Stripe: %s", done)
		}
		got := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "completed" })
		if got.Paid != 2 {
			t.Errorf("plan %+v, want both installments paid", got)
		}
		var list listBody[struct {
			Installment      int    `json:"installment"`
			PaymentType      string `json:"payment_type"`
			ProviderChargeID string `json:"provider_charge_id"`
		}]
		f.ok(t, http.MethodGet, "/v1/plans/"+p.ID+"/payments", f.testKey, "", &list)
		byInst := map[int]string{}
		for _, pay := range list.Data {
			byInst[pay.Installment] = pay.PaymentType + " " + pay.ProviderChargeID
		}
		authenticated := back.Query().Get("payment_intent")
		if byInst[1] != "initial "+authenticated || !strings.HasPrefix(byInst[2], "recurring pi_") || byInst[2] == "recurring "+authenticated {
			t.Errorf("payments %v, want installment 1 on the authenticated intent %s and 2 on a new one", byInst, authenticated)
		}
		if n := fake.Created("payment_intents") - before; n != 2 {
			t.Errorf("%d PaymentIntents for two installments, want 2", n)
		}
	})
}

// TestStripeHostedSessionDeclineThenAbandon: on a hosted Stripe page a declined card
// leaves the page open for another card (each card its own idempotency key), and a
// customer who approves on Stripe's page but never comes back does not pay: when the
// session expires the authorised PaymentIntent is canceled and the payment is expired.
// SQLite and Postgres.
func TestStripeHostedSessionDeclineThenAbandon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	fake, sp := stripeDouble(t)
	eachStore(t, fixtureOptions{temporal: withTemporalAt("http://engine.test"), providers: []providers.Provider{sp}}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		cus := f.createCustomer(t, f.testKey, "lea@example.com")
		var p hostedBody
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(
			`{"customer":%q,"amount":1999,"currency":"EUR","provider":"stripe","expires_in":6}`, cus.ID), &p); code != http.StatusCreated {
			t.Fatalf("create hosted payment = %d", code)
		}
		c := newCustomer(t)
		_, u, page := c.get(p.PaymentURL)
		code, u, again := c.post(u, page, card(stripetest.DeclinedCard))
		if code != http.StatusUnprocessableEntity || !strings.Contains(again, `id="card-form"`) {
			t.Fatalf("after a declined card: %d %s", code, again)
		}
		_, acsURL, _ := c.post(u, again, card(stripetest.AuthenticationRequiredCard))
		if !strings.HasPrefix(acsURL, fake.URL+"/acs/pi_") {
			t.Fatalf("the second card did not reach Stripe's page: %s", acsURL)
		}
		pi := strings.TrimPrefix(acsURL, fake.URL+"/acs/")
		approveOnStripe(t, acsURL) // approved, and the tab closed
		if st := fake.Status(pi); st != "requires_capture" {
			t.Fatalf("after approval the intent is %s", st)
		}
		var got hostedBody
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			got = hostedBody{}
			f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+p.ID, f.testKey, "", &got)
			if got.Status == "expired" && fake.Status(pi) == "canceled" {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if got.Status != "expired" || fake.Status(pi) != "canceled" {
			t.Errorf("abandoned after approval: payment %s, intent %s; want expired and canceled", got.Status, fake.Status(pi))
		}
	})
}

// TestProvidersListTheirCapabilities: GET /v1/providers shows, per provider and
// method, recurring, refunds, 3-D Secure and MOTO as each adapter declares them, and
// each declaration matches what the adapter implements (3-D Secure: an Authenticator).
func TestProvidersListTheirCapabilities(t *testing.T) {
	sp, err := stripe.New(stripe.Config{SecretKey: "sk_test_fake_for_the_double", BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, fixtureOptions{providers: []providers.Provider{sp}})
	var list struct {
		Data []struct {
			Provider     string `json:"provider"`
			Method       string `json:"method"`
			Recurring    bool   `json:"recurring"`
			Refunds      bool   `json:"refunds"`
			ThreeDSecure bool   `json:"three_d_secure"`
			Moto         bool   `json:"moto"`
		} `json:"data"`
	}
	f.ok(t, http.MethodGet, "/v1/providers", f.testKey, "", &list)
	got := map[string]string{}
	for _, c := range list.Data {
		got[c.Provider+"/"+c.Method] = fmt.Sprintf("recurring=%v refunds=%v 3ds=%v moto=%v", c.Recurring, c.Refunds, c.ThreeDSecure, c.Moto)
	}
	want := map[string]string{
		"simulator/card": "recurring=true refunds=true 3ds=true moto=true",
		"stripe/card":    "recurring=true refunds=true 3ds=true moto=false",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	for _, p := range []providers.Provider{f.sim, sp} {
		_, isAuth := p.(providers.Authenticator)
		for _, c := range p.Capabilities() {
			if c.ThreeDS != isAuth {
				t.Errorf("%s declares 3-D Secure %v but implements it: %v", p.Name(), c.ThreeDS, isAuth)
			}
		}
	}
}
