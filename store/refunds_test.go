package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store"
)

// recordOneOff writes a one-off payment of amount with status into the ledger.
func recordOneOff(t *testing.T, db *store.DB, caller billing.Caller, id, customer string, amount int64, status billing.PaymentStatus) billing.Payment {
	t.Helper()
	p := billing.Payment{ID: id, MerchantID: caller.MerchantID, Mode: caller.Mode, CustomerID: customer,
		PaymentMethodID: "pm_1", Attempt: 1, Amount: amount, Currency: "EUR", Status: status,
		PaymentType: billing.PaymentOneOff, Provider: "simulator", IdempotencyKey: id}
	if status == billing.PaymentSucceeded {
		p.ProviderChargeID = "ch_" + id
	}
	if status == billing.PaymentFailed {
		p.FailureCode, p.FailureClass = billing.CodeCardDeclined, "soft_decline"
	}
	out, err := db.RecordPayment(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRefundsReserveAndSettle: refunds of one payment never open for more than it
// paid, even when eight race for it; failed ones free their amount; a success counts
// in amount_refunded with one refund.succeeded event; settling twice changes nothing;
// another merchant's payment is not found; currency and status are checked.
func TestRefundsReserveAndSettle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tn := newTenants(t, db)
		recordOneOff(t, db, tn.aTest, "pay_ref", "cus_1", 1000, billing.PaymentSucceeded)
		recordOneOff(t, db, tn.aTest, "pay_failed", "cus_1", 1000, billing.PaymentFailed)
		open := func(id string, amount int64) (billing.Refund, error) {
			return db.OpenRefund(ctx, billing.NewRefund{ID: id, MerchantID: tn.aTest.MerchantID, Mode: billing.ModeTest,
				PaymentID: "pay_ref", Amount: amount})
		}

		// Eight refunds of 300 race for a payment of 1000: exactly three open.
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = open(fmt.Sprintf("re_race%d", i), 300)
			}()
		}
		wg.Wait()
		opened := []string{}
		for i, err := range errs {
			switch {
			case err == nil:
				opened = append(opened, fmt.Sprintf("re_race%d", i))
			case billing.KindOf(err) != billing.KindInvalid:
				t.Errorf("refund %d: %v, want an invalid amount", i, err)
			}
		}
		if len(opened) != 3 {
			t.Fatalf("%d refunds of 300 opened against 1000 (%v), want 3", len(opened), errs)
		}
		if res, _ := db.ReservedRefunds(ctx, tn.aTest, "pay_ref"); res != 900 {
			t.Errorf("reserved %d, want 900", res)
		}
		// Two attempts of one refund racing (an activity retried while the first still
		// waits for the lock) both get the one refund; neither is refused.
		recordOneOff(t, db, tn.aTest, "pay_twice", "cus_1", 500, billing.PaymentSucceeded)
		twice := make([]billing.Refund, 2)
		twiceErr := make([]error, 2)
		for i := range twice {
			wg.Add(1)
			go func() {
				defer wg.Done()
				twice[i], twiceErr[i] = db.OpenRefund(ctx, billing.NewRefund{ID: "re_twice", MerchantID: tn.aTest.MerchantID,
					Mode: billing.ModeTest, PaymentID: "pay_twice"})
			}()
		}
		wg.Wait()
		for i := range twice {
			if twiceErr[i] != nil || twice[i].ID != "re_twice" || twice[i].Amount != 500 {
				t.Errorf("attempt %d of one refund: %+v, %v", i, twice[i], twiceErr[i])
			}
		}
		// Opening an existing refund again returns it unchanged (the activity retried).
		if again, err := open(opened[0], 300); err != nil || again.Status != billing.RefundPending || again.Amount != 300 {
			t.Errorf("open again: %+v, %v", again, err)
		}
		// One fails: its 300 are free again. Another succeeds: amount_refunded 300.
		if _, err := db.SettleRefund(ctx, billing.RefundOutcome{RefundID: opened[0], MerchantID: tn.aTest.MerchantID,
			Status: billing.RefundFailed, FailureCode: billing.CodeProcessingError, FailureMessage: "no"}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			r, err := db.SettleRefund(ctx, billing.RefundOutcome{RefundID: opened[1], MerchantID: tn.aTest.MerchantID,
				Status: billing.RefundSucceeded, ProviderRefundID: "rf_1"})
			if err != nil || r.Status != billing.RefundSucceeded || r.ProviderRefundID != "rf_1" {
				t.Fatalf("settle: %+v, %v", r, err)
			}
		}
		// A late failure of the succeeded refund changes nothing.
		if r, err := db.SettleRefund(ctx, billing.RefundOutcome{RefundID: opened[1], MerchantID: tn.aTest.MerchantID,
			Status: billing.RefundFailed}); err != nil || r.Status != billing.RefundSucceeded {
			t.Errorf("settled twice: %+v, %v", r, err)
		}
		if p, _ := db.GetPayment(ctx, tn.aTest, "pay_ref"); p.AmountRefunded != 300 {
			t.Errorf("amount_refunded %d, want 300", p.AmountRefunded)
		}
		// Left: 1000 - 300 succeeded - 300 pending = 400; the rest (amount 0) is 400.
		if _, err := open("re_over", 401); billing.KindOf(err) != billing.KindInvalid {
			t.Errorf("refund of 401 with 400 left: %v", err)
		}
		rest, err := open("re_rest", 0)
		if err != nil || rest.Amount != 400 || rest.Currency != "EUR" || rest.ProviderChargeID != "ch_pay_ref" {
			t.Fatalf("refund of the rest: %+v, %v", rest, err)
		}
		if _, err := open("re_more", 0); billing.KindOf(err) != billing.KindConflict {
			t.Errorf("refund of a payment refunded in full: %v, want a conflict", err)
		}
		for name, r := range map[string]billing.NewRefund{
			"a failed payment": {ID: "re_f", PaymentID: "pay_failed"},
			"another currency": {ID: "re_c", PaymentID: "pay_ref", Currency: "USD"},
			"another merchant": {ID: "re_m", PaymentID: "pay_ref", MerchantID: tn.bTest.MerchantID},
			"the live mode":    {ID: "re_l", PaymentID: "pay_ref", Mode: billing.ModeLive},
		} {
			if r.MerchantID == "" {
				r.MerchantID = tn.aTest.MerchantID
			}
			if r.Mode == "" {
				r.Mode = billing.ModeTest
			}
			_, err := db.OpenRefund(ctx, r)
			want := map[string]billing.Kind{"a failed payment": billing.KindConflict, "another currency": billing.KindInvalid,
				"another merchant": billing.KindNotFound, "the live mode": billing.KindNotFound}[name]
			if billing.KindOf(err) != want {
				t.Errorf("refund of %s: %v, want %s", name, err, want)
			}
		}

		// One refund.succeeded and one refund.failed event, with the refund as object.
		for typ, want := range map[string]int{billing.EventRefundSucceeded: 1, billing.EventRefundFailed: 1} {
			evs, err := db.ListEvents(ctx, tn.aTest, typ, billing.ListParams{})
			if err != nil || len(evs.Items) != want {
				t.Errorf("%s events: %d, %v; want %d", typ, len(evs.Items), err, want)
			}
		}
		// Lists: the payment's refunds newest first, paged; nobody else's.
		pg, err := db.ListRefunds(ctx, tn.aTest, "pay_ref", billing.ListParams{Limit: 2})
		if err != nil || len(pg.Items) != 2 || !pg.HasMore || pg.Items[0].ID != "re_rest" {
			t.Fatalf("first page: %+v, %v", pg, err)
		}
		all, _ := db.ListRefunds(ctx, tn.aTest, "", billing.ListParams{Limit: 100})
		if len(all.Items) != 5 {
			t.Errorf("%d refunds listed, want 5 (4 of pay_ref, 1 of pay_twice)", len(all.Items))
		}
		if other, _ := db.ListRefunds(ctx, tn.bTest, "", billing.ListParams{}); len(other.Items) != 0 {
			t.Errorf("merchant B sees %d refunds", len(other.Items))
		}
		if _, err := db.ListRefunds(ctx, tn.bTest, "pay_ref", billing.ListParams{}); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("merchant B lists A's payment's refunds: %v", err)
		}
		if _, err := db.GetRefund(ctx, tn.bTest, "re_rest"); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("merchant B reads A's refund: %v", err)
		}
	})
}

// TestListPaymentsFilters: the list across plans narrows by customer, plan, status and
// a created range, pages with a cursor under the same filter, and shows nobody else's.
func TestListPaymentsFilters(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tn := newTenants(t, db)
		before := time.Now().Add(-time.Second)
		statuses := []billing.PaymentStatus{billing.PaymentSucceeded, billing.PaymentFailed, billing.PaymentPending}
		for i := range 9 {
			recordOneOff(t, db, tn.aTest, fmt.Sprintf("pay_l%d", i), fmt.Sprintf("cus_%d", i%2), 100, statuses[i%3])
		}
		plan := "plan_x"
		if _, err := db.RecordPayment(ctx, billing.Payment{ID: "pay_plan", MerchantID: tn.aTest.MerchantID, Mode: billing.ModeTest,
			PlanID: &plan, CustomerID: "cus_0", PaymentMethodID: "pm_1", Installment: 1, Attempt: 1, Amount: 100,
			Currency: "EUR", Status: billing.PaymentSucceeded, PaymentType: billing.PaymentRecurring,
			Provider: "simulator", IdempotencyKey: "plan_x/1/1"}); err != nil {
			t.Fatal(err)
		}
		recordOneOff(t, db, tn.bTest, "pay_b", "cus_0", 100, billing.PaymentPending)
		after := time.Now().Add(time.Second)

		ids := func(f billing.PaymentFilter, limit int) []string {
			t.Helper()
			var out []string
			cursor := ""
			for {
				pg, err := db.ListPayments(ctx, tn.aTest, f, billing.ListParams{Limit: limit, StartingAfter: cursor})
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range pg.Items {
					out = append(out, p.ID)
				}
				if !pg.HasMore {
					return out
				}
				cursor = pg.Items[len(pg.Items)-1].ID
			}
		}
		check := func(name string, got []string, want ...string) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: %v, want %v", name, got, want)
			}
		}
		check("pending, paged by 2", ids(billing.PaymentFilter{Status: billing.PaymentPending}, 2), "pay_l8", "pay_l5", "pay_l2")
		check("cus_1 failed", ids(billing.PaymentFilter{CustomerID: "cus_1", Status: billing.PaymentFailed}, 10), "pay_l7", "pay_l1")
		check("the plan", ids(billing.PaymentFilter{PlanID: plan}, 10), "pay_plan")
		check("all", ids(billing.PaymentFilter{}, 3), "pay_plan", "pay_l8", "pay_l7", "pay_l6", "pay_l5", "pay_l4", "pay_l3", "pay_l2", "pay_l1", "pay_l0")
		check("in the window", ids(billing.PaymentFilter{CreatedGte: &before, CreatedLt: &after, Status: billing.PaymentSucceeded}, 10),
			"pay_plan", "pay_l6", "pay_l3", "pay_l0")
		check("before the window", ids(billing.PaymentFilter{CreatedLt: &before}, 10))
		check("after the window", ids(billing.PaymentFilter{CreatedGte: &after}, 10))
	})
}

// TestDetachKeepsTheCredentialForRemoval: detaching a card (directly, or by deleting
// its customer) keeps its sealed token in the outbox, in the same transaction, until
// the removal at the provider finishes; the dispatcher's list shows each once until
// started; another merchant reads none of it; a card detached twice is listed once.
func TestDetachKeepsTheCredentialForRemoval(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tn := newTenants(t, db)
		cus, err := db.CreateCustomer(ctx, tn.aTest, billing.NewCustomer{Email: "ada@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		save := func(token string) billing.PaymentMethod {
			t.Helper()
			pm, err := db.CreatePaymentMethod(ctx, tn.aTest, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "simulator",
				Token: token, ProviderCustomerRef: "cus_sim_1"})
			if err != nil {
				t.Fatal(err)
			}
			return pm
		}
		one, two := save("tok_one"), save("tok_two")
		if _, ok, err := db.CredentialToRemove(ctx, tn.aTest.MerchantID, one.ID); ok || err != nil {
			t.Fatalf("an active card is listed for removal: %v, %v", ok, err)
		}
		for range 2 {
			if _, err := db.DetachPaymentMethod(ctx, tn.aTest, one.ID); err != nil {
				t.Fatal(err)
			}
		}
		c, ok, err := db.CredentialToRemove(ctx, tn.aTest.MerchantID, one.ID)
		if err != nil || !ok || c.Token != "tok_one" || c.Provider != "simulator" || c.CustomerRef != "cus_sim_1" {
			t.Fatalf("credential to remove: %+v, %v, %v", c, ok, err)
		}
		if _, ok, _ := db.CredentialToRemove(ctx, tn.bTest.MerchantID, one.ID); ok {
			t.Error("another merchant reads the credential")
		}
		if _, err := db.DeleteCustomer(ctx, tn.aTest, cus.ID); err != nil {
			t.Fatal(err)
		}
		pending, err := db.UnstartedCredentialRemovals(ctx, 10)
		if err != nil || len(pending) != 2 || pending[0] != [2]string{tn.aTest.MerchantID, one.ID} || pending[1][1] != two.ID {
			t.Fatalf("unstarted removals: %v, %v; want %s then %s", pending, err, one.ID, two.ID)
		}
		if err := db.MarkCredentialRemovalStarted(ctx, one.ID); err != nil {
			t.Fatal(err)
		}
		if pending, _ := db.UnstartedCredentialRemovals(ctx, 10); len(pending) != 1 || pending[0][1] != two.ID {
			t.Errorf("after starting one: %v", pending)
		}
		if err := db.FinishCredentialRemoval(ctx, tn.aTest.MerchantID, one.ID, billing.CredentialRemoved); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := db.CredentialToRemove(ctx, tn.aTest.MerchantID, one.ID); ok || err != nil {
			t.Errorf("a removed credential is still to remove: %v, %v", ok, err)
		}
		var tokens int
		if err := db.GetContext(ctx, &tokens, `SELECT COUNT(*) FROM credential_removals WHERE token IS NOT NULL`); err != nil || tokens != 1 {
			t.Errorf("%d sealed tokens left in the outbox (%v), want 1 (the card not removed yet)", tokens, err)
		}
	})
}
