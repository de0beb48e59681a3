package billing

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Installment is one charge of a plan: its 1-based number, the instant it falls due
// (UTC) and its amount in the plan currency's minor units.
type Installment struct {
	Number int       `json:"number"`
	DueAt  time.Time `json:"due_at"`
	Amount int64     `json:"amount"`
}

// Timetable is a validated Schedule with its defaults filled in, made by
// Schedule.Resolve. It is the plan workflow's input, so it is plain JSON, and every
// answer it gives is computed from its fields alone: no clock, no map order, no
// replaying of earlier installments. Installment n and "the next installment after t"
// cost the same for the 10,000th installment as for the first.
//
// A fixed timetable's installment k (0-based) is due on AnchorDate plus k×Interval
// units at ChargeTime local time in Timezone; for months and years the day of month is
// AnchorDate's, clamped to the month's length, so Jan 31 gives Feb 28 and then Mar 31.
// Sub-day units step StartAt by a fixed number of seconds. Installment Installments is
// due at FinalAt instead when that is set. Nothing is due at or after ExpiresAt, nor at
// or after 10000-01-01T00:00:00Z. A variable timetable lists its Payments.
type Timetable struct {
	Timezone   string    `json:"timezone"`
	ChargeTime TimeOfDay `json:"charge_time"`

	// Fixed schedules.
	Frequency       Frequency `json:"frequency,omitempty"`
	Interval        int       `json:"interval,omitempty"`
	AnchorDate      Date      `json:"anchor_date,omitzero"`
	StartAt         time.Time `json:"start_at,omitzero"` // installment 1's instant
	FirstAmount     int64     `json:"first_amount,omitempty"`
	RecurringAmount int64     `json:"recurring_amount,omitempty"`
	FinalAmount     int64     `json:"final_amount,omitempty"`
	Installments    int       `json:"installments,omitempty"` // 0: unlimited
	FinalAt         time.Time `json:"final_at,omitzero"`
	ExpiresAt       time.Time `json:"expires_at,omitzero"` // exclusive: the start of the day after expires_on

	// Variable schedules.
	Payments []Installment `json:"payments,omitempty"`

	loc *time.Location // Timezone, loaded once by Resolve or UnmarshalJSON
}

// UnmarshalJSON decodes a Timetable and loads its time zone, so that a zone this host
// doesn't know fails the decode (and the workflow task, which retries) instead of
// silently shifting charges.
func (tt *Timetable) UnmarshalJSON(b []byte) error {
	type plain Timetable // no methods, so no recursion
	var v plain
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	loc, err := LoadTimezone(v.Timezone)
	if err != nil {
		return fmt.Errorf("timetable: %w", err)
	}
	*tt = Timetable(v)
	tt.loc = loc
	return nil
}

// location returns the loaded time zone. A Timetable not made by Resolve or
// UnmarshalJSON has to load it; a zone that can't be loaded then is a programming
// error, and guessing UTC would move every charge.
func (tt *Timetable) location() *time.Location {
	if tt.loc != nil {
		return tt.loc
	}
	loc, err := LoadTimezone(tt.Timezone)
	if err != nil {
		panic(fmt.Sprintf("billing: Timetable with unusable time zone: %v", err))
	}
	return loc
}

// IsVariable reports whether the timetable lists its payments.
func (tt Timetable) IsVariable() bool { return len(tt.Payments) > 0 }

// Installment returns installment n (1-based), and false when there is none: n < 1,
// past the last installment, at or after ExpiresAt, or past the year 9999.
func (tt Timetable) Installment(n int) (Installment, bool) {
	if n < 1 {
		return Installment{}, false
	}
	if tt.IsVariable() {
		if n > len(tt.Payments) {
			return Installment{}, false
		}
		return tt.Payments[n-1], true
	}
	if tt.Installments > 0 && n > tt.Installments {
		return Installment{}, false
	}
	var due time.Time
	if n == tt.Installments && !tt.FinalAt.IsZero() {
		due = tt.FinalAt
	} else {
		var ok bool
		if due, ok = tt.regularDue(n-1, tt.location()); !ok {
			return Installment{}, false
		}
	}
	if !due.Before(horizon) || !tt.ExpiresAt.IsZero() && !due.Before(tt.ExpiresAt) {
		return Installment{}, false
	}
	return Installment{Number: n, DueAt: due, Amount: tt.amount(n)}, true
}

// NextAfter returns the first installment due strictly after t, and false when none
// is. A workflow resuming at t (after a crash, a pause or continue-as-new) asks this
// rather than counting from the start.
func (tt Timetable) NextAfter(t time.Time) (Installment, bool) {
	if tt.IsVariable() {
		i := sort.Search(len(tt.Payments), func(i int) bool { return tt.Payments[i].DueAt.After(t) })
		if i == len(tt.Payments) {
			return Installment{}, false
		}
		return tt.Payments[i], true
	}
	k, ok := tt.regularNextAfter(t, tt.location())
	if !ok {
		return Installment{}, false
	}
	n := k + 1
	if last := tt.Installments; last > 0 && n >= last {
		// Regular installments 1..n-1 are due by t. With a final date only the final
		// installment can still come; without one, only installment last itself.
		if n > last && tt.FinalAt.IsZero() || !tt.FinalAt.IsZero() && !tt.FinalAt.After(t) {
			return Installment{}, false
		}
		n = last
	}
	return tt.Installment(n)
}

// Count returns how many installments the timetable has, and false for an unlimited
// one (no installments and no expires_on). An expires_on cuts the count short.
func (tt Timetable) Count() (n int, limited bool) {
	if tt.IsVariable() {
		return len(tt.Payments), true
	}
	if tt.ExpiresAt.IsZero() {
		return tt.Installments, tt.Installments > 0
	}
	cutoff := tt.ExpiresAt
	if horizon.Before(cutoff) {
		cutoff = horizon
	}
	// Regular installments 0..k-1 are due before the cutoff.
	k, ok := tt.regularNextAfter(cutoff.Add(-time.Nanosecond), tt.location())
	if !ok {
		return 0, true
	}
	last := tt.Installments
	switch {
	case last == 0:
		return k, true
	case tt.FinalAt.IsZero():
		return min(k, last), true
	case tt.FinalAt.Before(cutoff):
		return last, true // FinalAt is after every regular installment before it
	default:
		return min(k, last-1), true
	}
}

// Total returns the sum of every installment's amount, and false for an unlimited
// timetable. Resolve has checked that it fits in int64.
func (tt Timetable) Total() (int64, bool) {
	if _, limited := tt.Count(); !limited {
		return 0, false
	}
	return tt.total()
}

// total returns the sum of a limited timetable's amounts and whether it fit in int64,
// in O(1) for fixed timetables: first + recurring×(n-2) + final.
func (tt Timetable) total() (int64, bool) {
	if tt.IsVariable() {
		var sum int64
		for _, p := range tt.Payments {
			var ok bool
			if sum, ok = addInt64(sum, p.Amount); !ok {
				return 0, false
			}
		}
		return sum, true
	}
	n, _ := tt.Count()
	if n == 0 {
		return 0, true
	}
	sum := tt.amount(1)
	if n == 1 {
		return sum, true
	}
	middle, ok := mulInt64(tt.RecurringAmount, int64(n-2))
	if !ok {
		return 0, false
	}
	if sum, ok = addInt64(sum, middle); !ok {
		return 0, false
	}
	return addInt64(sum, tt.amount(n))
}

// amount returns installment n's amount in a fixed timetable.
func (tt Timetable) amount(n int) int64 {
	switch {
	case n == 1:
		return tt.FirstAmount
	case n == tt.Installments:
		return tt.FinalAmount
	}
	return tt.RecurringAmount
}

// Spans past which regularDue refuses to compute, keeping all arithmetic far inside
// int64 and time.Time; they reach well beyond the year-9999 horizon.
const (
	maxSpanDays    = 20_000 * 366
	maxSpanMonths  = 20_000 * 12
	maxSpanSeconds = maxSpanDays * 86400
)

// regularDue returns when regular installment k (0-based) is due, ignoring the final
// date, expiry and horizon; false when k is out of computable range.
func (tt *Timetable) regularDue(k int, loc *time.Location) (time.Time, bool) {
	if k < 0 || tt.Interval < 1 {
		return time.Time{}, false
	}
	switch tt.Frequency {
	case FrequencySeconds, FrequencyMinutes, FrequencyHours:
		step := int64(tt.Interval) * tt.Frequency.seconds()
		if int64(k) > maxSpanSeconds/step {
			return time.Time{}, false
		}
		return time.Unix(tt.StartAt.Unix()+int64(k)*step, 0).UTC(), true
	case FrequencyDays, FrequencyWeeks:
		step := tt.Interval
		if tt.Frequency == FrequencyWeeks {
			step *= 7
		}
		if k > maxSpanDays/step {
			return time.Time{}, false
		}
		return LocalInstant(tt.AnchorDate.AddDays(k*step), tt.ChargeTime, loc), true
	case FrequencyMonths, FrequencyYears:
		step := tt.Interval
		if tt.Frequency == FrequencyYears {
			step *= 12
		}
		if k > maxSpanMonths/step {
			return time.Time{}, false
		}
		return LocalInstant(tt.AnchorDate.AddMonthsClamped(k*step), tt.ChargeTime, loc), true
	}
	return time.Time{}, false
}

// regularNextAfter returns the index of the first regular installment due strictly
// after t. It estimates the index by arithmetic on t's local date, then corrects by the
// one or two steps a DST shift or the charge time can cause; false when that
// installment is out of computable range.
func (tt *Timetable) regularNextAfter(t time.Time, loc *time.Location) (int, bool) {
	if !t.Before(horizon) {
		return 0, false // nothing is due after the horizon; also keeps t.Unix() small
	}
	k := 0
	switch tt.Frequency {
	case FrequencySeconds, FrequencyMinutes, FrequencyHours:
		if tt.Interval < 1 {
			return 0, false
		}
		// Due times are whole seconds: due(k) > t ⇔ k×step ≥ floor(t−start)+1.
		if !t.Before(tt.StartAt) {
			elapsed := t.Unix() - tt.StartAt.Unix()
			step := int64(tt.Interval) * tt.Frequency.seconds()
			q := elapsed/step + 1
			if q > maxSpanSeconds {
				return 0, false
			}
			k = int(q)
		}
		_, ok := tt.regularDue(k, loc)
		return k, ok
	case FrequencyDays, FrequencyWeeks:
		if tt.Interval < 1 {
			return 0, false
		}
		step := int64(tt.Interval)
		if tt.Frequency == FrequencyWeeks {
			step *= 7
		}
		elapsed := DateOf(t.In(loc)).days() - tt.AnchorDate.days()
		k = int(max(floorDiv64(elapsed, step)-2, 0))
	case FrequencyMonths, FrequencyYears:
		if tt.Interval < 1 {
			return 0, false
		}
		step := tt.Interval
		if tt.Frequency == FrequencyYears {
			step *= 12
		}
		elapsed := DateOf(t.In(loc)).months() - tt.AnchorDate.months()
		k = max(floorDiv(elapsed, step)-2, 0)
	default:
		return 0, false
	}
	// Due times increase with k, and the installment after the estimate falls on a
	// later local date than t, so this loop runs at most a few times.
	for ; ; k++ {
		due, ok := tt.regularDue(k, loc)
		if !ok {
			return 0, false
		}
		if due.After(t) {
			return k, true
		}
	}
}

func floorDiv64(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
