package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/providers/aps/apstest"
)

type providerAccountBody struct {
	ID             string   `json:"id"`
	Object         string   `json:"object"`
	Provider       string   `json:"provider"`
	Name           string   `json:"name"`
	BaseURL        string   `json:"base_url"`
	CredentialsSet []string `json:"credentials_set"`
	Livemode       bool     `json:"livemode"`
}

// TestProviderAccounts: a merchant adds its own Amazon Payment Services account
// (pointed at the APS test double) on an installation that has no APS provider; the
// answer names the credential fields set, never their values; a card saved in the
// account and a plan on it charge through the account's credentials (the double
// checks every request's signature with them); GET /v1/providers lists the account's
// rows; DELETE is refused while an unfinished plan uses the account and erases it
// after. Bad input is a 4xx naming the field. SQLite and Postgres.
func TestProviderAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	const phrase = "account-request-phrase-never-shown"
	d := apstest.New(t, apstest.Account{AccessCode: "acctAccess", MerchantIdentifier: "acctMID", RequestPhrase: phrase,
		ResponsePhrase: "account-response-phrase", SHAType: aps.SHA512})
	create := fmt.Sprintf(`{"provider":"amazon_payment_services","name":"KSA store","base_url":%q,"credentials":{
		"access_code":"acctAccess","merchant_identifier":"acctMID","request_phrase":%q,"response_phrase":"account-response-phrase","sha_type":"SHA-512"}}`,
		d.URL, phrase)
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		rec, _ := f.do(t, http.MethodPost, "/v1/provider-accounts", f.testKey, create)
		if rec.Code != http.StatusCreated || strings.Contains(rec.Body.String(), phrase) || strings.Contains(rec.Body.String(), "acctAccess") {
			t.Fatalf("create = %d %s", rec.Code, rec.Body)
		}
		var acc providerAccountBody
		mustJSON(t, rec.Body.Bytes(), &acc)
		if !strings.HasPrefix(acc.ID, "pa_") || acc.Object != "provider_account" || acc.BaseURL != d.URL || acc.Livemode ||
			strings.Join(acc.CredentialsSet, ",") != "access_code,merchant_identifier,request_phrase,response_phrase,sha_type" {
			t.Fatalf("account %+v", acc)
		}
		var got providerAccountBody
		f.ok(t, http.MethodGet, "/v1/provider-accounts/"+acc.ID, f.testKey, "", &got)
		if got.ID != acc.ID || got.Name != "KSA store" {
			t.Errorf("get %+v", got)
		}
		var list listBody[providerAccountBody]
		f.ok(t, http.MethodGet, "/v1/provider-accounts", f.testKey, "", &list)
		if len(list.Data) != 1 || list.Data[0].ID != acc.ID {
			t.Errorf("list %+v", list)
		}
		if rec, _ := f.do(t, http.MethodGet, "/v1/provider-accounts/"+acc.ID, f.otherKey, ""); rec.Code != http.StatusNotFound {
			t.Errorf("another merchant reads the account: %d", rec.Code)
		}
		if rec, _ := f.do(t, http.MethodGet, "/v1/provider-accounts/"+acc.ID, f.liveKey, ""); rec.Code != http.StatusNotFound {
			t.Errorf("the live key reads a test account: %d", rec.Code)
		}

		cus := f.createCustomer(t, f.testKey, "amal@example.com")
		var pm struct {
			ID              string `json:"id"`
			Provider        string `json:"provider"`
			ProviderAccount string `json:"provider_account"`
		}
		f.ok(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, fmt.Sprintf(
			`{"provider_account":%q,"card":{"number":"4005550000000001","exp_month":5,"exp_year":2034,"cvc":"123"}}`, acc.ID), &pm)
		if pm.Provider != aps.Name || pm.ProviderAccount != acc.ID {
			t.Fatalf("card %+v, want saved in %s", pm, acc.ID)
		}
		var plan planBody
		f.ok(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"payment_method":%q,"currency":"SAR","schedule":{"frequency":"seconds","frequency_duration":2,"recurring_amount":990,"installments":2}}`,
			cus.ID, pm.ID), &plan)
		if done := f.waitPlan(t, f.testKey, plan.ID, func(p planBody) bool { return p.Status == "completed" }); done.Paid != 2 {
			t.Fatalf("plan %+v, want 2 paid through the account", done)
		}
		var rows listBody[struct {
			ProviderAccount string `json:"provider_account"`
		}]
		f.ok(t, http.MethodGet, "/v1/plans/"+plan.ID+"/payments", f.testKey, "", &rows)
		if len(rows.Data) != 2 || rows.Data[0].ProviderAccount != acc.ID || rows.Data[1].ProviderAccount != acc.ID {
			t.Errorf("payments %+v, want both naming %s", rows.Data, acc.ID)
		}
		var planRow struct {
			ProviderAccount string `json:"provider_account"`
		}
		f.ok(t, http.MethodGet, "/v1/plans/"+plan.ID, f.testKey, "", &planRow)
		if planRow.ProviderAccount != acc.ID {
			t.Errorf("plan names account %q, want %s", planRow.ProviderAccount, acc.ID)
		}
		charged := 0
		for _, r := range d.Requests() {
			if r["command"] == "PURCHASE" && r["access_code"] == "acctAccess" && strings.HasPrefix(r["merchant_reference"], plan.ID) {
				charged++
			}
		}
		if charged != 2 {
			t.Errorf("%d purchases through the account's credentials, want 2", charged)
		}

		var matrix struct {
			Data []struct {
				Provider        string `json:"provider"`
				ProviderAccount string `json:"provider_account"`
				Recurring       bool   `json:"recurring"`
			} `json:"data"`
		}
		f.ok(t, http.MethodGet, "/v1/providers", f.testKey, "", &matrix)
		found := false
		for _, row := range matrix.Data {
			found = found || (row.ProviderAccount == acc.ID && row.Provider == aps.Name && row.Recurring)
		}
		if !found {
			t.Errorf("GET /v1/providers %+v lists no row for %s", matrix.Data, acc.ID)
		}

		var active planBody
		f.ok(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"payment_method":%q,"currency":"SAR","schedule":{"frequency":"months","start_date":"2031-01-01","recurring_amount":990}}`,
			cus.ID, pm.ID), &active)
		// A card-change page for a plan in the merchant's account saves the new card in
		// the account (TestHostedPagesOnAProviderAccount walks such a page).
		if rec, _ := f.do(t, http.MethodPost, "/v1/plans/"+active.ID+"/payment-session", f.testKey, `{}`); rec.Code != http.StatusCreated {
			t.Errorf("a card-change page for an account plan = %d, want 201", rec.Code)
		}
		// Merchant B cannot use A's account.
		if rec, e := f.do(t, http.MethodPost, "/v1/customers/"+f.createCustomer(t, f.otherKey, "b@example.com").ID+"/payment-methods", f.otherKey, fmt.Sprintf(
			`{"provider_account":%q,"card":{"number":"4005550000000001","exp_month":5,"exp_year":2034,"cvc":"123"}}`, acc.ID)); rec.Code != http.StatusNotFound || e.Error.Param != "provider_account" {
			t.Errorf("merchant B saving a card in A's account = %d %+v, want 404 naming provider_account", rec.Code, e.Error)
		}
		rec, e := f.do(t, http.MethodDelete, "/v1/provider-accounts/"+acc.ID, f.testKey, "")
		if rec.Code != http.StatusConflict || e.Error.Code != "provider_account_in_use" {
			t.Fatalf("delete while a plan uses it = %d %+v, want 409 provider_account_in_use", rec.Code, e.Error)
		}
		f.ok(t, http.MethodPost, "/v1/plans/"+active.ID+"/cancel", f.testKey, "", nil)
		f.waitPlanRow(t, active.ID, "canceled")
		f.ok(t, http.MethodDelete, "/v1/provider-accounts/"+acc.ID, f.testKey, "", nil)
		if rec, _ := f.do(t, http.MethodGet, "/v1/provider-accounts/"+acc.ID, f.testKey, ""); rec.Code != http.StatusNotFound {
			t.Errorf("a deleted account reads %d", rec.Code)
		}
		if rec, e := f.do(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, fmt.Sprintf(
			`{"provider_account":%q,"card":{"number":"4005550000000001","exp_month":5,"exp_year":2034,"cvc":"123"}}`, acc.ID)); rec.Code != http.StatusNotFound || e.Error.Param != "provider_account" {
			t.Errorf("a card in a deleted account: %d %+v, want 404 naming provider_account", rec.Code, e.Error)
		}
		if rec, e := f.do(t, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(
			`{"customer":%q,"payment_method":%q,"amount":500,"currency":"SAR"}`, cus.ID, pm.ID)); rec.Code != http.StatusUnprocessableEntity || e.Error.Param != "payment_method" {
			t.Errorf("a payment on a card of the deleted account = %d %+v, want 422 naming payment_method", rec.Code, e.Error)
		}
		if strings.Contains(f.logs.String(), phrase) {
			t.Error("the request phrase reached the logs")
		}

		apsCreds := `"access_code":"a","merchant_identifier":"m","request_phrase":"r","response_phrase":"s","sha_type":"SHA-256"`
		for _, tc := range []struct {
			name, key, body string
			status          int
			code, param     string
		}{
			{"unknown provider", f.testKey, `{"provider":"paypal","name":"x","credentials":{}}`, 400, "invalid_value", "provider"},
			{"simulator", f.testKey, `{"provider":"simulator","name":"x","credentials":{}}`, 400, "invalid_value", "provider"},
			{"axerve without its api key", f.testKey, `{"provider":"axerve","name":"x","credentials":{"shop_login":"s"}}`, 400, "parameter_missing", "credentials.api_key"},
			{"missing field", f.testKey, `{"provider":"amazon_payment_services","name":"x","credentials":{"access_code":"a"}}`, 400, "parameter_missing", "credentials.merchant_identifier"},
			{"extra field", f.testKey, `{"provider":"amazon_payment_services","name":"x","credentials":{` + apsCreds + `,"pin":"1"}}`, 400, "parameter_unknown", "credentials.pin"},
			{"bad sha type", f.testKey, `{"provider":"amazon_payment_services","name":"x","credentials":{"access_code":"a","merchant_identifier":"m","request_phrase":"r","response_phrase":"s","sha_type":"MD5"}}`, 400, "invalid_value", "credentials.sha_type"},
			{"base_url with a path", f.testKey, `{"provider":"amazon_payment_services","name":"x","base_url":"https://x.example/FortAPI","credentials":{` + apsCreds + `}}`, 400, "invalid_value", "base_url"},
			{"test account on the production host", f.testKey, `{"provider":"amazon_payment_services","name":"x","base_url":"https://paymentservices.payfort.com","credentials":{` + apsCreds + `}}`, 400, "invalid_value", "base_url"},
			{"live account elsewhere", f.liveKey, `{"provider":"amazon_payment_services","name":"x","base_url":"https://sbpaymentservices.payfort.com","credentials":{` + apsCreds + `}}`, 400, "invalid_value", "base_url"},
			{"live Stripe key in test mode", f.testKey, `{"provider":"stripe","name":"x","credentials":{"secret_key":"sk_live_abc"}}`, 400, "invalid_value", "credentials.secret_key"},
			{"live Stripe at stripe-mock", f.liveKey, `{"provider":"stripe","name":"x","base_url":"http://127.0.0.1:12111","credentials":{"secret_key":"sk_live_abc"}}`, 400, "invalid_value", "base_url"},
			{"no name", f.testKey, `{"provider":"stripe","credentials":{"secret_key":"sk_test_abc"}}`, 400, "parameter_missing", "name"},
		} {
			rec, e := f.do(t, http.MethodPost, "/v1/provider-accounts", tc.key, tc.body)
			if rec.Code != tc.status || e.Error.Code != tc.code || e.Error.Param != tc.param {
				t.Errorf("%s: %d %+v, want %d %s naming %s", tc.name, rec.Code, e.Error, tc.status, tc.code, tc.param)
			}
			if strings.Contains(rec.Body.String(), `"r"`) || strings.Contains(rec.Body.String(), "sk_live_abc") {
				t.Errorf("%s: the answer echoes a credential: %s", tc.name, rec.Body)
			}
		}
		var live providerAccountBody
		f.ok(t, http.MethodPost, "/v1/provider-accounts", f.liveKey, `{"provider":"amazon_payment_services","name":"live","credentials":{`+apsCreds+`}}`, &live)
		if !live.Livemode || live.BaseURL != "" {
			t.Errorf("a live APS account without base_url: %+v, want the production host (no base_url)", live)
		}
	})
}
