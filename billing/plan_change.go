package billing

import (
	"context"
	"encoding/json"
	"time"
)

// PlanChange changes a fixed plan's terms from its first open installment on (the
// first one not yet charged or attempted): the recurring and final amounts, how many
// installments there are, and when it expires. Nil fields stay as they are. A change
// never touches an installment already charged or attempted (its amount is a debt with
// its idempotency key) and never makes one of them unpaid or skipped.
type PlanChange struct {
	RecurringAmount *int64 `json:"recurring_amount,omitempty"`
	FinalAmount     *int64 `json:"final_amount,omitempty"`
	Installments    *int   `json:"installments,omitempty"`
	// ExpiresOn is YYYY-MM-DD in the plan's time zone; "" removes the expiry.
	ExpiresOn *string `json:"expires_on,omitempty"`
}

// Empty reports whether c changes nothing.
func (c PlanChange) Empty() bool {
	return c.RecurringAmount == nil && c.FinalAmount == nil && c.Installments == nil && c.ExpiresOn == nil
}

// Apply returns tt with c applied, for a plan whose installments before firstOpen are
// charged, attempted or passed, at now. Its errors name the field: a variable
// schedule's terms cannot change this way; installments cannot drop below those
// already charged or attempted; expires_on cannot fall before them, before the final
// payment date, or in the past; an amount change waits while an installment is
// attempted and unsettled (attempted: its retries keep its amount), which the caller
// says with unsettled.
func (c PlanChange) Apply(tt Timetable, firstOpen int, unsettled bool, now time.Time) (Timetable, error) {
	v := &ValidationError{}
	if tt.IsVariable() {
		for _, f := range c.Fields() {
			v.Add(f, CodeParameterNotAllowed, "a variable schedule's payments cannot be changed by %s", f)
		}
		return tt, v.Err()
	}
	out := tt
	done := firstOpen - 1 // installments charged, attempted or passed
	if c.RecurringAmount != nil {
		if *c.RecurringAmount <= 0 {
			v.Add("recurring_amount", CodeInvalidAmount, "recurring_amount must be a positive number of minor units")
		}
		out.RecurringAmount = *c.RecurringAmount
		if tt.FinalAmount == tt.RecurringAmount && c.FinalAmount == nil {
			out.FinalAmount = *c.RecurringAmount // the final amount defaulted to the recurring one
		}
		if tt.FirstAmount == tt.RecurringAmount && firstOpen <= 1 {
			out.FirstAmount = *c.RecurringAmount // likewise the first, not charged yet
		}
	}
	if c.FinalAmount != nil {
		if *c.FinalAmount <= 0 {
			v.Add("final_amount", CodeInvalidAmount, "final_amount must be a positive number of minor units")
		}
		out.FinalAmount = *c.FinalAmount
	}
	if unsettled && (c.RecurringAmount != nil || c.FinalAmount != nil) {
		v.Add(first(c.RecurringAmount != nil, "recurring_amount", "final_amount"), CodeInvalidTransition,
			"installment %d is being collected (attempted, not settled): change amounts once it is paid or the plan moves on", firstOpen-1)
	}
	if c.Installments != nil {
		n := *c.Installments
		switch {
		case n < 1:
			v.Add("installments", CodeInvalidInstallments, "installments must be at least 1")
		case n < done:
			v.Add("installments", CodeInvalidInstallments,
				"installments %d is fewer than the %d the plan has charged, attempted or passed", n, done)
		case !tt.FinalAt.IsZero() && n >= 2:
			out.Installments = n
			if prev, ok := out.regularDue(n-2, out.location()); !ok || !prev.Before(tt.FinalAt) {
				v.Add("installments", CodeFinalPaymentDateTooEarly,
					"with %d installments the one before the last falls on or after final_payment_date", n)
			}
		default:
			out.Installments = n
		}
		if c.FinalAmount == nil && tt.Installments == 0 {
			out.FinalAmount = out.RecurringAmount // a plan that was unlimited had no final amount
		}
	}
	if c.FinalAmount != nil && out.Installments < 2 {
		v.Add("final_amount", CodeFinalRequiresInstallments, "final_amount needs installments of at least 2")
	}
	if c.ExpiresOn != nil {
		out.ExpiresAt = time.Time{}
		if *c.ExpiresOn != "" {
			d, err := ParseDate(*c.ExpiresOn)
			if err != nil {
				v.Add("expires_on", CodeInvalidDate, "expires_on %q is not a YYYY-MM-DD date", *c.ExpiresOn)
			} else {
				out.ExpiresAt = LocalInstant(d.AddDays(1), 0, out.location())
				last, hasLast := tt.Installment(done)
				switch {
				case !out.ExpiresAt.After(now):
					v.Add("expires_on", CodeDateInPast, "expires_on %s is in the past", *c.ExpiresOn)
				case hasLast && !last.DueAt.Before(out.ExpiresAt):
					v.Add("expires_on", CodeExpiresOnTooEarly, "expires_on %s is before installment %d, already charged or attempted", *c.ExpiresOn, done)
				case !tt.FinalAt.IsZero() && !tt.FinalAt.Before(out.ExpiresAt):
					v.Add("expires_on", CodeExpiresOnTooEarly, "expires_on %s is before final_payment_date", *c.ExpiresOn)
				}
			}
		}
	}
	if v.Err() == nil && out.Installments > 0 && c.Installments != nil {
		if _, ok := out.Installment(out.Installments); !ok && out.ExpiresAt.IsZero() {
			v.Add("installments", CodeScheduleTooLong, "installment %d would fall after the year 9999", out.Installments)
		}
	}
	if v.Err() == nil && unsettled {
		// The installment being collected keeps its amount and date: its retries (one
		// may reuse its idempotency key) must ask the provider for the same charge.
		before, _ := tt.Installment(done)
		after, ok := out.Installment(done)
		if !ok || after.Amount != before.Amount || !after.DueAt.Equal(before.DueAt) {
			v.Add(first(c.Installments != nil, "installments", "expires_on"), CodeInvalidTransition,
				"installment %d is being collected: the change would alter its amount or date; change it once it is settled", done)
		}
	}
	if err := v.Err(); err != nil {
		return tt, err
	}
	if _, limited := out.Count(); limited {
		if _, ok := out.total(); !ok {
			return tt, Invalid(first(c.RecurringAmount != nil, "recurring_amount", "installments"), CodeAmountOverflow,
				"the plan's total does not fit in 64-bit minor units")
		}
	}
	return out, nil
}

// Fields names the fields c sets, in the API's order.
func (c PlanChange) Fields() []string {
	var out []string
	for _, f := range []struct {
		set  bool
		name string
	}{
		{c.RecurringAmount != nil, "recurring_amount"}, {c.FinalAmount != nil, "final_amount"},
		{c.Installments != nil, "installments"}, {c.ExpiresOn != nil, "expires_on"},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

func first(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// PlanTerms is a plan's row after changes of its terms: the timetable the workflow
// charges by, the changes to lay over the schedule the API shows (every change not yet
// written, merged), and the merchant data (nil: unchanged). Key makes the write and its
// plan.updated event happen once.
type PlanTerms struct {
	PlanID       string     `json:"plan_id"`
	MerchantID   string     `json:"merchant_id"`
	Timetable    Timetable  `json:"timetable"`
	Change       PlanChange `json:"change"`
	MerchantData JSONDoc    `json:"merchant_data,omitempty"`
	Key          string     `json:"key"`
}

// Merge returns c with later's fields laid over it: two changes not yet written.
func (c PlanChange) Merge(later PlanChange) PlanChange {
	if later.RecurringAmount != nil {
		c.RecurringAmount = later.RecurringAmount
	}
	if later.FinalAmount != nil {
		c.FinalAmount = later.FinalAmount
	}
	if later.Installments != nil {
		c.Installments = later.Installments
	}
	if later.ExpiresOn != nil {
		c.ExpiresOn = later.ExpiresOn
	}
	return c
}

// ApplyToSchedule lays c's fields over a schedule as the client sent it (a JSON
// object), keeping every other member as it was (numbers unchanged); an empty
// expires_on removes it.
func (c PlanChange) ApplyToSchedule(schedule JSONDoc) (JSONDoc, error) {
	m := map[string]json.RawMessage{}
	if len(schedule) > 0 {
		if err := json.Unmarshal(schedule, &m); err != nil {
			return nil, err
		}
	}
	set := func(name string, v any) {
		raw, _ := json.Marshal(v)
		m[name] = raw
	}
	if c.RecurringAmount != nil {
		set("recurring_amount", *c.RecurringAmount)
	}
	if c.FinalAmount != nil {
		set("final_amount", *c.FinalAmount)
	}
	if c.Installments != nil {
		set("installments", *c.Installments)
	}
	if c.ExpiresOn != nil {
		if *c.ExpiresOn == "" {
			delete(m, "expires_on")
		} else {
			set("expires_on", *c.ExpiresOn)
		}
	}
	out, err := json.Marshal(m)
	return JSONDoc(out), err
}

// PlanTermsWriter records a plan's changed terms with its plan.updated event.
type PlanTermsWriter interface {
	ChangePlanTerms(ctx context.Context, t PlanTerms) error
}

// UpcomingPayment announces an installment a plan charges soon (payment.upcoming).
type UpcomingPayment struct {
	PlanID      string    `json:"plan_id"`
	MerchantID  string    `json:"merchant_id"`
	Installment int       `json:"installment"`
	Amount      int64     `json:"amount"`
	DueAt       time.Time `json:"due_at"`
}

// UpcomingPayments writes payment.upcoming, once per plan installment.
type UpcomingPayments interface {
	AnnounceUpcoming(ctx context.Context, u UpcomingPayment) error
}
