package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store"
)

// TestStoreGauges: installments waiting counts active plans whose next charge is at or
// before now (not later ones, not paused or finished plans); the outbox backlog counts
// undispatched events and dates the oldest; both dialects.
func TestStoreGauges(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
		for i, c := range []struct {
			status string
			next   time.Time
		}{
			{"active", now.Add(-time.Hour)}, {"active", now}, {"active", now.Add(time.Minute)},
			{"paused", now.Add(-time.Hour)}, {"completed", now.Add(-time.Hour)},
		} {
			p := testPlan(mer, fmt.Sprintf("plan_g%d", i))
			p.Status, p.NextChargeAt = billing.PlanStatus(c.status), &c.next
			if _, _, err := db.CreatePlan(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := db.InstallmentsWaiting(ctx, now); err != nil || n != 2 {
			t.Errorf("installments waiting = %d, %v; want 2 (due an hour ago and now)", n, err)
		}

		// Creating the plans wrote their events: dispatch them, as the dispatcher would.
		pending, err := db.UndispatchedEvents(ctx, 100)
		if err != nil || len(pending) != 5 {
			t.Fatalf("the plans' events: %d, %v", len(pending), err)
		}
		if n, _, err := db.OutboxBacklog(ctx); err != nil || n != 5 {
			t.Errorf("outbox with the plans' events = %d, %v; want 5", n, err)
		}
		for _, ev := range pending {
			if err := db.MarkEventDispatched(ctx, ev.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n, oldest, err := db.OutboxBacklog(ctx); err != nil || n != 0 || !oldest.IsZero() {
			t.Errorf("empty outbox = %d, %v, %v", n, oldest, err)
		}
		var first billing.Event
		for i := range 3 {
			ev, err := db.AppendEvent(ctx, billing.Event{MerchantID: mer, Mode: billing.ModeTest, Type: "x", IdempotencyKey: fmt.Sprint(i)})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = ev
			}
		}
		n, oldest, err := db.OutboxBacklog(ctx)
		if err != nil || n != 3 || !oldest.Equal(first.CreatedAt.UTC()) {
			t.Errorf("outbox = %d, oldest %v, %v; want 3, the first event's %v", n, oldest, err, first.CreatedAt)
		}
		if err := db.MarkEventDispatched(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
		if n, oldest, err := db.OutboxBacklog(ctx); err != nil || n != 2 || oldest.Before(first.CreatedAt) {
			t.Errorf("after dispatching the oldest = %d, %v, %v", n, oldest, err)
		}
	})
}
