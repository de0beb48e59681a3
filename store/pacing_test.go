package store_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recurring/recurring/store"
)

func TestChargeSlotsAreSpacedAcrossReservers(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
		const interval = 100 * time.Millisecond

		// 20 workers reserve at the same instant: 20 distinct slots, one interval apart,
		// from now on, whatever order the database serialized them in.
		slots := make([]time.Time, 20)
		var wg sync.WaitGroup
		for i := range slots {
			wg.Go(func() {
				slot, ok, err := db.ReserveChargeSlot(ctx, "account/pa_1", interval, 0, now)
				if err != nil || !ok {
					t.Errorf("reserve %d: ok=%v err=%v", i, ok, err)
				}
				slots[i] = slot
			})
		}
		wg.Wait()
		slices.SortFunc(slots, func(a, b time.Time) int { return a.Compare(b) })
		for i, s := range slots {
			if want := now.Add(time.Duration(i) * interval); !s.Equal(want) {
				t.Fatalf("slot %d = %s, want %s (all: %v)", i, s, want, slots)
			}
		}

		// Within: a slot further off than that is not taken, and says when the lane is
		// next free; the lane's queue is unchanged.
		if slot, ok, err := db.ReserveChargeSlot(ctx, "account/pa_1", interval, time.Second, now); err != nil || ok ||
			!slot.Equal(now.Add(20*interval)) {
			t.Fatalf("reserve within 1s of a 2s queue = %s, %v, %v; want not taken, free at %s", slot, ok, err, now.Add(20*interval))
		}
		if slot, ok, err := db.ReserveChargeSlot(ctx, "account/pa_1", interval, 3*time.Second, now); err != nil || !ok ||
			!slot.Equal(now.Add(20*interval)) {
			t.Fatalf("reserve within 3s = %s, %v, %v; want the 21st slot", slot, ok, err)
		}

		// Another lane has its own queue, and an idle lane starts at the caller's now.
		if slot, ok, err := db.ReserveChargeSlot(ctx, "provider/simulator", interval, 0, now); err != nil || !ok || !slot.Equal(now) {
			t.Fatalf("other lane = %s, %v, %v; want now", slot, ok, err)
		}
		later := now.Add(time.Hour)
		if slot, ok, err := db.ReserveChargeSlot(ctx, "account/pa_1", interval, 0, later); err != nil || !ok || !slot.Equal(later) {
			t.Fatalf("after the queue drained = %s, %v, %v; want %s", slot, ok, err, later)
		}
		if _, _, err := db.ReserveChargeSlot(ctx, "account/pa_1", 0, 0, now); err == nil {
			t.Fatal("a zero interval was accepted")
		}
	})
}
