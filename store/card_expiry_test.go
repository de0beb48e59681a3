package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store"
)

// TestNoticeExpiringCards: a card whose expiry month ends within 30 days is announced
// expiring once; when it has expired, expired once; one that expired unannounced gets
// only expired; cards expiring later, detached cards and PayPal agreements get
// nothing; each event carries the card as data.object in its merchant's log.
func TestNoticeExpiringCards(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tn := newTenants(t, db)
		cus, err := db.CreateCustomer(ctx, tn.aTest, billing.NewCustomer{Email: "ada@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		card := func(month, year int) billing.PaymentMethod {
			t.Helper()
			pm, err := db.CreatePaymentMethod(ctx, tn.aTest, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "simulator",
				Token: fmt.Sprintf("tok_%d_%d", month, year), Card: billing.CardDetails{Brand: "visa", Last4: "4242", ExpMonth: month, ExpYear: year}})
			if err != nil {
				t.Fatal(err)
			}
			return pm
		}
		now := time.Date(2027, 5, 10, 12, 0, 0, 0, time.UTC)
		soon := card(5, 2027)    // ends 2027-06-01: within 30 days
		gone := card(3, 2027)    // ended 2027-04-01, never announced
		later := card(8, 2027)   // ends 2027-09-01
		dropped := card(5, 2027) // detached below
		noExpiry := card(0, 0)   // an imported card whose expiry the provider did not give
		if _, err := db.DetachPaymentMethod(ctx, tn.aTest, dropped.ID); err != nil {
			t.Fatal(err)
		}
		got := func(at time.Time) map[string]string {
			t.Helper()
			out := map[string]string{}
			notices, err := db.NoticeExpiringCards(ctx, at, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range notices {
				out[n.PaymentMethod.ID] = n.Event
			}
			return out
		}
		first := got(now)
		if len(first) != 2 || first[soon.ID] != billing.EventPaymentMethodExpiring || first[gone.ID] != billing.EventPaymentMethodExpired {
			t.Errorf("first pass %v, want %s expiring and %s expired", first, soon.ID, gone.ID)
		}
		if _, ok := first[noExpiry.ID]; ok {
			t.Errorf("a card without an expiry was announced")
		}
		if again := got(now.Add(time.Hour)); len(again) != 0 {
			t.Errorf("second pass %v, want nothing new", again)
		}
		after := got(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC))
		if len(after) != 1 || after[soon.ID] != billing.EventPaymentMethodExpired {
			t.Errorf("after the month ended %v, want %s expired", after, soon.ID)
		}
		if late := got(time.Date(2027, 8, 5, 0, 0, 0, 0, time.UTC)); late[later.ID] != billing.EventPaymentMethodExpiring || len(late) != 1 {
			t.Errorf("in August %v, want only %s expiring", late, later.ID)
		}
		evs, err := db.ListEvents(ctx, tn.aTest, billing.EventPaymentMethodExpired, billing.ListParams{Limit: 10})
		if err != nil || len(evs.Items) != 2 {
			t.Fatalf("payment_method.expired events: %d, %v; want 2", len(evs.Items), err)
		}
		for _, ev := range evs.Items {
			if d := string(ev.Data); !strings.Contains(d, `"object":"payment_method"`) || !strings.Contains(d, `"last4":"4242"`) {
				t.Errorf("event data %s, want the payment method", d)
			}
		}
		if other, _ := db.ListEvents(ctx, tn.bTest, "", billing.ListParams{}); len(other.Items) != 0 {
			t.Errorf("merchant B sees %d events", len(other.Items))
		}
	})
}
