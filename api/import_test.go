package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/providers/aps/apstest"
)

// TestImportCardsSavedAtTheProvider: POST /v1/customers/{id}/payment-methods with token
// takes over a card the merchant saved at Stripe or Amazon Payment Services before,
// without the customer, and a plan on it is merchant-initiated from its first
// installment (payment_type recurring; Stripe off_session, APS eci RECURRING with the
// agreement). A plan may continue the customer's cycle with a later start_date. Bad
// input is a 4xx naming the field. SQLite and Postgres.
func TestImportCardsSavedAtTheProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	fake, sp := stripeDouble(t)
	d := apstest.New(t, apstest.Account{AccessCode: "ac", MerchantIdentifier: "mid", RequestPhrase: "rq", ResponsePhrase: "rs", SHAType: aps.SHA256})
	eachStore(t, fixtureOptions{temporal: withTemporal, providers: []providers.Provider{sp}}, func(t *testing.T, f fixture) {
		cus := f.createCustomer(t, f.testKey, "rania@example.com")
		// Imports go into the merchant's own provider accounts (here pointed at the
		// Stripe and APS test doubles).
		var stAcc, apAcc providerAccountBody
		f.ok(t, http.MethodPost, "/v1/provider-accounts", f.testKey, fmt.Sprintf(
			`{"provider":"stripe","name":"old Stripe","base_url":%q,"credentials":{"secret_key":"sk_test_merchant_own"}}`, fake.URL), &stAcc)
		f.ok(t, http.MethodPost, "/v1/provider-accounts", f.testKey, fmt.Sprintf(
			`{"provider":"amazon_payment_services","name":"old APS","base_url":%q,"credentials":{"access_code":"ac","merchant_identifier":"mid","request_phrase":"rq","response_phrase":"rs","sha_type":"SHA-256"}}`, d.URL), &apAcc)
		type importedBody struct {
			ID       string `json:"id"`
			Imported bool   `json:"imported"`
			Card     struct {
				Brand string `json:"brand"`
				Last4 string `json:"last4"`
			} `json:"card"`
		}
		stripeCus := "cus_legacy_" + strings.ToLower(t.Name()[len(t.Name())-6:])
		fake.AddPaymentMethod("pm_legacy_"+stripeCus, stripeCus, "4242")
		var st importedBody
		f.ok(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, fmt.Sprintf(
			`{"provider_account":%q,"token":{"payment_method":"pm_legacy_%s"},"network_transaction_id":"583215937561234"}`, stAcc.ID, stripeCus), &st)
		if !st.Imported || st.Card.Last4 != "4242" || st.Card.Brand != "visa" {
			t.Fatalf("imported Stripe card %+v", st)
		}
		d.AddToken("legacy_aps_1", apstest.CardVisa)
		var ac importedBody
		f.ok(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, fmt.Sprintf(
			`{"provider_account":%q,"token":{"token_name":"legacy_aps_1","agreement_id":"AGR-1"},"card":{"brand":"visa","last4":"0001","exp_month":9,"exp_year":2031}}`, apAcc.ID), &ac)
		if !ac.Imported || ac.Card.Last4 != "0001" {
			t.Fatalf("imported APS card %+v", ac)
		}

		for _, tc := range []struct{ pm, currency string }{{st.ID, "EUR"}, {ac.ID, "SAR"}} {
			var plan planBody
			f.ok(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
				`{"customer":%q,"payment_method":%q,"currency":%q,"schedule":{"frequency":"seconds","frequency_duration":2,"recurring_amount":1500,"installments":2}}`,
				cus.ID, tc.pm, tc.currency), &plan)
			f.waitPlan(t, f.testKey, plan.ID, func(p planBody) bool { return p.Status == "completed" })
			var list listBody[paymentBody]
			f.ok(t, http.MethodGet, "/v1/plans/"+plan.ID+"/payments", f.testKey, "", &list)
			for _, p := range list.Data {
				if p.Status != "succeeded" || p.PaymentType != "recurring" || !p.IsRecurring {
					t.Errorf("%s installment %d: %+v, want a succeeded merchant-initiated (recurring) charge", tc.currency, p.Installment, p)
				}
			}
		}
		intents := fake.IntentsOf(stripeCus)
		if len(intents) != 2 || intents[0]["off_session"] != "true" || intents[0]["recurring_initiator"] != "merchant" {
			t.Errorf("Stripe intents %v, want 2, the first already off session", intents)
		}
		var ecis []string
		for _, r := range d.Requests() {
			if r["token_name"] == "legacy_aps_1" && r["command"] == "PURCHASE" && r["agreement_id"] == "AGR-1" {
				ecis = append(ecis, r["eci"])
			}
		}
		if len(ecis) < 2 || ecis[len(ecis)-2] != "RECURRING" || ecis[len(ecis)-1] != "RECURRING" {
			t.Errorf("APS purchases of the imported token: eci %v, want RECURRING from the first", ecis)
		}

		// Continuing the customer's cycle: the first installment on the given day.
		start := time.Now().UTC().AddDate(0, 0, 12).Format("2006-01-02")
		var later planBody
		f.ok(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"payment_method":%q,"currency":"EUR","schedule":{"frequency":"months","start_date":%q,"recurring_amount":1500}}`,
			cus.ID, st.ID, start), &later)
		if later.NextDueAt == nil || later.NextDueAt.Format("2006-01-02") != start {
			t.Errorf("plan continuing the cycle: next due %v, want %s", later.NextDueAt, start)
		}

		stRef, apRef := fmt.Sprintf(`"provider_account":%q`, stAcc.ID), fmt.Sprintf(`"provider_account":%q`, apAcc.ID)
		for _, tc := range []struct {
			name, body string
			status     int
			code, par  string
		}{
			{"installation provider (shared by merchants)", `{"provider":"stripe","token":{"payment_method":"pm_1"}}`, 400, "parameter_missing", "provider_account"},
			{"another merchant's account", `{"provider_account":"pa_doesnotexist","token":{"payment_method":"pm_1"}}`, 404, "resource_missing", "provider_account"},
			{"provider beside another account", `{"provider":"amazon_payment_services",` + stRef + `,"token":{"payment_method":"pm_1"}}`, 400, "invalid_value", "provider"},
			{"number with token", `{` + stRef + `,"token":{"payment_method":"pm_1"},"card":{"number":"4242424242424242","exp_month":1,"exp_year":2031}}`, 400, "parameter_not_allowed", "card.number"},
			{"unknown token field", `{` + stRef + `,"token":{"payment_method":"pm_1","iban":"x"}}`, 400, "parameter_unknown", "token.iban"},
			{"field of another provider", `{` + stRef + `,"token":{"token_name":"x"}}`, 400, "parameter_unknown", "token.token_name"},
			{"no such Stripe method", `{` + stRef + `,"token":{"payment_method":"pm_nope","customer":"cus_x"}}`, 400, "resource_missing", "token.payment_method"},
			{"APS without card details", `{` + apRef + `,"token":{"token_name":"t_9"}}`, 400, "parameter_missing", "card.brand"},
			{"expired import", `{` + apRef + `,"token":{"token_name":"t_9"},"card":{"brand":"visa","last4":"0001","exp_month":1,"exp_year":2020}}`, 400, "card_expired", "card.exp_year"},
			{"brand without token", `{"card":{"number":"4242424242424242","exp_month":1,"exp_year":2031,"brand":"visa"}}`, 400, "parameter_not_allowed", "card.brand"},
			{"nti without token", `{"card":{"number":"4242424242424242","exp_month":1,"exp_year":2031},"network_transaction_id":"123"}`, 400, "parameter_not_allowed", "network_transaction_id"},
			{"neither card nor token", `{}`, 400, "parameter_missing", "card"},
		} {
			rec, e := f.do(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, tc.body)
			if rec.Code != tc.status || e.Error.Code != tc.code || e.Error.Param != tc.par {
				t.Errorf("%s: %d %+v, want %d %s naming %s", tc.name, rec.Code, e.Error, tc.status, tc.code, tc.par)
			}
		}
	})
}
