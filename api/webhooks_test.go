package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/recurring/recurring/api"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
)

type webhookEndpointBody struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	Status     string   `json:"status"`
	Secret     string   `json:"secret"`
	Livemode   bool     `json:"livemode"`
	PrevExp    string   `json:"previous_secret_expires_at"`
}

func TestWebhookEndpointsLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	var ep webhookEndpointBody
	f.ok(t, http.MethodPost, "/v1/webhook-endpoints", f.testKey,
		`{"url": "http://127.0.0.1:9999/hook", "event_types": ["payment.succeeded"]}`, &ep)
	if !strings.HasPrefix(ep.ID, "we_") || !strings.HasPrefix(ep.Secret, "whsec_") || ep.Status != "enabled" || ep.Livemode {
		t.Fatalf("created %+v", ep)
	}
	var got webhookEndpointBody
	f.ok(t, http.MethodGet, "/v1/webhook-endpoints/"+ep.ID, f.testKey, "", &got)
	if got.Secret != "" || got.URL != ep.URL {
		t.Fatalf("read %+v (the secret is shown once only)", got)
	}
	var list listBody[webhookEndpointBody]
	f.ok(t, http.MethodGet, "/v1/webhook-endpoints", f.testKey, "", &list)
	if len(list.Data) != 1 || list.Data[0].Secret != "" {
		t.Fatalf("list %+v", list)
	}
	var rotated webhookEndpointBody
	f.ok(t, http.MethodPost, "/v1/webhook-endpoints/"+ep.ID+"/rotate-secret", f.testKey, "", &rotated)
	if rotated.Secret == "" || rotated.Secret == ep.Secret || rotated.PrevExp == "" {
		t.Fatalf("rotated %+v", rotated)
	}
	// Both secrets sign while the old one is valid.
	target, err := f.db.WebhookTarget(context.Background(), f.merchantID, ep.ID)
	if err != nil || len(target.Secrets) != 2 || target.Secrets[0] != rotated.Secret || target.Secrets[1] != ep.Secret {
		t.Fatalf("target secrets: %v (err %v)", len(target.Secrets), err)
	}
	// Other scopes see nothing.
	for _, key := range []string{f.otherKey, f.liveKey} {
		for _, r := range [][2]string{{"GET", ""}, {"DELETE", ""}, {"POST", "/rotate-secret"}} {
			rec, e := f.do(t, r[0], "/v1/webhook-endpoints/"+ep.ID+r[1], key, "")
			if rec.Code != http.StatusNotFound || e.Error.Code != "resource_missing" {
				t.Errorf("%s with another key: %d %s", r[0], rec.Code, e.Error.Code)
			}
		}
	}
	f.ok(t, http.MethodDelete, "/v1/webhook-endpoints/"+ep.ID, f.testKey, "", nil)
	if rec, _ := f.do(t, http.MethodGet, "/v1/webhook-endpoints/"+ep.ID, f.testKey, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("after delete: %d", rec.Code)
	}
}

func TestWebhookEndpointURLRules(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		key, url, code string
	}{
		{f.testKey, "ftp://example.com/x", "invalid_url"},
		{f.testKey, "example.com/x", "invalid_url"},
		{f.liveKey, "http://127.0.0.1:8080/hook", "url_not_allowed"},
		{f.liveKey, "http://localhost/hook", "url_not_allowed"},
		{f.liveKey, "http://10.0.0.1/hook", "url_not_allowed"},
		{f.liveKey, "http://169.254.169.254/latest", "url_not_allowed"},
		{f.liveKey, "http://[::1]/hook", "url_not_allowed"},
	} {
		rec, e := f.do(t, http.MethodPost, "/v1/webhook-endpoints", tc.key, `{"url": "`+tc.url+`", "event_types": ["*"]}`)
		if rec.Code != http.StatusBadRequest || e.Error.Code != tc.code || e.Error.Param != "url" {
			t.Errorf("%s: %d %s %s, want 400 %s", tc.url, rec.Code, e.Error.Code, e.Error.Param, tc.code)
		}
	}
	var ep webhookEndpointBody
	f.ok(t, http.MethodPost, "/v1/webhook-endpoints", f.liveKey, `{"url": "https://93.184.215.14/hook", "event_types": ["*"]}`, &ep)
	if !ep.Livemode {
		t.Fatalf("live endpoint %+v", ep)
	}
}

func TestEventsAPI(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	plan := "plan_1"
	pay, err := f.db.RecordPayment(ctx, billing.Payment{MerchantID: f.merchantID, Mode: billing.ModeTest, PlanID: &plan,
		CustomerID: "cus_1", PaymentMethodID: "pm_1", Installment: 1, Attempt: 1, Amount: 1000, Currency: "USD",
		Status: "succeeded", PaymentType: "recurring", IsRecurring: true, Provider: "simulator", IdempotencyKey: "plan_1/1/1"})
	if err != nil {
		t.Fatal(err)
	}
	var list listBody[eventBody]
	f.ok(t, http.MethodGet, "/v1/events?type=payment.succeeded", f.testKey, "", &list)
	if len(list.Data) != 1 {
		t.Fatalf("list %+v", list)
	}
	ev := list.Data[0]
	var got eventBody
	f.ok(t, http.MethodGet, "/v1/events/"+ev.ID, f.testKey, "", &got)
	if got.ID != ev.ID || got.Object != "event" || got.Type != "payment.succeeded" || got.Data.Object["id"] != pay.ID ||
		got.Data.Object["payment_type"] != "recurring" || got.Data.Object["is_recurring"] != true {
		t.Fatalf("event %+v", got)
	}
	f.ok(t, http.MethodGet, "/v1/events?type=plan.canceled", f.testKey, "", &list)
	if len(list.Data) != 0 {
		t.Fatalf("filtered list %+v", list)
	}
	rec, e := f.do(t, http.MethodGet, "/v1/events?type=payment.nope", f.testKey, "")
	if rec.Code != http.StatusBadRequest || e.Error.Code != "invalid_value" || e.Error.Param != "type" {
		t.Errorf("filter by an unknown type: %d %s %q", rec.Code, e.Error.Code, e.Error.Param)
	}
	var attempts listBody[struct{ ID string }]
	f.ok(t, http.MethodGet, "/v1/events/"+ev.ID+"/attempts", f.testKey, "", &attempts)
	if len(attempts.Data) != 0 || attempts.Object != "list" {
		t.Fatalf("attempts %+v", attempts)
	}
	for _, key := range []string{f.otherKey, f.liveKey} {
		for _, p := range []string{"", "/attempts"} {
			if rec, _ := f.do(t, http.MethodGet, "/v1/events/"+ev.ID+p, key, ""); rec.Code != http.StatusNotFound {
				t.Errorf("GET event%s with another key: %d", p, rec.Code)
			}
		}
	}
}

// eventBody is an event as a webhook receiver parses it.
type eventBody struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Type   string `json:"type"`
	Data   struct {
		Object map[string]any `json:"object"`
	} `json:"data"`
}

// body returns the JSON object a GET answers.
func (f fixture) body(t testing.TB, path string) map[string]any {
	t.Helper()
	var m map[string]any
	f.ok(t, http.MethodGet, path, f.testKey, "", &m)
	return m
}

// events returns the caller's events of type typ (every type when empty), oldest
// first.
func (f fixture) events(t testing.TB, typ string) []eventBody {
	t.Helper()
	path := "/v1/events?limit=100"
	if typ != "" {
		path += "&type=" + typ
	}
	var list listBody[eventBody]
	f.ok(t, http.MethodGet, path, f.testKey, "", &list)
	slices.Reverse(list.Data)
	return list.Data
}

// liveFields are what GET /v1/plans/{id} lays over the recorded plan from its workflow.
var liveFields = []string{"live_state", "paid", "paid_amount", "skipped", "remaining", "next_installment",
	"next_amount", "next_due_at", "last_error", "cancel_reason", "pause_behavior", "resume_at", "catch_up", "min_days_between_charges"}

// recorded drops the live fields of a rendered plan.
func recorded(plan map[string]any) map[string]any {
	out := maps.Clone(plan)
	for _, k := range liveFields {
		delete(out, k)
	}
	return out
}

func TestEventDataIsTheObjectTheAPIAnswers(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	cus := f.createCustomer(t, f.testKey, "ada@example.com")
	pm := f.saveCard(t, f.testKey, cus.ID, visa)

	// Rows as the workflows' activities record them.
	next := time.Now().Add(24 * time.Hour).UTC()
	if _, _, err := f.db.CreatePlan(ctx, billing.Plan{ID: "plan_evt", MerchantID: f.merchantID, Mode: billing.ModeTest,
		CustomerID: cus.ID, PaymentMethodID: pm.ID, Provider: "simulator", Currency: "USD", Reference: "order-7",
		MerchantData: billing.JSONDoc(`{"crm":"42"}`), Schedule: billing.JSONDoc(`{"frequency":"days","recurring_amount":1500}`),
		Timetable: billing.JSONDoc(`{}`), Dunning: billing.JSONDoc(`{}`), Status: "active", NextChargeAt: &next}); err != nil {
		t.Fatal(err)
	}
	plan, due := "plan_evt", next.Add(-time.Hour)
	paid, err := f.db.RecordPayment(ctx, billing.Payment{MerchantID: f.merchantID, Mode: billing.ModeTest, PlanID: &plan,
		CustomerID: cus.ID, PaymentMethodID: pm.ID, Installment: 1, Attempt: 1, Amount: 1500, Currency: "USD",
		Status: "succeeded", PaymentType: "initial", IsRecurring: true, Provider: "simulator", ProviderChargeID: "ch_1",
		IdempotencyKey: "plan_evt/1/1", DueAt: &due})
	if err != nil {
		t.Fatal(err)
	}
	declined, err := f.db.RecordPayment(ctx, billing.Payment{MerchantID: f.merchantID, Mode: billing.ModeTest,
		CustomerID: cus.ID, PaymentMethodID: pm.ID, Attempt: 1, Amount: 700, Currency: "JOD", Status: "failed",
		PaymentType: "one_off", Provider: "simulator", FailureCode: "insufficient_funds", FailureClass: "soft_decline",
		FailureMessage: "Insufficient funds", IdempotencyKey: "pay_declined"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.UpdatePlanState(ctx, billing.PlanUpdate{PlanID: plan, Seq: 1, Status: "paused"}); err != nil {
		t.Fatal(err)
	}

	for typ, id := range map[string]string{"payment.succeeded": paid.ID, "payment.failed": declined.ID} {
		evs := f.events(t, typ)
		if len(evs) != 1 {
			t.Fatalf("%d %s events, want 1", len(evs), typ)
		}
		want := f.body(t, "/v1/payments/"+id)
		if got := evs[0].Data.Object; !reflect.DeepEqual(got, want) {
			t.Errorf("%s data.object\n %v\nGET /v1/payments/%s\n %v", typ, got, id, want)
		}
		var one eventBody
		f.ok(t, http.MethodGet, "/v1/events/"+evs[0].ID, f.testKey, "", &one)
		if !reflect.DeepEqual(one.Data.Object, want) {
			t.Errorf("GET /v1/events/%s data.object %v", evs[0].ID, one.Data.Object)
		}
	}
	// Without a workflow to ask, GET /v1/plans/{id} is the recorded plan alone: the
	// latest plan event shows exactly it.
	created, updated := f.events(t, "plan.created"), f.events(t, "plan.updated")
	if len(created) != 1 || len(updated) != 1 {
		t.Fatalf("%d plan.created, %d plan.updated events; want one each", len(created), len(updated))
	}
	want := f.body(t, "/v1/plans/"+plan)
	if got := updated[0].Data.Object; !reflect.DeepEqual(got, want) || got["status"] != "paused" {
		t.Errorf("plan.updated data.object\n %v\nGET /v1/plans/%s\n %v", got, plan, want)
	}
	if got := created[0].Data.Object; got["status"] != "active" || got["id"] != plan || got["reference"] != "order-7" {
		t.Errorf("plan.created data.object %v", got)
	}
}

// TestEventsOfRealPaymentsAndPlans drives payments and a plan's lifecycle through the
// API and the workflows, and holds each event's data.object to what the API answers
// for the same object.
func TestEventsOfRealPaymentsAndPlans(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	f := newFixtureWith(t, fixtureOptions{temporal: withTemporal})
	cus := f.createCustomer(t, f.testKey, "ada@example.com")

	for _, c := range []struct{ card, typ string }{{visa, "payment.succeeded"}, {"4000000000009995", "payment.failed"}} {
		var pay paymentBody
		f.ok(t, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(`{"customer": %q, "card": {"number": %q,
			"exp_month": 12, "exp_year": %d}, "amount": 2500, "currency": "USD"}`, cus.ID, c.card, nextYear), &pay)
		evs := f.events(t, c.typ)
		if len(evs) != 1 || evs[0].Data.Object["id"] != pay.ID {
			t.Fatalf("%s events %+v, want the one of %s", c.typ, evs, pay.ID)
		}
		if got, want := evs[0].Data.Object, f.body(t, "/v1/payments/"+pay.ID); !reflect.DeepEqual(got, want) {
			t.Errorf("%s data.object\n %v\nGET /v1/payments/%s\n %v", c.typ, got, pay.ID, want)
		}
	}

	pm := f.saveCard(t, f.testKey, cus.ID, visa)
	pm2 := f.saveCard(t, f.testKey, cus.ID, visa)
	// Starting in two days, so that no charge moves the plan between the steps.
	var p planBody
	f.ok(t, http.MethodPost, "/v1/plans", f.testKey, planJSON(cus.ID, pm.ID, fmt.Sprintf(
		`{"frequency": "days", "recurring_amount": 1500, "installments": 12, "start_date": %q}`,
		time.Now().UTC().AddDate(0, 0, 2).Format(time.DateOnly))), &p)
	var seen []string
	// step acts on the plan, waits for the one event announcing it, and compares the
	// event's plan with the plan as the API now answers it.
	step := func(action, body, wantType, wantStatus string) {
		t.Helper()
		if action != "" {
			f.ok(t, http.MethodPost, "/v1/plans/"+p.ID+action, f.testKey, body, nil)
		}
		var all []eventBody
		deadline := time.Now().Add(30 * time.Second)
		for {
			all = nil
			for _, ev := range f.events(t, "") {
				if strings.HasPrefix(ev.Type, "plan.") && ev.Data.Object["id"] == p.ID {
					all = append(all, ev)
				}
			}
			if len(all) > len(seen) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(all) != len(seen)+1 {
			t.Fatalf("after %s: plan events %v, want one more than %v", action, all, seen)
		}
		ev := all[len(seen)]
		seen = append(seen, ev.Type)
		if ev.Type != wantType || ev.Data.Object["status"] != wantStatus {
			t.Errorf("after %q: %s with status %v, want %s with %s", action, ev.Type, ev.Data.Object["status"], wantType, wantStatus)
		}
		got, want := recorded(ev.Data.Object), recorded(f.body(t, "/v1/plans/"+p.ID))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("after %q: %s data.object\n %v\nGET /v1/plans/%s (recorded fields)\n %v", action, ev.Type, got, p.ID, want)
		}
	}
	step("", "", "plan.created", "active")
	step("/pause", "", "plan.updated", "paused")
	step("/resume", "", "plan.updated", "active")
	step("/payment-method", fmt.Sprintf(`{"payment_method": %q}`, pm2.ID), "plan.updated", "active")
	step("/cancel", `{"reason": "customer asked"}`, "plan.canceled", "canceled")
	if last := f.events(t, "plan.canceled"); len(last) != 1 || last[0].Data.Object["payment_method"] != pm2.ID {
		t.Errorf("plan.canceled %+v, want the plan on its new card", last)
	}
}

func TestWebhookEndpointEventTypesAreChecked(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct{ types, param string }{
		{`["payment.nope"]`, "event_types.0"},
		{`["payment.succeeded", "plan.nope"]`, "event_types.1"},
		{`["payment.*"]`, "event_types.0"},
		{`[""]`, "event_types.0"},
	} {
		rec, e := f.do(t, http.MethodPost, "/v1/webhook-endpoints", f.testKey,
			`{"url": "http://127.0.0.1:9999/hook", "event_types": `+tc.types+`}`)
		if rec.Code != http.StatusBadRequest || e.Error.Code != "invalid_value" || e.Error.Param != tc.param {
			t.Errorf("%s: %d %s %q, want 400 invalid_value %q", tc.types, rec.Code, e.Error.Code, e.Error.Param, tc.param)
			continue
		}
		for _, valid := range append([]string{"*"}, billing.EventTypes...) {
			if !strings.Contains(e.Error.Message, `"`+valid+`"`) {
				t.Errorf("%s: message %q does not list %s", tc.types, e.Error.Message, valid)
			}
		}
	}
	var list listBody[webhookEndpointBody]
	f.ok(t, http.MethodGet, "/v1/webhook-endpoints", f.testKey, "", &list)
	if len(list.Data) != 0 {
		t.Fatalf("refused endpoints were stored: %+v", list.Data)
	}
	all, _ := json.Marshal(billing.EventTypes)
	for _, types := range []string{`["*"]`, string(all)} {
		var ep webhookEndpointBody
		f.ok(t, http.MethodPost, "/v1/webhook-endpoints", f.testKey, `{"url": "http://127.0.0.1:9999/hook", "event_types": `+types+`}`, &ep)
		if got, _ := json.Marshal(ep.EventTypes); string(got) != types {
			t.Errorf("endpoint for %s subscribes to %s", types, got)
		}
	}
}

// TestEventTypesAreDefinedOnce holds openapi.yaml's lists to billing.EventTypes.
func TestEventTypesAreDefinedOnce(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	enum := func(s *openapi3.Schema) []string {
		var out []string
		for _, v := range s.Enum {
			out = append(out, fmt.Sprint(v))
		}
		return out
	}
	if got := enum(doc.Components.Schemas["EventType"].Value); !slices.Equal(got, billing.EventTypes) {
		t.Errorf("EventType enum %v, want billing.EventTypes %v", got, billing.EventTypes)
	}
	items := doc.Components.Schemas["WebhookEndpointCreate"].Value.Properties["event_types"].Value.Items.Value
	if got, want := enum(items), append([]string{"*"}, billing.EventTypes...); !slices.Equal(got, want) {
		t.Errorf("event_types items enum %v, want %v", got, want)
	}
}

// TestRESTTypesMatchTheSpec: the API turns the shared renderings (package rest) into
// its generated types by their JSON, so every field must be named alike on both
// sides, or it would vanish from the answers or from the events.
func TestRESTTypesMatchTheSpec(t *testing.T) {
	for _, pair := range [][2]any{{rest.Payment{}, api.Payment{}}, {rest.Plan{}, api.Plan{}}, {rest.PlanError{}, api.PlanError{}},
		{rest.Refund{}, api.Refund{}}, {rest.PaymentMethod{}, api.PaymentMethod{}}, {rest.Card{}, api.Card{}},
		{rest.PayPal{}, api.PayPalDetails{}}} {
		got, want := jsonFields(reflect.TypeOf(pair[0])), jsonFields(reflect.TypeOf(pair[1]))
		if !maps.Equal(got, want) {
			t.Errorf("%T fields %v\n%T fields %v", pair[0], got, pair[1], want)
		}
	}
}

// jsonFields maps a struct's JSON names to their options ("omitempty" or "").
func jsonFields(typ reflect.Type) map[string]string {
	out := map[string]string{}
	for i := range typ.NumField() {
		name, opts, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		out[name] = opts
	}
	return out
}
