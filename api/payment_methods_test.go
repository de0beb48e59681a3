package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type paymentMethodBody struct {
	ID       string `json:"id"`
	Object   string `json:"object"`
	Customer string `json:"customer"`
	Provider string `json:"provider"`
	Status   string `json:"status"`
	Livemode bool   `json:"livemode"`
	Card     *struct {
		Brand       string `json:"brand"`
		Last4       string `json:"last4"`
		ExpMonth    int    `json:"exp_month"`
		ExpYear     int    `json:"exp_year"`
		Fingerprint string `json:"fingerprint"`
	} `json:"card"`
	DetachedAt *string `json:"detached_at"`
}

const visa = "4242424242424242"

var nextYear = time.Now().Year() + 1

func cardJSON(number string) string {
	return fmt.Sprintf(`{"card": {"number": %q, "exp_month": 12, "exp_year": %d, "cvc": "123"}}`, number, nextYear)
}

func (f fixture) saveCard(t testing.TB, key, customerID, number string) paymentMethodBody {
	t.Helper()
	var pm paymentMethodBody
	f.ok(t, http.MethodPost, "/v1/customers/"+customerID+"/payment-methods", key, cardJSON(number), &pm)
	return pm
}

func mustJSON(t testing.TB, b []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p != nil {
		return *p
	}
	return zero
}

func newRequest(t testing.TB, method, path, key string, body io.Reader) *http.Request {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	return req
}

func serveRaw(f fixture, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func TestSaveCard(t *testing.T) {
	f := newFixture(t, nil)
	c := f.createCustomer(t, f.testKey, "ada@example.com")
	rec, _ := f.do(t, http.MethodPost, "/v1/customers/"+c.ID+"/payment-methods", f.testKey,
		fmt.Sprintf(`{"card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": %d, "cvc": "123"}, "provider": "simulator"}`, nextYear))
	if rec.Code != http.StatusCreated {
		t.Fatalf("save = %d %s", rec.Code, rec.Body)
	}
	var pm paymentMethodBody
	mustJSON(t, rec.Body.Bytes(), &pm)
	if !strings.HasPrefix(pm.ID, "pm_") || pm.Object != "payment_method" || pm.Customer != c.ID || pm.Provider != "simulator" ||
		pm.Status != "active" || pm.Card == nil || pm.Card.Brand != "visa" || pm.Card.Last4 != "4242" ||
		pm.Card.ExpMonth != 12 || pm.Card.ExpYear != nextYear || pm.Card.Fingerprint == "" {
		t.Fatalf("saved %s", rec.Body)
	}
	// provider defaults to the simulator; the same number has the same fingerprint.
	mc := f.saveCard(t, f.testKey, c.ID, "5555555555554444")
	again := f.saveCard(t, f.testKey, c.ID, visa)
	if mc.Card.Brand != "mastercard" || again.Card.Fingerprint != pm.Card.Fingerprint || mc.Card.Fingerprint == pm.Card.Fingerprint {
		t.Errorf("fingerprints: visa %s, visa again %s, mastercard %s", pm.Card.Fingerprint, again.Card.Fingerprint, mc.Card.Fingerprint)
	}

	var list listBody[paymentMethodBody]
	f.ok(t, http.MethodGet, "/v1/customers/"+c.ID+"/payment-methods", f.testKey, "", &list)
	if len(list.Data) != 3 || list.Data[0].ID != again.ID || list.HasMore {
		t.Fatalf("list = %+v", list)
	}
	f.ok(t, http.MethodGet, "/v1/customers/"+c.ID+"/payment-methods?limit=2&starting_after="+again.ID, f.testKey, "", &list)
	if len(list.Data) != 2 || list.Data[0].ID != mc.ID || list.Data[1].ID != pm.ID {
		t.Errorf("second page = %+v", list)
	}

	// The token the simulator made charges: the stored token is the provider's.
	cred, err := f.db.ChargeableCard(t.Context(), f.merchantID, pm.ID)
	if err != nil || cred.Provider != "simulator" || cred.Token == "" {
		t.Fatalf("credentials: %v", err)
	}
}

func TestSaveCardRejections(t *testing.T) {
	f := newFixture(t, nil)
	c := f.createCustomer(t, f.testKey, "ada@example.com")
	path := "/v1/customers/" + c.ID + "/payment-methods"
	card := func(number string, month, year int, cvc string) string {
		return fmt.Sprintf(`{"card": {"number": %q, "exp_month": %d, "exp_year": %d, "cvc": %q}}`, number, month, year, cvc)
	}
	lastMonth := time.Now().AddDate(0, -1, 0)
	cases := []struct {
		name, key, body string
		status          int
		code, param     string
	}{
		{"Luhn", f.testKey, card("4242424242424241", 12, nextYear, "123"), 400, "invalid_card_number", "card.number"},
		{"letters", f.testKey, card("4242abcd42424242", 12, nextYear, "123"), 400, "invalid_card_number", "card.number"},
		{"too short", f.testKey, card("4242", 12, nextYear, "123"), 400, "invalid_card_number", "card.number"},
		{"expired", f.testKey, card(visa, int(lastMonth.Month()), lastMonth.Year(), "123"), 400, "card_expired", "card.exp_year"},
		{"expired years ago", f.testKey, card(visa, 1, 2020, "123"), 400, "card_expired", "card.exp_year"},
		{"month 13", f.testKey, card(visa, 13, nextYear, "123"), 400, "invalid_expiry_month", "card.exp_month"},
		{"month 0", f.testKey, card(visa, 0, nextYear, "123"), 400, "invalid_expiry_month", "card.exp_month"},
		{"year 99", f.testKey, card(visa, 12, 99, "123"), 400, "invalid_expiry_year", "card.exp_year"},
		{"cvc length", f.testKey, card(visa, 12, nextYear, "12"), 400, "invalid_cvc", "card.cvc"},
		{"amex cvc", f.testKey, card("378282246310005", 12, nextYear, "123"), 400, "invalid_cvc", "card.cvc"},
		{"missing number", f.testKey, `{"card": {"exp_month": 12, "exp_year": 2040}}`, 400, "parameter_missing", "card.number"},
		{"missing card", f.testKey, `{"provider": "simulator"}`, 400, "parameter_missing", "card"},
		{"number as integer", f.testKey, fmt.Sprintf(`{"card": {"number": 4242424242424242, "exp_month": 12, "exp_year": %d}}`, nextYear), 400, "invalid_type", "card.number"},
		{"month as string", f.testKey, fmt.Sprintf(`{"card": {"number": %q, "exp_month": "12", "exp_year": %d}}`, visa, nextYear), 400, "invalid_type", "card.exp_month"},
		{"unknown card field", f.testKey, fmt.Sprintf(`{"card": {"number": %q, "exp_month": 12, "exp_year": %d, "name": "Ada"}}`, visa, nextYear), 400, "parameter_unknown", "card.name"},
		{"unknown provider", f.testKey, `{"provider": "acme", ` + cardJSON(visa)[1:], 400, "unknown_provider", "provider"},
		{"simulator in live mode", f.liveKey, cardJSON(visa), 400, "provider_not_available", "provider"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := path
			if tc.key == f.liveKey {
				live := f.createCustomer(t, f.liveKey, "live@example.com")
				p = "/v1/customers/" + live.ID + "/payment-methods"
			}
			rec, e := f.do(t, http.MethodPost, p, tc.key, tc.body)
			if rec.Code != tc.status || e.Error.Code != tc.code || e.Error.Param != tc.param {
				t.Fatalf("%d %s param %q, want %d %s param %q (%s)", rec.Code, e.Error.Code, e.Error.Param, tc.status, tc.code, tc.param, e.Error.Message)
			}
		})
	}
	var list listBody[paymentMethodBody]
	f.ok(t, http.MethodGet, path, f.testKey, "", &list)
	if len(list.Data) != 0 {
		t.Errorf("rejected cards were saved: %+v", list.Data)
	}
	if rec, e := f.do(t, http.MethodPost, "/v1/customers/cus_nope/payment-methods", f.testKey, cardJSON(visa)); rec.Code != 404 || e.Error.Code != "resource_missing" {
		t.Errorf("unknown customer = %d %s", rec.Code, e.Error.Code)
	}
}

func TestBlockUnblockDetach(t *testing.T) {
	plans := &fakePlans{}
	f := newFixtureWith(t, fixtureOptions{plans: plans})
	c := f.createCustomer(t, f.testKey, "ada@example.com")
	pm := f.saveCard(t, f.testKey, c.ID, visa)
	base := "/v1/payment-methods/" + pm.ID
	var got paymentMethodBody

	f.ok(t, http.MethodPost, base+"/block", f.testKey, "", &got)
	if got.Status != "blocked" || got.Card == nil {
		t.Fatalf("block = %+v", got)
	}
	f.ok(t, http.MethodPost, base+"/block", f.testKey, "", &got) // again: same state, plans told again
	f.ok(t, http.MethodPost, base+"/unblock", f.testKey, "", &got)
	if got.Status != "active" {
		t.Fatalf("unblock = %+v", got)
	}
	got = paymentMethodBody{}
	f.ok(t, http.MethodPost, base+"/detach", f.testKey, "", &got)
	if got.Status != "detached" || got.Card != nil || got.DetachedAt == nil {
		t.Fatalf("detach = %+v", got)
	}
	for _, action := range []string{"unblock", "block"} {
		rec, e := f.do(t, http.MethodPost, base+"/"+action, f.testKey, "")
		if rec.Code != http.StatusConflict || e.Error.Code != "payment_method_detached" {
			t.Errorf("%s a detached card = %d %s", action, rec.Code, e.Error.Code)
		}
	}
	f.ok(t, http.MethodPost, base+"/detach", f.testKey, "", &got)
	want := []string{"blocked", "blocked", "unblocked", "detached", "detached"}
	calls := plans.Calls()
	if len(calls) != len(want) {
		t.Fatalf("plans were told %v, want %v", calls, want)
	}
	for i, w := range want {
		if calls[i] != w+" "+f.merchantID+" "+pm.ID {
			t.Errorf("call %d = %q, want %s", i, calls[i], w)
		}
	}
	if card, err := f.db.ChargeableCard(t.Context(), f.merchantID, pm.ID); err != nil || !card.Detached || card.Token != "" {
		t.Errorf("a detached card is chargeable: %+v, %v", card, err)
	}
	var list listBody[paymentMethodBody]
	f.ok(t, http.MethodGet, "/v1/customers/"+c.ID+"/payment-methods", f.testKey, "", &list)
	if len(list.Data) != 0 {
		t.Errorf("list shows the detached card: %+v", list.Data)
	}

	// When the plans cannot be told, the request fails (and a retry tells them again).
	pm2 := f.saveCard(t, f.testKey, c.ID, visa)
	plans.fail = errors.New("temporal unreachable")
	if rec, _ := f.do(t, http.MethodPost, "/v1/payment-methods/"+pm2.ID+"/block", f.testKey, ""); rec.Code != http.StatusInternalServerError {
		t.Errorf("block while plans cannot be told = %d", rec.Code)
	}
	plans.fail = nil
	f.ok(t, http.MethodPost, "/v1/payment-methods/"+pm2.ID+"/block", f.testKey, "", &got)
	if calls := plans.Calls(); calls[len(calls)-1] != "blocked "+f.merchantID+" "+pm2.ID {
		t.Errorf("retry did not notify: %v", calls)
	}
}
