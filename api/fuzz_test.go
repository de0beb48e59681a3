package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/recurring/recurring/internal/testdb"
)

// FuzzPostRoutes sends random bodies (and Idempotency-Keys) to every POST route, and
// PATCH /v1/customers/{id}: no answer is a 5xx, every 4xx is an error object (serve
// checks), nothing panics (Recover would turn a panic into a 500).
//
//	go test -run '^$' -fuzz FuzzPostRoutes -fuzztime 30s ./api/
func FuzzPostRoutes(f *testing.F) { fuzzPostRoutes(f, testdb.SQLiteURL) }

// FuzzPostRoutesPostgres is FuzzPostRoutes on the Postgres store, which refuses what
// SQLite takes (NUL in text): its seeds run in CI.
//
//	go test -run '^$' -fuzz FuzzPostRoutesPostgres -fuzztime 30s ./api/
func FuzzPostRoutesPostgres(f *testing.F) { fuzzPostRoutes(f, testdb.PostgresURL) }

func fuzzPostRoutes(f *testing.F, dbURL func(testing.TB) string) {
	if testing.Short() {
		f.Skip("starts an embedded Temporal server for the plan and payment routes")
	}
	fx := newFixtureWith(f, fixtureOptions{temporal: withTemporal, dbURL: dbURL})
	cus := fx.createCustomer(f, fx.testKey, "fuzz@example.com")
	pm := fx.saveCard(f, fx.testKey, cus.ID, visa)
	var plan planBody
	fx.ok(f, http.MethodPost, "/v1/plans", fx.testKey, planJSON(cus.ID, pm.ID, daily), &plan)
	routes := []struct{ method, path string }{
		{http.MethodPost, "/v1/customers"},
		{http.MethodPost, "/v1/customers/" + cus.ID + "/payment-methods"},
		{http.MethodPost, "/v1/payment-methods/" + pm.ID + "/block"},
		{http.MethodPost, "/v1/payment-methods/" + pm.ID + "/unblock"},
		{http.MethodPost, "/v1/payment-methods/" + pm.ID + "/detach"},
		{http.MethodPatch, "/v1/customers/" + cus.ID},
		{http.MethodPost, "/v1/plans"},
		{http.MethodPost, "/v1/plans/preview"},
		{http.MethodPost, "/v1/plans/" + plan.ID + "/cancel"},
		{http.MethodPost, "/v1/plans/" + plan.ID + "/pause"},
		{http.MethodPost, "/v1/plans/" + plan.ID + "/resume"},
		{http.MethodPost, "/v1/plans/" + plan.ID + "/skip-next"},
		{http.MethodPost, "/v1/plans/" + plan.ID + "/payment-method"},
		{http.MethodPost, "/v1/payments"},
		{http.MethodPost, "/v1/webhook-endpoints"},
		{http.MethodPost, "/v1/webhook-endpoints/we_x/rotate-secret"},
		{http.MethodPost, "/v1/events/evt_x/redeliver"},
	}
	seeds := []string{
		`{"email": "a@example.com", "first_name": "Ada", "billing_address": {"country": "GB", "line1": "1 A St"}, "metadata": {"k": "v"}}`,
		fmt.Sprintf(`{"card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": %d, "cvc": "123"}, "provider": "simulator"}`, nextYear),
		`{"first_name": null, "billing_address": null, "metadata": {"k": ""}}`,
		`{"billing_address": {"country": 5}}`,
		`{"card": {"number": 4242424242424242, "exp_month": 1e400, "exp_year": -1}}`,
		`{"email": "\u0000@\ud800.com", "metadata": {"": "x"}}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`{"email": "a@example.com", "email": 5}`,
		`null`, `"x"`, `{}`, `{`, ``,
		planJSON(cus.ID, pm.ID, daily),
		planJSON(cus.ID, pm.ID, `{"payments": [{"date": "2099-01-01", "amount": 5}, {"date": "2098-01-01", "amount": -1}]}`),
		planJSON(cus.ID, pm.ID, `{"frequency": "months", "start_date": "2099-02-30", "timezone": "Mars/Olympus", "recurring_amount": 9223372036854775807, "installments": 3}`),
		`{"currency": "JPY", "count": 3, "schedule": {"frequency": "years", "start_date": "2096-02-29", "recurring_amount": 100}}`,
		fmt.Sprintf(`{"customer": %q, "payment_method": %q, "amount": 100, "currency": "KWD"}`, cus.ID, pm.ID),
		fmt.Sprintf(`{"customer": %q, "card": {"number": "4000000000000002", "exp_month": 1, "exp_year": %d}, "amount": 1, "currency": "USD", "save_card": true}`, cus.ID, nextYear),
		fmt.Sprintf(`{"payment_method": %q}`, pm.ID),
		`{"reason": "fraud"}`,
		`{"url": "http://127.0.0.1:9/hook", "event_types": ["*"]}`,
		`{"url": "gopher://x", "event_types": []}`,
		// NUL and other control characters, which Postgres cannot store in text.
		`{"email": "a@example.com", "first_name": "A\u0000", "metadata": {"k\u0000": "v"}}`,
		planJSON(cus.ID, pm.ID, `{"frequency": "days", "recurring_amount": 100}`)[:1] + `"reference": "x\u0000y", ` + planJSON(cus.ID, pm.ID, daily)[1:],
		fmt.Sprintf(`{"customer": %q, "payment_method": "pm_\u0000", "amount": 100, "currency": "USD", "description": "\u0001"}`, cus.ID),
		`{"url": "http://127.0.0.1:9/h\u0000", "event_types": ["*\u0000"]}`,
		`{"reason": "\u0000"}`, `{"payment_method": "pm_\u007f"}`,
		// Numbers that do not fit the Go types.
		fmt.Sprintf(`{"customer": %q, "payment_method": %q, "amount": 9223372036854775808, "currency": "USD"}`, cus.ID, pm.ID),
		`{"currency": "USD", "count": 1e1, "schedule": {"frequency": "days", "recurring_amount": 100.0, "installments": 18446744073709551616}}`,
	}
	for i := range routes {
		for _, s := range seeds {
			f.Add(uint8(i), s, "")
		}
		f.Add(uint8(i), seeds[0], "key")
	}
	f.Fuzz(func(t *testing.T, route uint8, body, idemKey string) {
		r := routes[int(route)%len(routes)]
		headers := map[string]string{}
		if idemKey != "" && !strings.ContainsAny(idemKey, "\r\n") {
			headers["Idempotency-Key"] = idemKey
		}
		rec, e := fx.serve(t, request{method: r.method, path: r.path, key: fx.testKey, body: body, headers: headers})
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s %s", r.method, r.path, body, rec.Code, e.Error.Code, rec.Body)
		}
	})
}
