package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/workflows"
)

// pacedCharges scripts the Charge activity: the first call of each installment's
// attempt is queued (answer), later ones go to the real activity. It keeps every
// request and the workflow time it arrived at.
type pacedCharges struct {
	mu    sync.Mutex
	reqs  []activities.ChargeRequest
	times []time.Time
}

func (p *pacedCharges) calls() ([]activities.ChargeRequest, []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]activities.ChargeRequest(nil), p.reqs...), append([]time.Time(nil), p.times...)
}

// TestPacedChargeSleepsUntilItsSlot: a charge the provider account's pace queues comes
// back with its slot (PacedUntil): the plan sleeps until then on a timer and charges in
// it (Slot set), once, under the same key; the installment's attempt time is the slot,
// not the due instant.
func TestPacedChargeSleepsUntilItsSlot(t *testing.T) {
	h := newHarness(t, nil)
	in := input(t, monthly("2027-01-31", 2))
	in.InitialNetworkTransactionID = "nti_initial"
	p := &pacedCharges{}
	queued := map[string]bool{}
	h.env.OnActivity(h.acts.Charge, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, req activities.ChargeRequest) (activities.ChargeResult, error) {
			p.mu.Lock()
			p.reqs, p.times = append(p.reqs, req), append(p.times, h.env.Now())
			first := !queued[req.IdempotencyKey]
			queued[req.IdempotencyKey] = true
			p.mu.Unlock()
			if first {
				return activities.ChargeResult{PacedUntil: h.env.Now().Add(90 * time.Second)}, nil
			}
			return h.acts.Charge(ctx, req)
		})
	res := h.run(in)
	if res.Status != billing.PlanCompleted || res.Paid != 2 {
		t.Fatalf("result %+v, want completed with 2 paid", res)
	}
	reqs, times := p.calls()
	if len(reqs) != 4 {
		t.Fatalf("%d Charge calls, want 4 (queued, charged, twice)", len(reqs))
	}
	for i := 0; i < 4; i += 2 {
		q, c := reqs[i], reqs[i+1]
		if !q.CanWait || !q.Slot.IsZero() || !c.CanWait || q.IdempotencyKey != c.IdempotencyKey {
			t.Errorf("installment %d: queued %+v then %+v; want CanWait, the same key", i/2+1, q, c)
		}
		if want := times[i].Add(90 * time.Second); !c.Slot.Equal(want) || times[i+1].Before(want) {
			t.Errorf("installment %d charged at %s with slot %s, want at or after its slot %s", i/2+1, times[i+1], c.Slot, want)
		}
	}
	if n := len(h.provider.Calls()); n != 2 {
		t.Errorf("provider charged %d times, want 2", n)
	}
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:01:30Z"), 1000, "pm_card1"},
		{2, 1, "succeeded", utc("2027-02-28T09:01:30Z"), 1000, "pm_card1"},
	})
}

// TestPacedRefusalKeepsTheAttempt: a charge refused by the pace (ErrPaced: nothing was
// sent) is not an attempt: no ledger row, no dunning; the plan tries again when the
// lane frees, under the same key. A card change while the plan waits for a slot drops
// the slot (it belongs to the old card's lane).
func TestPacedRefusalKeepsTheAttempt(t *testing.T) {
	h := newHarness(t, nil)
	in := input(t, monthly("2027-01-31", 2))
	in.InitialNetworkTransactionID = "nti_initial"
	p := &pacedCharges{}
	n := 0
	h.env.OnActivity(h.acts.Charge, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, req activities.ChargeRequest) (activities.ChargeResult, error) {
			p.mu.Lock()
			p.reqs, p.times = append(p.reqs, req), append(p.times, h.env.Now())
			n++
			call := n
			p.mu.Unlock()
			switch call {
			case 1: // installment 1: refused, try after two minutes
				return activities.ChargeResult{}, temporal.NewNonRetryableApplicationError("rate_limited", activities.ErrPaced, nil,
					activities.ChargeFailure{Type: activities.ErrPaced, Code: billing.CodeRateLimited, Provider: "fake",
						Until: h.env.Now().Add(2 * time.Minute)})
			case 3: // installment 2: queued for an hour; the card changes meanwhile
				return activities.ChargeResult{PacedUntil: h.env.Now().Add(time.Hour)}, nil
			}
			return h.acts.Charge(ctx, req)
		})
	h.at(utc("2027-02-28T09:30:00Z"), func() {
		h.update(workflows.UpdateChangePaymentMethod, workflows.ChangePaymentMethodRequest{PaymentMethodID: "pm_card2"})
	})
	res := h.run(in)
	if res.Status != billing.PlanCompleted || res.Paid != 2 {
		t.Fatalf("result %+v, want completed with 2 paid", res)
	}
	reqs, times := p.calls()
	if len(reqs) != 4 {
		t.Fatalf("%d Charge calls, want 4", len(reqs))
	}
	if reqs[0].IdempotencyKey != reqs[1].IdempotencyKey || times[1].Sub(times[0]) < 2*time.Minute {
		t.Errorf("after the refusal: %s at %s, then %s at %s; want the same key two minutes on",
			reqs[0].IdempotencyKey, times[0], reqs[1].IdempotencyKey, times[1])
	}
	if !reqs[3].Slot.IsZero() || reqs[3].PaymentMethodID != "pm_card2" || times[3].After(utc("2027-02-28T09:31:00Z")) {
		t.Errorf("after the card change: %+v at %s; want pm_card2 charged at once, without the old lane's slot", reqs[3], times[3])
	}
	h.wantPayments([]payment{
		{1, 1, "succeeded", utc("2027-01-31T09:02:00Z"), 1000, "pm_card1"},
		{2, 1, "succeeded", utc("2027-02-28T09:30:00Z"), 1000, "pm_card2"},
	})
}
