package provideraccounts

import (
	"strings"
	"testing"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/providers/axerve"
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

// TestAxerveAccounts: shop_login and api_key, Axerve's sandbox by default in test mode,
// its production host only in live mode and never in test mode; the adapter built has
// the card and PayPal rows.
func TestAxerveAccounts(t *testing.T) {
	creds := billing.Credentials{"shop_login": "GESPAY65987", "api_key": "R0VTUEFZ"}
	if got, err := Check(axerve.Name, creds, "", billing.ModeTest); err != nil || got != axerve.SandboxURL {
		t.Fatalf("test account = %q, %v; want the sandbox", got, err)
	}
	if got, err := Check(axerve.Name, creds, "https://ECOMMS2S.sella.it", billing.ModeLive); err != nil || got != axerve.ProductionURL {
		t.Fatalf("live account = %q, %v", got, err)
	}
	for _, tc := range []struct {
		creds billing.Credentials
		base  string
		mode  billing.Mode
		param string
	}{
		{billing.Credentials{"shop_login": "GESPAY65987"}, "", billing.ModeTest, "credentials.api_key"},
		{billing.Credentials{"shop_login": "GESPAY65987", "api_key": "k", "secret_key": "x"}, "", billing.ModeTest, "credentials.secret_key"},
		{billing.Credentials{"shop_login": "GES PAY", "api_key": "k"}, "", billing.ModeTest, "credentials"},
		{creds, axerve.ProductionURL, billing.ModeTest, "base_url"},
		{creds, axerve.SandboxURL, billing.ModeLive, "base_url"},
	} {
		_, err := Check(axerve.Name, tc.creds, tc.base, tc.mode)
		if be, ok := err.(*billing.Error); !ok || be.Param != tc.param {
			t.Errorf("%v %q %s: %v, want an error naming %s", tc.creds.Fields(), tc.base, tc.mode, err, tc.param)
		}
		if err != nil && strings.Contains(err.Error(), "R0VTUEFZ") {
			t.Errorf("the error echoes the API key: %v", err)
		}
	}
	caps := Capabilities(axerve.Name)
	if len(caps) != 2 || caps[0].Method != providers.MethodCard || caps[1].Method != providers.MethodPayPal || !caps[1].Recurring {
		t.Fatalf("Axerve capabilities = %+v, want card and paypal rows", caps)
	}
}
