package billing

import (
	"fmt"
	"strings"
)

// Currency is an active ISO 4217 currency and the exponent of its minor unit: an amount
// of 1050 in a currency with exponent 2 is 10.50 major units.
type Currency struct {
	Code     string `json:"code"`
	Exponent int    `json:"exponent"`
}

// LookupCurrency returns the active ISO 4217 currency with the given upper-case code.
// Unknown codes, withdrawn codes (HRK, VEF, SLL, …) and codes without a minor unit
// (XAU, XDR, XTS, XXX, …) are a *Error of KindInvalid with code invalid_currency and
// param "currency": money can't be charged in them, so the plan must never be created.
// Lower-case codes are refused too, so that one currency has one spelling everywhere it
// is stored.
func LookupCurrency(code string) (Currency, error) {
	if exp, ok := iso4217Exponents[code]; ok {
		return Currency{Code: code, Exponent: int(exp)}, nil
	}
	upper := strings.ToUpper(code)
	switch {
	case code == "":
		return Currency{}, Invalid("currency", CodeInvalidCurrency, "currency is required (an ISO 4217 code such as USD)")
	case upper != code && hasCurrency(upper):
		return Currency{}, Invalid("currency", CodeInvalidCurrency, "currency %q must be upper case: %s", code, upper)
	case withdrawnCurrencies[upper] != "":
		return Currency{}, Invalid("currency", CodeInvalidCurrency, "currency %s was withdrawn from ISO 4217 (use %s)", code, withdrawnCurrencies[upper])
	case noMinorUnit[upper]:
		return Currency{}, Invalid("currency", CodeInvalidCurrency, "currency %s has no minor unit in ISO 4217 and cannot be charged", code)
	}
	return Currency{}, Invalid("currency", CodeInvalidCurrency, "currency %q is not an active ISO 4217 code", code)
}

func hasCurrency(code string) bool {
	_, ok := iso4217Exponents[code]
	return ok
}

// MinorUnits returns how many minor units make one major unit (100 for USD, 1 for JPY).
func (c Currency) MinorUnits() int64 {
	return pow10(c.Exponent)
}

// FormatAmount renders amount (in minor units) for people: the major units grouped by
// thousands with ",", the minor units after ".", then the code: "1,234.50 USD",
// "1,000 JPY", "-0.005 KWD". It is deliberately locale-neutral (logs, e-mails, the
// dashboard's fallback); localized display belongs to the client.
func (c Currency) FormatAmount(amount int64) string {
	neg := amount < 0
	// uint64 negation gives the magnitude even for math.MinInt64.
	mag := uint64(amount)
	if neg {
		mag = -mag
	}
	unit := uint64(pow10(c.Exponent))
	whole, frac := mag/unit, mag%unit

	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	digits := fmt.Sprint(whole)
	for i, r := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if c.Exponent > 0 {
		fmt.Fprintf(&b, ".%0*d", c.Exponent, frac)
	}
	b.WriteByte(' ')
	b.WriteString(c.Code)
	return b.String()
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}
