package billing

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestCanTransition(t *testing.T) {
	for _, c := range []struct {
		from, to PlanStatus
		want     bool
	}{
		{PlanActive, PlanPaused, true},
		{PlanPaused, PlanActive, true},
		{PlanActive, PlanBlocked, true},
		{PlanBlocked, PlanActive, true},
		{PlanActive, PlanPastDue, true},
		{PlanPastDue, PlanActive, true},
		{PlanActive, PlanCompleted, true},
		{PlanPastDue, PlanCompleted, false}, // the failed installment stands
		{PlanCanceled, PlanActive, false},
		{PlanCompleted, PlanCanceled, false},
		{PlanFailed, PlanActive, false},
		{PlanActive, PlanActive, false},
		{PlanIncomplete, PlanActive, true},
		{PlanIncomplete, PlanIncompleteExpired, true},
		{PlanIncomplete, PlanPastDue, false}, // nothing was charged yet
		{PlanIncompleteExpired, PlanActive, false},
	} {
		if got := CanTransition(c.from, c.to); got != c.want {
			t.Errorf("CanTransition(%s, %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
	for _, s := range PlanStatuses {
		if s.Terminal() && len(planTransitions[s]) > 0 {
			t.Errorf("terminal status %s has transitions", s)
		}
		if !s.Terminal() && !CanTransition(s, PlanCanceled) {
			t.Errorf("%s cannot be canceled", s)
		}
	}
}

func TestCheckAction(t *testing.T) {
	allowed := map[PlanAction][]PlanStatus{
		ActionPause:               {PlanActive, PlanBlocked},
		ActionResume:              {PlanPaused},
		ActionCancel:              {PlanActive, PlanPaused, PlanBlocked, PlanPastDue, PlanActionRequired, PlanIncomplete},
		ActionChangePaymentMethod: {PlanActive, PlanPaused, PlanBlocked, PlanPastDue, PlanActionRequired},
		ActionSkipNext:            {PlanActive, PlanPaused, PlanBlocked, PlanPastDue, PlanActionRequired},
	}
	for action, ok := range allowed {
		for _, s := range PlanStatuses {
			err := CheckAction(s, action)
			if slices.Contains(ok, s) {
				if err != nil {
					t.Errorf("%s on %s: %v, want allowed", action, s, err)
				}
				continue
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindConflict || e.Code != CodeInvalidTransition {
				t.Errorf("%s on %s: %v, want a conflict invalid_transition", action, s, err)
			}
		}
	}
	if err := CheckAction(PlanCanceled, ActionResume); err == nil || err.Error() != "invalid_transition: cannot resume a plan that is canceled" {
		t.Errorf("resume canceled: %v", err)
	}
}

func TestPaymentTypeAndEvents(t *testing.T) {
	if PaymentOneOff.IsRecurring() || !PaymentInitial.IsRecurring() || !PaymentRecurring.IsRecurring() {
		t.Error("IsRecurring: one_off is not recurring; initial and recurring are")
	}
	for s, want := range map[PlanStatus]string{PlanCompleted: EventPlanCompleted, PlanCanceled: EventPlanCanceled,
		PlanPastDue: EventPlanPastDue, PlanActionRequired: EventPlanActionRequired, PlanFailed: EventPlanFailed, PlanActive: "", PlanPaused: "",
		PlanIncompleteExpired: EventPlanIncompleteExpired, PlanIncomplete: ""} {
		if got := PlanEventType(s); got != want {
			t.Errorf("PlanEventType(%s) = %q, want %q", s, got, want)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	for in, want := range map[string]time.Duration{`"3d"`: 3 * Day, `"36h"`: 36 * time.Hour, `"90s"`: 90 * time.Second, `30`: 30 * time.Second} {
		var d Duration
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.Std() != want {
			t.Errorf("unmarshal %s = %v (%v), want %v", in, d.Std(), err, want)
		}
	}
	for _, bad := range []string{`"1.5d"`, `"-1d"`, `"soon"`, `true`} {
		var d Duration
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("unmarshal %s: no error", bad)
		}
	}
	b, _ := json.Marshal([]Duration{Duration(Day), Duration(90 * time.Minute)})
	if string(b) != `["1d","1h30m0s"]` {
		t.Errorf("marshal = %s", b)
	}
}

func TestDunningPolicyResolve(t *testing.T) {
	p, err := DunningPolicy{}.Resolve(ModeLive)
	if err != nil || !slices.Equal(p.Retries, DefaultDunningPolicy().Retries) || p.Outcome != OutcomePastDue {
		t.Fatalf("defaults = %+v, %v; want +1d +3d +5d +7d then past_due", p, err)
	}
	if p, err := (DunningPolicy{Retries: []Duration{}, Outcome: OutcomeCanceled}).Resolve(ModeLive); err != nil || len(p.Retries) != 0 {
		t.Errorf("no retries: %+v, %v", p, err)
	}
	seconds := DunningPolicy{Retries: []Duration{Duration(5 * time.Second)}}
	if _, err := seconds.Resolve(ModeTest); err != nil {
		t.Errorf("seconds in test mode: %v", err)
	}
	var v *ValidationError
	if _, err := seconds.Resolve(ModeLive); !errors.As(err, &v) || v.Violations[0].Param != "dunning.retries[0]" {
		t.Errorf("seconds in live mode: %v, want dunning.retries[0] refused", err)
	}
	bad := DunningPolicy{Retries: make([]Duration, MaxDunningRetries+1), Outcome: "forgive"}
	if _, err := bad.Resolve(ModeTest); !errors.As(err, &v) || len(v.Violations) != 2+MaxDunningRetries+1 {
		t.Errorf("bad policy: %v", err)
	}
	if d, ok := DefaultDunningPolicy().RetryDelay(2); !ok || d != 3*Day {
		t.Errorf("RetryDelay(2) = %v, %v", d, ok)
	}
	if _, ok := DefaultDunningPolicy().RetryDelay(5); ok {
		t.Error("RetryDelay(5) of a 4-retry policy exists")
	}
	if OutcomeCanceled.Status() != PlanCanceled || OutcomePastDue.Status() != PlanPastDue {
		t.Error("outcome statuses")
	}
}

func TestAttemptLimitNextAllowed(t *testing.T) {
	now := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	l := DefaultAttemptLimit
	var failed []time.Time
	for i := range 14 {
		failed = append(failed, now.Add(-time.Duration(i+1)*24*time.Hour))
	}
	if got := l.NextAllowed(now, failed); !got.Equal(now) {
		t.Errorf("14 failures: next %s, want now", got)
	}
	oldest := now.Add(-29 * 24 * time.Hour)
	failed = append(failed, oldest)
	if got := l.NextAllowed(now, failed); !got.Equal(oldest.Add(30 * 24 * time.Hour)) {
		t.Errorf("15 failures: next %s, want when the oldest leaves the window", got)
	}
	// Failures older than the window do not count.
	stale := append(failed[:14:14], now.Add(-30*24*time.Hour))
	if got := l.NextAllowed(now, stale); !got.Equal(now) {
		t.Errorf("one failure exactly 30 days old: next %s, want now", got)
	}
	if got := (AttemptLimit{Max: 2, Window: Duration(time.Hour)}).NextAllowed(now, []time.Time{now, now.Add(-time.Minute), now.Add(-2 * time.Minute)}); !got.Equal(now.Add(time.Hour - time.Minute)) {
		t.Errorf("custom limit: %s", got)
	}
	if (AttemptLimit{}).OrDefault() != DefaultAttemptLimit {
		t.Error("zero limit is not the default")
	}
}
