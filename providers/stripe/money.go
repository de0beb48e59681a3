package stripe

import (
	"fmt"
	"strings"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Stripe's money rules (https://docs.stripe.com/currencies):
//   - zero-decimal currencies take whole units; among them MGA has two decimals in
//     ISO 4217, so only whole ariary can be charged (ISO 12300 → Stripe 123);
//   - ISK has no decimals in ISO 4217 but stays two-decimal in Stripe's API, in
//     multiples of 100 (ISO 5 → Stripe 500);
//   - three-decimal currencies take amounts whose last digit is 0 (ISO 5125 JOD is
//     refused, 5120 is sent as is);
//   - every other currency counts as ISO 4217 does.
var _ providers.AmountConverter = (*Provider)(nil)

var zeroDecimal = map[string]bool{
	"BIF": true, "CLP": true, "DJF": true, "GNF": true, "JPY": true, "KMF": true, "KRW": true, "MGA": true,
	"PYG": true, "RWF": true, "UGX": true, "VND": true, "VUV": true, "XAF": true, "XOF": true, "XPF": true,
}

// exponents returns a currency's decimals in ISO 4217 and at Stripe.
func exponents(currency string) (iso, stripe int, err error) {
	c, err := billing.LookupCurrency(strings.ToUpper(currency))
	if err != nil {
		return 0, 0, err
	}
	switch code := c.Code; {
	case zeroDecimal[code]:
		return c.Exponent, 0, nil
	case code == "ISK":
		return c.Exponent, 2, nil
	}
	return c.Exponent, c.Exponent, nil
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// ProviderAmount converts ISO 4217 minor units to Stripe's amount.
func (p *Provider) ProviderAmount(amount int64, currency string) (int64, error) {
	iso, st, err := exponents(currency)
	if err != nil {
		return 0, err
	}
	out := amount
	switch {
	case st > iso:
		out = amount * pow10(st-iso)
	case st < iso:
		f := pow10(iso - st)
		if amount%f != 0 {
			return 0, fmt.Errorf("%w: Stripe charges %s in whole units, so the amount must be a multiple of %d minor units",
				providers.ErrAmountNotSupported, strings.ToUpper(currency), f)
		}
		out = amount / f
	}
	if st == 3 && out%10 != 0 {
		return 0, fmt.Errorf("%w: Stripe takes %s amounts ending in 0 (whole hundredths)", providers.ErrAmountNotSupported,
			strings.ToUpper(currency))
	}
	return out, nil
}

// ISOAmount converts Stripe's amount back to ISO 4217 minor units.
func (p *Provider) ISOAmount(amount int64, currency string) int64 {
	iso, st, err := exponents(currency)
	switch {
	case err != nil:
		return amount
	case st > iso:
		return amount / pow10(st-iso)
	case st < iso:
		return amount * pow10(iso-st)
	}
	return amount
}
