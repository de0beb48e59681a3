package billing

import (
	"math"
	"strings"
)

// Money is an amount in the minor unit of an ISO 4217 currency: {"amount": 1050,
// "currency": "USD"} is 10.50 US dollars. Integers, never floats, so every sum is exact.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// NewMoney returns amount minor units of currency, refusing codes LookupCurrency refuses.
func NewMoney(amount int64, currency string) (Money, error) {
	if _, err := LookupCurrency(currency); err != nil {
		return Money{}, err
	}
	return Money{Amount: amount, Currency: currency}, nil
}

// Add returns m + o. Different currencies are a currency_mismatch error and a sum beyond
// int64 is an amount_overflow error: a wrapped total would charge a wrong amount.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, Errorf(KindInvalid, CodeCurrencyMismatch, "cannot add %s to %s", o.Currency, m.Currency)
	}
	sum, ok := addInt64(m.Amount, o.Amount)
	if !ok {
		return Money{}, Errorf(KindInvalid, CodeAmountOverflow, "%d + %d %s does not fit in 64 bits", m.Amount, o.Amount, m.Currency)
	}
	return Money{Amount: sum, Currency: m.Currency}, nil
}

// Sub returns m - o, with the same checks as Add.
func (m Money) Sub(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, Errorf(KindInvalid, CodeCurrencyMismatch, "cannot subtract %s from %s", o.Currency, m.Currency)
	}
	d := m.Amount - o.Amount
	// Overflow happened iff the operands have different signs and d has o's sign.
	if (m.Amount >= 0) != (o.Amount >= 0) && (d >= 0) != (m.Amount >= 0) {
		return Money{}, Errorf(KindInvalid, CodeAmountOverflow, "%d - %d %s does not fit in 64 bits", m.Amount, o.Amount, m.Currency)
	}
	return Money{Amount: d, Currency: m.Currency}, nil
}

// Format renders m for people with Currency.FormatAmount ("1,234.50 USD", "1,000 JPY").
// An unknown currency has no known exponent, so its raw minor units are shown with the
// code and a "?" ("1050 XYZ?") rather than a guessed decimal point.
func (m Money) Format() string {
	c, err := LookupCurrency(m.Currency)
	if err != nil {
		return formatInt(m.Amount) + " " + m.Currency + "?"
	}
	return c.FormatAmount(m.Amount)
}

// String returns Format, so Money prints readably in logs and %v.
func (m Money) String() string { return m.Format() }

// ParseMoney reads a decimal amount in major units ("10.50", "-3", "0.125") into minor
// units of currency. It refuses more decimals than the currency has ("10.505" USD),
// exponents, grouping separators and signs other than a leading "-", so that what a
// person typed is exactly what is charged (code invalid_amount, param "amount"); a value
// beyond int64 minor units is amount_overflow.
func ParseMoney(amount, currency string) (Money, error) {
	c, err := LookupCurrency(currency)
	if err != nil {
		return Money{}, err
	}
	s, neg := strings.CutPrefix(amount, "-")
	whole, frac, hasPoint := strings.Cut(s, ".")
	if whole == "" || hasPoint && frac == "" || !allDigits(whole) || !allDigits(frac) {
		return Money{}, Invalid("amount", CodeInvalidAmount, "amount %q is not a decimal number like 10.50", amount)
	}
	if len(frac) > c.Exponent {
		return Money{}, Invalid("amount", CodeInvalidAmount, "amount %q has more than %d decimal places, the most %s allows", amount, c.Exponent, c.Code)
	}
	digits := whole + frac + strings.Repeat("0", c.Exponent-len(frac))
	// Accumulate the magnitude; int64 holds one more negative value than positive.
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var mag uint64
	for _, d := range []byte(digits) {
		if mag > (limit-uint64(d-'0'))/10 {
			return Money{}, Invalid("amount", CodeAmountOverflow, "amount %q %s does not fit in 64-bit minor units", amount, c.Code)
		}
		mag = mag*10 + uint64(d-'0')
	}
	v := int64(mag)
	if neg {
		v = int64(-mag)
	}
	return Money{Amount: v, Currency: c.Code}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func formatInt(v int64) string {
	neg := v < 0
	mag := uint64(v)
	if neg {
		mag = -mag
	}
	var buf [21]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + mag%10)
		mag /= 10
		if mag == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// addInt64 returns a+b and whether it fit in int64.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	// Overflow happened iff a and b have the same sign and s has the other one.
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		return 0, false
	}
	return s, true
}

// mulInt64 returns a*b and whether it fit in int64.
func mulInt64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	if p/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
		return 0, false
	}
	return p, true
}
