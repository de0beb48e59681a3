package activities_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// TestPayPalApprovalKeepsItsAgreement: a succeeded PayPal completion seals the
// agreement its provider names into the method that awaited it and hands the workflow
// no token; a retried completion passes. An approval that names no agreement, names
// another one than the method already holds, or whose method was detached while the
// provider answered is canceled at the provider and fails: no payment is left that
// nothing records or charges again.
func TestPayPalApprovalKeepsItsAgreement(t *testing.T) {
	f := newFixture(t)
	var a *activities.Activities
	agreement := map[string]string{}
	var detachDuring string
	f.fake.Agreement = func(req providers.CompleteAuthenticationRequest) string {
		if detachDuring != "" {
			f.pms.Set(detachDuring, activitiestest.Card{Provider: "fake", Type: billing.PaymentMethodPayPal, Detached: true})
		}
		return agreement[req.ID]
	}
	awaiting := func(id string) {
		f.pms.Set(id, activitiestest.Card{Provider: "fake", Type: billing.PaymentMethodPayPal})
	}
	complete := func(pm, id string) (providers.Authentication, error) {
		t.Helper()
		v, err := f.env.ExecuteActivity(a.CompleteAuthentication, activities.AuthenticateRequest{
			MerchantID: "mer_1", PaymentMethodID: pm, Amount: 1500, Currency: "EUR", AuthenticationID: id, Answer: "approve"})
		if err != nil {
			return providers.Authentication{}, err
		}
		var out providers.Authentication
		if err := v.Get(&out); err != nil {
			t.Fatal(err)
		}
		return out, nil
	}

	awaiting("pm_pp1")
	agreement["pp_pay1"] = "B-7PY000000000001A"
	for try := 1; try <= 2; try++ {
		got, err := complete("pm_pp1", "pp_pay1")
		if err != nil || got.Status != providers.AuthenticationSucceeded || got.MethodToken != "" {
			t.Fatalf("completion %d = %+v, %v; want succeeded, no token handed back", try, got, err)
		}
		if b, _ := json.Marshal(got); strings.Contains(string(b), "B-7PY") {
			t.Fatalf("the agreement travels back to the workflow: %s", b)
		}
	}
	if c := f.pms.Card("pm_pp1"); c.Token != "B-7PY000000000001A" {
		t.Fatalf("the method holds %q, want the agreement", c.Token)
	}
	if canceled := f.fake.Canceled(); len(canceled) != 0 {
		t.Fatalf("payments canceled %v, want none", canceled)
	}

	agreement["pp_pay2"] = "B-OTHER" // the provider names another agreement for the same method
	agreement["pp_pay3"] = ""        // or none at all
	awaiting("pm_pp3")
	awaiting("pm_pp4")
	agreement["pp_pay4"] = "B-4"
	for _, tc := range []struct{ pm, id, why string }{
		{"pm_pp1", "pp_pay2", "another agreement"},
		{"pm_pp3", "pp_pay3", "no agreement"},
		{"pm_pp4", "pp_pay4", "detached meanwhile"},
	} {
		detachDuring = ""
		if tc.pm == "pm_pp4" {
			detachDuring = "pm_pp4"
		}
		got, err := complete(tc.pm, tc.id)
		if err != nil || got.Status != providers.AuthenticationFailed {
			t.Errorf("%s: %+v, %v; want failed", tc.why, got, err)
		}
		if canceled := f.fake.Canceled(); len(canceled) == 0 || canceled[len(canceled)-1] != tc.id {
			t.Errorf("%s: canceled %v, want %s canceled at the provider", tc.why, canceled, tc.id)
		}
	}
	if c := f.pms.Card("pm_pp1"); c.Token != "B-7PY000000000001A" {
		t.Errorf("the first agreement was replaced by %q", c.Token)
	}
}
