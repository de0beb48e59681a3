package activities_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// scriptedPacer answers every reservation with slot (relative to the caller's now)
// when it is within the caller's bound, and records what it was asked.
type scriptedPacer struct {
	ahead time.Duration
	mu    sync.Mutex
	asked []reservation
}

type reservation struct {
	lane             string
	interval, within time.Duration
}

func (p *scriptedPacer) ReserveChargeSlot(_ context.Context, lane string, interval, within time.Duration, now time.Time) (time.Time, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, reservation{lane, interval, within})
	slot := now.Add(p.ahead)
	return slot, within <= 0 || p.ahead <= within, nil
}

func (p *scriptedPacer) reservations() []reservation {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]reservation(nil), p.asked...)
}

// TestChargesArePacedPerLane: a card in a paced provider account (or of a paced
// installation provider) takes a send slot before anything reaches the provider. A
// slot further off than the activity holds is handed to a workflow that can wait
// (PacedUntil, nothing sent) and refused retryably to one that cannot; a slot the
// workflow already holds is used without queueing again unless it went stale.
func TestChargesArePacedPerLane(t *testing.T) {
	prov := &activitiestest.Provider{ProviderName: "fake"}
	pms := activitiestest.NewPaymentMethods(map[string]activitiestest.Card{
		"pm_acc":  {Provider: "fake", Token: "tok_acc", ProviderAccount: "pa_1", MaxChargesPerSecond: 5},
		"pm_inst": {Provider: "fake", Token: "tok_inst"},
		"pm_free": {Provider: "fake", Token: "tok_free", ProviderAccount: "pa_1"}, // an account without a pace
	})
	pacer := &scriptedPacer{}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(activities.New(activities.Deps{Providers: activitiestest.Providers{"fake": prov},
		Accounts: fakeAccounts{prov}, PaymentMethods: pms, Pacer: pacer, Rates: map[string]int{"fake": 50},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	var a *activities.Activities
	charge := func(req activities.ChargeRequest) (activities.ChargeResult, error) {
		v, err := env.ExecuteActivity(a.Charge, req)
		if err != nil {
			return activities.ChargeResult{}, err
		}
		var res activities.ChargeResult
		return res, v.Get(&res)
	}

	// A queue ten seconds long: the plan gets its slot back and nothing is sent.
	pacer.ahead = 10 * time.Second
	req := chargeReq("pm_acc", "plan_1/1/1")
	req.CanWait = true
	before := time.Now()
	res, err := charge(req)
	if err != nil || res.PacedUntil.Before(before.Add(10*time.Second)) || res.ChargeID != "" {
		t.Fatalf("queued charge = %+v, %v; want PacedUntil ≥ now+10s and no charge", res, err)
	}
	if n := len(prov.Calls()); n != 0 {
		t.Fatalf("the provider got %d charges while the charge was queued", n)
	}
	// First a slot the activity could wait for, then one however far off.
	if got := pacer.reservations(); len(got) != 2 || got[0] != (reservation{"account/pa_1", 200 * time.Millisecond, 2 * time.Second}) ||
		got[1] != (reservation{"account/pa_1", 200 * time.Millisecond, 0}) {
		t.Fatalf("reservations = %+v; want account/pa_1 at 200ms within 2s, then unbounded", got)
	}

	// The same queue for a plan that cannot wait (begun before versionPacedCharges):
	// a final "paced" failure saying when to try, nothing sent, nothing reserved.
	req.CanWait = false
	_, err = charge(req)
	f, appErr := failure(t, err)
	if !appErr.NonRetryable() || f.Type != activities.ErrPaced || f.Code != billing.CodeRateLimited ||
		f.Until.Before(before.Add(10*time.Second)) || len(prov.Calls()) != 0 {
		t.Fatalf("unqueueable charge = %+v (non-retryable %v), %d calls; want a final paced failure until the slot, none sent",
			f, appErr.NonRetryable(), len(prov.Calls()))
	}
	// A customer on the page waits longer inside the activity (here the queue is
	// longer still).
	pacer.ahead = 30 * time.Second
	present := chargeReq("pm_acc", "pay_1")
	present.Initiator = providers.InitiatorCustomer
	if _, err = charge(present); err == nil {
		t.Fatal("a customer-present charge went out past a 30 s queue")
	}
	if got := pacer.reservations(); len(got) != 4 || got[2].within != 2*time.Second || got[3].within != 20*time.Second {
		t.Fatalf("reservations = %+v; want 2s for the merchant-initiated refusal, 20s for the customer's", got)
	}
	req.CanWait = true

	// Back in its slot: charged at once, without a second reservation.
	req.CanWait, req.Slot = true, time.Now()
	if res, err := charge(req); err != nil || res.ChargeID == "" || !res.PacedUntil.IsZero() {
		t.Fatalf("charge in its slot = %+v, %v", res, err)
	}
	if n := len(pacer.reservations()); n != 4 {
		t.Fatalf("a held slot was reserved again: %d reservations", n)
	}

	// A slot the plan woke too late for is not used: it queues again (here: a short
	// queue the activity waits out).
	pacer.ahead = 0
	req.IdempotencyKey, req.Slot = "plan_1/2/1", time.Now().Add(-5*time.Second)
	if res, err := charge(req); err != nil || res.ChargeID == "" {
		t.Fatalf("charge after a stale slot = %+v, %v", res, err)
	}
	if n := len(pacer.reservations()); n != 5 {
		t.Fatalf("a stale slot was used: %d reservations, want 5", n)
	}

	// The installation's provider is paced by its configured rate, in its own lane;
	// an account without a pace is not paced at all.
	if _, err := charge(chargeReq("pm_inst", "plan_2/1/1")); err != nil {
		t.Fatal(err)
	}
	if got := pacer.reservations(); got[5].lane != "provider/fake" || got[5].interval != 20*time.Millisecond {
		t.Fatalf("installation reservation = %+v; want provider/fake at 20ms", got[5])
	}
	if _, err := charge(chargeReq("pm_free", "plan_3/1/1")); err != nil {
		t.Fatal(err)
	}
	if n := len(pacer.reservations()); n != 6 {
		t.Fatalf("an unpaced account reserved a slot: %d reservations", n)
	}
	if n := len(prov.Calls()); n != 4 {
		t.Fatalf("provider calls = %d, want 4", n)
	}
}
