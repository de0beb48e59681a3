package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/providers/aps/apstest"
)

// TestPaymentsAndPlansOnAmazonPaymentServices: the path a merchant takes on Amazon
// Payment Services, through HTTP with the bodies a client sends, against the APS test
// double (which checks every request's signature and signs its answers): a card saved
// with provider amazon_payment_services (tokenization), a one-off payment of 100 JOD
// on the saved card (sent as 100000, eci ECOMMERCE), and a plan whose first
// installment is eci ECOMMERCE and the next eci RECURRING with the token and the
// customer's email. The capability matrix lists the provider. SQLite and Postgres.
func TestPaymentsAndPlansOnAmazonPaymentServices(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	d := apstest.New(t, apstest.Account{AccessCode: "zx0IPmPy5jp1vAz8Kpg7", MerchantIdentifier: "CycHZxVj",
		RequestPhrase: "request-phrase", ResponsePhrase: "response-phrase", SHAType: aps.SHA512})
	p, err := aps.New(d.Config())
	if err != nil {
		t.Fatal(err)
	}
	eachStore(t, fixtureOptions{temporal: withTemporal, providers: []providers.Provider{p}}, func(t *testing.T, f fixture) {
		before := len(d.Requests())
		cus := f.createCustomer(t, f.testKey, "layla@example.com")
		var pm struct {
			ID       string `json:"id"`
			Provider string `json:"provider"`
			Card     struct {
				Last4 string `json:"last4"`
			} `json:"card"`
		}
		f.ok(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey,
			`{"provider":"amazon_payment_services","card":{"number":"4005550000000001","exp_month":5,"exp_year":2034,"cvc":"123"}}`, &pm)
		if pm.Provider != aps.Name || pm.Card.Last4 != "0001" {
			t.Fatalf("saved card %+v", pm)
		}

		var pay struct {
			ID               string `json:"id"`
			Status           string `json:"status"`
			ProviderChargeID string `json:"provider_charge_id"`
		}
		f.ok(t, http.MethodPost, "/v1/payments", f.testKey,
			fmt.Sprintf(`{"customer":%q,"payment_method":%q,"amount":100000,"currency":"JOD"}`, cus.ID, pm.ID), &pay)
		if pay.Status != "succeeded" || pay.ProviderChargeID != aps.MerchantReference(pay.ID) {
			t.Fatalf("payment %+v, want succeeded with the merchant reference of %s", pay, pay.ID)
		}

		var plan planBody
		f.ok(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"payment_method":%q,"currency":"AED","schedule":{"frequency":"seconds","frequency_duration":2,"recurring_amount":2500,"installments":2}}`,
			cus.ID, pm.ID), &plan)
		got := f.waitPlan(t, f.testKey, plan.ID, func(p planBody) bool { return p.Status == "completed" })
		if got.Paid != 2 {
			t.Fatalf("plan %+v, want 2 paid", got)
		}

		var purchases []apstest.Request
		for _, r := range d.Requests()[before:] {
			if r["command"] == "PURCHASE" {
				purchases = append(purchases, r)
			}
		}
		want := []struct{ amount, currency, eci, ref string }{
			{"100000", "JOD", "ECOMMERCE", aps.MerchantReference(pay.ID)},
			{"2500", "AED", "ECOMMERCE", aps.MerchantReference(plan.ID + "/1/1")},
			{"2500", "AED", "RECURRING", aps.MerchantReference(plan.ID + "/2/1")},
		}
		if len(purchases) != len(want) {
			t.Fatalf("%d purchases, want %d: %v", len(purchases), len(want), purchases)
		}
		for i, w := range want {
			r := purchases[i]
			if r["amount"] != w.amount || r["currency"] != w.currency || r["eci"] != w.eci || r["merchant_reference"] != w.ref ||
				r["customer_email"] != "layla@example.com" || !strings.HasPrefix(r["token_name"], "tok") {
				t.Errorf("purchase %d = %v, want %+v for layla@example.com", i, r, w)
			}
		}
	})

	f := newFixtureWith(t, fixtureOptions{providers: []providers.Provider{p}})
	var matrix struct {
		Data []providers.Capability `json:"data"`
	}
	f.ok(t, http.MethodGet, "/v1/providers", f.testKey, "", &matrix)
	var row *providers.Capability
	for i := range matrix.Data {
		if matrix.Data[i].Provider == aps.Name {
			row = &matrix.Data[i]
		}
	}
	if row == nil || row.Method != "card" || !row.Recurring || !row.Refunds || !row.ThreeDS || !row.MOTO {
		t.Errorf("capability row %+v, want card: recurring, refunds, MOTO, 3-D Secure", row)
	}
}
