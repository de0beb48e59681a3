package servertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/store"
)

// TestPacedBurstOnRealServer: twelve plans fall due at one instant on a provider paced
// at 4 charges per second (the installation's, as CHARGE_RATE_LIMITS sets it), in a
// lane another burst has filled for the next ten seconds. Every plan is handed its
// slot, sleeps on a workflow timer until then (plan version 9; again if it woke too
// late for it) and is charged once;
// the provider never sees the k-th charge before the k-th slot, and the ledger's
// attempt times show the queueing. With -record one plan's history is written to
// workflows/testdata/plan_paced_charge.json.
func TestPacedBurstOnRealServer(t *testing.T) {
	const rate, plans = 4, 12
	var mu sync.Mutex
	var sent []time.Time
	e := startEnv(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		mu.Lock()
		sent = append(sent, time.Now())
		mu.Unlock()
		return activitiestest.Succeed(c)
	}, nil, oneCard(), &activitiestest.Notifier{}, func(d *activities.Deps, db *store.DB) {
		d.Pacer, d.Rates = db, map[string]int{"fake": rate}
	})
	ctx := context.Background()
	due := time.Now().Add(4 * time.Second).Truncate(time.Second)
	// Another burst took the lane's next ten seconds (40 slots at 4 a second), before
	// any plan starts.
	const taken = 10 * time.Second
	for range 40 {
		if _, ok, err := e.db.ReserveChargeSlot(ctx, "provider/fake", time.Second/rate, 0, due); err != nil || !ok {
			t.Fatalf("prefill: %v %v", ok, err)
		}
	}
	for i := range plans {
		in := testPlan(t, e, fmt.Sprintf("plan_paced_%02d", i), 1, 1)
		amount, n, every := int64(1000), 1, 1
		tt, err := billing.Schedule{Frequency: billing.FrequencySeconds, FrequencyDuration: &every, RecurringAmount: &amount,
			Installments: &n, StartDate: due.UTC().Format(time.RFC3339)}.Resolve(billing.ModeTest, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		in.Timetable = tt
		if _, err := starter.StartPlan(ctx, e.c, in); err != nil {
			t.Fatal(err)
		}
	}
	caller := billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}
	for i := range plans {
		id := fmt.Sprintf("plan_paced_%02d", i)
		res := runToEnd(t, e, id)
		if res.Status != billing.PlanCompleted || res.Paid != 1 {
			t.Fatalf("%s: %+v, want completed with 1 paid", id, res)
		}
		if keys := chargedKeys(e, id); len(keys) != 1 {
			t.Fatalf("%s charged %v, want once", id, keys)
		}
		// Queued through the workflow: a Charge that sent nothing, a timer, the Charge.
		// A plan that woke more than half an interval after its slot (a loaded machine)
		// queues again, so there may be more; never fewer.
		charges := 0
		for _, ev := range history(t, e.c, id).GetEvents() {
			if ev.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
				ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "Charge" {
				charges++
			}
		}
		if charges < 2 {
			t.Errorf("%s scheduled %d Charge activities, want at least 2 (queued, then charged in its slot)", id, charges)
		}
		page, err := e.db.ListPlanPayments(ctx, caller, id, billing.ListParams{Limit: 10})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("%s ledger: %v, %v", id, page.Items, err)
		}
		if at := page.Items[0].AttemptedAt; at.Before(due.Add(taken)) {
			t.Errorf("%s attempted at %v, before its slot (due %s + %s queued)", id, at, due.Format(time.TimeOnly), taken)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(sent, func(a, b time.Time) int { return a.Compare(b) })
	// Slots are handed out one every 250 ms from due+10s on; a charge is sent no
	// earlier than its slot, so the k-th send is no earlier than the k-th slot.
	for k, at := range sent {
		if slot := due.Add(taken + time.Duration(k)*time.Second/rate); at.Before(slot.Add(-2 * time.Millisecond)) {
			t.Errorf("charge %d sent at %s, before its slot %s", k, at.Format("15:04:05.000"), slot.Format("15:04:05.000"))
		}
	}
	if *record && !t.Failed() {
		writeHistory(t, history(t, e.c, "plan_paced_00"), "plan_paced_charge.json")
	}
}
