package activities

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/recurring/recurring/billing"
)

type farPacer struct{ withins []time.Duration }

func (p *farPacer) ReserveChargeSlot(_ context.Context, _ string, _, within time.Duration, now time.Time) (time.Time, bool, error) {
	p.withins = append(p.withins, within)
	slot := now.Add(time.Minute)
	return slot, within <= 0, nil
}

// TestARetryIsNeverQueuedByThePlan: a retry of the activity (attempt 2) may follow a
// try that reached the provider, so it is never handed back to the plan as "nothing
// sent" (PacedUntil), even when the plan could wait: it waits inside the activity up to
// paceHoldLong, then fails retryably, and the attempt's outcome stays unknown.
func TestARetryIsNeverQueuedByThePlan(t *testing.T) {
	pacer := &farPacer{}
	a := New(Deps{Pacer: pacer})
	card := billing.ChargeableCard{Provider: "fake", ProviderAccount: "pa_1", MaxChargesPerSecond: 3}
	until, err := a.pace(context.Background(), ChargeRequest{CanWait: true}, card, 2)
	var appErr *temporal.ApplicationError
	if !until.IsZero() || !errors.As(err, &appErr) || appErr.NonRetryable() || appErr.Type() != ErrPaced {
		t.Fatalf("retry = %v, %v; want a retryable paced failure, no slot handed back", until, err)
	}
	if len(pacer.withins) != 1 || pacer.withins[0] != paceHoldLong {
		t.Fatalf("reservations within %v; want one, within %v", pacer.withins, paceHoldLong)
	}
	// The same call as a first try is handed its slot.
	if until, err := a.pace(context.Background(), ChargeRequest{CanWait: true}, card, 1); err != nil || until.IsZero() {
		t.Fatalf("first try = %v, %v; want the slot", until, err)
	}
}

// TestPaceIntervalRoundsUp: rate slots never fit in less than a second.
func TestPaceIntervalRoundsUp(t *testing.T) {
	for rate, want := range map[int]time.Duration{1: time.Second, 3: 333334 * time.Microsecond, 4: 250 * time.Millisecond,
		7: 142858 * time.Microsecond, 10000: 100 * time.Microsecond} {
		got := paceInterval(rate)
		if got != want || time.Duration(rate)*got < time.Second {
			t.Errorf("paceInterval(%d) = %v, want %v", rate, got, want)
		}
	}
}
