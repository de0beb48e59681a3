package stripe_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/stripe/stripetest"
)

// TestStripeFindsALostChargeAfterItForgotTheKey: a charge Stripe made but whose answer
// was lost is found by FindCharge even after Stripe stopped replaying its idempotency
// key (about 24 hours); sending the charge again then would make a second
// PaymentIntent, which is what the lookup prevents. A key never charged is not found.
func TestStripeFindsALostChargeAfterItForgotTheKey(t *testing.T) {
	ctx := context.Background()
	fake := stripetest.New(t)
	p := newProvider(t, fake.URL, 500*time.Millisecond)
	req := chargeReq(providers.InitiatorMerchant)
	req.Token, req.CustomerRef = "pm_card_visa", "cus_lost"

	if _, err := p.FindCharge(ctx, req); !errors.Is(err, providers.ErrNoSuchCharge) {
		t.Fatalf("FindCharge before any charge = %v, want ErrNoSuchCharge", err)
	}
	fake.LoseAnswers(1)
	if _, err := p.Charge(ctx, req); !isTransient(err) {
		t.Fatalf("a lost answer = %v, want a transient error (outcome unknown)", err)
	}
	fake.ForgetKeys()
	found, err := p.FindCharge(ctx, req)
	if err != nil || found.Status != providers.ChargeSucceeded || found.Amount != req.Amount || found.NetworkTransactionID == "" {
		t.Fatalf("FindCharge = %+v, %v; want the succeeded charge with its network id", found, err)
	}
	if n := fake.Created("payment_intents"); n != 1 {
		t.Fatalf("%d intents created, want 1", n)
	}
	// The key's intent is for 10.50: a lookup of the key for another amount is a
	// conflict the provider found, not a charge.
	changed := req
	changed.Amount++
	if _, err := p.FindCharge(ctx, changed); providers.CodeOf(err) != "idempotency_conflict" || !providers.IsFound(err) {
		t.Errorf("FindCharge for another amount under the key = %v, want a found idempotency conflict", err)
	}

	// Another installment of the same customer is another key: not this charge.
	other := req
	other.IdempotencyKey, other.Metadata = "plan_1/4/1", map[string]string{"plan_id": "plan_1", "installment": "4"}
	if _, err := p.FindCharge(ctx, other); !errors.Is(err, providers.ErrNoSuchCharge) {
		t.Errorf("FindCharge of the next installment = %v, want ErrNoSuchCharge", err)
	}
	// What the lookup prevents: Stripe no longer knows the key, so a blind retry charges again.
	if _, err := p.Charge(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n := fake.Created("payment_intents"); n != 2 {
		t.Fatalf("a blind retry after the key expired created %d intents in all, want 2 (the double charge)", n)
	}
}

func isTransient(err error) bool {
	e, ok := providers.AsError(err)
	return ok && e.Retryable()
}

// TestStripeFindsDeclinesAndOlderIntents: a declined charge is found as its decline
// (Stripe keeps the intent, awaiting a payment method); an intent made before the key
// was kept in metadata is matched on the request's metadata, initiator and amount, and
// not for another amount.
func TestStripeFindsDeclinesAndOlderIntents(t *testing.T) {
	ctx := context.Background()
	fake := stripetest.New(t)
	p := newProvider(t, fake.URL, 5*time.Second)

	declined := chargeReq(providers.InitiatorMerchant)
	declined.Token, declined.CustomerRef = "pm_card_chargeDeclined", "cus_declined"
	if _, err := p.Charge(ctx, declined); providers.CodeOf(err) != "card_declined" {
		t.Fatalf("charge = %v, want card_declined", err)
	}
	fake.ForgetKeys()
	if _, err := p.FindCharge(ctx, declined); providers.CodeOf(err) != "card_declined" || isTransient(err) || !providers.IsFound(err) {
		t.Fatalf("FindCharge of a declined charge = %v, want its decline", err)
	}

	old := chargeReq(providers.InitiatorMerchant)
	old.Token, old.CustomerRef = "pm_card_visa", "cus_old"
	made := fake.CreateIntentWithoutKey(old.CustomerRef, old.Amount, "usd", map[string]string{
		"plan_id": "plan_1", "recurring_initiator": "merchant"})
	found, err := p.FindCharge(ctx, old)
	if err != nil || found.ID != made {
		t.Fatalf("FindCharge of an intent without the key = %+v, %v; want %s", found, err, made)
	}
	old.Amount++
	if _, err := p.FindCharge(ctx, old); !errors.Is(err, providers.ErrNoSuchCharge) {
		t.Errorf("FindCharge for another amount = %v, want ErrNoSuchCharge", err)
	}
}

// TestStripeLookupPagesThroughTheCustomersIntents: the key's intent is found behind
// more than a page (100) of the customer's later intents; a key never charged reads
// every page before answering "no such charge".
func TestStripeLookupPagesThroughTheCustomersIntents(t *testing.T) {
	ctx := context.Background()
	fake := stripetest.New(t)
	p := newProvider(t, fake.URL, 5*time.Second)
	req := chargeReq(providers.InitiatorMerchant)
	req.Token, req.CustomerRef, req.IdempotencyKey = "pm_card_visa", "cus_busy", "plan_busy/1/1"
	made, err := p.Charge(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 150 {
		later := req
		later.IdempotencyKey = fmt.Sprintf("pay_busy_%d", i)
		later.Metadata = map[string]string{"payment_id": later.IdempotencyKey}
		if _, err := p.Charge(ctx, later); err != nil {
			t.Fatal(err)
		}
	}
	fake.ForgetKeys()
	before := fake.ListCalls()
	found, err := p.FindCharge(ctx, req)
	if err != nil || found.ID != made.ID {
		t.Fatalf("FindCharge behind 150 later intents = %+v, %v; want %s", found, err, made.ID)
	}
	if pages := fake.ListCalls() - before; pages != 2 {
		t.Errorf("%d list pages read, want 2", pages)
	}
	missing := req
	missing.IdempotencyKey = "plan_busy/9/1"
	if _, err := p.FindCharge(ctx, missing); !errors.Is(err, providers.ErrNoSuchCharge) {
		t.Errorf("a key never charged = %v, want ErrNoSuchCharge after every page", err)
	}
}
