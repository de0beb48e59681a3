package api_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/providers/aps/apstest"
)

// TestProviderAccountPace: max_charges_per_second is set at creation, shown on every
// read, changed by PATCH, and is what the charge activity reads for a card saved in
// the account (ChargeableCard); bad values are a 400 naming the field, another
// merchant's or mode's account is 404. SQLite and Postgres.
func TestProviderAccountPace(t *testing.T) {
	d := apstest.New(t, apstest.Account{AccessCode: "paceAccess", MerchantIdentifier: "paceMID", RequestPhrase: "pace-request",
		ResponsePhrase: "pace-response", SHAType: aps.SHA256})
	eachStore(t, fixtureOptions{}, func(t *testing.T, f fixture) {
		var acc struct {
			ID                  string `json:"id"`
			Name                string `json:"name"`
			MaxChargesPerSecond *int   `json:"max_charges_per_second"`
		}
		f.ok(t, http.MethodPost, "/v1/provider-accounts", f.testKey, fmt.Sprintf(`{"provider":"amazon_payment_services",
			"name":"paced","base_url":%q,"max_charges_per_second":3,"credentials":{"access_code":"paceAccess",
			"merchant_identifier":"paceMID","request_phrase":"pace-request","response_phrase":"pace-response","sha_type":"SHA-256"}}`,
			d.URL), &acc)
		if acc.MaxChargesPerSecond == nil || *acc.MaxChargesPerSecond != 3 {
			t.Fatalf("created %+v, want max_charges_per_second 3", acc)
		}
		cus := f.createCustomer(t, f.testKey, "pace@example.com")
		var pm struct {
			ID string `json:"id"`
		}
		f.ok(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, fmt.Sprintf(
			`{"provider_account":%q,"card":{"number":"4005550000000001","exp_month":5,"exp_year":2034,"cvc":"123"}}`, acc.ID), &pm)
		pace := func() int {
			card, err := f.db.ChargeableCard(context.Background(), f.merchantID, pm.ID)
			if err != nil {
				t.Fatal(err)
			}
			return card.MaxChargesPerSecond
		}
		if got := pace(); got != 3 {
			t.Fatalf("the charge activity reads pace %d, want 3", got)
		}

		f.ok(t, http.MethodPatch, "/v1/provider-accounts/"+acc.ID, f.testKey, `{"max_charges_per_second":7}`, &acc)
		if *acc.MaxChargesPerSecond != 7 || acc.Name != "paced" || pace() != 7 {
			t.Fatalf("after PATCH: %+v, card pace %d; want 7 and the name kept", acc, pace())
		}
		f.ok(t, http.MethodPatch, "/v1/provider-accounts/"+acc.ID, f.testKey, `{"name":"renamed","max_charges_per_second":0}`, &acc)
		f.ok(t, http.MethodGet, "/v1/provider-accounts/"+acc.ID, f.testKey, "", &acc)
		if *acc.MaxChargesPerSecond != 0 || acc.Name != "renamed" || pace() != 0 {
			t.Fatalf("after PATCH to 0: %+v, card pace %d; want not paced and renamed", acc, pace())
		}

		for _, tc := range []struct {
			name, key, id, body string
			status              int
			param               string
		}{
			{"negative", f.testKey, acc.ID, `{"max_charges_per_second":-1}`, 400, "max_charges_per_second"},
			{"too fast", f.testKey, acc.ID, `{"max_charges_per_second":10001}`, 400, "max_charges_per_second"},
			{"not a number", f.testKey, acc.ID, `{"max_charges_per_second":"5"}`, 400, "max_charges_per_second"},
			{"a fraction", f.testKey, acc.ID, `{"max_charges_per_second":2.5}`, 400, "max_charges_per_second"},
			{"credentials", f.testKey, acc.ID, `{"credentials":{"access_code":"x"}}`, 400, "credentials"},
			{"nothing", f.testKey, acc.ID, `{}`, 400, ""},
			{"another merchant", f.otherKey, acc.ID, `{"max_charges_per_second":1}`, 404, ""},
			{"the live key", f.liveKey, acc.ID, `{"max_charges_per_second":1}`, 404, ""},
			{"no such account", f.testKey, "pa_nosuch", `{"max_charges_per_second":1}`, 404, ""},
		} {
			rec, e := f.do(t, http.MethodPatch, "/v1/provider-accounts/"+tc.id, tc.key, tc.body)
			if rec.Code != tc.status || (tc.param != "" && e.Error.Param != tc.param) {
				t.Errorf("%s: %d %+v, want %d naming %q", tc.name, rec.Code, e.Error, tc.status, tc.param)
			}
		}
		if rec, e := f.do(t, http.MethodPost, "/v1/provider-accounts", f.testKey, `{"provider":"stripe","name":"x",
			"max_charges_per_second":-5,"credentials":{"secret_key":"sk_test_abc"}}`); rec.Code != 400 || e.Error.Param != "max_charges_per_second" {
			t.Errorf("create with a negative pace: %d %+v", rec.Code, e.Error)
		}
		if pace() != 0 {
			t.Error("a refused PATCH changed the pace")
		}
		// Only the named field changes; a deleted account is not found.
		f.ok(t, http.MethodPatch, "/v1/provider-accounts/"+acc.ID, f.testKey, `{"max_charges_per_second":2}`, &acc)
		if acc.Name != "renamed" || *acc.MaxChargesPerSecond != 2 {
			t.Fatalf("after a pace-only PATCH: %+v", acc)
		}
		if rec, _ := f.do(t, http.MethodDelete, "/v1/provider-accounts/"+acc.ID, f.testKey, ""); rec.Code != http.StatusOK {
			t.Fatalf("delete = %d", rec.Code)
		}
		if rec, _ := f.do(t, http.MethodPatch, "/v1/provider-accounts/"+acc.ID, f.testKey, `{"name":"ghost"}`); rec.Code != http.StatusNotFound {
			t.Errorf("PATCH of a deleted account = %d, want 404", rec.Code)
		}
	})
}
