package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
	"github.com/recurring/recurring/store"
)

// object returns an event's data.object, failing unless data is exactly {"object": {…}}.
func object(t *testing.T, ev billing.Event) map[string]any {
	t.Helper()
	var data map[string]any
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatalf("%s data %s: %v", ev.Type, ev.Data, err)
	}
	obj, ok := data["object"].(map[string]any)
	if !ok || len(data) != 1 {
		t.Fatalf("%s data %s, want {\"object\": {…}}", ev.Type, ev.Data)
	}
	return obj
}

// asJSON is v as parsed JSON, for comparing renderings.
func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

func eventsOf(t *testing.T, db *store.DB, mer, typ string) []billing.Event {
	t.Helper()
	page, err := db.ListEvents(context.Background(), caller(mer), typ, billing.ListParams{Limit: billing.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func TestPaymentEventsShowThePaymentAsTheAPIDoes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		at := time.Date(2027, 1, 31, 9, 0, 0, 0, time.UTC)
		due := at.Add(-time.Minute)

		ok := attempt(mer, "plan_a", 1, 1, billing.PaymentSucceeded, "", at)
		ok.ProviderChargeID, ok.DueAt = "ch_1", &due
		declined := attempt(mer, "plan_a", 2, 1, billing.PaymentFailed, "soft_decline", at)
		declined.FailureCode, declined.FailureMessage = "insufficient_funds", "Insufficient funds"
		oneOff := billing.Payment{MerchantID: mer, Mode: billing.ModeTest, CustomerID: "cus_1", PaymentMethodID: "pm_1",
			Attempt: 1, Amount: 500, Currency: "JOD", Status: billing.PaymentSucceeded, PaymentType: "one_off",
			Provider: "simulator", IdempotencyKey: "payment_x"}
		// An attempt whose outcome nobody knew, settled by its retry: the event shows the
		// settled row, not the pending one.
		unknown := attempt(mer, "plan_a", 3, 1, billing.PaymentPending, "transient", at)
		unknown.FailureCode = "timeout"
		settled := attempt(mer, "plan_a", 3, 1, billing.PaymentSucceeded, "", at.Add(time.Hour))
		settled.ProviderChargeID = "ch_3"

		var ids []string
		for _, p := range []billing.Payment{ok, declined, oneOff, unknown, settled} {
			got, err := db.RecordPayment(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(ids, got.ID) {
				ids = append(ids, got.ID)
			}
		}
		evs := eventsOf(t, db, mer, "")
		if len(evs) != 4 {
			t.Fatalf("%d events, want 4 (the pending attempt announces nothing until settled)", len(evs))
		}
		slices.Reverse(evs) // oldest first, like ids
		wantTypes := []string{billing.EventPaymentSucceeded, billing.EventPaymentFailed, billing.EventPaymentSucceeded, billing.EventPaymentSucceeded}
		for i, ev := range evs {
			if ev.Type != wantTypes[i] {
				t.Errorf("event %d is %s, want %s", i, ev.Type, wantTypes[i])
			}
			p, err := db.GetPayment(ctx, caller(mer), ids[i])
			if err != nil {
				t.Fatal(err)
			}
			got, want := object(t, ev), asJSON(t, rest.PaymentObject(p))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s of %s:\n data.object %v\n the payment %v", ev.Type, p.ID, got, want)
			}
		}
		// The REST names, not the store's.
		first := object(t, evs[0])
		for _, k := range []string{"plan", "customer", "payment_method", "livemode", "provider_charge_id", "due_at"} {
			if _, ok := first[k]; !ok {
				t.Errorf("data.object has no %q: %v", k, first)
			}
		}
		for _, k := range []string{"plan_id", "customer_id", "payment_method_id", "mode", "idempotency_key", "updated_at"} {
			if _, ok := first[k]; ok {
				t.Errorf("data.object has the store's %q: %v", k, first)
			}
		}
		if failed := object(t, evs[1]); failed["failure_code"] != "insufficient_funds" || failed["status"] != "failed" {
			t.Errorf("payment.failed object %v", failed)
		}
		if settled := object(t, evs[3]); settled["status"] != "succeeded" || settled["provider_charge_id"] != "ch_3" || settled["failure_code"] != nil {
			t.Errorf("the settled attempt's object %v", settled)
		}
		if one := object(t, evs[2]); one["plan"] != nil || one["installment"] != nil || one["attempt"] != nil {
			t.Errorf("a one-off payment's object %v has plan fields", one)
		}
	})
}

func TestPlanEventsAnnounceEveryChangeOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		var seen int
		// expect checks that the updates since the last call appended exactly want
		// (oldest first), each showing the plan's row as it is now.
		expect := func(step string, want ...string) {
			t.Helper()
			evs := eventsOf(t, db, mer, "")
			slices.Reverse(evs)
			fresh := evs[seen:]
			seen = len(evs)
			var types []string
			for _, ev := range fresh {
				types = append(types, ev.Type)
			}
			if !slices.Equal(types, want) {
				t.Fatalf("%s: events %v, want %v", step, types, want)
			}
			row, err := db.GetPlan(ctx, caller(mer), "plan_a")
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range fresh {
				if got, want := object(t, ev), asJSON(t, rest.PlanObject(row)); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: %s data.object\n %v\nwant the plan as recorded\n %v", step, ev.Type, got, want)
				}
				if ev.MerchantID != mer || ev.Mode != billing.ModeTest {
					t.Errorf("%s: event of %s/%s", step, ev.MerchantID, ev.Mode)
				}
			}
		}
		update := func(u billing.PlanUpdate) {
			t.Helper()
			u.PlanID = "plan_a"
			if err := db.UpdatePlanState(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		next := time.Date(2027, 2, 28, 9, 0, 0, 0, time.UTC)
		later := next.AddDate(0, 1, 0)
		named := func(seq int, typ string) *billing.Event {
			// As the activity names it: type and key only; the store fills in the rest.
			return &billing.Event{Type: typ, IdempotencyKey: fmt.Sprintf("plan_a/state/%d/%s", seq, typ)}
		}

		if _, _, err := db.CreatePlan(ctx, testPlan(mer, "plan_a")); err != nil {
			t.Fatal(err)
		}
		expect("create", billing.EventPlanCreated)
		if _, _, err := db.CreatePlan(ctx, testPlan(mer, "plan_a")); err != nil {
			t.Fatal(err)
		}
		expect("create again (a retried activity)")

		update(billing.PlanUpdate{Seq: 1, Status: "paused"})
		expect("pause", billing.EventPlanUpdated)
		update(billing.PlanUpdate{Seq: 1, Status: "paused"})
		expect("the same update again")

		update(billing.PlanUpdate{Seq: 2, Status: "active", NextChargeAt: &next})
		expect("resume", billing.EventPlanUpdated)
		update(billing.PlanUpdate{Seq: 3, Status: "active", NextChargeAt: &later})
		expect("only the next charge moved")
		update(billing.PlanUpdate{Seq: 4, Status: "active", NextChargeAt: &later, PaymentMethodID: "pm_2"})
		expect("new card", billing.EventPlanUpdated)
		update(billing.PlanUpdate{Seq: 5, Status: "blocked"})
		expect("card blocked", billing.EventPlanUpdated)

		update(billing.PlanUpdate{Seq: 6, Status: "past_due", Event: named(6, billing.EventPlanPastDue)})
		expect("past due", billing.EventPlanPastDue)
		update(billing.PlanUpdate{Seq: 6, Status: "past_due", Event: named(6, billing.EventPlanPastDue)})
		expect("past due again (a retried activity)")

		update(billing.PlanUpdate{Seq: 3, Status: "active", NextChargeAt: &next})
		expect("an older update")
		if row, _ := db.GetPlan(ctx, caller(mer), "plan_a"); row.Status != "past_due" || row.StateSeq != 6 {
			t.Errorf("an older update changed the row: %+v", row)
		}

		update(billing.PlanUpdate{Seq: 7, Status: "canceled", Event: named(7, billing.EventPlanCanceled)})
		expect("cancel", billing.EventPlanCanceled)
		if obj := object(t, eventsOf(t, db, mer, billing.EventPlanCanceled)[0]); obj["status"] != "canceled" ||
			obj["payment_method"] != "pm_2" || obj["customer"] != "cus_1" || obj["object"] != "plan" {
			t.Errorf("plan.canceled object %v", obj)
		}
	})
}

func TestOldEventsAreReadInTheCurrentShape(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		plan := testPlan(mer, "plan_a")
		plan.CreatedAt = time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)
		if _, _, err := db.CreatePlan(ctx, plan); err != nil {
			t.Fatal(err)
		}
		// The plan moved on since (a new card, canceled).
		if err := db.UpdatePlanState(ctx, billing.PlanUpdate{PlanID: "plan_a", Seq: 9, Status: "canceled", PaymentMethodID: "pm_7"}); err != nil {
			t.Fatal(err)
		}
		// Data as the engine wrote it before data.object: the payment row's own JSON,
		// and the plan workflow's state.
		oldPayment := `{"id":"pay_old1","mode":"test","plan_id":"plan_a","customer_id":"cus_1","payment_method_id":"pm_1",
			"installment":2,"attempt":1,"amount":1000,"amount_refunded":0,"currency":"USD","status":"failed","payment_type":"recurring",
			"is_recurring":true,"provider":"simulator","network_transaction_id":"nti_1","failure_code":"insufficient_funds",
			"failure_class":"soft_decline","failure_message":"Insufficient funds","due_at":"2027-02-01T09:00:00Z",
			"attempted_at":"2027-02-01T09:00:01Z","created_at":"2027-02-01T09:00:01.5Z","updated_at":"2027-02-01T09:00:01.5Z"}`
		oldPlan := `{"plan_id":"plan_a","status":"past_due","payment_method_id":"pm_1","next_installment":2,
			"next_due_at":"2027-02-01T09:00:00Z","paid":1,"paid_amount":1000,"skipped":0,
			"last_error":{"installment":2,"attempt":1,"class":"soft_decline","code":"insufficient_funds","at":"2027-02-01T09:00:01Z"}}`
		pay, err := db.AppendEvent(ctx, billing.Event{MerchantID: mer, Mode: billing.ModeTest, Type: billing.EventPaymentFailed,
			Data: billing.JSONDoc(oldPayment), IdempotencyKey: "payment/plan_a/2/1/failed"})
		if err != nil {
			t.Fatal(err)
		}
		pd, err := db.AppendEvent(ctx, billing.Event{MerchantID: mer, Mode: billing.ModeTest, Type: billing.EventPlanPastDue,
			Data: billing.JSONDoc(oldPlan), IdempotencyKey: "plan_a/state/2/plan.past_due"})
		if err != nil {
			t.Fatal(err)
		}
		wantPayment := mustJSON(t, `{"id":"pay_old1","object":"payment","plan":"plan_a","customer":"cus_1","payment_method":"pm_1",
			"installment":2,"attempt":1,"amount":1000,"amount_refunded":0,"currency":"USD","status":"failed","payment_type":"recurring",
			"is_recurring":true,"provider":"simulator","livemode":false,"created_at":"2027-02-01T09:00:01.5Z",
			"due_at":"2027-02-01T09:00:00Z","failure_code":"insufficient_funds","failure_class":"soft_decline",
			"failure_message":"Insufficient funds"}`)
		// The plan's fixed fields from its row; status, card, next charge and what had been
		// collected as they were.
		wantPlan := mustJSON(t, `{"id":"plan_a","object":"plan","customer":"cus_1","payment_method":"pm_1","provider":"simulator",
			"currency":"USD","status":"past_due","livemode":false,"created_at":"2027-01-01T08:00:00Z","live_state":false,
			"type":"ecom","reference":"order-1","merchant_data":{"k":"v"},"schedule":{"frequency":"months"},
			"paid":1,"paid_amount":1000}`)

		check := func(how string, evs ...billing.Event) {
			t.Helper()
			for _, ev := range evs {
				want := wantPayment
				if ev.ID == pd.ID {
					want = wantPlan
				}
				if got := object(t, ev); !reflect.DeepEqual(got, want) {
					t.Errorf("%s %s:\n got  %v\n want %v", how, ev.Type, got, want)
				}
			}
		}
		for _, id := range []string{pay.ID, pd.ID} {
			ev, err := db.GetEvent(ctx, caller(mer), id)
			if err != nil {
				t.Fatal(err)
			}
			check("GetEvent", ev)
			ev, err = db.EventByID(ctx, mer, id)
			if err != nil {
				t.Fatal(err)
			}
			check("EventByID (deliveries)", ev)
		}
		check("ListEvents", eventsOf(t, db, mer, "")[:2]...)

		// A new event is stored as it is served.
		if _, err := db.RecordPayment(ctx, attempt(mer, "plan_a", 3, 1, billing.PaymentSucceeded, "", time.Now())); err != nil {
			t.Fatal(err)
		}
		var raw string
		if err := db.GetContext(ctx, &raw, db.Rebind(`SELECT data FROM events WHERE type = ?`), billing.EventPaymentSucceeded); err != nil {
			t.Fatal(err)
		}
		if ev := (billing.Event{Type: billing.EventPaymentSucceeded, Data: billing.JSONDoc(raw)}); object(t, ev)["object"] != "payment" {
			t.Errorf("stored data %s", raw)
		}
	})
}
