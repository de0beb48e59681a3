package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/recurring/recurring/billing"
)

// ChargePacer hands out send slots per lane, shared by every worker (the store).
type ChargePacer interface {
	ReserveChargeSlot(ctx context.Context, lane string, interval, within time.Duration, now time.Time) (time.Time, bool, error)
}

const (
	// paceHold is the longest a charge waits for its slot inside the activity (holding
	// one of the worker's activity slots); a plan whose slot is further off sleeps on
	// a workflow timer instead.
	paceHold = 2 * time.Second
	// slotGrace: a slot reserved earlier is used up to this long after its instant; a
	// plan that woke later (a lagging worker) takes a fresh one, so late wake-ups
	// cannot pile onto the slots others hold.
	slotGrace = time.Second
)

// lane names the pacing lane a card is charged in and its charges per second (0: not
// paced): the merchant's provider account, or the installation's provider.
func (a *Activities) lane(card billing.ChargeableCard) (string, int) {
	if card.ProviderAccount != "" {
		return "account/" + card.ProviderAccount, card.MaxChargesPerSecond
	}
	return "provider/" + card.Provider, a.deps.Rates[card.Provider]
}

// pace holds a charge to its lane's rate before anything is sent. It returns the zero
// time once the charge may go (after waiting up to paceHold), or, for a workflow that
// can wait (req.CanWait), the later slot it reserved for this charge: the workflow
// sleeps until then and calls again with req.Slot set. Without CanWait a slot further
// off than paceHold is not taken: the activity fails retryably with nothing sent and
// its retry policy backs off.
func (a *Activities) pace(ctx context.Context, req ChargeRequest, card billing.ChargeableCard) (time.Time, error) {
	lane, rate := a.lane(card)
	if rate <= 0 || a.deps.Pacer == nil {
		return time.Time{}, nil
	}
	now := time.Now()
	first := activity.GetInfo(ctx).Attempt <= 1
	if !req.Slot.IsZero() && first && !now.After(req.Slot.Add(slotGrace)) {
		return time.Time{}, holdUntil(ctx, req.Slot)
	}
	within := time.Duration(0) // any slot: the workflow waits for it
	if !req.CanWait {
		within = paceHold
	}
	slot, ok, err := a.deps.Pacer.ReserveChargeSlot(ctx, lane, time.Second/time.Duration(rate), within, now)
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		return time.Time{}, ChargeFailure{Type: ErrTransient, Code: billing.CodeRateLimited, Provider: card.Provider,
			Message: "the provider account is at its charge rate; nothing was sent"}.err(true, nil)
	}
	if slot.Sub(now) > paceHold && req.CanWait {
		return slot, nil
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
