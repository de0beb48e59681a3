package stripe_test

import (
	"context"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/stripe/stripetest"
)

// TestStripeImportToken: a payment method saved at Stripe before is read back (brand,
// last4, expiry and fingerprint are Stripe's), attached to the named customer when it
// is on none, and charged off session; wrong ids, another customer's method, a missing
// customer, other digits and unknown fields are refused naming the field.
func TestStripeImportToken(t *testing.T) {
	ctx := context.Background()
	fake := stripetest.New(t)
	p := newProvider(t, fake.URL, 5*time.Second)
	fake.AddPaymentMethod("pm_old_attached", "cus_old", "4444")
	fake.AddPaymentMethod("pm_old_loose", "", "1881")

	saved, err := p.ImportToken(ctx, providers.ImportTokenRequest{Fields: map[string]string{"payment_method": "pm_old_attached"}, Last4: "4444"})
	if err != nil || saved.Token != "pm_old_attached" || saved.CustomerRef != "cus_old" || saved.Last4 != "4444" ||
		saved.ExpYear != 2033 || saved.Fingerprint == "" {
		t.Fatalf("import of an attached method = %+v, %v", saved, err)
	}
	loose, err := p.ImportToken(ctx, providers.ImportTokenRequest{Fields: map[string]string{"payment_method": "pm_old_loose", "customer": "cus_new"}})
	if err != nil || loose.CustomerRef != "cus_new" || fake.AttachedTo("pm_old_loose") != "cus_new" {
		t.Fatalf("import of a loose method = %+v, %v (attached to %q)", loose, err, fake.AttachedTo("pm_old_loose"))
	}

	for _, tc := range []struct {
		fields      map[string]string
		last4       string
		code, param string
	}{
		{map[string]string{"payment_method": "pm_nope"}, "", billing.CodeResourceMissing, "token.payment_method"},
		{map[string]string{}, "", billing.CodeParameterMissing, "token.payment_method"},
		{map[string]string{"payment_method": "tok_visa"}, "", billing.CodeInvalidValue, "token.payment_method"},
		{map[string]string{"payment_method": "pm_old_attached", "customer": "cus_other"}, "", billing.CodeInvalidValue, "token.customer"},
		{map[string]string{"payment_method": "pm_old_attached"}, "0000", billing.CodeInvalidValue, "card.last4"},
		{map[string]string{"payment_method": "pm_old_attached", "token_name": "x"}, "", billing.CodeParameterUnknown, "token.token_name"},
	} {
		_, err := p.ImportToken(ctx, providers.ImportTokenRequest{Fields: tc.fields, Last4: tc.last4})
		if e, ok := providers.AsError(err); !ok || e.Code != tc.code || e.Param != tc.param || e.Class != providers.ClassInvalidRequest {
			t.Errorf("import %v: %v, want %s naming %s", tc.fields, err, tc.code, tc.param)
		}
	}
	fake.AddPaymentMethod("pm_old_nobody", "", "1111")
	_, err = p.ImportToken(ctx, providers.ImportTokenRequest{Fields: map[string]string{"payment_method": "pm_old_nobody"}})
	if e, ok := providers.AsError(err); !ok || e.Param != "token.customer" {
		t.Errorf("a method on no customer, without customer: %v, want a parameter error naming token.customer", err)
	}
}
