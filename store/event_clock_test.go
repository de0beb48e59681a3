package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store"
)

// TestEventsTakeTheStoreClock: an event's created_at comes from the store's clock, like
// every other row's, so tests (and test clocks) control it.
func TestEventsTakeTheStoreClock(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		at := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
		db.Now = func() time.Time { return at }
		ev, err := db.AppendEvent(context.Background(), billing.Event{MerchantID: newMerchant(t, db), Mode: billing.ModeTest,
			Type: "plan.completed", IdempotencyKey: "clock"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.GetEvent(context.Background(), caller(ev.MerchantID), ev.ID)
		if err != nil || !got.CreatedAt.Equal(at) || !ev.CreatedAt.Equal(at) {
			t.Errorf("event created_at %v (stored %v, %v), want the store clock's %v", ev.CreatedAt, got.CreatedAt, err, at)
		}
	})
}
