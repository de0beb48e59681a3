package api_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
)

// TestChangePlanThroughHTTP: POST /v1/plans/preview with plan shows the open
// installments as a change would make them, PATCH /v1/plans/{id} makes it (the plan
// answers with its new amounts and schedule, GET shows them, plan.updated carries
// them), and bad changes get a 4xx naming the field. SQLite and Postgres.
func TestChangePlanThroughHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		cus := f.createCustomer(t, f.testKey, "ada@example.com")
		pm := f.saveCard(t, f.testKey, cus.ID, visa)
		var p struct {
			ID string `json:"id"`
		}
		f.ok(t, http.MethodPost, "/v1/plans", f.testKey, planJSON(cus.ID, pm.ID, `{"frequency": "months", "recurring_amount": 1500, "installments": 12}`), &p)
		// Installment 1 is due at once; while it is being charged an amount change is
		// refused (its retries keep their amount), so wait until it is paid.
		f.waitPlan(t, f.testKey, p.ID, func(p planBody) bool { return p.Paid == 1 })

		var preview struct {
			Installments []struct {
				Number int   `json:"number"`
				Amount int64 `json:"amount"`
			} `json:"installments"`
			Count *int   `json:"count"`
			Total *int64 `json:"total"`
		}
		f.ok(t, http.MethodPost, "/v1/plans/preview", f.testKey,
			fmt.Sprintf(`{"plan": %q, "recurring_amount": 2000, "installments": 6, "count": 3}`, p.ID), &preview)
		// Installment 1 was charged at creation (no start_date: today): it keeps its 1500.
		if len(preview.Installments) != 3 || preview.Installments[0].Number != 2 || preview.Installments[0].Amount != 2000 ||
			preview.Count == nil || *preview.Count != 6 || preview.Total == nil || *preview.Total != 1500+5*2000 {
			t.Errorf("preview of the change: %+v", preview)
		}

		var changed struct {
			ID           string         `json:"id"`
			NextAmount   int64          `json:"next_amount"`
			Remaining    int            `json:"remaining"`
			Schedule     map[string]any `json:"schedule"`
			MerchantData map[string]any `json:"merchant_data"`
		}
		rec, _ := f.serve(t, request{method: http.MethodPatch, path: "/v1/plans/" + p.ID, key: f.testKey,
			body: `{"recurring_amount": 2000, "installments": 6, "merchant_data": {"tier": "gold"}}`})
		if rec.Code != 200 {
			t.Fatalf("PATCH = %d %s", rec.Code, rec.Body)
		}
		decode(t, rec, &changed)
		if changed.NextAmount != 2000 || changed.Remaining != 5 || changed.Schedule["recurring_amount"] != float64(2000) ||
			changed.Schedule["installments"] != float64(6) || changed.MerchantData["tier"] != "gold" {
			t.Errorf("PATCH answered %+v", changed)
		}
		var read struct {
			Schedule     map[string]any `json:"schedule"`
			MerchantData map[string]any `json:"merchant_data"`
		}
		f.waitFor(t, "the row's new terms", func() bool {
			f.ok(t, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &read)
			return read.Schedule["recurring_amount"] == float64(2000) && read.MerchantData["tier"] == "gold"
		})
		var events listBody[struct {
			Data struct {
				Object struct {
					ID       string         `json:"id"`
					Schedule map[string]any `json:"schedule"`
				} `json:"object"`
			} `json:"data"`
		}]
		f.ok(t, http.MethodGet, "/v1/events?type=plan.updated", f.testKey, "", &events)
		if len(events.Data) == 0 || events.Data[0].Data.Object.ID != p.ID || events.Data[0].Data.Object.Schedule["installments"] != float64(6) {
			t.Errorf("plan.updated events: %+v", events.Data)
		}

		for body, want := range map[string]struct {
			status      int
			param, code string
		}{
			`{}`:                             {400, "recurring_amount", billing.CodeParameterMissing},
			`{"recurring_amount": 0}`:        {400, "recurring_amount", ""},
			`{"expires_on": "2020-01-01"}`:   {400, "expires_on", billing.CodeDateInPast},
			`{"expires_on": "soon"}`:         {400, "expires_on", billing.CodeInvalidDate},
			`{"installments": 0}`:            {400, "installments", ""},
			`{"final_amount": 10, "foo": 1}`: {400, "foo", billing.CodeParameterUnknown},
		} {
			rec, e := f.do(t, http.MethodPatch, "/v1/plans/"+p.ID, f.testKey, body)
			if rec.Code != want.status || e.Error.Param != want.param || (want.code != "" && e.Error.Code != want.code) {
				t.Errorf("PATCH %s = %d %+v, want %d naming %s", body, rec.Code, e.Error, want.status, want.param)
			}
		}
		if rec, _ := f.do(t, http.MethodPatch, "/v1/plans/"+p.ID, f.otherKey, `{"installments": 3}`); rec.Code != 404 {
			t.Errorf("another merchant's PATCH = %d", rec.Code)
		}
		if rec, e := f.do(t, http.MethodPost, "/v1/plans/preview", f.testKey, `{"plan": "plan_nobody", "installments": 3}`); rec.Code != 404 || e.Error.Param != "plan" {
			t.Errorf("preview of a missing plan = %d %+v", rec.Code, e.Error)
		}
		if rec, e := f.do(t, http.MethodPost, "/v1/plans/preview", f.testKey, `{"installments": 3}`); rec.Code != 400 || e.Error.Param != "installments" {
			t.Errorf("preview of a change without plan = %d %+v", rec.Code, e.Error)
		}
		f.ok(t, http.MethodPost, "/v1/plans/"+p.ID+"/cancel", f.testKey, "", nil)
		if rec, e := f.do(t, http.MethodPatch, "/v1/plans/"+p.ID, f.testKey, `{"installments": 3}`); rec.Code != 409 || e.Error.Code != billing.CodeInvalidTransition {
			t.Errorf("PATCH of a canceled plan = %d %+v", rec.Code, e.Error)
		}
	})
}

// waitFor polls cond for up to 30 s (the plan workflow writes its row right after an
// update answers).
func (f fixture) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: timed out", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
