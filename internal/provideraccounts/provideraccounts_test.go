package provideraccounts

import (
	"testing"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers/aps"
)

var apsCreds = billing.Credentials{"access_code": "a", "merchant_identifier": "m", "request_phrase": "r", "response_phrase": "s", "sha_type": "SHA-256"}

// TestBaseURLRules: one spelling per host (case, trailing dot, default port), no way
// for a test account to reach APS's production host or for a live one to go elsewhere,
// and everything but a scheme and host refused.
func TestBaseURLRules(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		mode billing.Mode
		want string // "" with ok false: refused
		ok   bool
	}{
		{"", billing.ModeTest, aps.SandboxURL, true},
		{"", billing.ModeLive, "", true},
		{"https://PAYMENTSERVICES.PAYFORT.COM:443", billing.ModeLive, "https://paymentservices.payfort.com", true},
		{"https://paymentservices.payfort.com./", billing.ModeLive, "https://paymentservices.payfort.com", true},
		{"HTTPS://sbpaymentservices.payfort.com", billing.ModeTest, "https://sbpaymentservices.payfort.com", true},
		{"http://127.0.0.1:8080", billing.ModeTest, "http://127.0.0.1:8080", true},
		{"http://[::1]:8080", billing.ModeTest, "http://[::1]:8080", true},
		{"https://paymentservices.payfort.com.", billing.ModeTest, "", false},
		{"https://PaymentServices.PayFort.com:443", billing.ModeTest, "", false},
		{"https://ｐａｙｍｅｎｔｓｅｒｖｉｃｅｓ.payfort.com", billing.ModeTest, "", false},
		{"https://paymentservices.payfort.com.evil.com", billing.ModeLive, "", false},
		{"http://paymentservices.payfort.com", billing.ModeLive, "", false},
		{"https://paymentservices.payfort.com:8443", billing.ModeLive, "", false},
		{"https://sbpaymentservices.payfort.com", billing.ModeLive, "", false},
		{"https://u:p@sandbox.example", billing.ModeTest, "", false},
		{"https://sandbox.example?", billing.ModeTest, "", false},
		{"https://sandbox.example#", billing.ModeTest, "", false},
		{"https://sandbox.example:", billing.ModeTest, "", false},
		{"https://sandbox.example:99999", billing.ModeTest, "", false},
		{"https://sandbox.example/FortAPI", billing.ModeTest, "", false},
		{"ftp://sandbox.example", billing.ModeTest, "", false},
	} {
		got, err := Check(aps.Name, apsCreds, tc.raw, tc.mode)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("%s in %s mode = %q, %v; want %q", tc.raw, tc.mode, got, err, tc.want)
		}
		if !tc.ok && err == nil {
			t.Errorf("%s in %s mode accepted as %q", tc.raw, tc.mode, got)
		}
		if !tc.ok {
			if be, ok := err.(*billing.Error); !ok || be.Param != "base_url" {
				t.Errorf("%s: %v, want an error naming base_url", tc.raw, err)
			}
		}
	}
	if _, err := Check("stripe", billing.Credentials{"secret_key": "sk_live_x"}, "https://API.STRIPE.COM:443", billing.ModeLive); err != nil {
		t.Errorf("Stripe's host spelled otherwise: %v", err)
	}
	if _, err := Check("stripe", billing.Credentials{"secret_key": " sk_test_x"}, "", billing.ModeTest); err == nil {
		t.Error("a key with spaces around it was taken")
	}
}
