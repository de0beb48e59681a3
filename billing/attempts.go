package billing

import (
	"slices"
	"time"
)

// AttemptLimit caps how often one card is tried after declines: at most Max failed
// attempts in any Window. Card networks fine merchants that keep retrying declined
// cards (Visa allows 15 reattempts in 30 days), so once a card has failed Max times
// within Window the next attempt waits until the oldest of them leaves the window.
// Successful charges do not count: a daily plan on a good card is not throttled.
type AttemptLimit struct {
	Max    int      `json:"max"`
	Window Duration `json:"window"`
}

// DefaultAttemptLimit is 15 failed attempts per card in 30 days.
var DefaultAttemptLimit = AttemptLimit{Max: 15, Window: Duration(30 * Day)}

// OrDefault returns l, or DefaultAttemptLimit when l is unset.
func (l AttemptLimit) OrDefault() AttemptLimit {
	if l.Max <= 0 || l.Window <= 0 {
		return DefaultAttemptLimit
	}
	return l
}

// NextAllowed returns the earliest instant at or after now at which one more attempt
// keeps the card within the limit, given when its earlier failed attempts happened (in
// any order, none after now). An attempt at t counts while t > now − Window.
func (l AttemptLimit) NextAllowed(now time.Time, failed []time.Time) time.Time {
	l = l.OrDefault()
	recent := l.Recent(now, failed)
	if len(recent) < l.Max {
		return now
	}
	// Sorted newest first, the Max-th newest failure must leave the window.
	slices.SortFunc(recent, func(a, b time.Time) int { return b.Compare(a) })
	return recent[l.Max-1].Add(l.Window.Std())
}

// Recent returns the failed attempts still inside the window at now, so callers can
// drop the rest from what they keep.
func (l AttemptLimit) Recent(now time.Time, failed []time.Time) []time.Time {
	l = l.OrDefault()
	cutoff := now.Add(-l.Window.Std())
	out := make([]time.Time, 0, len(failed))
	for _, t := range failed {
		if t.After(cutoff) {
			out = append(out, t)
		}
	}
	return out
}
