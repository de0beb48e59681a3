package store_test

import (
	"context"
	"testing"

	"github.com/recurring/recurring/providers/simulator"
	"github.com/recurring/recurring/store"
)

var _ simulator.Journal = (*store.SimulatorJournal)(nil)

func TestSimulatorJournalFirstAnswerStands(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		j := db.SimulatorJournal()
		if _, ok, err := j.LookupCharge(ctx, "plan_1/1/1"); ok || err != nil {
			t.Fatalf("empty journal: ok=%v err=%v", ok, err)
		}
		first := []byte(`{"request":"a","result":{"ID":"ch_1"}}`)
		got, err := j.SaveCharge(ctx, "plan_1/1/1", first)
		if err != nil || string(got) != string(first) {
			t.Fatalf("first save = %s, %v", got, err)
		}
		got, err = j.SaveCharge(ctx, "plan_1/1/1", []byte(`{"request":"b"}`))
		if err != nil || string(got) != string(first) {
			t.Fatalf("second save = %s, %v; want the first record", got, err)
		}
		if _, err := j.SaveCharge(ctx, "plan_1/1/2", []byte(`{"request":"a","error":{"code":"card_declined"}}`)); err != nil {
			t.Fatal(err)
		}
		if n, err := db.CountSimulatorCharges(ctx); err != nil || n != 1 {
			t.Fatalf("CountSimulatorCharges = %d, %v; want 1 (one success, one decline)", n, err)
		}
	})
}
