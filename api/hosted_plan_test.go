package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/providers"
)

type hostedPlanBody struct {
	planBody
	PaymentURL      string     `json:"payment_url"`
	PaymentSession  string     `json:"payment_session"`
	IncompleteUntil *time.Time `json:"incomplete_until"`
	Type            string     `json:"type"`
}

// TestHostedPlan: POST /v1/plans with no card answers an incomplete plan with a
// payment_url; the customer pays the first installment on the page (3-D Secure
// challenge approved) and the plan is active, its later installments merchant-initiated;
// a declined first payment leaves it incomplete and a new page (POST
// /v1/plans/{id}/payment-session) starts it; a plan starting later is verified, not
// charged; a MOTO plan skips 3-D Secure; an unfinished page expires the plan
// (incomplete_expired). SQLite and Postgres, through HTTP with the bodies clients send.
func TestHostedPlan(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		create := func(t *testing.T, cus, extra string, schedule string) hostedPlanBody {
			t.Helper()
			var p hostedPlanBody
			body := fmt.Sprintf(`{"customer":%q,"currency":"EUR","schedule":%s%s}`, cus, schedule, extra)
			if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans", f.testKey, body, &p); code != http.StatusCreated {
				t.Fatalf("POST /v1/plans %s = %d", body, code)
			}
			return p
		}
		twoSoon := `{"frequency":"seconds","frequency_duration":6,"recurring_amount":1500,"installments":2}`

		t.Run("challenge approved starts the plan", func(t *testing.T) {
			cus := f.createCustomer(t, f.testKey, "ada@example.com")
			back := srv.URL + "/back"
			p := create(t, cus.ID, fmt.Sprintf(`,"return_url":%q`, back), twoSoon)
			if p.Status != "incomplete" || p.PaymentMethod != "" || !strings.HasPrefix(p.PaymentURL, srv.URL+"/pay/") ||
				!strings.HasPrefix(p.PaymentSession, "ps_") || p.IncompleteUntil == nil || p.Paid != 0 {
				t.Fatalf("created %+v, want incomplete with a payment_url", p)
			}
			if n := f.chargesOf(p.ID + "/1/1"); n != 0 {
				t.Fatalf("an incomplete plan charged %d times", n)
			}
			c := newCustomer(t)
			_, u, page := c.get(p.PaymentURL)
			if !strings.Contains(page, "Pay 15.00") || !strings.Contains(page, "first payment of your plan") {
				t.Errorf("the plan's page does not show its first payment: %s", page)
			}
			_, u, acs := c.post(u, page, card("4000000000003220"))
			if !strings.Contains(acs, "Approve") {
				t.Fatalf("no challenge: %s", acs)
			}
			_, _, done := c.answer(u, acs, "approve")
			if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" || !strings.Contains(done, "plan has started") ||
				!strings.Contains(done, "plan_id="+p.ID) || !strings.Contains(done, "payment_session="+p.PaymentSession) {
				t.Fatalf("after approving: %s", done)
			}
			var now hostedPlanBody
			f.apiCall(t, srv, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &now)
			if now.Status != "active" && now.Status != "completed" || now.Paid < 1 || now.PaymentMethod == "" || now.PaymentURL != "" {
				t.Errorf("right after the page: %+v, want active with the first installment paid and no payment_url", now)
			}
			got := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "completed" })
			if got.Paid != 2 || got.PaidAmount != 3000 {
				t.Errorf("plan %+v, want both installments paid", got)
			}
			var list listBody[paymentBody]
			f.ok(t, http.MethodGet, "/v1/plans/"+p.ID+"/payments", f.testKey, "", &list)
			types := map[int]string{}
			for _, pay := range list.Data {
				types[pay.Installment] = pay.PaymentType + "/" + pay.Status
			}
			if types[1] != "initial/succeeded" || types[2] != "recurring/succeeded" || len(list.Data) != 2 {
				t.Errorf("payments %v, want the initial then a recurring one", types)
			}
			var first, second *providers.Initiator
			for _, ch := range f.sim.Charges() {
				switch ch.IdempotencyKey {
				case p.ID + "/1/1":
					first = &ch.Initiator
				case p.ID + "/2/1":
					second = &ch.Initiator
				}
			}
			if first == nil || *first != providers.InitiatorCustomer || second == nil || *second != providers.InitiatorMerchant {
				t.Errorf("initiators %v, %v: want customer then merchant", first, second)
			}
		})

		t.Run("a declined first payment leaves it incomplete; a new page starts it", func(t *testing.T) {
			cus := f.createCustomer(t, f.testKey, "bob@example.com")
			p := create(t, cus.ID, "", twoSoon)
			c := newCustomer(t)
			_, u, page := c.get(p.PaymentURL)
			_, u, acs := c.post(u, page, card("4000008260003178")) // challenge, then insufficient funds
			_, _, done := c.answer(u, acs, "approve")
			if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "failed" {
				t.Fatalf("after a declined first payment: %s", done)
			}
			var now hostedPlanBody
			f.apiCall(t, srv, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &now)
			if now.Status != "incomplete" || now.PaymentMethod != "" || now.PaymentURL != "" {
				t.Errorf("after the decline: %+v, want incomplete without a card or an open page", now)
			}
			var ps sessionBody
			if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans/"+p.ID+"/payment-session", f.testKey, `{}`, &ps); code != http.StatusCreated {
				t.Fatalf("a new page = %d", code)
			}
			f.apiCall(t, srv, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &now)
			if now.PaymentURL != ps.PaymentURL || now.PaymentSession != ps.ID {
				t.Errorf("the plan shows %q (%s), want the new page %q (%s)", now.PaymentURL, now.PaymentSession, ps.PaymentURL, ps.ID)
			}
			c = newCustomer(t)
			_, u, page = c.get(ps.PaymentURL)
			_, _, done = c.post(u, page, card("4242424242424242")) // frictionless
			if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
				t.Fatalf("second page: %s", done)
			}
			got := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Paid >= 1 })
			if got.Status == "incomplete" {
				t.Errorf("plan %+v after the second page", got)
			}
			if n1, n2 := f.chargesOf(p.ID+"/1/1"), f.chargesOf(p.ID+"/1/2"); n1 != 0 || n2 != 1 {
				t.Errorf("charges: attempt 1 moved money %d times, attempt 2 %d times; want 0 and 1", n1, n2)
			}
			f.apiCall(t, srv, http.MethodPost, "/v1/plans/"+p.ID+"/cancel", f.testKey, `{}`, nil)
		})

		t.Run("a later start verifies the card and charges on the date", func(t *testing.T) {
			cus := f.createCustomer(t, f.testKey, "cy@example.com")
			startAt := time.Now().Add(8 * time.Second).UTC().Format(time.RFC3339)
			p := create(t, cus.ID, "", fmt.Sprintf(`{"frequency":"seconds","frequency_duration":30,"start_date":%q,"recurring_amount":900,"installments":1}`, startAt))
			c := newCustomer(t)
			_, u, page := c.get(p.PaymentURL)
			if !strings.Contains(page, "Nothing is charged now") {
				t.Errorf("the verification page: %s", page)
			}
			_, _, done := c.post(u, page, card("4242424242424242"))
			if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
				t.Fatalf("verification: %s", done)
			}
			var now hostedPlanBody
			f.apiCall(t, srv, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &now)
			if now.Status != "active" || now.Paid != 0 || f.chargesOf(p.ID+"/1/1") != 0 {
				t.Errorf("after verifying: %+v, want active with nothing charged before the date", now)
			}
			got := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "completed" })
			if got.Paid != 1 {
				t.Errorf("plan %+v", got)
			}
			for _, ch := range f.sim.Charges() {
				if ch.IdempotencyKey == p.ID+"/1/1" && ch.Initiator != providers.InitiatorMerchant {
					t.Errorf("the first charge after a verification is %s-initiated, want merchant", ch.Initiator)
				}
			}
		})

		t.Run("moto skips 3-D Secure", func(t *testing.T) {
			cus := f.createCustomer(t, f.testKey, "di@example.com")
			p := create(t, cus.ID, `,"type":"moto"`, `{"frequency":"days","recurring_amount":700,"installments":3}`)
			c := newCustomer(t)
			_, u, page := c.get(p.PaymentURL)
			if !strings.Contains(page, "Telephone or mail order") {
				t.Errorf("the MOTO page: %s", page)
			}
			_, _, done := c.post(u, page, card("4000000000003220")) // would be challenged online
			if m := outcome.FindStringSubmatch(done); m == nil || m[1] != "succeeded" {
				t.Fatalf("MOTO: %s", done)
			}
			got := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Paid == 1 })
			if got.Status != "active" {
				t.Errorf("plan %+v", got)
			}
			f.apiCall(t, srv, http.MethodPost, "/v1/plans/"+p.ID+"/cancel", f.testKey, `{}`, nil)
		})

		t.Run("an unfinished page expires the plan", func(t *testing.T) {
			cus := f.createCustomer(t, f.testKey, "eve@example.com")
			p := create(t, cus.ID, `,"expires_in":5`, twoSoon)
			got := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status != "incomplete" })
			if got.Status != "incomplete_expired" || got.Paid != 0 {
				t.Errorf("plan %+v, want incomplete_expired", got)
			}
			// The plan's live state (a query) can be ahead of the event its next activity
			// records: wait for the event, within a deadline.
			var expired []string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				expired = expired[:0]
				for _, e := range f.events(t, "plan.incomplete_expired") {
					expired = append(expired, e.Data.Object["id"].(string))
				}
				if strings.Contains(strings.Join(expired, ","), p.ID) || time.Now().After(deadline) {
					break
				}
			}
			if !strings.Contains(strings.Join(expired, ","), p.ID) {
				t.Errorf("plan.incomplete_expired events for %v, want %s", expired, p.ID)
			}
			c := newCustomer(t)
			code, _, page := c.get(p.PaymentURL)
			if code != http.StatusGone {
				t.Errorf("the expired page = %d: %s", code, page)
			}
			if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans/"+p.ID+"/payment-session", f.testKey, `{}`, nil); code != http.StatusConflict {
				t.Errorf("a page for an expired plan = %d, want 409", code)
			}
		})

		t.Run("bad input", func(t *testing.T) {
			cus := f.createCustomer(t, f.testKey, "fay@example.com")
			for body, param := range map[string]string{
				fmt.Sprintf(`{"customer":%q,"currency":"EUR","schedule":%s,"return_url":"/relative"}`, cus.ID, twoSoon): "return_url",
				fmt.Sprintf(`{"customer":%q,"currency":"EUR","schedule":%s,"expires_in":999999}`, cus.ID, twoSoon):      "expires_in",
				fmt.Sprintf(`{"customer":%q,"currency":"EUR","schedule":%s,"type":"phone"}`, cus.ID, twoSoon):           "type",
				fmt.Sprintf(`{"customer":%q,"currency":"EUR","schedule":%s,"provider":"nope"}`, cus.ID, twoSoon):        "provider",
			} {
				rec, e := f.do(t, http.MethodPost, "/v1/plans", f.testKey, body)
				if rec.Code != http.StatusBadRequest || e.Error.Param != param {
					t.Errorf("%s = %d %+v, want 400 naming %s", body, rec.Code, e.Error, param)
				}
			}
			p := create(t, cus.ID, "", twoSoon)
			saved := f.saveCard(t, f.testKey, cus.ID, "4242424242424242")
			for path, body := range map[string]string{"/pause": `{}`, "/skip-next": `{}`,
				"/payment-method": fmt.Sprintf(`{"payment_method":%q}`, saved.ID)} {
				if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans/"+p.ID+path, f.testKey, body, nil); code != http.StatusConflict {
					t.Errorf("%s on an incomplete plan = %d, want 409", path, code)
				}
			}
			if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans/"+p.ID+"/cancel", f.testKey, `{}`, nil); code != http.StatusOK {
				t.Errorf("cancel an incomplete plan = %d", code)
			}
			got := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "canceled" })
			if got.Paid != 0 {
				t.Errorf("canceled plan %+v", got)
			}
		})
	})
}

// TestPlanRecoveryLink: a merchant-initiated charge declined with
// authentication_required puts the plan in action_required, and the plan opens its
// own recovery page: GET /v1/plans/{id} shows payment_url; the customer gives a card
// there (nothing charged on the page) and the waiting installment is charged at once
// with it. SQLite and Postgres, through HTTP.
func TestPlanRecoveryLink(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		srv := hostedServer(t, f)
		cus := f.createCustomer(t, f.testKey, "ivy@example.com")
		var p hostedPlanBody
		if code := f.apiCall(t, srv, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer":%q,"currency":"EUR","schedule":{"frequency":"seconds","frequency_duration":4,"recurring_amount":800,"installments":2}}`,
			cus.ID), &p); code != http.StatusCreated {
			t.Fatalf("create plan = %d", code)
		}
		// The first installment, authenticated on the page; this card then declines
		// every merchant-initiated charge with authentication_required.
		c := newCustomer(t)
		_, u, page := c.get(p.PaymentURL)
		_, u, acs := c.post(u, page, card("4000002500003155"))
		if _, _, done := c.answer(u, acs, "approve"); outcome.FindStringSubmatch(done) == nil {
			t.Fatalf("first payment page: %s", done)
		}
		f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "action_required" })
		// The live state turns action_required as the decline is handled; the page is
		// opened by the next activity, a moment later: poll for it.
		var waiting hostedPlanBody
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			waiting = hostedPlanBody{}
			f.apiCall(t, srv, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &waiting)
			if waiting.PaymentURL != "" || time.Now().After(deadline) {
				break
			}
		}
		if !strings.HasPrefix(waiting.PaymentURL, srv.URL+"/pay/") || !strings.HasPrefix(waiting.PaymentSession, "ps_") ||
			waiting.PaymentURL == p.PaymentURL {
			t.Fatalf("action_required plan %+v, want its own fresh recovery page", waiting)
		}
		c = newCustomer(t)
		_, u, page = c.get(waiting.PaymentURL)
		if !strings.Contains(page, "Update your card") {
			t.Errorf("the recovery page: %s", page)
		}
		if _, _, done := c.post(u, page, card("4242424242424242")); !strings.Contains(done, `data-status="succeeded"`) {
			t.Fatalf("recovery page: %s", done)
		}
		got := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "completed" })
		if got.Paid != 2 {
			t.Errorf("plan %+v, want both installments paid", got)
		}
		if n := f.chargesOf(waiting.PaymentSession); n != 0 {
			t.Errorf("the recovery page charged %d times itself", n)
		}
		var ended hostedPlanBody
		f.apiCall(t, srv, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &ended)
		if ended.Status != "completed" || ended.PaymentURL != "" {
			t.Errorf("a completed plan still shows a page: %+v", ended)
		}
	})
}
