package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store"
)

// TestPlanEventsCountWhatWasCollected: the plan row keeps no payment counts, yet a
// plan event's data.object says what the ledger holds (succeeded attempts only), so
// plan.completed does not announce a plan that collected nothing.
func TestPlanEventsCountWhatWasCollected(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		if _, _, err := db.CreatePlan(ctx, testPlan(mer, "plan_p")); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2027, 1, 31, 9, 0, 0, 0, time.UTC)
		for _, p := range []billing.Payment{
			attempt(mer, "plan_p", 1, 1, billing.PaymentSucceeded, "", at),
			attempt(mer, "plan_p", 2, 1, billing.PaymentFailed, "soft_decline", at.AddDate(0, 1, 0)),
			attempt(mer, "plan_p", 2, 2, billing.PaymentSucceeded, "", at.AddDate(0, 1, 1)),
			attempt(mer, "plan_other", 1, 1, billing.PaymentSucceeded, "", at),
		} {
			if _, err := db.RecordPayment(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.UpdatePlanState(ctx, billing.PlanUpdate{PlanID: "plan_p", Seq: 1, Status: "completed",
			Event: &billing.Event{Type: billing.EventPlanCompleted, IdempotencyKey: "plan_p/state/1/plan.completed"}}); err != nil {
			t.Fatal(err)
		}
		created := eventsOf(t, db, mer, billing.EventPlanCreated)
		completed := eventsOf(t, db, mer, billing.EventPlanCompleted)
		if len(created) != 1 || len(completed) != 1 {
			t.Fatalf("%d plan.created, %d plan.completed events, want 1 each", len(created), len(completed))
		}
		if o := object(t, created[0]); o["paid"] != 0.0 || o["paid_amount"] != 0.0 {
			t.Errorf("plan.created says paid %v, %v; want 0, 0", o["paid"], o["paid_amount"])
		}
		if o := object(t, completed[0]); o["paid"] != 2.0 || o["paid_amount"] != 2000.0 || o["status"] != "completed" {
			t.Errorf("plan.completed says paid %v, %v, status %v; want 2, 2000, completed", o["paid"], o["paid_amount"], o["status"])
		}
	})
}
