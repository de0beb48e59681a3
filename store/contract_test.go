package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/store/storetest"
	"github.com/recurring/recurring/webhooks"
)

// dbSubject is store.DB as the contract suite drives it: cards are saved, blocked and
// detached through the same methods the API calls.
func dbSubject(t *testing.T, db *store.DB) storetest.Subject {
	ctx := context.Background()
	if db.Keyring == nil {
		kr, err := seal.Parse(seal.Generate("k1"))
		if err != nil {
			t.Fatal(err)
		}
		db.Keyring = kr
	}
	callerOf := func(c storetest.Card) billing.Caller { return caller(c.MerchantID) }
	return storetest.Subject{
		Ledger: db,
		Cards:  db,
		SaveCard: func(t *testing.T, token string) storetest.Card {
			mer := newMerchant(t, db)
			cus, err := db.CreateCustomer(ctx, caller(mer), billing.NewCustomer{Email: "contract@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			pm, err := db.CreatePaymentMethod(ctx, caller(mer), billing.NewPaymentMethod{CustomerID: cus.ID,
				Provider: "simulator", Token: token, Card: billing.CardDetails{Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2040}})
			if err != nil {
				t.Fatal(err)
			}
			return storetest.Card{MerchantID: mer, CustomerID: cus.ID, PaymentMethodID: pm.ID}
		},
		Block: func(t *testing.T, c storetest.Card) {
			if _, err := db.BlockPaymentMethod(ctx, callerOf(c), c.PaymentMethodID); err != nil {
				t.Fatal(err)
			}
		},
		Detach: func(t *testing.T, c storetest.Card) {
			if _, err := db.DetachPaymentMethod(ctx, callerOf(c), c.PaymentMethodID); err != nil {
				t.Fatal(err)
			}
		},
		Plan: func(t *testing.T, c storetest.Card, id string) billing.Plan {
			p, err := db.GetPlan(ctx, callerOf(c), id)
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Events: func(t *testing.T, merchantID string) []billing.Event {
			var all []billing.Event
			params := billing.ListParams{Limit: billing.MaxListLimit}
			for {
				page, err := db.ListEvents(ctx, caller(merchantID), "", params)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, page.Items...)
				if !page.HasMore {
					break
				}
				params.StartingAfter = page.Items[len(page.Items)-1].ID
			}
			slices.Reverse(all) // newest first → oldest first
			return all
		},
	}
}

// TestLedgerContract runs the ledger and card contract on SQLite and Postgres; the
// in-memory fakes run the same suite in activities/activitiestest.
func TestLedgerContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		storetest.RunLedger(t, func(t *testing.T) storetest.Subject { return dbSubject(t, db) })
	})
}

// TestWebhookDeliveriesContract runs the webhook delivery contract on SQLite and
// Postgres; activitiestest.Webhooks runs the same suite.
func TestWebhookDeliveriesContract(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		storetest.RunWebhookDeliveries(t, func(t *testing.T) storetest.WebhookSubject {
			ctx := context.Background()
			dbSubject(t, db) // sets the keyring the endpoint secrets are sealed with
			return storetest.WebhookSubject{
				Deliveries: db,
				Setup: func(t *testing.T) storetest.Delivery {
					mer := newMerchant(t, db)
					secret := webhooks.NewSecret()
					ep, err := db.CreateWebhookEndpoint(ctx, caller(mer), billing.NewWebhookEndpoint{
						URL: "https://receiver.example/hook", EventTypes: []string{"*"}, Secret: secret})
					if err != nil {
						t.Fatal(err)
					}
					ev, err := db.AppendEvent(ctx, billing.Event{MerchantID: mer, Mode: billing.ModeTest,
						Type: billing.EventPaymentSucceeded, Data: billing.JSONDoc(`{"object":{"id":"pay_1"}}`),
						IdempotencyKey: mer + "/contract"})
					if err != nil {
						t.Fatal(err)
					}
					return storetest.Delivery{MerchantID: mer, EndpointID: ep.ID, EventID: ev.ID, Secret: secret}
				},
				Attempts: func(t *testing.T, d storetest.Delivery) []billing.WebhookAttempt {
					got, err := db.ListWebhookAttempts(ctx, caller(d.MerchantID), d.EventID)
					if err != nil {
						t.Fatal(err)
					}
					return got
				},
			}
		})
	})
}
