package workflows

import (
	"slices"
	"time"

	"github.com/recurring/recurring/billing"
)

// advance skips the installments that must be skipped (skip_next, or due while the
// plan was paused) and completes the plan when no installment is left. An installment
// already attempted is never skipped: its debt stands until paid or the plan ends.
func (p *planRun) advance(now time.Time) {
	s := p.s
	if s.Status.Terminal() {
		return
	}
	for {
		inst, ok := p.in.Timetable.Installment(s.Next)
		if !ok {
			s.Status = billing.PlanCompleted
			return
		}
		if s.Attempt > 0 || inst.Number == p.sending || !(p.skipped(inst, now) || p.missed(inst, now)) {
			p.prunePauseWindows(inst.DueAt)
			return
		}
		s.SkipNext = slices.DeleteFunc(s.SkipNext, func(n int) bool { return n == inst.Number })
		s.Next++
		s.Skipped++
	}
}

// skipped reports whether inst is not to be charged: skip_next marked it, or it fell
// due while the plan was paused (in a past pause, or in the current one by now).
func (p *planRun) skipped(inst billing.Installment, now time.Time) bool {
	s := p.s
	if slices.Contains(s.SkipNext, inst.Number) {
		return true
	}
	for _, w := range s.PauseWindows {
		if !inst.DueAt.Before(w.From) && inst.DueAt.Before(w.To) {
			return true
		}
	}
	if s.Paused && !s.ResumeAt.IsZero() && !inst.DueAt.Before(s.ResumeAt) {
		return false // due when the pause has ended by itself
	}
	return s.Paused && !s.PauseDefer && !inst.DueAt.Before(s.PausedAt) && !inst.DueAt.After(now)
}

// catchUpGrace is how late an installment may be charged and still count as on time
// under catch_up none: an hour, or half the gap to the next installment when that is
// shorter (test plans due every few seconds).
const catchUpGrace = time.Hour

// missed reports whether inst, overdue and never attempted, is dropped by the plan's
// catch_up policy: under latest when a later installment is due too, under none when
// it is more than its grace late. Lateness counts from when the plan's own rules let
// it be tried (min_days_between_charges, an attempt limit, a paced slot), not from its
// due date. Nothing is dropped while the plan cannot charge (the policy applies when
// charging resumes), while a hosted start waits on it, or while it is being charged.
func (p *planRun) missed(inst billing.Installment, now time.Time) bool {
	policy := p.in.CatchUp
	if policy == "" || policy == billing.CatchUpAll || !p.charging() || p.s.Starting || inst.Number == p.sending {
		return false
	}
	from := p.attemptAt(inst)
	if p.s.PacedSlot.After(from) {
		from = p.s.PacedSlot
	}
	if !from.Before(now) {
		return false
	}
	next, hasNext := p.in.Timetable.Installment(inst.Number + 1)
	if hasNext && !next.DueAt.After(now) {
		return true // a later one is due as well: latest and none both drop this one
	}
	if policy == billing.CatchUpLatest {
		return false
	}
	grace := catchUpGrace
	if hasNext {
		grace = min(grace, next.DueAt.Sub(inst.DueAt)/2)
	}
	return now.Sub(from) > grace
}

// resume ends a pause at end (now, or its resume_at): installments that fell due
// during a skipping pause stay skipped (its window), a deferring pause leaves them to be
// charged now.
func (p *planRun) resume(end, now time.Time) {
	s := p.s
	if !s.PauseDefer && end.After(s.PausedAt) {
		s.PauseWindows = append(s.PauseWindows, TimeWindow{From: s.PausedAt, To: end})
	}
	s.Paused, s.PausedAt, s.PauseDefer, s.ResumeAt = false, now, false, time.Time{}
	p.advance(now)
}

// prunePauseWindows drops pauses that ended by due: installments from the waiting one
// on are due later, so those pauses cannot skip anything any more.
func (p *planRun) prunePauseWindows(due time.Time) {
	p.s.PauseWindows = slices.DeleteFunc(p.s.PauseWindows, func(w TimeWindow) bool { return !w.To.After(due) })
}

// charging reports whether the plan charges installments as they fall due.
func (p *planRun) charging() bool {
	s := p.s
	return s.Status == billing.PlanActive && !s.Paused && !s.Blocked && !s.Detached
}

// attemptAt is when the waiting installment is to be tried: its due time, or later
// for a dunning retry or an attempt-limited card.
func (p *planRun) attemptAt(inst billing.Installment) time.Time {
	at := inst.DueAt
	if p.s.Attempt > 0 && p.s.RetryAt.After(at) {
		at = p.s.RetryAt
	}
	if p.s.NotBefore.After(at) {
		at = p.s.NotBefore
	}
	if days := p.in.MinDaysBetweenCharges; days > 0 && !p.s.LastPaidAt.IsZero() {
		if earliest := p.s.LastPaidAt.Add(time.Duration(days) * 24 * time.Hour); earliest.After(at) {
			at = earliest
		}
	}
	return at
}

// recentFailures returns the failed attempts still inside the attempt limit's window.
func (p *planRun) recentFailures(now time.Time) []CardFailure {
	window := p.in.AttemptLimit.OrDefault().Window.Std()
	return slices.DeleteFunc(slices.Clone(p.s.Failures), func(f CardFailure) bool { return !f.At.After(now.Add(-window)) })
}

// cardFailures returns when the current card failed within the window.
func (p *planRun) cardFailures(now time.Time) []time.Time {
	var out []time.Time
	for _, f := range p.recentFailures(now) {
		if f.PaymentMethodID == p.s.PaymentMethodID {
			out = append(out, f.At)
		}
	}
	return out
}

// status combines the plan's own status with its flags: a finished, past_due or
// action_required plan shows that; then a detached card (action_required), a pause, a
// blocked card.
func (p *planRun) status() billing.PlanStatus {
	s := p.s
	switch {
	case s.Status.Terminal():
		return s.Status
	case s.Starting:
		return billing.PlanIncomplete // not active until its first payment succeeds
	case s.Status != billing.PlanActive:
		return s.Status
	case s.Detached:
		return billing.PlanActionRequired
	case s.Paused:
		return billing.PlanPaused
	case s.Blocked:
		return billing.PlanBlocked
	}
	return billing.PlanActive
}

// state returns the plan's live state.
func (p *planRun) state() PlanState {
	s := p.s
	st := PlanState{
		PlanID: p.in.PlanID, Status: p.status(), PaymentMethodID: s.PaymentMethodID,
		Paused: s.Paused, Blocked: s.Blocked, Detached: s.Detached, ResumeAt: s.ResumeAt,
		CatchUp: p.in.CatchUp, MinDaysBetweenCharges: p.in.MinDaysBetweenCharges,
		Attempts: s.Attempt, DunningRetries: s.Retries, Paid: s.Paid, PaidAmount: s.PaidAmount, Skipped: s.Skipped,
		SkipInstallments: slices.Clone(s.SkipNext), LastError: s.LastError, CancelReason: s.CancelReason,
	}
	st.FirstOpen, st.Collecting = p.firstOpen()
	if s.Paused {
		st.PauseBehavior = billing.PauseSkip
		if s.PauseDefer {
			st.PauseBehavior = billing.PauseDefer
		}
	}
	if n, limited := p.in.Timetable.Count(); limited {
		r := max(0, n-(s.Next-1))
		st.Remaining = &r
	}
	if s.Status.Terminal() {
		return st
	}
	if s.Status == billing.PlanIncomplete && p.in.Hosted != nil {
		st.IncompleteUntil = p.in.Hosted.ExpiresAt
	}
	if inst, ok := p.in.Timetable.Installment(s.Next); ok {
		st.NextInstallment, st.NextDueAt, st.NextAmount = inst.Number, inst.DueAt, inst.Amount
		if p.charging() {
			st.NextChargeAt = p.attemptAt(inst) // in the past: overdue, being charged now
		}
	}
	return st
}

// skipTarget returns the installment skip_next would skip: the next one not yet
// attempted (nor being charged) and not already skipped; 0 when there is none.
func (p *planRun) skipTarget(now time.Time) int {
	n := p.s.Next
	if p.s.Attempt > 0 || p.inFlight == n {
		n++
	}
	for ; ; n++ {
		inst, ok := p.in.Timetable.Installment(n)
		if !ok {
			return 0
		}
		if !p.skipped(inst, now) {
			return n
		}
	}
}
