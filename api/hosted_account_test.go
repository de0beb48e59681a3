package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/providers/aps/apstest"
	"github.com/recurring/recurring/providers/axerve/axervetest"
	"github.com/recurring/recurring/providers/stripe/stripetest"
)

// TestHostedPagesOnAProviderAccount: hosted pages save the customer's card in the
// merchant's provider account (here an Axerve shop, pointed at its double) and charge
// through it: a hosted payment with provider_account and save_card; a plan created
// without a card on the account, started on its page (first installment 03F, the
// next 03N chained to it); the plan's own recovery page after its card is detached,
// which saves the new card in the same account. The account's cards are named on the
// payment method, the plan and its payments. Bad input is a 4xx naming the field.
// SQLite and Postgres, through HTTP with the bodies clients send.
func TestHostedPagesOnAProviderAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	d := axervetest.New(t, axervetest.Shop{ShopLogin: "GESPAY80790", APIKey: "hosted-account-key"})
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		var acc providerAccountBody
		f.ok(t, http.MethodPost, "/v1/provider-accounts", f.testKey, fmt.Sprintf(
			`{"provider":"axerve","name":"hosted","base_url":%q,"credentials":{"shop_login":"GESPAY80790","api_key":"hosted-account-key"}}`, d.URL), &acc)
		cus := f.createCustomer(t, f.testKey, "marco@example.com")
		var pm struct {
			ProviderAccount string `json:"provider_account"`
			Provider        string `json:"provider"`
		}

		// A hosted payment saved in the account.
		pay := f.hostedPayment(t, srv, fmt.Sprintf(`,"provider_account":%q,"save_card":true`, acc.ID))
		c := newCustomer(t)
		_, u, page := c.get(pay.PaymentURL)
		_, _, done := c.post(u, page, card(axervetest.CardVisa))
		var paid hostedBody
		f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+pay.ID, f.testKey, "", &paid)
		if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
			t.Fatalf("hosted payment on the account: %+v", paid)
		}
		f.ok(t, http.MethodGet, "/v1/payment-methods/"+paid.PaymentMethod, f.testKey, "", &pm)
		if paid.Status != "succeeded" || pm.ProviderAccount != acc.ID || pm.Provider != "axerve" {
			t.Fatalf("payment %+v with card %+v, want it succeeded and saved in %s", paid, pm, acc.ID)
		}

		// A plan started on its page, charged through the account.
		var p hostedPlanBody
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"currency":"EUR","provider_account":%q,"schedule":{"frequency":"seconds","frequency_duration":4,"recurring_amount":1500,"installments":3}}`,
			cus.ID, acc.ID), &p); code != http.StatusCreated || p.Status != "incomplete" {
			t.Fatalf("hosted plan on the account = %d %+v", code, p)
		}
		c = newCustomer(t)
		_, u, page = c.get(p.PaymentURL)
		_, _, done = c.post(u, page, card(axervetest.CardMastercard))
		if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
			t.Fatalf("plan page on the account: %s", done)
		}
		started := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Paid >= 1 })
		f.ok(t, http.MethodGet, "/v1/payment-methods/"+started.PaymentMethod, f.testKey, "", &pm)
		if pm.ProviderAccount != acc.ID {
			t.Fatalf("the plan's card %+v, want it in %s", pm, acc.ID)
		}

		// The card goes; the plan's recovery page saves the new one in the account.
		f.apiCall(t, srv, http.MethodPost, "/v1/payment-methods/"+started.PaymentMethod+"/detach", f.testKey, "", nil)
		f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "action_required" })
		// The page is opened by the plan's activity; the live state can show the status
		// a moment before the page's row exists.
		var waiting hostedPlanBody
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			f.apiCall(t, srv, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &waiting)
			if waiting.PaymentURL != "" || time.Now().After(deadline) {
				break
			}
		}
		if !strings.HasPrefix(waiting.PaymentURL, srv.URL+"/pay/") {
			t.Fatalf("a plan on an account shows no recovery page: %+v", waiting)
		}
		c = newCustomer(t)
		_, u, page = c.get(waiting.PaymentURL)
		_, _, done = c.post(u, page, card(axervetest.CardVisa))
		if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
			t.Fatalf("recovery page on the account: %s", done)
		}
		final := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "completed" })
		f.ok(t, http.MethodGet, "/v1/payment-methods/"+final.PaymentMethod, f.testKey, "", &pm)
		if final.Paid != 3 || final.PaymentMethod == started.PaymentMethod || pm.ProviderAccount != acc.ID {
			t.Fatalf("plan %+v with card %+v, want 3 paid, the new card in %s", final, pm, acc.ID)
		}
		byID := map[string]axervetest.Payment{}
		for _, pay := range d.Payments() {
			byID[pay.ShopTransactionID] = pay
		}
		// Installment 1 is the plan's recorded charge (the fixture's worker has no public
		// URL, so no 3-D Secure ran; TestAxerveThreeDSOnTheHostedPage has it).
		var charges listBody[struct {
			Installment      int    `json:"installment"`
			Status           string `json:"status"`
			ProviderChargeID string `json:"provider_charge_id"`
		}]
		f.ok(t, http.MethodGet, "/v1/plans/"+p.ID+"/payments", f.testKey, "", &charges)
		var first axervetest.Payment
		for _, ch := range charges.Data {
			for _, pay := range d.Payments() {
				if ch.Installment == 1 && ch.Status == "succeeded" && pay.PaymentID == ch.ProviderChargeID {
					first = pay
				}
			}
		}
		if first.Type != "03F" || first.Result != "OK" || first.Amount != "15.00" {
			t.Errorf("installment 1 at Axerve: %+v, want the customer-initiated 03F", first)
		}

		// Installments 2 and 3 are the new card's, merchant-initiated (03N). The page
		// charged nothing, so Axerve has no first payment of the new card to chain them
		// to: they go without previousTransDetails.
		newToken := ""
		for i := 2; i <= 3; i++ {
			var got axervetest.Payment
			for id, pay := range byID {
				if strings.HasPrefix(id, fmt.Sprintf("%s.%d.", p.ID, i)) && pay.Result == "OK" {
					got = pay
				}
			}
			if got.Type != "03N" || got.Token == first.Token || (newToken != "" && got.Token != newToken) {
				t.Errorf("installment %d at Axerve: %+v, want a merchant-initiated 03N on the new card", i, got)
			}
			newToken = got.Token
		}
		for _, tc := range []struct {
			name, path, body string
			status           int
			code, param      string
		}{
			{"unknown account", "/v1/payments", fmt.Sprintf(`{"customer":%q,"amount":100,"currency":"EUR","provider_account":"pa_nope"}`, cus.ID), 404, "resource_missing", "provider_account"},
			{"provider of another kind", "/v1/payments", fmt.Sprintf(`{"customer":%q,"amount":100,"currency":"EUR","provider":"simulator","provider_account":%q}`, cus.ID, acc.ID), 400, "invalid_value", "provider"},
			{"account with a saved card", "/v1/payments", fmt.Sprintf(`{"customer":%q,"amount":100,"currency":"EUR","payment_method":%q,"provider_account":%q}`, cus.ID, final.PaymentMethod, acc.ID), 400, "parameter_not_allowed", "provider_account"},
			{"currency the account cannot take", "/v1/payments", fmt.Sprintf(`{"customer":%q,"amount":100,"currency":"JOD","provider_account":%q}`, cus.ID, acc.ID), 422, "amount_not_supported", "amount"},
			{"plan with a card and an account", "/v1/plans", fmt.Sprintf(`{"customer":%q,"currency":"EUR","payment_method":%q,"provider_account":%q,"schedule":{"frequency":"months","recurring_amount":100}}`, cus.ID, final.PaymentMethod, acc.ID), 400, "parameter_unknown", "provider_account"},
		} {
			rec, e := f.do(t, http.MethodPost, tc.path, f.testKey, tc.body)
			if rec.Code != tc.status || e.Error.Code != tc.code || e.Error.Param != tc.param {
				t.Errorf("%s: %d %+v, want %d %s naming %s", tc.name, rec.Code, e.Error, tc.status, tc.code, tc.param)
			}
		}
	})
}

// TestStripeAccountRedirectReturnsToTheAccountsRoute: a hosted payment saved in the
// merchant's own Stripe account (pointed at the Stripe double) whose card needs 3-D
// Secure: Stripe sends the customer back to GET /v1/provider-accounts/{id}/callback,
// where the account's own key reads the PaymentIntent back (the installation has no
// Stripe at all); the payment succeeds on that one intent. A forged return is 401, the
// installation's provider route does not take the account's return (404: no such
// provider here), and an unknown account's route is 404. SQLite and Postgres.
func TestStripeAccountRedirectReturnsToTheAccountsRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	fake := stripetest.New(t)
	const publicHost = "http://engine.test"
	eachStore(t, fixtureOptions{temporal: withTemporalAt(publicHost)}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		var acc providerAccountBody
		f.ok(t, http.MethodPost, "/v1/provider-accounts", f.testKey, fmt.Sprintf(
			`{"provider":"stripe","name":"own Stripe","base_url":%q,"credentials":{"secret_key":"sk_test_merchant_own_key"}}`, fake.URL), &acc)

		pay := f.hostedPayment(t, srv, fmt.Sprintf(`,"provider_account":%q,"save_card":true`, acc.ID))
		c := newCustomer(t)
		_, u, page := c.get(pay.PaymentURL)
		_, acsURL, acs := c.post(u, page, card(stripetest.AuthenticationRequiredCard))
		if !strings.HasPrefix(acsURL, fake.URL+"/acs/pi_") {
			t.Fatalf("after the card the customer is at %s: %s", acsURL, acs)
		}
		back := approveOnStripe(t, acsURL)
		if !strings.HasPrefix(back.String(), publicHost+"/v1/provider-accounts/"+acc.ID+"/callback?") {
			t.Fatalf("Stripe sent the customer back to %q, want the account's route", back)
		}
		if code, _, _ := newCustomer(t).get(srv.URL + "/v1/providers/stripe/callback?" + back.RawQuery); code != http.StatusNotFound {
			t.Errorf("the account's return on the installation's route = %d, want 404", code)
		}
		forged := back.Query()
		forged.Set("payment_intent_client_secret", "pi_forged_secret")
		if code, _, _ := newCustomer(t).get(srv.URL + back.Path + "?" + forged.Encode()); code != http.StatusUnauthorized {
			t.Errorf("a forged return = %d, want 401", code)
		}
		if code, _, _ := newCustomer(t).get(srv.URL + "/v1/provider-accounts/pa_nope/callback?" + back.RawQuery); code != http.StatusNotFound {
			t.Errorf("an unknown account's route = %d, want 404", code)
		}
		code, doneURL, done := c.get(srv.URL + back.RequestURI())
		if m := outcome.FindStringSubmatch(done); code != http.StatusOK || m == nil || m[1] != "succeeded" || !strings.HasSuffix(doneURL, "/done") {
			t.Fatalf("back from Stripe: %d %s %s", code, doneURL, done)
		}
		var got struct {
			hostedBody
			ProviderChargeID string `json:"provider_charge_id"`
			ProviderAccount  string `json:"provider_account"`
		}
		f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+pay.ID, f.testKey, "", &got)
		if got.Status != "succeeded" || got.ProviderChargeID != back.Query().Get("payment_intent") || got.ProviderAccount != acc.ID {
			t.Errorf("payment %+v, want succeeded on the authenticated intent in %s", got, acc.ID)
		}
		if code, _, _ := newCustomer(t).get(srv.URL + back.RequestURI()); code != http.StatusBadRequest {
			t.Errorf("a replayed return = %d, want 400", code)
		}
	})
}

// TestAmazonPaymentServicesThreeDSOnTheHostedPage: a hosted payment saved in the
// merchant's APS account (pointed at the signed APS double) whose card the issuer wants
// authenticated: the page authorizes the amount (AUTHORIZATION, eci ECOMMERCE), sends
// the customer to the 3ds_url, APS returns them signed to the account's callback route,
// and the charge captures the authorization (CAPTURE): one order, captured once. A
// denied challenge fails the payment and leaves nothing captured; a tampered return is
// 401, and the installation's APS route refuses the account's return even when it can
// verify it. SQLite and Postgres.
func TestAmazonPaymentServicesThreeDSOnTheHostedPage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	d := apstest.New(t, apstest.Account{AccessCode: "ac3ds", MerchantIdentifier: "mid3ds", RequestPhrase: "rq3ds", ResponsePhrase: "rs3ds", SHAType: aps.SHA256})
	// The installation offers the same APS account too, so its route could verify the
	// account's returns: it must still refuse them.
	installed, err := aps.New(d.Config())
	if err != nil {
		t.Fatal(err)
	}
	const publicHost = "http://engine.test"
	eachStore(t, fixtureOptions{temporal: withTemporalAt(publicHost), providers: []providers.Provider{installed}}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		var acc providerAccountBody
		f.ok(t, http.MethodPost, "/v1/provider-accounts", f.testKey, fmt.Sprintf(
			`{"provider":"amazon_payment_services","name":"3ds","base_url":%q,"credentials":{"access_code":"ac3ds","merchant_identifier":"mid3ds","request_phrase":"rq3ds","response_phrase":"rs3ds","sha_type":"SHA-256"}}`, d.URL), &acc)
		// A card the issuer lets through: authorized without a challenge, then captured.
		pay := f.hostedPayment(t, srv, fmt.Sprintf(`,"provider_account":%q`, acc.ID))
		c := newCustomer(t)
		_, u, page := c.get(pay.PaymentURL)
		if _, _, done := c.post(u, page, card(apstest.CardVisa)); outcome.FindStringSubmatch(done) == nil || outcome.FindStringSubmatch(done)[1] != "succeeded" {
			t.Fatalf("frictionless card on APS: %s", done)
		}
		captured := 0
		for _, o := range d.Orders() {
			if o.Command == "AUTHORIZATION" && o.Captured == "2500" && o.Extras["merchant_extra2"] == pay.ID {
				captured++
			}
		}
		if captured != 1 {
			t.Fatalf("%d captured authorizations after a frictionless payment, want 1: %+v", captured, d.Orders())
		}

		for _, answer := range []string{"approve", "deny"} {
			pay := f.hostedPayment(t, srv, fmt.Sprintf(`,"provider_account":%q,"save_card":true`, acc.ID))
			c := newCustomer(t)
			_, u, page := c.get(pay.PaymentURL)
			_, acsURL, acs := c.post(u, page, card(apstest.CardThreeDS))
			if !strings.HasPrefix(acsURL, d.URL+"/3ds/") {
				t.Fatalf("after the card the customer is at %s: %s", acsURL, acs)
			}
			back := redirectOf(t, acsURL+"?answer="+answer)
			if !strings.HasPrefix(back.String(), publicHost+"/v1/provider-accounts/"+acc.ID+"/callback?") {
				t.Fatalf("APS sent the customer back to %q, want the account's route", back)
			}
			if code, _, _ := newCustomer(t).get(srv.URL + "/v1/providers/amazon_payment_services/callback?" + back.RawQuery); code != http.StatusBadRequest {
				t.Errorf("the account's signed return on the installation's route = %d, want 400", code)
			}
			tampered := back.Query()
			tampered.Set("response_code", "02000")
			tampered.Set("amount", "1")
			if code, _, _ := newCustomer(t).get(srv.URL + back.Path + "?" + tampered.Encode()); code != http.StatusUnauthorized {
				t.Errorf("a tampered return = %d, want 401", code)
			}
			code, _, done := c.get(srv.URL + back.RequestURI())
			want := map[string]string{"approve": "succeeded", "deny": "failed"}[answer]
			if m := outcome.FindStringSubmatch(done); code != http.StatusOK || m == nil || m[1] != want {
				t.Fatalf("%s: back from APS: %d %s", answer, code, done)
			}
			var got struct {
				hostedBody
				ProviderChargeID string `json:"provider_charge_id"`
			}
			f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+pay.ID, f.testKey, "", &got)
			var order *apstest.Order
			for _, o := range d.Orders() {
				if o.Command == "AUTHORIZATION" && o.Reference == back.Query().Get("merchant_reference") {
					o := o
					order = &o
				}
			}
			switch {
			case order == nil:
				t.Fatalf("%s: no authorization at APS for %s", answer, back.Query().Get("merchant_reference"))
			case answer == "approve" && (got.Status != "succeeded" || got.ProviderChargeID != order.Reference || order.Captured != "2500"):
				t.Errorf("approved: payment %+v, order %+v; want it succeeded on the captured authorization", got, order)
			case answer == "deny" && (got.Status != "failed" || order.Captured != ""):
				t.Errorf("denied: payment %+v, order %+v; want it failed with nothing captured", got, order)
			}
		}
	})
}

// TestAxerveThreeDSOnTheHostedPage: a hosted payment in the merchant's Axerve shop whose
// card the issuer wants authenticated: the first payment (03F) is submitted with
// responseURLs at the account's callback, the payer goes to Axerve's 3-D Secure page
// and back; the engine reads the payment with payment/detail and records it as the
// charge, never paying a second time. A denied challenge fails the payment; a return
// whose MAC does not match is 401. SQLite and Postgres.
func TestAxerveThreeDSOnTheHostedPage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	d := axervetest.New(t, axervetest.Shop{ShopLogin: "GESPAY3DS", APIKey: "three-ds-key"})
	const publicHost = "http://engine.test"
	eachStore(t, fixtureOptions{temporal: withTemporalAt(publicHost)}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		var acc providerAccountBody
		f.ok(t, http.MethodPost, "/v1/provider-accounts", f.testKey, fmt.Sprintf(
			`{"provider":"axerve","name":"3ds","base_url":%q,"credentials":{"shop_login":"GESPAY3DS","api_key":"three-ds-key"}}`, d.URL), &acc)
		for _, answer := range []string{"approve", "deny"} {
			pay := f.hostedPayment(t, srv, fmt.Sprintf(`,"provider_account":%q,"save_card":true`, acc.ID))
			c := newCustomer(t)
			_, u, page := c.get(pay.PaymentURL)
			_, acsURL, acs := c.post(u, page, card(axervetest.CardThreeDS))
			if !strings.HasPrefix(acsURL, d.URL+"/pagam/pagam3d.aspx") {
				t.Fatalf("after the card the customer is at %s: %s", acsURL, acs)
			}
			back := redirectOf(t, acsURL+"&answer="+answer)
			if !strings.HasPrefix(back.String(), publicHost+"/v1/provider-accounts/"+acc.ID+"/callback?") {
				t.Fatalf("Axerve sent the customer back to %q, want the account's route", back)
			}
			forged := back.Query()
			forged.Set("s", "pay_someone_else")
			if code, _, _ := newCustomer(t).get(srv.URL + back.Path + "?" + forged.Encode()); code != http.StatusUnauthorized {
				t.Errorf("a return naming another session = %d, want 401", code)
			}
			code, _, done := c.get(srv.URL + back.RequestURI())
			want := map[string]string{"approve": "succeeded", "deny": "failed"}[answer]
			if m := outcome.FindStringSubmatch(done); code != http.StatusOK || m == nil || m[1] != want {
				t.Fatalf("%s: back from Axerve: %d %s", answer, code, done)
			}
			var got struct {
				hostedBody
				ProviderChargeID string `json:"provider_charge_id"`
			}
			f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+pay.ID, f.testKey, "", &got)
			pid := back.Query().Get("pid")
			var mine []axervetest.Payment
			for _, p := range d.Payments() {
				if p.PaymentID == pid || strings.HasPrefix(p.ShopTransactionID, pay.ID) {
					mine = append(mine, p)
				}
			}
			switch {
			case answer == "approve" && (got.Status != "succeeded" || got.ProviderChargeID != pid || len(mine) != 1 || mine[0].Result != "OK" || mine[0].Type != "03F"):
				t.Errorf("approved: payment %+v, Axerve payments %+v; want one 03F payment recorded as the charge", got, mine)
			case answer == "deny" && (got.Status != "failed" || len(mine) != 1 || mine[0].Result != "KO"):
				t.Errorf("denied: payment %+v, Axerve payments %+v; want it failed, nothing paid", got, mine)
			}
		}
	})
}

// TestPayPalOnTheHostedPage: the page of a plan started on the merchant's Axerve
// account offers PayPal; the payer approves the agreement at PayPal (the double's
// approval page) and comes back through the account's callback. The approved first
// payment is installment 1 (charged once), the agreement Axerve names is sealed into a
// saved method of type paypal, and the later installments are merchant-initiated PayPal
// payments on it. Refused at PayPal, a hosted payment fails and the method that waited
// for the agreement is detached. A page whose provider cannot approve PayPal (the
// installation's simulator) shows no button and refuses method=paypal with a 422; a
// card change has none either. SQLite and Postgres.
func TestPayPalOnTheHostedPage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	d := axervetest.New(t, axervetest.Shop{ShopLogin: "GESPAYPP1", APIKey: "paypal-key"})
	const publicHost = "http://engine.test"
	paypalButton := `id="paypal"`
	eachStore(t, fixtureOptions{temporal: withTemporalAt(publicHost)}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		var acc providerAccountBody
		f.ok(t, http.MethodPost, "/v1/provider-accounts", f.testKey, fmt.Sprintf(
			`{"provider":"axerve","name":"paypal","base_url":%q,"credentials":{"shop_login":"GESPAYPP1","api_key":"paypal-key"}}`, d.URL), &acc)
		cus := f.createCustomer(t, f.testKey, "giulia@example.com")

		// approve takes the payer from the page to PayPal and back with answer; atPayPal
		// (if any) runs while the payer is on PayPal's page.
		approve := func(t *testing.T, pageURL, answer string, atPayPal func()) (*url.URL, string) {
			t.Helper()
			c := newCustomer(t)
			_, u, page := c.get(pageURL)
			if !strings.Contains(page, paypalButton) {
				t.Fatalf("the page offers no PayPal: %s", page)
			}
			_, at, body := c.post(u, page, url.Values{"method": {"paypal"}})
			if !strings.HasPrefix(at, d.URL+axervetest.PayPalPath) {
				t.Fatalf("after the PayPal button the payer is at %s: %s", at, body)
			}
			if atPayPal != nil {
				atPayPal()
			}
			back := redirectOf(t, at+"&answer="+answer)
			if !strings.HasPrefix(back.String(), publicHost+"/v1/provider-accounts/"+acc.ID+"/callback?") {
				t.Fatalf("Axerve sent the payer back to %q, want the account's route", back)
			}
			code, _, done := c.get(srv.URL + back.RequestURI())
			m := outcome.FindStringSubmatch(done)
			if code != http.StatusOK || m == nil {
				t.Fatalf("back from PayPal: %d %s", code, done)
			}
			return back, m[1]
		}

		// A plan started with PayPal.
		var p hostedPlanBody
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"currency":"EUR","provider_account":%q,"schedule":{"frequency":"seconds","frequency_duration":3,"recurring_amount":1500,"installments":3}}`,
			cus.ID, acc.ID), &p); code != http.StatusCreated || p.Status != "incomplete" {
			t.Fatalf("plan on the account = %d %+v", code, p)
		}
		back, status := approve(t, p.PaymentURL, "approve", nil)
		if status != "succeeded" {
			t.Fatalf("approved at PayPal: the page says %s", status)
		}
		agreement := back.Query().Get("methodToken")
		final := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "completed" })
		var pm struct {
			Type            string `json:"type"`
			ProviderAccount string `json:"provider_account"`
			Status          string `json:"status"`
			Card            any    `json:"card"`
		}
		f.ok(t, http.MethodGet, "/v1/payment-methods/"+final.PaymentMethod, f.testKey, "", &pm)
		if final.Paid != 3 || pm.Type != "paypal" || pm.ProviderAccount != acc.ID || pm.Status != "active" || pm.Card != nil {
			t.Fatalf("plan %+v on method %+v, want 3 paid on an active PayPal method in %s", final, pm, acc.ID)
		}
		var charges listBody[struct {
			Installment      int    `json:"installment"`
			Status           string `json:"status"`
			ProviderChargeID string `json:"provider_charge_id"`
		}]
		f.ok(t, http.MethodGet, "/v1/plans/"+p.ID+"/payments", f.testKey, "", &charges)
		byID := map[string]axervetest.Payment{}
		for _, pay := range d.Payments() {
			byID[pay.PaymentID] = pay
		}
		paid := map[int]axervetest.Payment{}
		for _, ch := range charges.Data {
			if ch.Status == "succeeded" {
				paid[ch.Installment] = byID[ch.ProviderChargeID]
			}
		}
		if first := paid[1]; first.PaymentID != back.Query().Get("pid") || first.Method != "PAYPAL" || first.Amount != "15.00" || first.Token != agreement {
			t.Errorf("installment 1 = %+v, want the payment approved at PayPal (%s) with agreement %s", first, back.Query().Get("pid"), agreement)
		}
		for i := 2; i <= 3; i++ {
			if got := paid[i]; got.Method != "PAYPAL" || got.Token != agreement || got.Result != "OK" || got.PaymentID == paid[1].PaymentID {
				t.Errorf("installment %d = %+v, want a PayPal payment on agreement %s", i, got, agreement)
			}
		}
		approved := 0
		for _, pay := range d.Payments() {
			if pay.Method == "PAYPAL" && pay.Result == "OK" && pay.Token == agreement {
				approved++
			}
		}
		if approved != 3 {
			t.Errorf("Axerve holds %d paid PayPal payments on the agreement, want 3 (one per installment)", approved)
		}

		// A hosted payment refused at PayPal.
		pay := f.hostedPayment(t, srv, fmt.Sprintf(`,"provider_account":%q,"save_card":true`, acc.ID))
		payer := f.body(t, "/v1/payments/"+pay.ID)["customer"].(string)
		// While the payer is at PayPal the method has no agreement: nothing may charge it.
		notYet := func() {
			var methods listBody[struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			}]
			f.ok(t, http.MethodGet, "/v1/customers/"+payer+"/payment-methods", f.testKey, "", &methods)
			if len(methods.Data) != 1 || methods.Data[0].Type != "paypal" {
				t.Fatalf("the payer's methods while at PayPal: %+v", methods.Data)
			}
			rec, refused := f.serve(t, request{method: http.MethodPost, path: "/v1/plans", key: f.testKey, body: fmt.Sprintf(
				`{"customer":%q,"payment_method":%q,"currency":"EUR","schedule":{"frequency":"days","recurring_amount":1500,"installments":2}}`,
				payer, methods.Data[0].ID)})
			if rec.Code != http.StatusConflict || refused.Error.Code != "payment_method_unusable" || refused.Error.Param != "payment_method" {
				t.Errorf("a plan on the method awaiting approval = %d %+v, want 409 payment_method_unusable", rec.Code, refused)
			}
		}
		if _, status := approve(t, pay.PaymentURL, "deny", notYet); status != "failed" {
			t.Fatalf("refused at PayPal: the page says %s", status)
		}
		var failed hostedBody
		f.apiCall(t, srv, http.MethodGet, "/v1/payments/"+pay.ID, f.testKey, "", &failed)
		f.ok(t, http.MethodGet, "/v1/payment-methods/"+failed.PaymentMethod, f.testKey, "", &pm)
		if failed.Status != "failed" || pm.Type != "paypal" || pm.Status != "detached" {
			t.Errorf("refused: payment %+v, method %+v; want failed, the method detached", failed, pm)
		}

		// A one-off payment that keeps no method offers no PayPal: its agreement would
		// wait at PayPal with nothing to charge it.
		oneOff := f.hostedPayment(t, srv, fmt.Sprintf(`,"provider_account":%q`, acc.ID))
		c1 := newCustomer(t)
		_, u1, page1 := c1.get(oneOff.PaymentURL)
		if !strings.Contains(page1, `id="number"`) || strings.Contains(page1, paypalButton) {
			t.Errorf("a one-off page without save_card: %s, want the card form without PayPal", page1)
		}
		if code, _, _ := c1.post(u1, page1, url.Values{"method": {"paypal"}}); code != http.StatusUnprocessableEntity {
			t.Errorf("method=paypal on a one-off page without save_card = %d, want 422", code)
		}

		// The installation's simulator approves no PayPal.
		sim := f.hostedPayment(t, srv, "")
		c := newCustomer(t)
		_, u, page := c.get(sim.PaymentURL)
		if strings.Contains(page, paypalButton) {
			t.Error("a simulator page offers PayPal")
		}
		if code, _, body := c.post(u, page, url.Values{"method": {"paypal"}}); code != http.StatusUnprocessableEntity || !strings.Contains(body, "PayPal cannot be used") {
			t.Errorf("method=paypal on a simulator page = %d %s, want 422", code, body)
		}
		if code, _, _ := c.post(u, page, url.Values{"method": {"bitcoin"}}); code != http.StatusUnprocessableEntity {
			t.Errorf("method=bitcoin = %d, want 422", code)
		}

		// A card change of the PayPal plan's sibling takes cards only.
		var q hostedPlanBody
		f.apiCall(t, srv, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"currency":"EUR","provider_account":%q,"schedule":{"frequency":"days","recurring_amount":1500,"installments":3}}`,
			cus.ID, acc.ID), &q)
		c = newCustomer(t)
		_, u, page = c.get(q.PaymentURL)
		_, _, done := c.post(u, page, card(axervetest.CardVisa))
		if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
			t.Fatalf("card plan page: %s", done)
		}
		var sess struct {
			PaymentURL string `json:"payment_url"`
		}
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans/"+q.ID+"/payment-session", f.testKey, `{}`, &sess); code != http.StatusCreated {
			t.Fatalf("card-change session = %d", code)
		}
		c = newCustomer(t)
		code, u, page := c.get(sess.PaymentURL)
		if code != http.StatusOK || !strings.Contains(page, `id="number"`) || strings.Contains(page, paypalButton) {
			t.Errorf("card-change page = %d, want the card form without PayPal: %s", code, page)
		}
		if code, _, _ := c.post(u, page, url.Values{"method": {"paypal"}}); code != http.StatusUnprocessableEntity {
			t.Errorf("method=paypal on a card-change page = %d, want 422", code)
		}
	})
}
