package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/axerve/axervetest"
)

// TestCardsAndPayPalOnAnAxerveAccount: the path a merchant takes on its own Axerve
// shop, through HTTP with the bodies a client sends, against the Axerve double (which
// checks the API key and the shop login of every call): the account is created
// (credentials never echoed) and joins the capability matrix with card and PayPal
// rows; a card saved through it pays a plan whose first installment is 03F and the next
// 03N chained to the first paymentID; a PayPal billing agreement imported as a
// payment method of type paypal pays a plan with paymentType PAYPAL; a revoked
// agreement is a hard decline. Bad input is a 4xx naming the field. SQLite and Postgres.
func TestCardsAndPayPalOnAnAxerveAccount(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	d := axervetest.New(t, axervetest.Shop{ShopLogin: "GESPAY65987", APIKey: "apikey-never-echoed"})
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		cus := f.createCustomer(t, f.testKey, "giulia@example.com")
		var acc providerAccountBody
		rec, _ := f.do(t, http.MethodPost, "/v1/provider-accounts", f.testKey, fmt.Sprintf(
			`{"provider":"axerve","name":"Milano shop","base_url":%q,"credentials":{"shop_login":"GESPAY65987","api_key":"apikey-never-echoed"}}`, d.URL))
		if rec.Code != http.StatusCreated || strings.Contains(rec.Body.String(), "apikey-never-echoed") {
			t.Fatalf("create account: %d %s", rec.Code, rec.Body)
		}
		accounts := listBody[providerAccountBody]{}
		f.ok(t, http.MethodGet, "/v1/provider-accounts", f.testKey, "", &accounts)
		for _, a := range accounts.Data {
			if a.Provider == "axerve" {
				acc = a
			}
		}
		if acc.ID == "" || fmt.Sprint(acc.CredentialsSet) != "[api_key shop_login]" {
			t.Fatalf("accounts %+v, want the Axerve one with api_key and shop_login set", accounts.Data)
		}
		var matrix struct {
			Data []struct {
				providers.Capability
				ProviderAccount string `json:"provider_account"`
			} `json:"data"`
		}
		f.ok(t, http.MethodGet, "/v1/providers", f.testKey, "", &matrix)
		methods := map[string]bool{}
		for _, row := range matrix.Data {
			if row.ProviderAccount == acc.ID && row.Recurring && row.Refunds {
				methods[row.Method] = true
			}
		}
		if !methods["card"] || !methods["paypal"] {
			t.Fatalf("matrix %+v, want the account's card and paypal rows, recurring with refunds", matrix.Data)
		}

		var card struct {
			ID, Type, Provider string
			Card               struct{ Last4 string } `json:"card"`
		}
		f.ok(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, fmt.Sprintf(
			`{"provider_account":%q,"card":{"number":"4775718800002026","exp_month":5,"exp_year":2031,"cvc":"999"}}`, acc.ID), &card)
		if card.Type != "card" || card.Provider != "axerve" || card.Card.Last4 != "2026" {
			t.Fatalf("saved card %+v", card)
		}
		agreement := d.AddPayPalAgreement()
		var pp struct {
			ID, Type, Provider string
			Imported           bool
			Card               *struct{} `json:"card"`
			PayPal             struct {
				PayerEmail string `json:"payer_email"`
			} `json:"paypal"`
		}
		f.ok(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, fmt.Sprintf(
			`{"type":"paypal","provider_account":%q,"token":{"paypal_token":%q},"paypal":{"payer_email":"giulia.pp@example.com"}}`, acc.ID, agreement), &pp)
		if pp.Type != "paypal" || pp.Card != nil || pp.PayPal.PayerEmail != "giulia.pp@example.com" || !pp.Imported {
			t.Fatalf("PayPal method %+v", pp)
		}
		var got struct {
			Type string `json:"type"`
		}
		f.ok(t, http.MethodGet, "/v1/payment-methods/"+pp.ID, f.testKey, "", &got)
		if got.Type != "paypal" {
			t.Fatalf("GET PayPal method: type %q", got.Type)
		}

		before := len(d.Payments())
		plans := map[string]string{}
		for _, pm := range []string{card.ID, pp.ID} {
			var plan planBody
			f.ok(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
				`{"customer":%q,"payment_method":%q,"currency":"EUR","schedule":{"frequency":"seconds","frequency_duration":2,"recurring_amount":1250,"installments":2}}`,
				cus.ID, pm), &plan)
			plans[pm] = plan.ID
			if done := f.waitPlan(t, f.testKey, plan.ID, func(p planBody) bool { return p.Status == "completed" }); done.Paid != 2 {
				t.Fatalf("plan on %s: %+v, want 2 paid", pm, done)
			}
		}
		byID := map[string]axervetest.Payment{}
		for _, p := range d.Payments()[before:] {
			byID[p.ShopTransactionID] = p
		}
		c1, c2 := byID[plans[card.ID]+".1.1"], byID[plans[card.ID]+".2.1"]
		if c1.Type != "03F" || c2.Type != "03N" || c2.Previous != c1.PaymentID || c1.Amount != "12.50" || c1.Method != "CREDITCARD" ||
			c1.Result != "OK" || c2.Result != "OK" {
			t.Errorf("card installments %+v, %+v; want 03F then 03N chained to the first paymentID", c1, c2)
		}
		for i := 1; i <= 2; i++ {
			p := byID[fmt.Sprintf("%s.%d.1", plans[pp.ID], i)]
			if p.Method != "PAYPAL" || p.Token != agreement || p.Type != "" || p.Result != "OK" {
				t.Errorf("PayPal installment %d: %+v, want paymentType PAYPAL with the agreement", i, p)
			}
		}

		// The payer cancels the agreement at PayPal: the next charge is a hard decline.
		d.RevokePayPalAgreement(agreement)
		var plan planBody
		f.ok(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"payment_method":%q,"currency":"EUR","schedule":{"frequency":"seconds","frequency_duration":2,"recurring_amount":1250,"installments":2}}`,
			cus.ID, pp.ID), &plan)
		// The ledger row, not the plan's live state (which can be ahead of it), says
		// how the charge went.
		var list listBody[paymentBody]
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			f.ok(t, http.MethodGet, "/v1/plans/"+plan.ID+"/payments", f.testKey, "", &list)
			if len(list.Data) > 0 && list.Data[0].Status != "pending" || time.Now().After(deadline) {
				break
			}
		}
		if len(list.Data) == 0 || list.Data[0].Status != "failed" || list.Data[0].FailureCode != "authorization_revoked" {
			t.Errorf("payments on a revoked agreement: %+v, want a failed authorization_revoked", list.Data)
		}

		rec, e := f.do(t, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(
			`{"customer":%q,"payment_method":%q,"amount":500,"currency":"EUR","type":"moto"}`, cus.ID, pp.ID))
		if rec.Code != 400 || e.Error.Param != "type" {
			t.Errorf("a MOTO payment on a PayPal agreement: %d %+v, want 400 naming type", rec.Code, e.Error)
		}

		var stripeAcc providerAccountBody
		f.ok(t, http.MethodPost, "/v1/provider-accounts", f.testKey,
			`{"provider":"stripe","name":"cards only","base_url":"http://127.0.0.1:9","credentials":{"secret_key":"sk_test_x"}}`, &stripeAcc)
		axRef, stRef := fmt.Sprintf(`"provider_account":%q`, acc.ID), fmt.Sprintf(`"provider_account":%q`, stripeAcc.ID)
		for _, tc := range []struct {
			name, body string
			status     int
			code, par  string
		}{
			{"paypal without account", `{"type":"paypal","token":{"paypal_token":"B-1"}}`, 400, "parameter_missing", "provider_account"},
			{"paypal on a card-only account", `{"type":"paypal",` + stRef + `,"token":{"paypal_token":"B-1"}}`, 422, "payment_method_type_not_supported", "type"},
			{"paypal without token", `{"type":"paypal",` + axRef + `}`, 400, "parameter_missing", "token"},
			{"paypal with a card", `{"type":"paypal",` + axRef + `,"token":{"paypal_token":"B-1"},"card":{"exp_month":1,"exp_year":2031}}`, 400, "parameter_not_allowed", "card"},
			{"paypal token on a card", `{` + axRef + `,"token":{"paypal_token":"B-1"}}`, 400, "parameter_not_allowed", "token.paypal_token"},
			{"paypal details on a card", `{` + axRef + `,"paypal":{"payer_email":"a@b.co"},"card":{"number":"4242424242424242","exp_month":1,"exp_year":2031}}`, 400, "parameter_not_allowed", "paypal"},
			{"card token of another shop", `{` + axRef + `,"token":{"card_token":"477571ABCDEF2026"},"card":{"brand":"visa","last4":"2026","exp_month":1,"exp_year":2031}}`, 400, "payment_method_not_found", "token.card_token"},
			{"card field on paypal", `{"type":"paypal",` + axRef + `,"token":{"card_token":"477571ABCDEF2026"}}`, 400, "parameter_unknown", "token.card_token"},
			{"unknown type", `{"type":"sepa_debit",` + axRef + `}`, 400, "invalid_value", "type"},
			{"payer email that is not one", `{"type":"paypal",` + axRef + `,"token":{"paypal_token":"B-0001"},"paypal":{"payer_email":"not-an-email"}}`, 400, "invalid_email", "paypal.payer_email"},
			{"nti on paypal", `{"type":"paypal",` + axRef + `,"token":{"paypal_token":"B-1"},"network_transaction_id":"123"}`, 400, "parameter_not_allowed", "network_transaction_id"},
		} {
			rec, e := f.do(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, tc.body)
			if rec.Code != tc.status || e.Error.Code != tc.code || e.Error.Param != tc.par {
				t.Errorf("%s: %d %+v, want %d %s naming %s", tc.name, rec.Code, e.Error, tc.status, tc.code, tc.par)
			}
		}
	})
}
