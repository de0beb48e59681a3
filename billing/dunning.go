package billing

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a span of time whose JSON form is a string: whole days as "3d", anything
// else in Go's notation ("36h", "90s", "1h30m"). A JSON number is read as seconds.
type Duration time.Duration

// Day is 24 hours. Dunning counts in days of elapsed time, not calendar days: a retry
// "+1d" after a 09:00 decline comes 24 hours later, whatever DST does.
const Day = 24 * time.Hour

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns "3d" for whole days and Go's notation otherwise.
func (d Duration) String() string {
	if td := time.Duration(d); td > 0 && td%Day == 0 {
		return strconv.FormatInt(int64(td/Day), 10) + "d"
	}
	return time.Duration(d).String()
}

// ParseDuration reads whole days ("3d") or a Go duration ("36h", "90s").
func ParseDuration(s string) (Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days < 0 || days > 100_000 {
			return 0, fmt.Errorf("duration %q is not a whole number of days such as \"3d\"", s)
		}
		return Duration(time.Duration(days) * Day), nil
	}
	td, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q is neither days (\"3d\") nor a Go duration (\"36h\", \"90s\")", s)
	}
	return Duration(td), nil
}

// MarshalJSON writes the String form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string form or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := ParseDuration(s)
		if err != nil {
			return err
		}
		*d = v
		return nil
	}
	var secs int64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration must be a string such as \"3d\" or a number of seconds")
	}
	*d = Duration(time.Duration(secs) * time.Second)
	return nil
}

// DunningOutcome is what happens to a plan after its last dunning attempt fails, or
// after a hard decline.
type DunningOutcome string

// Dunning outcomes.
const (
	// OutcomePastDue keeps the plan, waiting for a new payment method.
	OutcomePastDue DunningOutcome = "past_due"
	// OutcomeCanceled cancels the plan.
	OutcomeCanceled DunningOutcome = "canceled"
)

// Status returns the plan status the outcome leads to.
func (o DunningOutcome) Status() PlanStatus {
	if o == OutcomeCanceled {
		return PlanCanceled
	}
	return PlanPastDue
}

// Limits on dunning policies.
const (
	// MaxDunningRetries bounds a policy's retries; together with the attempt limit it
	// keeps a declining card from being hammered.
	MaxDunningRetries = 10
	// MinDunningDelayLive is the shortest live-mode retry delay: an issuer that just
	// declined will decline again within the hour.
	MinDunningDelayLive = time.Hour
	// MinDunningDelayTest is the shortest test-mode retry delay, so a test plan's dunning
	// can be watched in seconds.
	MinDunningDelayTest = time.Second
	// MaxDunningDelay is the longest single retry delay.
	MaxDunningDelay = 30 * Day
)

// DunningPolicy says when a soft-declined installment is tried again and what happens
// when every retry has failed. Retries[i] is the delay of retry i+1 after the attempt
// before it (the default +1d, +3d, +5d, +7d retries on days 1, 4, 9 and 16 after the
// due date). Hard declines are never retried: they lead to Outcome at once.
type DunningPolicy struct {
	Retries []Duration     `json:"retries"`
	Outcome DunningOutcome `json:"outcome"`
}

// DefaultDunningPolicy returns +1d, +3d, +5d, +7d, then past_due.
func DefaultDunningPolicy() DunningPolicy {
	return DunningPolicy{
		Retries: []Duration{Duration(1 * Day), Duration(3 * Day), Duration(5 * Day), Duration(7 * Day)},
		Outcome: OutcomePastDue,
	}
}

// Resolve validates p for mode and fills its defaults: absent retries (nil) are the
// default schedule, an empty list means no retries, and an absent outcome is past_due.
// Violations are reported under "dunning." with code invalid_dunning.
func (p DunningPolicy) Resolve(mode Mode) (DunningPolicy, error) {
	v := &ValidationError{}
	out := DunningPolicy{Outcome: p.Outcome, Retries: p.Retries}
	if out.Retries == nil {
		out.Retries = DefaultDunningPolicy().Retries
	}
	if out.Outcome == "" {
		out.Outcome = OutcomePastDue
	}
	if out.Outcome != OutcomePastDue && out.Outcome != OutcomeCanceled {
		v.Add("dunning.outcome", CodeInvalidDunning, "outcome must be past_due or canceled, got %q", p.Outcome)
	}
	if len(out.Retries) > MaxDunningRetries {
		v.Add("dunning.retries", CodeInvalidDunning, "at most %d retries, got %d", MaxDunningRetries, len(out.Retries))
	}
	minDelay := MinDunningDelayLive
	if mode == ModeTest {
		minDelay = MinDunningDelayTest
	}
	for i, d := range out.Retries {
		if d.Std() < minDelay || d.Std() > MaxDunningDelay {
			v.Add(fmt.Sprintf("dunning.retries[%d]", i), CodeInvalidDunning,
				"retry delay %s must be between %s and %s", d, Duration(minDelay), Duration(MaxDunningDelay))
		}
	}
	if err := v.Err(); err != nil {
		return DunningPolicy{}, err
	}
	return out, nil
}

// RetryDelay returns the delay before retry n (1-based) and false when the policy has
// no retry n, which means the installment has failed for good.
func (p DunningPolicy) RetryDelay(n int) (time.Duration, bool) {
	if n < 1 || n > len(p.Retries) {
		return 0, false
	}
	return p.Retries[n-1].Std(), true
}
