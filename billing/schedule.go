package billing

import (
	"fmt"
	"time"
)

// Frequency is the unit a fixed schedule repeats in.
type Frequency string

// Frequencies. Seconds, minutes and hours are for test mode only.
const (
	FrequencySeconds Frequency = "seconds"
	FrequencyMinutes Frequency = "minutes"
	FrequencyHours   Frequency = "hours"
	FrequencyDays    Frequency = "days"
	FrequencyWeeks   Frequency = "weeks"
	FrequencyMonths  Frequency = "months"
	FrequencyYears   Frequency = "years"
)

// Valid reports whether f is one of the known frequencies.
func (f Frequency) Valid() bool {
	switch f {
	case FrequencySeconds, FrequencyMinutes, FrequencyHours, FrequencyDays, FrequencyWeeks, FrequencyMonths, FrequencyYears:
		return true
	}
	return false
}

// TestOnly reports whether f is a sub-day frequency, which live mode refuses: real
// customers are never charged every few minutes.
func (f Frequency) TestOnly() bool {
	return f == FrequencySeconds || f == FrequencyMinutes || f == FrequencyHours
}

// seconds is the length of one sub-day unit; 0 for calendar units.
func (f Frequency) seconds() int64 {
	switch f {
	case FrequencySeconds:
		return 1
	case FrequencyMinutes:
		return 60
	case FrequencyHours:
		return 3600
	}
	return 0
}

// Limits on schedules, each there so every computation stays exact and cheap.
const (
	// MaxFrequencyDuration bounds frequency_duration; longer intervals are better
	// written with a larger unit.
	MaxFrequencyDuration = 10_000
	// MaxPayments bounds a variable schedule, so a plan's Temporal input (≈50 bytes a
	// payment) stays far below the 2 MB payload limit.
	MaxPayments = 10_000
)

// DefaultChargeTime is the local time of day at which an installment given as a bare
// date is charged: 09:00 keeps the charge well inside its calendar day in nearby zones
// (so a bank statement shows the scheduled date) and in the merchant's business hours
// (so a decline can be handled the same day).
const DefaultChargeTime = TimeOfDay(9 * 3600)

// horizon is the first instant at which nothing is due any more: dates past year 9999
// have no YYYY-MM-DD form.
var horizon = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)

// Schedule is a plan's schedule as a client writes it: either fixed (frequency and
// amounts) or variable (payments). Dates are strings so that Validate can report a
// malformed one with its field path rather than failing the whole JSON decode.
//
// A date is "YYYY-MM-DD", charged at charge_time (default DefaultChargeTime, 09:00) in
// timezone (default UTC), or an RFC 3339 timestamp, charged at that instant; a
// timestamp start_date's local time of day becomes the charge time of every later
// installment. Without start_date the plan starts now: the first installment is due at
// once and later ones at the same local time of day (or today at charge_time when that
// is given).
type Schedule struct {
	// Fixed schedules.
	Frequency         Frequency `json:"frequency,omitempty"`
	FrequencyDuration *int      `json:"frequency_duration,omitempty"` // default 1
	StartDate         string    `json:"start_date,omitempty"`
	FirstAmount       *int64    `json:"first_amount,omitempty"` // installment 1; default recurring_amount
	RecurringAmount   *int64    `json:"recurring_amount,omitempty"`
	Installments      *int      `json:"installments,omitempty"` // absent: unlimited
	FinalAmount       *int64    `json:"final_amount,omitempty"` // last installment; default recurring_amount
	FinalPaymentDate  string    `json:"final_payment_date,omitempty"`
	ExpiresOn         string    `json:"expires_on,omitempty"` // YYYY-MM-DD: nothing is due after that local day

	// Variable schedules.
	Payments []ScheduledPayment `json:"payments,omitempty"`

	// Both.
	Timezone   string `json:"timezone,omitempty"`    // IANA name, default UTC
	ChargeTime string `json:"charge_time,omitempty"` // HH:MM[:SS], for dates given without a time
}

// ScheduledPayment is one entry of a variable schedule: an amount in minor units due on a date.
type ScheduledPayment struct {
	Date   string `json:"date"`
	Amount int64  `json:"amount"`
}

// IsVariable reports whether s lists its payments rather than repeating one amount.
// "payments": [] counts, so that Validate says it needs two.
func (s Schedule) IsVariable() bool { return s.Payments != nil }

// Validate checks s and returns nil or a *ValidationError with every violation found,
// each with a param under "schedule." and one of the codes in codes.go:
// parameter_missing, parameter_not_allowed, invalid_frequency, frequency_not_allowed,
// invalid_frequency_duration, invalid_amount, invalid_installments, invalid_date,
// invalid_charge_time, invalid_timezone, date_in_past, final_requires_installments,
// final_payment_date_too_early, expires_on_too_early, schedule_too_long,
// too_few_payments, too_many_payments, payments_not_increasing, amount_overflow.
// Checks that depend on a field found invalid are skipped rather than reported twice.
// now is the current time (workflow.Now in workflows): it fills the defaults and
// decides which dates are in the past.
func (s Schedule) Validate(mode Mode, now time.Time) error {
	_, err := s.Resolve(mode, now)
	return err
}

// Resolve validates s as Validate does and returns its Timetable, with every default
// filled in from now: the form workflows keep and compute installments from.
func (s Schedule) Resolve(mode Mode, now time.Time) (Timetable, error) {
	r := resolver{s: s, mode: mode, v: &ValidationError{}}
	r.resolve(now)
	if err := r.v.Err(); err != nil {
		return Timetable{}, err
	}
	return r.tt, nil
}

// resolver carries one Resolve call's state: what was parsed and what was found wrong.
type resolver struct {
	s    Schedule
	mode Mode
	v    *ValidationError
	tt   Timetable

	loc        *time.Location
	today      Date
	chargeTime TimeOfDay
	chargeSet  bool // charge_time was given
	ok         bool // timezone and charge_time are usable
}

func param(field string) string { return "schedule." + field }

func (r *resolver) add(field, code, format string, args ...any) {
	r.v.Add(param(field), code, format, args...)
}

func (r *resolver) resolve(now time.Time) {
	r.ok = true
	r.loc = time.UTC
	r.tt.Timezone = "UTC"
	if r.s.Timezone != "" {
		if loc, err := LoadTimezone(r.s.Timezone); err != nil {
			r.add("timezone", CodeInvalidTimezone, "%v", err)
			r.ok = false
		} else {
			r.loc, r.tt.Timezone = loc, r.s.Timezone
		}
	}
	r.tt.loc = r.loc
	r.today = DateOf(now.In(r.loc))

	r.chargeTime = DefaultChargeTime
	if r.s.ChargeTime != "" {
		if t, err := ParseTimeOfDay(r.s.ChargeTime); err != nil {
			r.add("charge_time", CodeInvalidChargeTime, "%v", err)
			r.ok = false
		} else {
			r.chargeTime, r.chargeSet = t, true
		}
	}

	if r.s.IsVariable() {
		r.variable()
	} else {
		r.fixed(now)
	}
}

// when is a parsed schedule date: a bare date, or a timestamp's instant.
type when struct {
	date    Date
	instant time.Time // zero for a bare date
}

// parseWhen reads a YYYY-MM-DD date or an RFC 3339 timestamp, truncated to the second.
func parseWhen(s string) (when, bool) {
	if d, err := ParseDate(s); err == nil {
		return when{date: d}, true
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return when{}, false
	}
	return when{instant: t.Truncate(time.Second)}, true
}

// at returns the instant w is due and its local date, charging a bare date at
// chargeTime.
func (r *resolver) at(w when) (time.Time, Date) {
	if w.instant.IsZero() {
		return LocalInstant(w.date, r.chargeTime, r.loc), w.date
	}
	return w.instant.UTC(), DateOf(w.instant.In(r.loc))
}

func (r *resolver) fixed(now time.Time) {
	s := r.s
	tt := &r.tt
	ok := r.ok

	switch {
	case s.Frequency == "":
		r.add("frequency", CodeParameterMissing, "frequency is required: days, weeks, months or years")
		ok = false
	case !s.Frequency.Valid():
		r.add("frequency", CodeInvalidFrequency, "frequency %q is not one of days, weeks, months, years (test mode also: seconds, minutes, hours)", s.Frequency)
		ok = false
	case s.Frequency.TestOnly() && r.mode != ModeTest:
		r.add("frequency", CodeFrequencyNotAllowed, "frequency %q is only allowed with a test-mode key", s.Frequency)
		ok = false
	}
	tt.Frequency = s.Frequency

	tt.Interval = 1
	if s.FrequencyDuration != nil {
		if d := *s.FrequencyDuration; d < 1 || d > MaxFrequencyDuration {
			r.add("frequency_duration", CodeInvalidFrequencyDuration, "frequency_duration must be between 1 and %d, got %d", MaxFrequencyDuration, d)
			ok = false
		} else {
			tt.Interval = d
		}
	}

	amountsOK := true
	amount := func(field string, v *int64, dst *int64) {
		switch {
		case v == nil:
		case *v <= 0:
			r.add(field, CodeInvalidAmount, "%s must be a positive amount in minor units, got %d", field, *v)
			amountsOK = false
		default:
			*dst = *v
		}
	}
	if s.RecurringAmount == nil {
		r.add("recurring_amount", CodeParameterMissing, "recurring_amount is required")
		amountsOK = false
	}
	amount("recurring_amount", s.RecurringAmount, &tt.RecurringAmount)
	tt.FirstAmount, tt.FinalAmount = tt.RecurringAmount, tt.RecurringAmount
	amount("first_amount", s.FirstAmount, &tt.FirstAmount)
	amount("final_amount", s.FinalAmount, &tt.FinalAmount)

	countOK := true
	if s.Installments != nil {
		if *s.Installments < 1 {
			r.add("installments", CodeInvalidInstallments, "installments must be at least 1, got %d (omit it for an unlimited plan)", *s.Installments)
			countOK = false
		} else {
			tt.Installments = *s.Installments
		}
	}
	if countOK && (s.Installments == nil || *s.Installments < 2) {
		if s.FinalAmount != nil {
			r.add("final_amount", CodeFinalRequiresInstallments, "final_amount needs installments of at least 2")
			countOK = false
		}
		if s.FinalPaymentDate != "" {
			r.add("final_payment_date", CodeFinalRequiresInstallments, "final_payment_date needs installments of at least 2")
			countOK = false
		}
	}

	// Dates.
	var start when
	startGiven := s.StartDate != ""
	if startGiven {
		w, parsed := parseWhen(s.StartDate)
		switch {
		case !parsed:
			r.add("start_date", CodeInvalidDate, "start_date %q is neither YYYY-MM-DD nor an RFC 3339 timestamp", s.StartDate)
			ok = false
		case !w.instant.IsZero() && r.chargeSet:
			r.add("charge_time", CodeParameterNotAllowed, "charge_time cannot be combined with a timestamp start_date, whose time of day is the charge time")
			ok = false
		}
		start = w
	}
	var final when
	finalGiven := s.FinalPaymentDate != ""
	if finalGiven {
		w, parsed := parseWhen(s.FinalPaymentDate)
		if !parsed {
			r.add("final_payment_date", CodeInvalidDate, "final_payment_date %q is neither YYYY-MM-DD nor an RFC 3339 timestamp", s.FinalPaymentDate)
			countOK = false
		}
		final = w
	}
	var expires Date
	expiresGiven := s.ExpiresOn != ""
	if expiresGiven {
		d, err := ParseDate(s.ExpiresOn)
		if err != nil {
			r.add("expires_on", CodeInvalidDate, "expires_on %q is not a YYYY-MM-DD date", s.ExpiresOn)
			expiresGiven, countOK = false, false
		}
		expires = d
	}
	if !ok {
		return // the timeline can't be placed, so nothing relative to it can be checked
	}

	// Anchor: installment 1's local date and the charge time of every installment.
	var exact time.Time // the start instant, when it is a timestamp or now
	switch {
	case !startGiven && !r.chargeSet:
		exact = now.Truncate(time.Second)
		tt.AnchorDate, tt.ChargeTime = DateOf(exact.In(r.loc)), TimeOfDayOf(exact.In(r.loc))
	case !startGiven:
		tt.AnchorDate, tt.ChargeTime = r.today, r.chargeTime
	case start.instant.IsZero():
		tt.AnchorDate, tt.ChargeTime = start.date, r.chargeTime
	default:
		exact = start.instant
		tt.AnchorDate, tt.ChargeTime = DateOf(exact.In(r.loc)), TimeOfDayOf(exact.In(r.loc))
	}
	// Bare dates (final_payment_date) are charged at the plan's charge time too.
	r.chargeTime = tt.ChargeTime
	if s.Frequency.TestOnly() && !exact.IsZero() {
		// Sub-day schedules step from the exact instant.
		tt.StartAt = exact.UTC()
	} else {
		// Calendar schedules compute every installment, the first included, from the
		// anchor date and charge time.
		tt.StartAt = LocalInstant(tt.AnchorDate, tt.ChargeTime, r.loc)
	}
	if startGiven && tt.AnchorDate.Before(r.today) {
		r.add("start_date", CodeDateInPast, "start_date %s is before today (%s in %s)", tt.AnchorDate, r.today, tt.Timezone)
	}
	if !tt.StartAt.Before(horizon) {
		r.add("start_date", CodeScheduleTooLong, "start_date is past the year 9999")
		return
	}

	if expiresGiven {
		tt.ExpiresAt = LocalInstant(expires.AddDays(1), 0, r.loc)
		if expires.Before(tt.AnchorDate) || !tt.StartAt.Before(tt.ExpiresAt) {
			r.add("expires_on", CodeExpiresOnTooEarly, "expires_on %s is before the first installment on %s", expires, tt.AnchorDate)
			countOK = false
		}
	}
	if !countOK {
		return
	}

	if n := tt.Installments; n > 0 {
		if finalGiven {
			prev, inRange := tt.regularDue(n-2, r.loc)
			if !inRange || !prev.Before(horizon) {
				r.add("installments", CodeScheduleTooLong, "installment %d would fall after the year 9999", n-1)
				return
			}
			tt.FinalAt, _ = r.at(final)
			if !tt.FinalAt.After(prev) {
				r.add("final_payment_date", CodeFinalPaymentDateTooEarly, "final_payment_date %s must be after installment %d, due %s",
					s.FinalPaymentDate, n-1, prev.In(r.loc).Format(time.RFC3339))
				return
			}
			if !tt.FinalAt.Before(horizon) {
				r.add("final_payment_date", CodeScheduleTooLong, "final_payment_date is past the year 9999")
				return
			}
			if expiresGiven && !tt.FinalAt.Before(tt.ExpiresAt) {
				r.add("expires_on", CodeExpiresOnTooEarly, "expires_on %s is before final_payment_date %s", expires, s.FinalPaymentDate)
				return
			}
		} else if last, inRange := tt.regularDue(n-1, r.loc); !inRange || !last.Before(horizon) {
			r.add("installments", CodeScheduleTooLong, "installment %d would fall after the year 9999", n)
			return
		}
	}

	if amountsOK {
		if _, fits := tt.total(); !fits {
			field := "installments"
			if tt.Installments == 0 {
				field = "expires_on"
			}
			r.add(field, CodeAmountOverflow, "the schedule's total does not fit in 64-bit minor units")
		}
	}
}

func (r *resolver) variable() {
	s := r.s
	for _, f := range []struct {
		field string
		set   bool
	}{
		{"frequency", s.Frequency != ""},
		{"frequency_duration", s.FrequencyDuration != nil},
		{"start_date", s.StartDate != ""},
		{"first_amount", s.FirstAmount != nil},
		{"recurring_amount", s.RecurringAmount != nil},
		{"installments", s.Installments != nil},
		{"final_amount", s.FinalAmount != nil},
		{"final_payment_date", s.FinalPaymentDate != ""},
		{"expires_on", s.ExpiresOn != ""},
	} {
		if f.set {
			r.add(f.field, CodeParameterNotAllowed, "%s does not apply to a schedule with payments", f.field)
		}
	}
	switch n := len(s.Payments); {
	case n < 2:
		r.add("payments", CodeTooFewPayments, "a variable schedule needs at least 2 payments, got %d", n)
	case n > MaxPayments:
		r.add("payments", CodeTooManyPayments, "a variable schedule has at most %d payments, got %d", MaxPayments, n)
		return // don't report thousands of entries
	}

	payments := make([]Installment, 0, len(s.Payments))
	var total int64
	overflowed := false
	prevOK := false
	var prev time.Time
	for i, p := range s.Payments {
		field := fmt.Sprintf("payments[%d]", i)
		if p.Amount <= 0 {
			r.add(field+".amount", CodeInvalidAmount, "amount must be a positive amount in minor units, got %d", p.Amount)
		} else if !overflowed {
			sum, fits := addInt64(total, p.Amount)
			total, overflowed = sum, !fits
			if overflowed {
				r.add("payments", CodeAmountOverflow, "the payments' total does not fit in 64-bit minor units")
			}
		}
		if p.Date == "" {
			r.add(field+".date", CodeParameterMissing, "date is required")
			prevOK = false
			continue
		}
		w, parsed := parseWhen(p.Date)
		if !parsed {
			r.add(field+".date", CodeInvalidDate, "date %q is neither YYYY-MM-DD nor an RFC 3339 timestamp", p.Date)
			prevOK = false
			continue
		}
		if !r.ok {
			continue
		}
		due, day := r.at(w)
		switch {
		case day.Before(r.today):
			r.add(field+".date", CodeDateInPast, "date %s is before today (%s in %s)", day, r.today, r.tt.Timezone)
		case !due.Before(horizon):
			r.add(field+".date", CodeScheduleTooLong, "date %s is past the year 9999", p.Date)
		case prevOK && !due.After(prev):
			r.add(field+".date", CodePaymentsNotIncreasing, "date %s is not after the previous payment's", p.Date)
		}
		prev, prevOK = due, true
		payments = append(payments, Installment{Number: i + 1, DueAt: due, Amount: p.Amount})
	}
	r.tt.ChargeTime = r.chargeTime
	r.tt.Payments = payments
}
