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
