package billing

import (
	"fmt"
	"time"
)

// CatchUp says how many overdue installments a plan charges at once after it could not
// charge for a while (the engine was down, the card blocked, the plan in dunning or
// paused with behavior defer): all of them (the default), only the latest, or none
// (the overdue ones are skipped and the plan goes on with the next one due).
type CatchUp string

// Catch-up policies.
const (
	CatchUpAll    CatchUp = "all"
	CatchUpLatest CatchUp = "latest"
	CatchUpNone   CatchUp = "none"
)

// Valid reports whether c is a known policy or empty (all).
func (c CatchUp) Valid() bool {
	return c == "" || c == CatchUpAll || c == CatchUpLatest || c == CatchUpNone
}

// PauseBehavior says what becomes of the installments falling due while a plan is
// paused: skipped (the default) or deferred, charged when it resumes (as its catch_up
// policy allows).
type PauseBehavior string

// Pause behaviors.
const (
	PauseSkip  PauseBehavior = "skip"
	PauseDefer PauseBehavior = "defer"
)

// MaxMinDaysBetweenCharges bounds min_days_between_charges (a year and a day).
const MaxMinDaysBetweenCharges = 366

// spacingChecked is how many consecutive installments CheckSpacing compares: enough
// for any regular schedule to show its shortest gap.
const spacingChecked = 1000

// CheckSpacing validates min_days_between_charges against the timetable: 0 to
// MaxMinDaysBetweenCharges, and no two consecutive installments due closer than that
// (the plan would never be on time). The errors name min_days_between_charges.
func CheckSpacing(tt Timetable, days int) error {
	if days < 0 || days > MaxMinDaysBetweenCharges {
		return Invalid("min_days_between_charges", CodeInvalidValue,
			"min_days_between_charges must be between 0 and %d", MaxMinDaysBetweenCharges)
	}
	if days == 0 {
		return nil
	}
	gap := time.Duration(days) * 24 * time.Hour
	prev, ok := tt.Installment(1)
	for n := 2; ok && n <= spacingChecked; n++ {
		inst, more := tt.Installment(n)
		if !more {
			break
		}
		if inst.DueAt.Sub(prev.DueAt) < gap {
			return Invalid("min_days_between_charges", CodeScheduleTooDense,
				"installments %d and %d are due %s apart, closer than min_days_between_charges (%d days)",
				prev.Number, inst.Number, fmt.Sprint(inst.DueAt.Sub(prev.DueAt).Round(time.Minute)), days)
		}
		prev = inst
	}
	return nil
}
