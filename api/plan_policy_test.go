package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
)

type policyPlan struct {
	ID                    string     `json:"id"`
	Status                string     `json:"status"`
	PauseBehavior         string     `json:"pause_behavior"`
	ResumeAt              *time.Time `json:"resume_at"`
	CatchUp               string     `json:"catch_up"`
	MinDaysBetweenCharges *int       `json:"min_days_between_charges"`
}

// TestPlanPoliciesThroughHTTP: min_days_between_charges and catch_up are taken on
// create and shown on the plan; a schedule denser than the minimum is refused on
// create and on preview naming the field; pause takes behavior and resume_at (and
// refuses a past resume_at and an unknown behavior naming them); an empty pause still
// skips. SQLite and Postgres.
func TestPlanPoliciesThroughHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		cus := f.createCustomer(t, f.testKey, "ada@example.com")
		pm := f.saveCard(t, f.testKey, cus.ID, visa)
		weekly := `{"frequency": "weeks", "recurring_amount": 1500, "installments": 6}`
		create := func(extra string) (*httpResult, policyPlan) {
			t.Helper()
			rec, e := f.do(t, http.MethodPost, "/v1/plans", f.testKey,
				fmt.Sprintf(`{"customer": %q, "payment_method": %q, "currency": "USD", "schedule": %s%s}`, cus.ID, pm.ID, weekly, extra))
			var p policyPlan
			if rec.Code == http.StatusCreated {
				decode(t, rec, &p)
			}
			return &httpResult{rec.Code, e}, p
		}
		for extra, want := range map[string]httpResult{
			`, "min_days_between_charges": 8`:   {400, errorOf("min_days_between_charges", billing.CodeScheduleTooDense)},
			`, "min_days_between_charges": 400`: {400, errorOf("min_days_between_charges", "")},
			`, "min_days_between_charges": -1`:  {400, errorOf("min_days_between_charges", "")},
			`, "catch_up": "some"`:              {400, errorOf("catch_up", "")},
		} {
			got, _ := create(extra)
			if got.code != want.code || got.err.Error.Param != want.err.Error.Param || (want.err.Error.Code != "" && got.err.Error.Code != want.err.Error.Code) {
				t.Errorf("create with %s = %d %+v, want %d naming %s", extra, got.code, got.err.Error, want.code, want.err.Error.Param)
			}
		}
		rec, e := f.do(t, http.MethodPost, "/v1/plans/preview", f.testKey,
			`{"currency": "USD", "schedule": `+weekly+`, "min_days_between_charges": 10}`)
		if rec.Code != 400 || e.Error.Param != "min_days_between_charges" || e.Error.Code != billing.CodeScheduleTooDense {
			t.Errorf("preview with 10 days between weekly charges = %d %+v", rec.Code, e.Error)
		}
		if rec, _ := f.do(t, http.MethodPost, "/v1/plans/preview", f.testKey,
			`{"currency": "USD", "schedule": `+weekly+`, "min_days_between_charges": 7}`); rec.Code != 200 {
			t.Errorf("preview with 7 days between weekly charges = %d %s", rec.Code, rec.Body)
		}

		got, p := create(`, "min_days_between_charges": 7, "catch_up": "latest"`)
		if got.code != 201 || p.CatchUp != "latest" || p.MinDaysBetweenCharges == nil || *p.MinDaysBetweenCharges != 7 {
			t.Fatalf("create with policies = %d %+v %+v", got.code, got.err, p)
		}
		var read policyPlan
		if f.ok(t, http.MethodGet, "/v1/plans/"+p.ID, f.testKey, "", &read); read.CatchUp != "latest" || *read.MinDaysBetweenCharges != 7 {
			t.Errorf("GET the plan: %+v", read)
		}
		for body, param := range map[string]string{
			`{"resume_at": "2020-01-01T00:00:00Z"}`: "resume_at",
			`{"behavior": "later"}`:                 "behavior",
		} {
			if rec, e := f.do(t, http.MethodPost, "/v1/plans/"+p.ID+"/pause", f.testKey, body); rec.Code != 400 || e.Error.Param != param {
				t.Errorf("pause %s = %d %+v, want 400 naming %s", body, rec.Code, e.Error, param)
			}
		}
		resumeAt := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
		var paused policyPlan
		f.ok(t, http.MethodPost, "/v1/plans/"+p.ID+"/pause", f.testKey,
			fmt.Sprintf(`{"behavior": "defer", "resume_at": %q}`, resumeAt.Format(time.RFC3339)), &paused)
		if paused.Status != "paused" || paused.PauseBehavior != "defer" || paused.ResumeAt == nil || !paused.ResumeAt.Equal(resumeAt) {
			t.Errorf("pause with defer and resume_at: %+v", paused)
		}
		var resumed, again policyPlan
		f.ok(t, http.MethodPost, "/v1/plans/"+p.ID+"/resume", f.testKey, "", &resumed)
		if resumed.Status != "active" || resumed.PauseBehavior != "" || resumed.ResumeAt != nil {
			t.Errorf("resume: %+v", resumed)
		}
		f.ok(t, http.MethodPost, "/v1/plans/"+p.ID+"/pause", f.testKey, "", &again)
		if again.Status != "paused" || again.PauseBehavior != "skip" {
			t.Errorf("pause without a body: %+v, want behavior skip", again)
		}
	})
}

type httpResult struct {
	code int
	err  errorResponse
}

func errorOf(param, code string) errorResponse {
	var e errorResponse
	e.Error.Param, e.Error.Code = param, code
	return e
}

// TestUpcomingNoticeThroughHTTP: a plan with upcoming_notice_days whose first
// installment is due within them is announced at once: payment.upcoming carries the
// plan with the installment's amount and due time. SQLite and Postgres.
func TestUpcomingNoticeThroughHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		cus := f.createCustomer(t, f.testKey, "ada@example.com")
		pm := f.saveCard(t, f.testKey, cus.ID, visa)
		start := time.Now().Add(48 * time.Hour).UTC().Format("2006-01-02")
		var p struct{ ID string }
		f.ok(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(`{"customer": %q, "payment_method": %q, "currency": "USD",
			"upcoming_notice_days": 3, "schedule": {"frequency": "months", "start_date": %q, "recurring_amount": 1500, "installments": 2}}`,
			cus.ID, pm.ID, start), &p)
		var events listBody[struct {
			Data struct {
				Object struct {
					ID              string `json:"id"`
					NextInstallment int    `json:"next_installment"`
					NextAmount      int64  `json:"next_amount"`
					NextDueAt       string `json:"next_due_at"`
				} `json:"object"`
			} `json:"data"`
		}]
		f.waitFor(t, "payment.upcoming", func() bool {
			f.ok(t, http.MethodGet, "/v1/events?type=payment.upcoming", f.testKey, "", &events)
			return len(events.Data) > 0
		})
		o := events.Data[0].Data.Object
		if len(events.Data) != 1 || o.ID != p.ID || o.NextInstallment != 1 || o.NextAmount != 1500 || !strings.HasPrefix(o.NextDueAt, start) {
			t.Errorf("payment.upcoming: %+v, want plan %s installment 1 of 1500 due %s", events.Data, p.ID, start)
		}
		if rec, e := f.do(t, http.MethodPost, "/v1/plans", f.testKey, fmt.Sprintf(`{"customer": %q, "payment_method": %q, "currency": "USD",
			"upcoming_notice_days": 90, "schedule": {"frequency": "months", "recurring_amount": 1500}}`, cus.ID, pm.ID)); rec.Code != 400 ||
			e.Error.Param != "upcoming_notice_days" {
			t.Errorf("upcoming_notice_days 90 = %d %+v", rec.Code, e.Error)
		}
	})
}
