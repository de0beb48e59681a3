package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store"
)

// TestPaymentSessionsOfPlans: OpenPlanSession finds a plan's newest open session of
// the asked kind (a page that starts the plan, or one that changes its card), never an
// ended or another merchant's one; SettlePaymentSession gives a completed pending
// session its outcome once and touches nothing else.
func TestPaymentSessionsOfPlans(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tn := newTenants(t, db)
		mk := func(caller billing.Caller, id string, start bool) billing.PaymentSession {
			t.Helper()
			s, err := db.CreatePaymentSession(ctx, caller, billing.PaymentSession{ID: id, CustomerID: "cus_1", Amount: 100,
				Currency: "EUR", Type: "ecom", SaveCard: true, Provider: "simulator", PlanID: "plan_1", StartPlan: start,
				Token: "token_" + id, TokenHash: "hash_" + id, ExpiresAt: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		mk(tn.aTest, "ps_start", true)
		mk(tn.aTest, "ps_change", false)
		mk(tn.bTest, "ps_other", false)
		for start, want := range map[bool]string{true: "ps_start", false: "ps_change"} {
			if got, err := db.OpenPlanSession(ctx, tn.aTest, "plan_1", start); err != nil || got.ID != want || got.Token != "token_"+want {
				t.Errorf("OpenPlanSession(start=%v) = %s, %v; want %s with its token", start, got.ID, err, want)
			}
		}
		if _, err := db.OpenPlanSession(ctx, tn.aLive, "plan_1", false); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("live mode sees a test session: %v", err)
		}

		// The start session ends pending, then settles; a second settle changes nothing.
		if err := db.SetPaymentSession(ctx, billing.PaymentSessionUpdate{MerchantID: tn.aTest.MerchantID, ID: "ps_start",
			Status: billing.PaymentSessionCompleted, KeepCard: true, Outcome: billing.PaymentPending}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.OpenPlanSession(ctx, tn.aTest, "plan_1", true); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("an ended session is still open: %v", err)
		}
		for _, outcome := range []billing.PaymentStatus{billing.PaymentSucceeded, billing.PaymentFailed} {
			if err := db.SettlePaymentSession(ctx, tn.aTest.MerchantID, "ps_start", outcome); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := db.GetPaymentSession(ctx, tn.aTest, "ps_start"); got.Outcome != billing.PaymentSucceeded {
			t.Errorf("settled outcome %q, want the first settle's succeeded", got.Outcome)
		}
		// An open session, and another merchant's, are not settled.
		if err := db.SettlePaymentSession(ctx, tn.aTest.MerchantID, "ps_change", billing.PaymentFailed); err != nil {
			t.Fatal(err)
		}
		if err := db.SettlePaymentSession(ctx, tn.aTest.MerchantID, "ps_other", billing.PaymentFailed); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.GetPaymentSession(ctx, tn.aTest, "ps_change"); got.Outcome != "" || got.Status != billing.PaymentSessionOpen {
			t.Errorf("an open session was settled: %+v", got)
		}
		if got, _ := db.GetPaymentSession(ctx, tn.bTest, "ps_other"); got.Outcome != "" {
			t.Errorf("another merchant's session was settled: %+v", got)
		}
	})
}
