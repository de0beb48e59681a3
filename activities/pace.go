package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// ChargePacer hands out send slots per lane, shared by every worker (the store).
type ChargePacer interface {
	ReserveChargeSlot(ctx context.Context, lane string, interval, within time.Duration, now time.Time) (time.Time, bool, error)
}

const (
	// paceHold is the longest a merchant-initiated charge waits for its slot inside
	// the activity (holding one of the worker's activity slots); a plan whose slot is
	// further off sleeps on a workflow timer instead.
	paceHold = 2 * time.Second
	// paceHoldLong is how long a charge that cannot hand the wait to its workflow
	// waits inside the activity: a customer-present charge (the payer is on the page)
	// or a retry of an attempt that may already have reached the provider. The
	// activity's minute leaves the provider call its 30 s after it.
	paceHoldLong = 20 * time.Second
	// maxSlotGrace bounds how late a reserved slot may still be used; the grace is
	// half the lane's interval when that is shorter, so a late charge never goes out
	// with the next slot's.
	maxSlotGrace = time.Second
)

// lane names the pacing lane a card is charged in and its charges per second (0: not
// paced): the merchant's provider account, or the installation's provider.
func (a *Activities) lane(card billing.ChargeableCard) (string, int) {
	if card.ProviderAccount != "" {
		return "account/" + card.ProviderAccount, card.MaxChargesPerSecond
	}
	return "provider/" + card.Provider, a.deps.Rates[card.Provider]
}

// paceInterval is the time between two slots at rate per second, rounded up to the
// microsecond the store keeps, so rate slots never fit in less than a second.
func paceInterval(rate int) time.Duration {
	d := (time.Second + time.Duration(rate) - 1) / time.Duration(rate)
	return (d + time.Microsecond - 1).Truncate(time.Microsecond)
}

// pace holds a charge to its lane's rate before anything is sent. It returns the zero
// time once the charge may go (after waiting inside the activity), or, to a plan that
// can wait (req.CanWait) on its first try, the later slot it reserved for the charge:
// the plan sleeps until then and calls again with req.Slot. A charge that cannot hand
// the wait over waits up to paceHold (paceHoldLong for a customer-present charge or a
// retry); past that, a first try fails with ErrPaced (final: nothing was sent, try
// after Until) and a retry fails retryably, its earlier try's outcome still unknown.
func (a *Activities) pace(ctx context.Context, req ChargeRequest, card billing.ChargeableCard, attempt int32) (time.Time, error) {
	lane, rate := a.lane(card)
	if rate <= 0 || a.deps.Pacer == nil {
		return time.Time{}, nil
	}
	interval := paceInterval(rate)
	grace := min(maxSlotGrace, interval/2)
	first := attempt <= 1
	now := time.Now()
	if !req.Slot.IsZero() && first && !now.After(req.Slot.Add(grace)) {
		return time.Time{}, holdUntil(ctx, req.Slot)
	}
	within := paceHold
	if req.Initiator == providers.InitiatorCustomer || !first {
		within = paceHoldLong
	}
	slot, ok, err := a.deps.Pacer.ReserveChargeSlot(ctx, lane, interval, within, now)
	if err != nil {
		return time.Time{}, err
	}
	if !ok && req.CanWait && first {
		// The queue is longer than the activity waits: take the next slot, however
		// far, and hand it to the plan.
		if slot, _, err = a.deps.Pacer.ReserveChargeSlot(ctx, lane, interval, 0, now); err != nil {
			return time.Time{}, err
		}
		return slot, nil
	}
	if !ok {
		f := ChargeFailure{Type: ErrPaced, Code: billing.CodeRateLimited, Provider: card.Provider, Until: slot,
			Message: "the provider account is at its charge rate; nothing was sent"}
		return time.Time{}, f.err(!first, nil)
	}
	return time.Time{}, holdUntil(ctx, slot)
}

// holdUntil waits until t or the context's end.
func holdUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attemptOf is the activity's attempt number (1 for the first try).
func attemptOf(ctx context.Context) int32 { return activity.GetInfo(ctx).Attempt }
