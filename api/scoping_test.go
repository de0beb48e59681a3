package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// route is one operation of openapi.yaml with a valid request for it; {cus} and {pm}
// stand for a customer and a saved card of merchant A in test mode.
type route struct {
	method, path, body string
}

func (r route) expand(cus, pm string) (string, string) {
	return strings.NewReplacer("{cus}", cus, "{pm}", pm).Replace(r.path), r.body
}

// objectRoutes are every route that reads or changes one object.
var objectRoutes = []route{
	{"GET", "/v1/customers/{cus}", ""},
	{"PATCH", "/v1/customers/{cus}", `{"first_name": "Eve"}`},
	{"DELETE", "/v1/customers/{cus}", ""},
	{"GET", "/v1/customers/{cus}/payment-methods", ""},
	{"POST", "/v1/customers/{cus}/payment-methods", cardJSON(visa)},
	{"GET", "/v1/payment-methods/{pm}", ""},
	{"POST", "/v1/payment-methods/{pm}/block", ""},
	{"POST", "/v1/payment-methods/{pm}/unblock", ""},
	{"POST", "/v1/payment-methods/{pm}/detach", ""},
}

// allRoutes adds the collection routes.
var allRoutes = append([]route{
	{"GET", "/v1/providers", ""},
	{"GET", "/v1/customers", ""},
	{"POST", "/v1/customers", `{"email": "a@example.com"}`},
	{"GET", "/v1/plans", ""},
	{"POST", "/v1/plans", `{"customer": "cus_x", "payment_method": "pm_x", "currency": "USD", "schedule": {"frequency": "days", "recurring_amount": 100}}`},
	{"POST", "/v1/plans/preview", `{"currency": "USD", "schedule": {"frequency": "days", "recurring_amount": 100}}`},
	{"GET", "/v1/plans/plan_x", ""},
	{"GET", "/v1/plans/plan_x/payments", ""},
	{"POST", "/v1/plans/plan_x/cancel", ""},
	{"POST", "/v1/plans/plan_x/pause", ""},
	{"POST", "/v1/plans/plan_x/resume", ""},
	{"POST", "/v1/plans/plan_x/skip-next", ""},
	{"POST", "/v1/plans/plan_x/payment-method", `{"payment_method": "pm_x"}`},
	{"POST", "/v1/payments", `{"customer": "cus_x", "payment_method": "pm_x", "amount": 100, "currency": "USD"}`},
	{"GET", "/v1/payments/pay_x", ""},
	{"GET", "/v1/webhook-endpoints", ""},
	{"POST", "/v1/webhook-endpoints", `{"url": "https://example.com/hook", "event_types": ["*"]}`},
	{"GET", "/v1/webhook-endpoints/we_x", ""},
	{"DELETE", "/v1/webhook-endpoints/we_x", ""},
	{"POST", "/v1/webhook-endpoints/we_x/rotate-secret", ""},
	{"GET", "/v1/events", ""},
	{"GET", "/v1/events/evt_x", ""},
	{"GET", "/v1/events/evt_x/attempts", ""},
	{"POST", "/v1/events/evt_x/redeliver", ""},
}, objectRoutes...)

// Another merchant's object, or a test object seen with a live key, is 404 on every
// route; the object is untouched afterwards.
func TestEveryRouteIsScopedByMerchantAndMode(t *testing.T) {
	f := newFixture(t, nil)
	cus := f.createCustomer(t, f.testKey, "owner@example.com")
	pm := f.saveCard(t, f.testKey, cus.ID, visa)
	for _, r := range objectRoutes {
		for name, key := range map[string]string{"other merchant": f.otherKey, "live key": f.liveKey} {
			t.Run(r.method+" "+r.path+" with "+name, func(t *testing.T) {
				path, body := r.expand(cus.ID, pm.ID)
				rec, e := f.do(t, r.method, path, key, body)
				if rec.Code != http.StatusNotFound || e.Error.Code != "resource_missing" {
					t.Fatalf("%d %s, want 404 resource_missing", rec.Code, e.Error.Code)
				}
				if strings.Contains(rec.Body.String(), "owner@example.com") {
					t.Errorf("the 404 shows the object: %s", rec.Body)
				}
			})
		}
	}
	// Lists in other scopes do not show the objects either.
	for _, key := range []string{f.otherKey, f.liveKey} {
		var list listBody[customerBody]
		f.ok(t, http.MethodGet, "/v1/customers", key, "", &list)
		if len(list.Data) != 0 {
			t.Errorf("another scope lists %d customers", len(list.Data))
		}
	}
	// Nothing changed for the owner.
	var got customerBody
	f.ok(t, http.MethodGet, "/v1/customers/"+cus.ID, f.testKey, "", &got)
	if deref(got.FirstName) != "" {
		t.Errorf("another merchant renamed the customer: %+v", got)
	}
	var card paymentMethodBody
	f.ok(t, http.MethodGet, "/v1/payment-methods/"+pm.ID, f.testKey, "", &card)
	if card.Status != "active" {
		t.Errorf("another merchant changed the card: %+v", card)
	}
	var list listBody[paymentMethodBody]
	f.ok(t, http.MethodGet, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, "", &list)
	if len(list.Data) != 1 {
		t.Errorf("another merchant saved a card for the customer: %d cards", len(list.Data))
	}
}

// A missing or wrong key is 401 on every route, before anything else is looked at.
func TestEveryRouteNeedsAKey(t *testing.T) {
	f := newFixture(t, nil)
	revoked := "sk_test_" + strings.Repeat("a", 40)
	for _, r := range allRoutes {
		for name, key := range map[string]string{"no key": "", "unknown key": revoked, "malformed key": "hunter2"} {
			t.Run(r.method+" "+r.path+" with "+name, func(t *testing.T) {
				path, body := r.expand("cus_x", "pm_x")
				rec, e := f.do(t, r.method, path, key, body+"garbage")
				want := "invalid_api_key"
				if key == "" {
					want = "missing_api_key"
				}
				if rec.Code != http.StatusUnauthorized || e.Error.Code != want || e.Error.Type != "authentication_error" {
					t.Fatalf("%d %s %s, want 401 %s", rec.Code, e.Error.Type, e.Error.Code, want)
				}
			})
		}
	}
}
