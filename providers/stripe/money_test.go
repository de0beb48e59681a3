package stripe_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// TestStripeMoneyRules pins where Stripe counts differently from ISO 4217 minor units
// (https://docs.stripe.com/currencies): MGA is zero-decimal at Stripe, ISK stays
// two-decimal, three-decimal amounts must end in 0; the rest is unchanged.
func TestStripeMoneyRules(t *testing.T) {
	p := newProvider(t, "http://127.0.0.1:1", time.Second)
	for _, c := range []struct {
		currency string
		iso      int64
		stripe   int64 // -1: refused
	}{
		{"USD", 1050, 1050}, {"EUR", 1, 1}, {"JPY", 500, 500}, {"KRW", 15000, 15000}, {"UGX", 3700, 3700},
		{"HUF", 150000, 150000}, {"TWD", 9900, 9900},
		{"MGA", 12300, 123}, {"MGA", 12345, -1}, {"MGA", 99, -1},
		{"ISK", 5, 500}, {"ISK", 1234, 123400},
		{"JOD", 5120, 5120}, {"JOD", 5125, -1}, {"KWD", 10000, 10000}, {"BHD", 1, -1}, {"TND", 990, 990},
	} {
		got, err := p.ProviderAmount(c.iso, c.currency)
		if c.stripe < 0 {
			if !errors.Is(err, providers.ErrAmountNotSupported) {
				t.Errorf("%d %s: %d, %v; want refused", c.iso, c.currency, got, err)
			}
			continue
		}
		if err != nil || got != c.stripe {
			t.Errorf("%d %s = %d, %v; want %d", c.iso, c.currency, got, err, c.stripe)
		}
		if back := p.ISOAmount(got, c.currency); back != c.iso {
			t.Errorf("%d %s: back from Stripe %d", c.iso, c.currency, back)
		}
	}
}

// TestStripeChargesInItsOwnUnits: a charge of 5 ISK (ISO minor units) is sent as 500
// and reported back as 5; an amount Stripe cannot take is refused without a request.
func TestStripeChargesInItsOwnUnits(t *testing.T) {
	var sent []url.Values
	srv, calls := serve(t, func(r *http.Request, form url.Values) stripeError {
		sent = append(sent, form)
		return stripeError{200, nil, `{"id":"pi_isk","object":"payment_intent","amount":500,"currency":"isk","status":"succeeded"}`}
	})
	p := newProvider(t, srv.URL, 5*time.Second)
	req := chargeReq(providers.InitiatorMerchant)
	req.Amount, req.Currency = 5, "ISK"
	res, err := p.Charge(context.Background(), req)
	if err != nil || res.Amount != 5 || res.Currency != "ISK" || len(sent) != 1 || sent[0].Get("amount") != "500" {
		t.Fatalf("5 ISK: %+v, %v, sent %v; want amount=500 sent and 5 reported", res, err, sent)
	}
	req.Amount, req.Currency = 12345, "MGA"
	_, err = p.Charge(context.Background(), req)
	if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeAmountNotSupported || e.Class != providers.ClassInvalidRequest {
		t.Errorf("123.45 MGA: %v, want amount_not_supported", err)
	}
	if calls.Load() != 1 {
		t.Errorf("%d requests, want the ISK one only", calls.Load())
	}
}

// TestStripeRefundsInItsOwnUnits: a refund of 5 ISK is sent as 500 and reported as 5;
// 123.45 MGA is refused without a request.
func TestStripeRefundsInItsOwnUnits(t *testing.T) {
	var sent []url.Values
	srv, calls := serve(t, func(r *http.Request, form url.Values) stripeError {
		sent = append(sent, form)
		return stripeError{200, nil, `{"id":"re_1","object":"refund","amount":500,"currency":"isk","status":"succeeded"}`}
	})
	p := newProvider(t, srv.URL, 5*time.Second)
	res, err := p.Refund(context.Background(), providers.RefundRequest{ChargeID: "pi_isk", Amount: 5, Currency: "ISK", IdempotencyKey: "re/1"})
	if err != nil || res.Amount != 5 || len(sent) != 1 || sent[0].Get("amount") != "500" {
		t.Fatalf("refund 5 ISK: %+v, %v, sent %v", res, err, sent)
	}
	_, err = p.Refund(context.Background(), providers.RefundRequest{ChargeID: "pi_mga", Amount: 12345, Currency: "MGA", IdempotencyKey: "re/2"})
	if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeAmountNotSupported || calls.Load() != 1 {
		t.Errorf("refund 123.45 MGA: %v after %d requests, want amount_not_supported without a request", err, calls.Load())
	}
}
