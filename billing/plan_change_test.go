package billing_test

import (
	"errors"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
)

func p[T any](v T) *T { return &v }

// TestPlanChangeApply: what a change may do to a monthly timetable of 12 with 3
// installments charged, and the field each refusal names.
func TestPlanChangeApply(t *testing.T) {
	now := time.Date(2027, 4, 10, 0, 0, 0, 0, time.UTC)
	amount, n := int64(1000), 12
	tt, err := billing.Schedule{Frequency: billing.FrequencyMonths, StartDate: "2027-01-31", RecurringAmount: &amount,
		Installments: &n}.Resolve(billing.ModeTest, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	got, err := billing.PlanChange{RecurringAmount: p(int64(1500)), Installments: p(6)}.Apply(tt, 4, false, now)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]int64{4: 1500, 5: 1500, 6: 1500} {
		if inst, ok := got.Installment(n); !ok || inst.Amount != want {
			t.Errorf("installment %d: %+v %v, want %d", n, inst, ok, want)
		}
	}
	if _, ok := got.Installment(7); ok {
		t.Error("installment 7 exists after cutting the plan to 6")
	}
	if total, _ := got.Total(); total != 1000+5*1500 {
		t.Errorf("total %d (the first installment keeps its amount)", total)
	}
	for name, c := range map[string]struct {
		change      billing.PlanChange
		unsettled   bool
		param, code string
	}{
		"fewer than charged":      {billing.PlanChange{Installments: p(2)}, false, "installments", billing.CodeInvalidInstallments},
		"expiry before a charge":  {billing.PlanChange{ExpiresOn: p("2027-03-01")}, false, "expires_on", billing.CodeDateInPast},
		"expiry in the past":      {billing.PlanChange{ExpiresOn: p("2027-04-01")}, false, "expires_on", billing.CodeDateInPast},
		"expiry not a date":       {billing.PlanChange{ExpiresOn: p("April")}, false, "expires_on", billing.CodeInvalidDate},
		"amount zero":             {billing.PlanChange{RecurringAmount: p(int64(0))}, false, "recurring_amount", billing.CodeInvalidAmount},
		"amount while collecting": {billing.PlanChange{RecurringAmount: p(int64(2000))}, true, "recurring_amount", billing.CodeInvalidTransition},
		"final of a single":       {billing.PlanChange{FinalAmount: p(int64(5)), Installments: p(1)}, false, "installments", billing.CodeInvalidInstallments},
		"overflow":                {billing.PlanChange{RecurringAmount: p(int64(1) << 62)}, false, "recurring_amount", billing.CodeAmountOverflow},
	} {
		_, err := c.change.Apply(tt, 4, c.unsettled, now)
		wantViolation(t, name, err, c.param, c.code)
	}
	// Other starting points: nothing charged yet; installment 3 skipped ahead of its date;
	// installment 3 in dunning with a final amount of its own.
	for name, c := range map[string]struct {
		tt          billing.Timetable
		firstOpen   int
		unsettled   bool
		now         time.Time
		change      billing.PlanChange
		param, code string
	}{
		"a final amount on a single installment": {tt, 1, false, now, billing.PlanChange{FinalAmount: p(int64(5)), Installments: p(1)}, "final_amount", billing.CodeFinalRequiresInstallments},
		"expiry before a passed installment":     {tt, 4, false, time.Date(2027, 3, 15, 0, 0, 0, 0, time.UTC), billing.PlanChange{ExpiresOn: p("2027-03-20")}, "expires_on", billing.CodeExpiresOnTooEarly},
		"the installment in dunning made final":  {withFinal(tt, 500), 4, true, now, billing.PlanChange{Installments: p(3)}, "installments", billing.CodeInvalidTransition},
	} {
		_, err := c.change.Apply(c.tt, c.firstOpen, c.unsettled, c.now)
		wantViolation(t, name, err, c.param, c.code)
	}
	if _, err := (billing.PlanChange{Installments: p(4)}).Apply(withFinal(tt, 500), 4, true, now); err != nil {
		t.Errorf("cutting to 4 while installment 3 is collected (3 keeps its amount): %v", err)
	}
	variable, err := billing.Schedule{Payments: []billing.ScheduledPayment{{Date: "2027-05-01", Amount: 5}, {Date: "2027-06-01", Amount: 6}}}.
		Resolve(billing.ModeTest, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (billing.PlanChange{Installments: p(1)}).Apply(variable, 1, false, now); err == nil {
		t.Error("a variable schedule's installments changed")
	}
	// Removing the expiry, and an expiry after the charged installments, are taken.
	if got, err := (billing.PlanChange{ExpiresOn: p("2027-08-15")}).Apply(tt, 4, false, now); err != nil {
		t.Errorf("expiry in August: %v", err)
	} else if c, _ := got.Count(); c != 7 {
		t.Errorf("expiring 2027-08-15 leaves %d installments, want 7 (Jan–Jul)", c)
	}
}

func withFinal(tt billing.Timetable, amount int64) billing.Timetable {
	tt.FinalAmount = amount
	return tt
}

// wantViolation checks that err's first violation names param with code.
func wantViolation(t *testing.T, name string, err error, param, code string) {
	t.Helper()
	var ve *billing.ValidationError
	var be *billing.Error
	if errors.As(err, &ve) {
		be = ve.Violations[0]
	} else if !errors.As(err, &be) {
		t.Errorf("%s: %v, want an error naming %s", name, err, param)
		return
	}
	if be.Param != param || be.Code != code {
		t.Errorf("%s: %s %s (%v), want %s %s", name, be.Param, be.Code, err, param, code)
	}
}
