package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recurring/recurring/api"
)

// TestSavedCardPayments is the path most merchants take after the first payment: a
// one-off or initial payment on a card saved earlier, sent with exactly the members a
// client sends (no provider), on both stores.
func TestSavedCardPayments(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		cus := f.createCustomer(t, f.testKey, "ada@example.com")
		pm := f.saveCard(t, f.testKey, cus.ID, visa)

		for _, tc := range []struct {
			name, extra, wantType string
		}{
			{"one-off", ``, "one_off"},
			{"save_card false", `, "save_card": false`, "one_off"},
			{"save_card true", `, "save_card": true`, "initial"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body := fmt.Sprintf(`{"customer": %q, "payment_method": %q, "amount": 1050, "currency": "USD"%s}`, cus.ID, pm.ID, tc.extra)
				key := "saved-card-" + strings.ReplaceAll(tc.name, " ", "-")
				charges := len(f.sim.Charges())
				status, first, e, _ := f.post(t, "/v1/payments", f.testKey, key, body)
				if status != http.StatusCreated {
					t.Fatalf("POST /v1/payments on a saved card: %d %s %q (%s)", status, e.Error.Code, e.Error.Param, first)
				}
				var p paymentBody
				mustJSON(t, []byte(first), &p)
				if p.Status != "succeeded" || p.PaymentType != tc.wantType || p.PaymentMethod != pm.ID || p.Amount != 1050 {
					t.Errorf("payment %+v: want succeeded %s on %s for 1050", p, tc.wantType, pm.ID)
				}
				if n := len(f.sim.Charges()) - charges; n != 1 {
					t.Errorf("the simulator charged %d times, want 1", n)
				}
				// The saved card stays saved whatever save_card says: it was not new.
				var card paymentMethodBody
				f.ok(t, http.MethodGet, "/v1/payment-methods/"+pm.ID, f.testKey, "", &card)
				if card.Status != "active" {
					t.Errorf("the saved card is %s after the payment, want active", card.Status)
				}
				// The same key and body replays the answer and charges nothing.
				status, again, _, h := f.post(t, "/v1/payments", f.testKey, key, body)
				if status != http.StatusCreated || again != first || h.Get("Idempotent-Replayed") != "true" {
					t.Errorf("replay: %d %s (replayed %q), want %s", status, again, h.Get("Idempotent-Replayed"), first)
				}
				if n := len(f.sim.Charges()) - charges; n != 1 {
					t.Errorf("after the replay the simulator charged %d times, want 1", n)
				}
			})
		}

		t.Run("provider with a saved card names the field", func(t *testing.T) {
			rec, e := f.do(t, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(
				`{"customer": %q, "payment_method": %q, "provider": "simulator", "amount": 100, "currency": "USD"}`, cus.ID, pm.ID))
			if rec.Code != http.StatusBadRequest || e.Error.Code != "parameter_not_allowed" || e.Error.Param != "provider" {
				t.Errorf("provider beside a saved card: %d %s %q", rec.Code, e.Error.Code, e.Error.Param)
			}
		})

		// A card whose first payment failed is not saved, whatever the failure: a
		// decline, a hard decline, or a card that needs 3-D Secure.
		t.Run("a new card whose first payment failed is not kept", func(t *testing.T) {
			for _, number := range []string{"4000000000009995", "4000000000009987", "4000002500003155"} {
				for _, save := range []bool{true, false} {
					var p paymentBody
					f.ok(t, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(
						`{"customer": %q, "card": {"number": %q, "exp_month": 12, "exp_year": %d}, "amount": 700, "currency": "USD", "save_card": %t}`,
						cus.ID, number, nextYear, save), &p)
					if p.Status != "failed" || p.FailureCode == "" {
						t.Errorf("card %s save_card %t: payment %+v, want failed with a code", number[len(number)-4:], save, p)
						continue
					}
					var card paymentMethodBody
					f.ok(t, http.MethodGet, "/v1/payment-methods/"+p.PaymentMethod, f.testKey, "", &card)
					if card.Status != "detached" {
						t.Errorf("card %s save_card %t failed with %s, and the card is %s; want detached", number[len(number)-4:], save, p.FailureCode, card.Status)
					}
				}
			}
			var cards listBody[paymentMethodBody]
			f.ok(t, http.MethodGet, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey, "", &cards)
			if len(cards.Data) != 1 || cards.Data[0].ID != pm.ID {
				t.Errorf("saved cards after failed first payments: %+v, want only %s", cards.Data, pm.ID)
			}
		})

		t.Run("deleting a customer with plans gives the real count", func(t *testing.T) {
			for _, tc := range []struct {
				plans int
				want  string
			}{{3, "has 3 unfinished plans; cancel them"}, {1, "has 1 unfinished plan; cancel it"}} {
				who := f.createCustomer(t, f.testKey, fmt.Sprintf("bob%d@example.com", tc.plans))
				card := f.saveCard(t, f.testKey, who.ID, visa)
				var plans []planBody
				for range tc.plans {
					var p planBody
					f.ok(t, http.MethodPost, "/v1/plans", f.testKey, planJSON(who.ID, card.ID, daily), &p)
					plans = append(plans, p)
				}
				rec, e := f.do(t, http.MethodDelete, "/v1/customers/"+who.ID, f.testKey, "")
				if rec.Code != http.StatusConflict || !strings.Contains(e.Error.Message, tc.want) {
					t.Errorf("delete with %d plans: %d %q, want 409 saying %q", tc.plans, rec.Code, e.Error.Message, tc.want)
				}
				for _, p := range plans {
					f.ok(t, http.MethodPost, "/v1/plans/"+p.ID+"/cancel", f.testKey, "", nil)
					f.waitPlanRow(t, p.ID, "canceled")
				}
				f.ok(t, http.MethodDelete, "/v1/customers/"+who.ID, f.testKey, "", nil)
			}
		})

		t.Run("action routes take no body or {}", func(t *testing.T) {
			var p planBody
			f.ok(t, http.MethodPost, "/v1/plans", f.testKey, planJSON(cus.ID, pm.ID, daily), &p)
			steps := []struct{ path, body, contentType, want string }{
				{"/v1/plans/" + p.ID + "/pause", `{}`, "application/json", "paused"},
				{"/v1/plans/" + p.ID + "/resume", ` { } `, "", "active"},
				{"/v1/plans/" + p.ID + "/skip-next", `{}`, "text/plain;charset=UTF-8", "active"},
				{"/v1/plans/" + p.ID + "/pause", ``, "", "paused"},
				{"/v1/plans/" + p.ID + "/cancel", `{}`, "application/json", "canceled"},
			}
			// redeliver, which needs Temporal too, with {} as fetch sends it.
			var events listBody[struct{ ID string }]
			f.ok(t, http.MethodGet, "/v1/events?limit=1", f.testKey, "", &events)
			if len(events.Data) != 1 {
				t.Fatalf("no event to redeliver: %+v", events)
			}
			if rec := f.raw(t, http.MethodPost, "/v1/events/"+events.Data[0].ID+"/redeliver", `{}`, "text/plain;charset=UTF-8"); rec.Code != http.StatusAccepted {
				t.Errorf("redeliver with {}: %d %s", rec.Code, rec.Body)
			}
			if rec, e := f.do(t, http.MethodPost, "/v1/events/"+events.Data[0].ID+"/redeliver", f.testKey, `{"endpoint": "we_x"}`); rec.Code != http.StatusBadRequest || e.Error.Param != "endpoint" {
				t.Errorf("redeliver with a member: %d %s %q", rec.Code, e.Error.Code, e.Error.Param)
			}
			for _, s := range steps {
				rec := f.raw(t, http.MethodPost, s.path, s.body, s.contentType)
				if rec.Code != http.StatusOK {
					t.Fatalf("POST %s with %q (%s): %d %s", s.path, s.body, s.contentType, rec.Code, rec.Body)
				}
				var got planBody
				decode(t, rec, &got)
				if got.Status != s.want {
					t.Errorf("POST %s: status %s, want %s", s.path, got.Status, s.want)
				}
			}
		})
	})
}

// raw sends a body with the given Content-Type ("" sends none), as fetch and curl do.
func (f fixture) raw(t testing.TB, method, path, body, contentType string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+f.testKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// TestActionRoutesTakeAnEmptyObject: block, unblock, detach, rotate-secret and
// redeliver (the plan routes are in TestSavedCardPayments) accept no body or {}, and a
// member is still refused by name.
func TestActionRoutesTakeAnEmptyObject(t *testing.T) {
	eachStore(t, fixtureOptions{}, func(t *testing.T, f fixture) {
		cus := f.createCustomer(t, f.testKey, "ada@example.com")
		pm := f.saveCard(t, f.testKey, cus.ID, visa)
		var ep struct{ ID string }
		f.ok(t, http.MethodPost, "/v1/webhook-endpoints", f.testKey, `{"url": "http://127.0.0.1:9/hooks", "event_types": ["*"]}`, &ep)

		for _, path := range []string{
			"/v1/payment-methods/" + pm.ID + "/block",
			"/v1/payment-methods/" + pm.ID + "/unblock",
			"/v1/webhook-endpoints/" + ep.ID + "/rotate-secret",
			"/v1/payment-methods/" + pm.ID + "/detach",
		} {
			rec, e := f.do(t, http.MethodPost, path, f.testKey, `{"reason": "fraud"}`)
			if rec.Code != http.StatusBadRequest || e.Error.Code != "parameter_unknown" || e.Error.Param != "reason" {
				t.Errorf("POST %s with a member: %d %s %q, want 400 parameter_unknown reason", path, rec.Code, e.Error.Code, e.Error.Param)
			}
			rec, e = f.do(t, http.MethodPost, path, f.testKey, `[]`)
			if rec.Code != http.StatusBadRequest || e.Error.Code != "invalid_type" {
				t.Errorf("POST %s with []: %d %s, want 400 invalid_type", path, rec.Code, e.Error.Code)
			}
			for _, ct := range []string{"application/json", "text/plain;charset=UTF-8", ""} {
				if rec := f.raw(t, http.MethodPost, path, `{}`, ct); rec.Code != http.StatusOK {
					t.Errorf("POST %s with {} as %q: %d %s", path, ct, rec.Code, rec.Body)
				}
			}
			if rec := f.raw(t, http.MethodPost, path, "", ""); rec.Code != http.StatusOK {
				t.Errorf("POST %s without a body: %d %s", path, rec.Code, rec.Body)
			}
		}
		// A body that is not {} keeps its media type and is refused for it.
		rec := f.raw(t, http.MethodPost, "/v1/payment-methods/"+pm.ID+"/block", `{"a":1}`, "text/plain")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "unsupported_media_type") {
			t.Errorf("text/plain body with a member: %d %s", rec.Code, rec.Body)
		}
	})
}

// TestProvidersAnswerForTheCallersMode: a live key is not shown the simulator it may
// not use, and saving a card without a provider names what is wrong.
func TestProvidersAnswerForTheCallersMode(t *testing.T) {
	f := newFixture(t, nil)
	var list struct {
		Data []struct{ Provider string } `json:"data"`
	}
	f.ok(t, http.MethodGet, "/v1/providers", f.testKey, "", &list)
	if len(list.Data) != 1 || list.Data[0].Provider != "simulator" {
		t.Errorf("test key: providers %+v, want the simulator", list.Data)
	}
	list.Data = nil
	f.ok(t, http.MethodGet, "/v1/providers", f.liveKey, "", &list)
	if len(list.Data) != 0 {
		t.Errorf("live key: providers %+v, want none (the simulator is test-only)", list.Data)
	}
	cus := f.createCustomer(t, f.liveKey, "ada@example.com")
	rec, e := f.do(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.liveKey, cardJSON(visa))
	if rec.Code != http.StatusBadRequest || e.Error.Code != "provider_not_available" || e.Error.Param != "provider" {
		t.Errorf("live key saving a card with no live provider: %d %s %q", rec.Code, e.Error.Code, e.Error.Param)
	}
}

// TestIdempotentResponsesKeepSecretsSealed: a webhook secret answered once under an
// Idempotency-Key is replayed to the client, but never sits in the store in clear.
func TestIdempotentResponsesKeepSecretsSealed(t *testing.T) {
	eachStore(t, fixtureOptions{}, func(t *testing.T, f fixture) {
		status, created, _, _ := f.post(t, "/v1/webhook-endpoints", f.testKey, "endpoint-1",
			`{"url": "http://127.0.0.1:9/hooks", "event_types": ["*"]}`)
		var ep struct{ ID, Secret string }
		mustJSON(t, []byte(created), &ep)
		if status != http.StatusCreated || !strings.HasPrefix(ep.Secret, "whsec_") {
			t.Fatalf("create endpoint: %d %s", status, created)
		}
		status, rotated, _, _ := f.post(t, "/v1/webhook-endpoints/"+ep.ID+"/rotate-secret", f.testKey, "rotate-1", `{}`)
		var rot struct{ Secret string }
		mustJSON(t, []byte(rotated), &rot)
		if status != http.StatusOK || !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == ep.Secret {
			t.Fatalf("rotate: %d %s", status, rotated)
		}
		// Replays answer exactly what the client got the first time.
		for _, r := range []struct{ path, key, body, want string }{
			{"/v1/webhook-endpoints", "endpoint-1", `{"url": "http://127.0.0.1:9/hooks", "event_types": ["*"]}`, created},
			{"/v1/webhook-endpoints/" + ep.ID + "/rotate-secret", "rotate-1", `{}`, rotated},
		} {
			if _, again, _, h := f.post(t, r.path, f.testKey, r.key, r.body); again != r.want || h.Get("Idempotent-Replayed") != "true" {
				t.Errorf("replay of %s: %s, want %s", r.path, again, r.want)
			}
		}
		var stored [][]byte
		if err := f.db.SelectContext(context.Background(), &stored, `SELECT response FROM idempotency_keys`); err != nil {
			t.Fatal(err)
		}
		if len(stored) != 2 {
			t.Fatalf("%d stored responses, want 2", len(stored))
		}
		for _, secret := range []string{ep.Secret, rot.Secret, strings.TrimPrefix(ep.Secret, "whsec_"), "whsec_", ep.ID} {
			for _, b := range stored {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("a stored response holds %q in clear", secret)
				}
			}
		}
		if files, _ := filepath.Glob(f.dbPath + "*"); strings.HasSuffix(f.dbPath, ".db") {
			for _, name := range files {
				b, err := os.ReadFile(name)
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(b, []byte(ep.Secret)) || bytes.Contains(b, []byte(rot.Secret)) {
					t.Errorf("%s holds a webhook secret in clear", name)
				}
			}
		}
	})
}

// TestNumbersThatDoNotFitNameTheField: integers beyond int64 and integral numbers
// written with a fraction or an exponent are 400s naming the field, never a bare
// "Bad Request"; empty dates and time zones are refused, not taken as the default.
func TestNumbersThatDoNotFitNameTheField(t *testing.T) {
	f := newFixture(t, nil)
	cus := f.createCustomer(t, f.testKey, "ada@example.com")
	preview := func(schedule string) string {
		return `{"currency": "USD", "count": 2, "schedule": ` + schedule + `}`
	}
	payment := func(amount string) string {
		return fmt.Sprintf(`{"customer": %q, "payment_method": "pm_x", "amount": %s, "currency": "USD"}`, cus.ID, amount)
	}
	cases := []struct{ path, body, code, param string }{
		{"/v1/plans/preview", preview(`{"frequency": "days", "recurring_amount": 9223372036854775808}`), "invalid_value", "schedule.recurring_amount"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "recurring_amount": 18446744073709551616}`), "invalid_value", "schedule.recurring_amount"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "recurring_amount": 100.0}`), "invalid_type", "schedule.recurring_amount"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "recurring_amount": 1e2}`), "invalid_type", "schedule.recurring_amount"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "recurring_amount": 100, "installments": 3.0}`), "invalid_type", "schedule.installments"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "recurring_amount": 100, "installments": 9223372036854775808}`), "invalid_value", "schedule.installments"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "frequency_duration": 1e1, "recurring_amount": 100}`), "invalid_type", "schedule.frequency_duration"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "frequency_duration": 18446744073709551616, "recurring_amount": 100}`), "invalid_value", "schedule.frequency_duration"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "recurring_amount": 100, "first_amount": 5E3}`), "invalid_type", "schedule.first_amount"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "recurring_amount": 100, "installments": 3, "final_amount": 1.0e2}`), "invalid_type", "schedule.final_amount"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "recurring_amount": 100, "start_date": ""}`), "invalid_value", "schedule.start_date"},
		{"/v1/plans/preview", preview(`{"frequency": "days", "recurring_amount": 100, "timezone": ""}`), "invalid_value", "schedule.timezone"},
		{"/v1/plans/preview", `{"currency": "USD", "count": 2.0, "schedule": {"frequency": "days", "recurring_amount": 100}}`, "invalid_type", "count"},
		{"/v1/payments", payment(`9223372036854775808`), "invalid_value", "amount"},
		{"/v1/payments", payment(`100.0`), "invalid_type", "amount"},
		{"/v1/payments", payment(`1e2`), "invalid_type", "amount"},
	}
	for _, tc := range cases {
		rec, e := f.do(t, http.MethodPost, tc.path, f.testKey, tc.body)
		if rec.Code != http.StatusBadRequest || e.Error.Code != tc.code || e.Error.Param != tc.param {
			t.Errorf("POST %s %s:\n got %d %s param %q (%s), want 400 %s param %q", tc.path, tc.body, rec.Code, e.Error.Code, e.Error.Param, e.Error.Message, tc.code, tc.param)
		}
		if strings.Contains(e.Error.Message, "9223372036854775808") || strings.Contains(e.Error.Message, "Bad Request") {
			t.Errorf("POST %s: message %q quotes the value or says nothing", tc.path, e.Error.Message)
		}
	}
	// The same numbers written plainly are fine.
	rec, e := f.do(t, http.MethodPost, "/v1/plans/preview", f.testKey, preview(`{"frequency": "days", "recurring_amount": 100, "installments": 3, "final_amount": 100}`))
	if rec.Code != http.StatusOK {
		t.Errorf("a plain preview: %d %s", rec.Code, e.Error.Code)
	}
}

// TestNULBytesAreRefused: a NUL (or another control character) anywhere a client can
// put a string is a 400 naming where, on both stores; Postgres would otherwise answer
// 500 (it cannot store NUL in text) and a plan workflow would retry its first activity
// forever.
func TestNULBytesAreRefused(t *testing.T) {
	eachStore(t, fixtureOptions{}, func(t *testing.T, f fixture) {
		cus := f.createCustomer(t, f.testKey, "ada@example.com")
		pm := f.saveCard(t, f.testKey, cus.ID, visa)
		gets := []struct{ path, param string }{
			{"/v1/customers/cus_x%00", "id"},
			{"/v1/customers/" + cus.ID + "%01", "id"},
			{"/v1/customers?starting_after=cus_%00", "starting_after"},
			{"/v1/customers?email=a%00@example.com", "email"},
			{"/v1/customers/cus_x%00/payment-methods", "id"},
			{"/v1/payment-methods/pm_%00", "id"},
			{"/v1/plans?customer=cus_%00", "customer"},
			{"/v1/plans?status=active%00", "status"},
			{"/v1/plans/plan_%00", "id"},
			{"/v1/plans/plan_%00/payments", "id"},
			{"/v1/payments/pay_%00", "id"},
			{"/v1/events?type=payment.%00", "type"},
			{"/v1/events/evt_%00", "id"},
			{"/v1/webhook-endpoints/we_%00", "id"},
			{"/v1/plans/plan_%FF", "id"},                  // not UTF-8: Postgres refuses it too
			{"/v1/plans?customer=cus_%C3%28", "customer"}, // an invalid UTF-8 sequence
		}
		for _, g := range gets {
			rec, e := f.do(t, http.MethodGet, g.path, f.testKey, "")
			if rec.Code != http.StatusBadRequest || e.Error.Code != "invalid_characters" || e.Error.Param != g.param {
				t.Errorf("GET %s: %d %s param %q, want 400 invalid_characters %q", g.path, rec.Code, e.Error.Code, e.Error.Param, g.param)
			}
		}
		posts := []struct{ method, path, body, param string }{
			{http.MethodPost, "/v1/customers", `{"email": "a@example.com", "first_name": "A\u0000da"}`, "first_name"},
			{http.MethodPost, "/v1/customers", `{"email": "a@example.com", "billing_address": {"line1": "x\u0000", "country": "GB"}}`, "billing_address.line1"},
			{http.MethodPost, "/v1/customers", `{"email": "a@example.com", "metadata": {"k": "v\u0000"}}`, "metadata.k"},
			{http.MethodPost, "/v1/customers", `{"email": "a@example.com", "metadata": {"k\u0000": "v"}}`, "metadata"},
			{http.MethodPost, "/v1/customers", `{"email": "a@example.com", "last_name": "tab\tand\u0007bell"}`, "last_name"},
			{http.MethodPost, "/v1/customers", `{"email": "a@example.com", "first_name": "back\bspace"}`, "first_name"},
			{http.MethodPost, "/v1/customers", `{"email": "a@example.com", "first_name": "form\ffeed"}`, "first_name"},
			{http.MethodPatch, "/v1/customers/" + cus.ID, `{"last_name": "\u0000"}`, "last_name"},
			{http.MethodPost, "/v1/plans", fmt.Sprintf(`{"customer": %q, "payment_method": %q, "currency": "USD", "reference": "x\u0000y", "schedule": {"frequency": "days", "recurring_amount": 100}}`, cus.ID, pm.ID), "reference"},
			{http.MethodPost, "/v1/plans", fmt.Sprintf(`{"customer": %q, "payment_method": "pm\u0000", "currency": "USD", "schedule": {"frequency": "days", "recurring_amount": 100}}`, cus.ID), "payment_method"},
			{http.MethodPost, "/v1/plans/preview", `{"currency": "USD", "schedule": {"payments": [{"date": "2099-01-01", "amount": 5}, {"date": "2099-02-01\u0000", "amount": 5}]}}`, "schedule.payments.1.date"},
			{http.MethodPost, "/v1/payments", fmt.Sprintf(`{"customer": %q, "payment_method": %q, "amount": 100, "currency": "USD", "description": "\u0000"}`, cus.ID, pm.ID), "description"},
			{http.MethodPost, "/v1/webhook-endpoints", `{"url": "http://127.0.0.1:9/h\u0000", "event_types": ["*"]}`, "url"},
		}
		for _, p := range posts {
			rec, e := f.do(t, p.method, p.path, f.testKey, p.body)
			if rec.Code != http.StatusBadRequest || e.Error.Code != "invalid_characters" || e.Error.Param != p.param {
				t.Errorf("%s %s %s: %d %s param %q, want 400 invalid_characters %q", p.method, p.path, p.body, rec.Code, e.Error.Code, e.Error.Param, p.param)
			}
		}
		rec, e := f.serve(t, request{method: http.MethodPost, path: "/v1/customers", key: f.testKey,
			body: `{"email": "b@example.com"}`, headers: map[string]string{"Idempotency-Key": "k\x01"}})
		if rec.Code != http.StatusBadRequest || e.Error.Param != "Idempotency-Key" {
			t.Errorf("an Idempotency-Key with a control character: %d %s %q", rec.Code, e.Error.Code, e.Error.Param)
		}
		// Text may still hold tabs and newlines.
		var c customerBody
		f.ok(t, http.MethodPost, "/v1/customers", f.testKey, `{"email": "c@example.com", "first_name": "Ada\tB", "metadata": {"note": "line 1\nline 2"}}`, &c)
		if c.FirstName == nil || *c.FirstName != "Ada\tB" {
			t.Errorf("a tab in a name: %+v", c)
		}
	})
}

// waitPlanRow waits until the plans list (the recorded status, which the workflow
// writes after it changes state) shows the plan in status.
func (f fixture) waitPlanRow(t *testing.T, id, status string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var list listBody[planBody]
		f.ok(t, http.MethodGet, "/v1/plans?status="+status+"&limit=100", f.testKey, "", &list)
		for _, p := range list.Data {
			if p.ID == id {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("plan %s is not recorded %s after 20 s", id, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// slowNotifier holds every block until release is closed, standing in for a slow
// request; it counts how many blocks ran.
type slowNotifier struct {
	api.NoPlans
	started chan struct{}
	release chan struct{}
	blocks  atomic.Int32
}

func (n *slowNotifier) PaymentMethodBlocked(ctx context.Context, _, _ string) error {
	n.blocks.Add(1)
	n.started <- struct{}{}
	select {
	case <-n.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestASlowRequestKeepsItsIdempotencyKey: a request running for many leases keeps its
// claim (it renews it), so a retry with the key is told it is in use instead of
// executing a second time; once the first answers, the retry replays its answer.
func TestASlowRequestKeepsItsIdempotencyKey(t *testing.T) {
	slow := &slowNotifier{started: make(chan struct{}, 1), release: make(chan struct{})}
	const lease = 200 * time.Millisecond
	f := newFixtureWith(t, fixtureOptions{plans: slow, lease: lease})
	cus := f.createCustomer(t, f.testKey, "ada@example.com")
	pm := f.saveCard(t, f.testKey, cus.ID, visa)
	path := "/v1/payment-methods/" + pm.ID + "/block"

	first := make(chan string, 1)
	go func() {
		_, body, _, _ := f.post(t, path, f.testKey, "block-1", `{}`)
		first <- body
	}()
	<-slow.started
	// Five leases later the first request is still running and still holds the key.
	time.Sleep(5 * lease)
	status, _, e, _ := f.post(t, path, f.testKey, "block-1", `{}`)
	if status != http.StatusConflict || e.Error.Code != "idempotency_key_in_use" {
		t.Errorf("a retry while the first request runs: %d %s, want 409 idempotency_key_in_use", status, e.Error.Code)
	}
	close(slow.release)
	want := <-first
	status, again, _, h := f.post(t, path, f.testKey, "block-1", `{}`)
	if status != http.StatusOK || again != want || h.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the retry after the first answered: %d %s, want the replay of %s", status, again, want)
	}
	if n := slow.blocks.Load(); n != 1 {
		t.Errorf("the block ran %d times, want 1", n)
	}
}
