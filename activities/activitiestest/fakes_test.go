package activitiestest_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store/storetest"
)

// TestFakesKeepTheLedgerContract runs the store's contract suite on the in-memory
// ledger and card store the workflow and activity tests use, so they cannot drift
// from store.DB (which runs the same suite on SQLite and Postgres).
func TestFakesKeepTheLedgerContract(t *testing.T) {
	var n atomic.Int64
	storetest.RunLedger(t, func(t *testing.T) storetest.Subject {
		ledger := activitiestest.NewLedger()
		cards := activitiestest.NewPaymentMethods(map[string]activitiestest.Card{})
		return storetest.Subject{
			Ledger: ledger,
			Cards:  cards,
			SaveCard: func(t *testing.T, token string) storetest.Card {
				i := n.Add(1)
				c := storetest.Card{MerchantID: fmt.Sprint("mer_", i), CustomerID: fmt.Sprint("cus_", i), PaymentMethodID: fmt.Sprint("pm_", i)}
				cards.Save(c.MerchantID, c.PaymentMethodID, activitiestest.Card{CustomerID: c.CustomerID, Provider: "simulator", Token: token})
				return c
			},
			Block: func(t *testing.T, c storetest.Card) {
				card := cards.Card(c.PaymentMethodID)
				card.Blocked = true
				cards.Set(c.PaymentMethodID, card)
			},
			Detach: func(t *testing.T, c storetest.Card) {
				card := cards.Card(c.PaymentMethodID)
				card.Detached, card.Token = true, ""
				cards.Set(c.PaymentMethodID, card)
			},
			Plan: func(t *testing.T, c storetest.Card, id string) billing.Plan {
				p, ok := ledger.Plan(id)
				if !ok || p.MerchantID != c.MerchantID {
					t.Fatalf("no plan %s of %s", id, c.MerchantID)
				}
				return p
			},
			Events: func(t *testing.T, merchantID string) []billing.Event {
				var out []billing.Event
				for _, ev := range ledger.Events() {
					if ev.MerchantID == merchantID {
						out = append(out, ev)
					}
				}
				return out
			},
		}
	})
}

// TestWebhookFakeKeepsTheDeliveryContract runs the webhook delivery contract on the
// in-memory webhook store the workflow tests deliver through.
func TestWebhookFakeKeepsTheDeliveryContract(t *testing.T) {
	var n atomic.Int64
	storetest.RunWebhookDeliveries(t, func(t *testing.T) storetest.WebhookSubject {
		w := activitiestest.NewWebhooks()
		return storetest.WebhookSubject{
			Deliveries: w,
			Setup: func(t *testing.T) storetest.Delivery {
				i := n.Add(1)
				d := storetest.Delivery{MerchantID: fmt.Sprint("mer_", i), EndpointID: fmt.Sprint("we_", i),
					EventID: fmt.Sprint("evt_", i), Secret: fmt.Sprint("whsec_", i)}
				w.AddEndpoint(billing.WebhookEndpoint{ID: d.EndpointID, MerchantID: d.MerchantID, Mode: billing.ModeTest,
					URL: "https://receiver.example/hook", EventTypes: []string{"*"}, Status: billing.WebhookEnabled}, d.Secret)
				w.AddEvent(billing.Event{ID: d.EventID, MerchantID: d.MerchantID, Mode: billing.ModeTest,
					Type: billing.EventPaymentSucceeded, Data: billing.JSONDoc(`{"object":{"id":"pay_1"}}`)})
				return d
			},
			Attempts: func(t *testing.T, d storetest.Delivery) []billing.WebhookAttempt {
				var out []billing.WebhookAttempt
				for _, a := range w.Attempts() {
					if a.EventID == d.EventID {
						out = append(out, a)
					}
				}
				return out
			},
		}
	})
}
