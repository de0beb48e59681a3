package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store"
)

func newMerchant(t *testing.T, db *store.DB) string {
	t.Helper()
	m, err := db.CreateMerchant(context.Background(), "Acme", store.NewSecretKey(billing.ModeTest))
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func testPlan(merchantID, id string) billing.Plan {
	next := time.Date(2027, 1, 31, 9, 0, 0, 123456789, time.UTC)
	return billing.Plan{
		ID: id, MerchantID: merchantID, Mode: billing.ModeTest, CustomerID: "cus_1", PaymentMethodID: "pm_1",
		Provider: "simulator", Currency: "USD", Type: "ecom", Reference: "order-1",
		MerchantData: billing.JSONDoc(`{"k":"v"}`), Schedule: billing.JSONDoc(`{"frequency":"months"}`),
		Timetable: billing.JSONDoc(`{"timezone":"UTC"}`), Dunning: billing.JSONDoc(`{"retries":["1d"],"outcome":"past_due"}`),
		Status: "active", NextChargeAt: &next,
	}
}

func TestCreatePlanIsInsertOrGet(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		p, created, err := db.CreatePlan(ctx, testPlan(mer, "plan_a"))
		if err != nil || !created {
			t.Fatalf("create: created=%v err=%v", created, err)
		}
		if p.NextChargeAt == nil || !p.NextChargeAt.Equal(time.Date(2027, 1, 31, 9, 0, 0, 123456000, time.UTC)) {
			t.Errorf("next charge %v, want microsecond precision in UTC", p.NextChargeAt)
		}
		var md map[string]string
		if err := json.Unmarshal(p.MerchantData, &md); err != nil || md["k"] != "v" {
			t.Errorf("merchant data %s (%v)", p.MerchantData, err)
		}
		again := testPlan(mer, "plan_a")
		again.Reference = "changed"
		p2, created, err := db.CreatePlan(ctx, again)
		if err != nil || created || p2.Reference != "order-1" {
			t.Errorf("second create: %+v created=%v err=%v, want the stored row", p2, created, err)
		}
		other := newMerchant(t, db)
		if _, _, err := db.CreatePlan(ctx, testPlan(other, "plan_a")); billing.KindOf(err) != billing.KindConflict {
			t.Errorf("another merchant's plan id: %v, want conflict", err)
		}
		if _, err := db.GetPlan(ctx, billing.Caller{MerchantID: other, Mode: billing.ModeTest}, "plan_a"); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("another merchant reads plan: %v, want not found", err)
		}
		if _, err := db.GetPlan(ctx, billing.Caller{MerchantID: mer, Mode: billing.ModeLive}, "plan_a"); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("live key reads a test plan: %v, want not found", err)
		}
		noData := testPlan(mer, "plan_b")
		noData.MerchantData, noData.NextChargeAt = nil, nil
		if p, _, err := db.CreatePlan(ctx, noData); err != nil || p.MerchantData != nil || p.NextChargeAt != nil {
			t.Errorf("plan without merchant data: %+v, %v", p, err)
		}
	})
}

func TestListPlans(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		base := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 5 {
			p := testPlan(mer, fmt.Sprintf("plan_%d", i))
			p.CreatedAt = base.Add(time.Duration(i) * time.Minute)
			if i%2 == 1 {
				p.CustomerID, p.PaymentMethodID, p.Status = "cus_2", "pm_2", "canceled"
			}
			if _, _, err := db.CreatePlan(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(ps []billing.Plan) []string {
			out := []string(nil)
			for _, p := range ps {
				out = append(out, p.ID)
			}
			return out
		}
		for _, c := range []struct {
			f    billing.PlanFilter
			p    billing.ListParams
			want []string
			more bool
		}{
			{billing.PlanFilter{}, billing.ListParams{}, []string{"plan_4", "plan_3", "plan_2", "plan_1", "plan_0"}, false},
			{billing.PlanFilter{CustomerID: "cus_2"}, billing.ListParams{}, []string{"plan_3", "plan_1"}, false},
			{billing.PlanFilter{Status: "active"}, billing.ListParams{}, []string{"plan_4", "plan_2", "plan_0"}, false},
			{billing.PlanFilter{PaymentMethodID: "pm_2", Active: true}, billing.ListParams{}, nil, false},
			{billing.PlanFilter{PaymentMethodID: "pm_1", Active: true}, billing.ListParams{}, []string{"plan_4", "plan_2", "plan_0"}, false},
			{billing.PlanFilter{}, billing.ListParams{Limit: 2}, []string{"plan_4", "plan_3"}, true},
			{billing.PlanFilter{}, billing.ListParams{Limit: 2, StartingAfter: "plan_3"}, []string{"plan_2", "plan_1"}, true},
			{billing.PlanFilter{}, billing.ListParams{Limit: 2, StartingAfter: "plan_1"}, []string{"plan_0"}, false},
		} {
			got, err := db.ListPlans(ctx, caller(mer), c.f, c.p)
			if err != nil || !slices.Equal(ids(got.Items), c.want) || got.HasMore != c.more {
				t.Errorf("ListPlans(%+v, %+v) = %v more=%v, %v; want %v more=%v", c.f, c.p, ids(got.Items), got.HasMore, err, c.want, c.more)
			}
		}
		if got, _ := db.ListPlans(ctx, caller(newMerchant(t, db)), billing.PlanFilter{}, billing.ListParams{}); len(got.Items) != 0 {
			t.Errorf("another merchant lists %d plans", len(got.Items))
		}
	})
}

func TestUpdatePlanStateKeepsTheNewestAndEmitsOnce(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		if _, _, err := db.CreatePlan(ctx, testPlan(mer, "plan_a")); err != nil {
			t.Fatal(err)
		}
		ev := &billing.Event{MerchantID: mer, Mode: billing.ModeTest, Type: billing.EventPlanPastDue,
			Data: billing.JSONDoc(`{"status":"past_due"}`), IdempotencyKey: "plan_a/state/2/plan.past_due"}
		newer := billing.PlanUpdate{PlanID: "plan_a", Seq: 2, Status: "past_due", PaymentMethodID: "pm_9", Event: ev}
		for range 2 {
			if err := db.UpdatePlanState(ctx, newer); err != nil {
				t.Fatal(err)
			}
		}
		next := time.Now()
		if err := db.UpdatePlanState(ctx, billing.PlanUpdate{PlanID: "plan_a", Seq: 1, Status: "active", NextChargeAt: &next}); err != nil {
			t.Fatal(err)
		}
		p, _ := db.GetPlan(ctx, caller(mer), "plan_a")
		if p.Status != "past_due" || p.NextChargeAt != nil || p.PaymentMethodID != "pm_9" || p.StateSeq != 2 {
			t.Errorf("plan %+v, want the seq-2 state", p)
		}
		page, err := db.ListEvents(ctx, caller(mer), "", billing.ListParams{})
		evs := page.Items
		if err != nil || len(evs) != 2 || evs[0].Type != billing.EventPlanPastDue || evs[1].Type != billing.EventPlanCreated {
			t.Errorf("events %+v, %v; want plan.created, then one plan.past_due", evs, err)
		}
		if err := db.UpdatePlanState(ctx, billing.PlanUpdate{PlanID: "plan_missing", Seq: 1, Status: "active"}); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("update of a missing plan: %v", err)
		}
	})
}

func attempt(mer, plan string, inst, n int, status billing.PaymentStatus, class string, at time.Time) billing.Payment {
	return billing.Payment{MerchantID: mer, Mode: billing.ModeTest, PlanID: &plan, CustomerID: "cus_1", PaymentMethodID: "pm_1",
		Installment: inst, Attempt: n, Amount: 1000, Currency: "USD", Status: status, PaymentType: "recurring", IsRecurring: true,
		Provider: "simulator", IdempotencyKey: fmt.Sprintf("%s/%d/%d", plan, inst, n), FailureClass: class, AttemptedAt: at}
}

func TestRecordPaymentIsIdempotentAndSettlesUnknownOutcomes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		if _, _, err := db.CreatePlan(ctx, testPlan(mer, "plan_a")); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2027, 1, 31, 9, 0, 0, 0, time.UTC)

		first, err := db.RecordPayment(ctx, attempt(mer, "plan_a", 1, 1, billing.PaymentSucceeded, "", at))
		if err != nil || first.ID == "" || !first.IsRecurring {
			t.Fatalf("record: %+v, %v", first, err)
		}
		again, err := db.RecordPayment(ctx, attempt(mer, "plan_a", 1, 1, billing.PaymentFailed, "soft_decline", at))
		if err != nil || again.ID != first.ID || again.Status != billing.PaymentSucceeded {
			t.Errorf("record again: %+v, %v; want the stored success", again, err)
		}

		// An attempt nobody knows the outcome of, settled by its retry with the same key.
		unknown := attempt(mer, "plan_a", 2, 1, billing.PaymentPending, "transient", at.Add(time.Hour))
		unknown.FailureCode = "timeout"
		u, err := db.RecordPayment(ctx, unknown)
		if err != nil || u.Status != billing.PaymentPending {
			t.Fatalf("record unknown: %+v, %v", u, err)
		}
		settled := attempt(mer, "plan_a", 2, 1, billing.PaymentSucceeded, "", at.Add(25*time.Hour))
		settled.ProviderChargeID = "ch_1"
		s, err := db.RecordPayment(ctx, settled)
		if err != nil || s.ID != u.ID || s.Status != billing.PaymentSucceeded || s.FailureCode != "" || s.ProviderChargeID != "ch_1" {
			t.Errorf("settle: %+v, %v", s, err)
		}
		if _, err := db.RecordPayment(ctx, settled); err != nil {
			t.Fatal(err)
		}

		page, _ := db.ListEvents(ctx, caller(mer), billing.EventPaymentSucceeded, billing.ListParams{})
		evs := page.Items
		if len(evs) != 2 {
			t.Errorf("%d payment.succeeded events, want 2 (one per settled attempt)", len(evs))
		}
		var data struct{ Object map[string]any }
		if err := json.Unmarshal(evs[0].Data, &data); err != nil || data.Object["payment_type"] != "recurring" || data.Object["is_recurring"] != true {
			t.Errorf("event data %s", evs[0].Data)
		}

		list := mustList(t, db, mer)
		if len(list) != 2 || list[0].Installment != 2 || list[1].Installment != 1 {
			t.Errorf("plan payments %+v, want newest first", list)
		}
		if got, err := db.GetPayment(ctx, caller(mer), first.ID); err != nil || got.IdempotencyKey != "plan_a/1/1" {
			t.Errorf("get payment: %+v, %v", got, err)
		}

		// (plan, installment, attempt) is unique even under another key.
		dup := attempt(mer, "plan_a", 1, 1, billing.PaymentFailed, "soft_decline", at)
		dup.IdempotencyKey = "other-key"
		if _, err := db.RecordPayment(ctx, dup); err == nil {
			// ON CONFLICT DO NOTHING swallowed it: the stored row must still be the first.
			if got, _ := db.GetPayment(ctx, caller(mer), first.ID); got.Status != billing.PaymentSucceeded {
				t.Errorf("duplicate attempt overwrote the first: %+v", got)
			}
		}
		if n := len(mustList(t, db, mer)); n != 2 {
			t.Errorf("%d rows after a duplicate attempt, want 2", n)
		}

		oneOff := billing.Payment{MerchantID: mer, Mode: billing.ModeTest, CustomerID: "cus_1", PaymentMethodID: "pm_1", Attempt: 1,
			Amount: 500, Currency: "USD", Status: billing.PaymentSucceeded, PaymentType: "one_off", Provider: "simulator",
			IdempotencyKey: "payment_x"}
		if p, err := db.RecordPayment(ctx, oneOff); err != nil || p.PlanID != nil {
			t.Errorf("one-off payment: %+v, %v", p, err)
		}
	})
}

func mustList(t *testing.T, db *store.DB, mer string) []billing.Payment {
	t.Helper()
	list, err := db.ListPlanPayments(context.Background(), caller(mer), "plan_a", billing.ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func caller(merchantID string) billing.Caller {
	return billing.Caller{MerchantID: merchantID, Mode: billing.ModeTest}
}

func TestFailedAttemptsSince(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, p := range []billing.Payment{
			attempt(mer, "plan_a", 1, 1, billing.PaymentFailed, "soft_decline", at),
			attempt(mer, "plan_a", 1, 2, billing.PaymentPending, "transient", at.Add(time.Hour)), // outcome unknown
			attempt(mer, "plan_a", 1, 3, billing.PaymentSucceeded, "", at.Add(2*time.Hour)),
			attempt(mer, "plan_b", 1, 1, billing.PaymentPending, "", at.Add(3*time.Hour)), // accepted, settling
			attempt(mer, "plan_b", 1, 2, billing.PaymentFailed, "hard_decline", at.Add(-48*time.Hour)),
		} {
			if _, err := db.RecordPayment(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.FailedAttemptsSince(ctx, mer, "pm_1", at.Add(-time.Hour))
		if err != nil || len(got) != 2 {
			t.Fatalf("failed attempts = %v, %v; want the decline and the unknown outcome", got, err)
		}
		slices.SortFunc(got, time.Time.Compare)
		if !got[0].Equal(at) || !got[1].Equal(at.Add(time.Hour)) {
			t.Errorf("times %v", got)
		}
		if got, _ := db.FailedAttemptsSince(ctx, mer, "pm_other", at.Add(-time.Hour)); len(got) != 0 {
			t.Errorf("another card: %v", got)
		}
	})
}

func TestAppendEventIsIdempotent(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mer := newMerchant(t, db)
		ev := billing.Event{MerchantID: mer, Mode: billing.ModeTest, Type: "plan.completed", IdempotencyKey: "k"}
		a, err := db.AppendEvent(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		b, err := db.AppendEvent(ctx, ev)
		if err != nil || a.ID != b.ID || string(b.Data) != "{}" {
			t.Errorf("append twice: %+v %+v %v", a, b, err)
		}
		for i := range 3 {
			if _, err := db.AppendEvent(ctx, billing.Event{MerchantID: mer, Mode: billing.ModeTest, Type: "x", IdempotencyKey: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		page1, _ := db.ListEvents(ctx, caller(mer), "", billing.ListParams{Limit: 2})
		page2, _ := db.ListEvents(ctx, caller(mer), "", billing.ListParams{Limit: 2, StartingAfter: page1.Items[1].ID})
		if len(page1.Items) != 2 || !page1.HasMore || len(page2.Items) != 2 || page2.HasMore || page1.Items[1].ID == page2.Items[0].ID {
			t.Errorf("pages %+v / %+v", page1, page2)
		}
	})
}
