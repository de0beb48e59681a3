package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/devserver"
	"github.com/recurring/recurring/internal/provideraccounts"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/worker"
	"github.com/recurring/recurring/workflows"
)

// withTemporal runs an embedded Temporal server and a worker charging through the
// fixture's own store and simulator, as `recurring dev` does.
func withTemporal(t testing.TB, db *store.DB, reg *providers.Registry) client.Client {
	t.Helper()
	return withTemporalAt("")(t, db, reg)
}

// withTemporalAt is withTemporal with a worker that knows the API's public URL (the
// return address of a provider's own 3-D Secure page).
func withTemporalAt(publicURL string) func(t testing.TB, db *store.DB, reg *providers.Registry) client.Client {
	return func(t testing.TB, db *store.DB, reg *providers.Registry) client.Client {
		t.Helper()
		return startTemporal(t, db, reg, publicURL)
	}
}

func startTemporal(t testing.TB, db *store.DB, reg *providers.Registry, publicURL string) client.Client {
	t.Helper()
	c, startWorker := temporalWithoutWorker(t, db, reg, publicURL)
	startWorker()
	return c
}

// temporalWithoutWorker starts the embedded server and returns its client and a
// function that starts the worker.
func temporalWithoutWorker(t testing.TB, db *store.DB, reg *providers.Registry, publicURL string) (client.Client, func()) {
	t.Helper()
	srv, err := devserver.Start(devserver.Options{DataDir: t.TempDir(), UIPort: -1, Namespace: "default",
		SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := starter.Dial(context.Background(), starter.Config{HostPort: srv.HostPort, Namespace: "default", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, func() {
		w := worker.New(c, activities.New(activities.Deps{Providers: reg, Accounts: provideraccounts.Resolver{Keys: db}, PaymentMethods: db, Ledger: db, Refunds: db, Credentials: db, PlanTerms: db, Upcoming: db, Sessions: db,
			Plans: starter.PlanCards{Client: c}, PublicURL: publicURL}), worker.Options{})
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}
}

// TestCreatePlanIsOneRoundTripAndNeverAFalse404: POST /v1/plans starts the workflow
// and waits for its row in the same call (Update-With-Start), with no polling. With no
// worker polling the row cannot be written: after the create wait the answer is 503
// with Retry-After (never 404 for a plan whose workflow runs); once a worker runs, the
// same request with the same Idempotency-Key joins that plan and answers 201, and the
// plan is there. SQLite and Postgres.
func TestCreatePlanIsOneRoundTripAndNeverAFalse404(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	var startWorker func()
	eachStore(t, fixtureOptions{createWait: 2 * time.Second,
		temporal: func(t testing.TB, db *store.DB, reg *providers.Registry) client.Client {
			c, start := temporalWithoutWorker(t, db, reg, "")
			startWorker = start
			return c
		}}, func(t *testing.T, f fixture) {
		cus := f.createCustomer(t, f.testKey, "ada@example.com")
		pm := f.saveCard(t, f.testKey, cus.ID, "4242424242424242")
		body := fmt.Sprintf(`{"customer":%q,"payment_method":%q,"currency":"EUR","schedule":{"frequency":"months","recurring_amount":1500,"installments":3}}`, cus.ID, pm.ID)
		create := request{method: http.MethodPost, path: "/v1/plans", key: f.testKey, body: body, headers: map[string]string{"Idempotency-Key": "plan-no-worker"}}
		rec, e := f.serve(t, create)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || e.Error.Code != billing.CodeTemporalUnavailable {
			t.Fatalf("create with no worker = %d %+v (Retry-After %q), want 503 with Retry-After", rec.Code, e, rec.Header().Get("Retry-After"))
		}
		startWorker()
		rec, _ = f.serve(t, create)
		var p planBody
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusCreated || p.Status != "active" || !p.LiveState {
			t.Fatalf("the same create once a worker runs = %d %s", rec.Code, rec.Body)
		}
		var again planBody
		if f.ok(t, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &again); again.ID != p.ID || again.Status != "active" {
			t.Fatalf("GET the plan = %+v", again)
		}
	})
}

type planBody struct {
	ID              string     `json:"id"`
	Status          string     `json:"status"`
	PaymentMethod   string     `json:"payment_method"`
	Paid            int        `json:"paid"`
	PaidAmount      int64      `json:"paid_amount"`
	Remaining       *int       `json:"remaining"`
	NextInstallment int        `json:"next_installment"`
	NextDueAt       *time.Time `json:"next_due_at"`
	LiveState       bool       `json:"live_state"`
}

type paymentBody struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	PaymentType   string `json:"payment_type"`
	IsRecurring   bool   `json:"is_recurring"`
	Installment   int    `json:"installment"`
	Amount        int64  `json:"amount"`
	PaymentMethod string `json:"payment_method"`
	FailureCode   string `json:"failure_code"`
}

func planJSON(cus, pm, schedule string) string {
	return fmt.Sprintf(`{"customer": %q, "payment_method": %q, "currency": "USD", "schedule": %s}`, cus, pm, schedule)
}

// daily is a plan whose first charge is tomorrow, so lifecycle tests see it waiting.
const daily = `{"frequency": "days", "recurring_amount": 1500, "installments": 12}`

// waitPlan polls GET /v1/plans/{id} until cond holds.
func (f fixture) waitPlan(t *testing.T, key, id string, cond func(planBody) bool) planBody {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var p planBody
	for time.Now().Before(deadline) {
		f.ok(t, http.MethodGet, "/v1/plans/"+id, key, "", &p)
		if cond(p) {
			return p
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("plan %s never reached the expected state; last %+v", id, p)
	return p
}

func TestPlansAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	f := newFixtureWith(t, fixtureOptions{temporal: withTemporal})
	cus := f.createCustomer(t, f.testKey, "ada@example.com")
	pm := f.saveCard(t, f.testKey, cus.ID, visa)

	t.Run("a test-mode plan charges every installment once, then completes", func(t *testing.T) {
		var p planBody
		rec, _ := f.serve(t, request{method: http.MethodPost, path: "/v1/plans", key: f.testKey,
			body:    planJSON(cus.ID, pm.ID, `{"frequency": "seconds", "frequency_duration": 1, "first_amount": 900, "recurring_amount": 500, "installments": 3}`),
			headers: map[string]string{"Idempotency-Key": "plan-seconds"}})
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		decode(t, rec, &p)
		if !strings.HasPrefix(p.ID, "plan_") || !p.LiveState {
			t.Fatalf("created plan %+v: want a plan_ id with live state", p)
		}
		done := f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "completed" })
		if done.Paid != 3 || done.PaidAmount != 900+500+500 {
			t.Errorf("completed plan paid %d installments, %d; want 3, 1900", done.Paid, done.PaidAmount)
		}
		var pays listBody[paymentBody]
		f.ok(t, http.MethodGet, "/v1/plans/"+p.ID+"/payments", f.testKey, "", &pays)
		if len(pays.Data) != 3 {
			t.Fatalf("%d payments, want 3: %+v", len(pays.Data), pays.Data)
		}
		types := map[string]int{}
		for _, pay := range pays.Data {
			if pay.Status != "succeeded" || !pay.IsRecurring {
				t.Errorf("payment %+v: want succeeded and is_recurring", pay)
			}
			types[pay.PaymentType]++
		}
		if types["initial"] != 1 || types["recurring"] != 2 {
			t.Errorf("payment types %v, want 1 initial and 2 recurring", types)
		}
		if n := len(f.sim.Charges()); n != 3 {
			t.Errorf("the simulator charged %d times, want 3", n)
		}
		// The same Idempotency-Key replays the creation instead of starting a plan.
		rec, _ = f.serve(t, request{method: http.MethodPost, path: "/v1/plans", key: f.testKey,
			body:    planJSON(cus.ID, pm.ID, `{"frequency": "seconds", "frequency_duration": 1, "first_amount": 900, "recurring_amount": 500, "installments": 3}`),
			headers: map[string]string{"Idempotency-Key": "plan-seconds"}})
		var again planBody
		decode(t, rec, &again)
		if again.ID != p.ID || len(f.sim.Charges()) != 3 {
			t.Errorf("repeat with the same key: plan %s (want %s), %d charges (want 3)", again.ID, p.ID, len(f.sim.Charges()))
		}
	})

	t.Run("bad input names the field", func(t *testing.T) {
		other := f.createCustomer(t, f.otherKey, "eve@example.com")
		cases := []struct{ body, status, code, param string }{
			{planJSON(cus.ID, pm.ID, `{"frequency": "fortnights", "recurring_amount": 100}`), "400", "invalid_value", "schedule.frequency"},
			{planJSON(cus.ID, pm.ID, `{"frequency": "days", "frequency_duration": 0, "recurring_amount": 100}`), "400", "invalid_value", "schedule.frequency_duration"},
			{planJSON(cus.ID, pm.ID, `{"frequency": "months", "recurring_amount": 100, "final_amount": 5}`), "400", "final_requires_installments", "schedule.final_amount"},
			{strings.Replace(planJSON(cus.ID, pm.ID, daily), "USD", "XYZ", 1), "400", "invalid_currency", "currency"},
			{planJSON(cus.ID, pm.ID, `{"frequency": "seconds", "recurring_amount": 100}`), "", "", ""}, // test mode allows seconds
			{planJSON(other.ID, pm.ID, daily), "404", "resource_missing", "customer"},
			{planJSON(cus.ID, "pm_nope", daily), "404", "resource_missing", "payment_method"},
			{fmt.Sprintf(`{"customer": %q, "payment_method": %q, "payment": "pay_x", "currency": "USD", "schedule": %s}`, cus.ID, pm.ID, daily), "400", "invalid_value", "payment"},
			{fmt.Sprintf(`{"customer": %q, "payment_method": %q, "return_url": "https://shop.example/back", "currency": "USD", "schedule": %s}`, cus.ID, pm.ID, daily), "400", "parameter_unknown", "return_url"},
			{fmt.Sprintf(`{"customer": %q, "payment_method": %q, "expires_in": 600, "currency": "USD", "schedule": %s}`, cus.ID, pm.ID, daily), "400", "parameter_unknown", "expires_in"},
			{fmt.Sprintf(`{"customer": %q, "payment_method": %q, "provider": "simulator", "currency": "USD", "schedule": %s}`, cus.ID, pm.ID, daily), "400", "parameter_unknown", "provider"},
			{planJSON(cus.ID, pm.ID, `{"frequency": "days", "recurring_amount": 100, "installments": 2}`)[:40], "400", "invalid_json", ""},
		}
		for _, tc := range cases {
			rec, e := f.do(t, http.MethodPost, "/v1/plans", f.testKey, tc.body)
			if tc.status == "" {
				if rec.Code != http.StatusCreated {
					t.Errorf("%s: %d %s", tc.body, rec.Code, rec.Body)
				}
				continue
			}
			if fmt.Sprint(rec.Code) != tc.status || e.Error.Code != tc.code || (tc.param != "" && e.Error.Param != tc.param) {
				t.Errorf("%s:\n got %d %s param %q, want %s %s param %q", tc.body, rec.Code, e.Error.Code, e.Error.Param, tc.status, tc.code, tc.param)
			}
		}
		rec, e := f.do(t, http.MethodPost, "/v1/plans", f.liveKey, planJSON(cus.ID, pm.ID, `{"frequency": "seconds", "recurring_amount": 100}`))
		if rec.Code != http.StatusBadRequest || e.Error.Param != "schedule.frequency" {
			t.Errorf("live key with a seconds schedule: %d %s %q", rec.Code, e.Error.Code, e.Error.Param)
		}
	})

	t.Run("lifecycle updates answer the new state or 409", func(t *testing.T) {
		var p planBody
		f.ok(t, http.MethodPost, "/v1/plans", f.testKey, planJSON(cus.ID, pm.ID, daily), &p)
		steps := []struct {
			path, want string
			code       int
		}{
			{"/pause", "paused", 200},
			{"/pause", "", 409},
			{"/resume", "active", 200},
			{"/skip-next", "active", 200},
			{"/cancel", "canceled", 200},
			{"/resume", "", 409},
			{"/cancel", "", 409},
		}
		for _, s := range steps {
			rec, e := f.do(t, http.MethodPost, "/v1/plans/"+p.ID+s.path, f.testKey, "")
			if rec.Code != s.code {
				t.Fatalf("%s: %d %s, want %d", s.path, rec.Code, rec.Body, s.code)
			}
			if s.code == 409 && e.Error.Code != "invalid_transition" {
				t.Errorf("%s: code %q, want invalid_transition", s.path, e.Error.Code)
			}
			var got planBody
			if s.code == 200 {
				decode(t, rec, &got)
				if got.Status != s.want {
					t.Errorf("%s: status %q, want %q", s.path, got.Status, s.want)
				}
			}
		}
		rec, e := f.do(t, http.MethodPost, "/v1/plans/"+p.ID+"/cancel", f.otherKey, "")
		if rec.Code != http.StatusNotFound || e.Error.Code != "resource_missing" {
			t.Errorf("another merchant canceling: %d %s", rec.Code, e.Error.Code)
		}
		rec, _ = f.do(t, http.MethodGet, "/v1/plans/"+p.ID, f.liveKey, "")
		if rec.Code != http.StatusNotFound {
			t.Errorf("a live key reading a test plan: %d", rec.Code)
		}
	})

	t.Run("blocking a card reaches its plans; deleting a customer with plans is refused", func(t *testing.T) {
		card := f.saveCard(t, f.testKey, cus.ID, visa)
		var p planBody
		f.ok(t, http.MethodPost, "/v1/plans", f.testKey, planJSON(cus.ID, card.ID, daily), &p)
		f.ok(t, http.MethodPost, "/v1/payment-methods/"+card.ID+"/block", f.testKey, "", nil)
		f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "blocked" })
		f.ok(t, http.MethodPost, "/v1/payment-methods/"+card.ID+"/unblock", f.testKey, "", nil)
		f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "active" })

		rec, e := f.do(t, http.MethodDelete, "/v1/customers/"+cus.ID, f.testKey, "")
		if rec.Code != http.StatusConflict || e.Error.Code != "customer_has_active_plans" {
			t.Errorf("delete a customer with an active plan: %d %s", rec.Code, e.Error.Code)
		}
		var blocked planBody
		f.ok(t, http.MethodPost, "/v1/payment-methods/"+card.ID+"/block", f.testKey, "", nil)
		rec, e = f.do(t, http.MethodPost, "/v1/plans", f.testKey, planJSON(cus.ID, card.ID, daily))
		if rec.Code != http.StatusConflict || e.Error.Param != "payment_method" {
			t.Errorf("a plan on a blocked card: %d %s %q (%+v)", rec.Code, e.Error.Code, e.Error.Param, blocked)
		}
	})

	t.Run("payments: initial with save_card, one-off, decline, and a plan reusing the initial payment", func(t *testing.T) {
		var initial paymentBody
		rec, _ := f.do(t, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(
			`{"customer": %q, "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}, "amount": 2500, "currency": "JOD", "save_card": true}`, cus.ID))
		if rec.Code != http.StatusCreated {
			t.Fatalf("initial payment: %d %s", rec.Code, rec.Body)
		}
		decode(t, rec, &initial)
		if initial.Status != "succeeded" || initial.PaymentType != "initial" || initial.Amount != 2500 {
			t.Fatalf("initial payment %+v", initial)
		}
		var saved paymentMethodBody
		f.ok(t, http.MethodGet, "/v1/payment-methods/"+initial.PaymentMethod, f.testKey, "", &saved)
		if saved.Status != "active" {
			t.Errorf("save_card left the card %s", saved.Status)
		}

		var oneOff paymentBody
		f.ok(t, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(
			`{"customer": %q, "card": {"number": "4000000000009995", "exp_month": 12, "exp_year": 2031}, "amount": 700, "currency": "USD"}`, cus.ID), &oneOff)
		if oneOff.Status != "failed" || oneOff.FailureCode != "insufficient_funds" || oneOff.PaymentType != "one_off" {
			t.Errorf("declined one-off payment %+v", oneOff)
		}
		var gone paymentMethodBody
		f.ok(t, http.MethodGet, "/v1/payment-methods/"+oneOff.PaymentMethod, f.testKey, "", &gone)
		if gone.Status != "detached" {
			t.Errorf("a one-off card is %s afterwards, want detached", gone.Status)
		}

		var p planBody
		rec, _ = f.do(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(
			`{"customer": %q, "payment": %q, "currency": "JOD", "schedule": {"frequency": "seconds", "recurring_amount": 2500, "installments": 2}}`, cus.ID, initial.ID))
		if rec.Code != http.StatusCreated {
			t.Fatalf("plan from the initial payment: %d %s", rec.Code, rec.Body)
		}
		decode(t, rec, &p)
		f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Status == "completed" })
		var pays listBody[paymentBody]
		f.ok(t, http.MethodGet, "/v1/plans/"+p.ID+"/payments", f.testKey, "", &pays)
		for _, pay := range pays.Data {
			if pay.PaymentType != "recurring" {
				t.Errorf("a plan started from an initial payment charged a %s payment; all should be recurring", pay.PaymentType)
			}
		}
		var got paymentBody
		f.ok(t, http.MethodGet, "/v1/payments/"+initial.ID, f.testKey, "", &got)
		if got.ID != initial.ID {
			t.Errorf("GET /v1/payments/%s = %+v", initial.ID, got)
		}
		if rec, _ := f.do(t, http.MethodGet, "/v1/payments/"+initial.ID, f.otherKey, ""); rec.Code != http.StatusNotFound {
			t.Errorf("another merchant reading a payment: %d", rec.Code)
		}
	})
}

func TestPlanPreview(t *testing.T) {
	f := newFixture(t, nil)
	var out struct {
		Installments []struct {
			Number int       `json:"number"`
			DueAt  time.Time `json:"due_at"`
			Amount int64     `json:"amount"`
		} `json:"installments"`
		Limited bool  `json:"limited"`
		Count   int   `json:"count"`
		Total   int64 `json:"total"`
	}
	start := time.Now().AddDate(1, 0, 0)
	startDate := fmt.Sprintf("%d-01-31", start.Year())
	f.ok(t, http.MethodPost, "/v1/plans/preview", f.testKey, fmt.Sprintf(
		`{"currency": "USD", "count": 4, "schedule": {"frequency": "months", "start_date": %q, "charge_time": "09:00", "timezone": "America/New_York", "first_amount": 100, "recurring_amount": 200, "installments": 6, "final_amount": 50}}`, startDate), &out)
	if !out.Limited || out.Count != 6 || out.Total != 100+200*4+50 || len(out.Installments) != 4 {
		t.Fatalf("preview = %+v", out)
	}
	ny, _ := time.LoadLocation("America/New_York")
	for i, wantDay := range []int{31, 28, 31, 30} {
		due := out.Installments[i].DueAt.In(ny)
		if due.Day() != wantDay && !(i == 1 && due.Day() == 29) {
			t.Errorf("installment %d due %v, want day %d", i+1, due, wantDay)
		}
		if due.Hour() != 9 {
			t.Errorf("installment %d due at %02d:00 New York time, want 09:00", i+1, due.Hour())
		}
	}
	rec, e := f.do(t, http.MethodPost, "/v1/plans/preview", f.testKey, `{"currency": "USD", "schedule": {"frequency": "days"}}`)
	if rec.Code != http.StatusBadRequest || e.Error.Param != "schedule.recurring_amount" {
		t.Errorf("preview without an amount: %d %s %q", rec.Code, e.Error.Code, e.Error.Param)
	}
}

func decode(t testing.TB, rec *httptest.ResponseRecorder, out any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
}
