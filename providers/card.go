package providers

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/recurring/recurring/billing"
)

// Card is raw card data on its way to a provider. It is the only type that holds a PAN
// and CVC, and it refuses to reveal them: every fmt verb, slog and encoding/json see only
// the brand, last four digits and expiry. Adapters read the fields directly.
//
// Because MarshalJSON drops the PAN, a Card does not survive a JSON round trip: it cannot
// travel through a Temporal payload or a queue by accident. Tokenize it with a direct
// provider call (SaveCard) and pass the token on instead.
type Card struct {
	Number   string
	ExpMonth int
	ExpYear  int
	CVC      string
}

// Card brands returned by Brand.
const (
	BrandVisa       = "visa"
	BrandMastercard = "mastercard"
	BrandAmex       = "amex"
	BrandDiscover   = "discover"
	BrandDiners     = "diners"
	BrandJCB        = "jcb"
	BrandUnionPay   = "unionpay"
	BrandUnknown    = "unknown"
)

// Last4 returns the last four digits of the number, the only part that may be shown.
func (c Card) Last4() string {
	n := digitsOnly(c.Number)
	if len(n) < 4 {
		return ""
	}
	return n[len(n)-4:]
}

// Brand returns the card's network, detected from its number.
func (c Card) Brand() string { return Brand(c.Number) }

// String describes the card without its number or CVC.
func (c Card) String() string {
	return fmt.Sprintf("Card{brand=%s last4=%s exp=%02d/%04d}", c.Brand(), c.Last4(), c.ExpMonth, c.ExpYear)
}

// GoString makes %#v as safe as %v.
func (c Card) GoString() string { return c.String() }

// Format handles every verb, including %+v, %x and %q, which would otherwise print the
// struct's fields.
func (c Card) Format(f fmt.State, verb rune) {
	s := c.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = f.Write([]byte(s))
}

// LogValue keeps the PAN and CVC out of slog, whatever the handler.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("brand", c.Brand()),
		slog.String("last4", c.Last4()),
		slog.Int("exp_month", c.ExpMonth),
		slog.Int("exp_year", c.ExpYear),
	)
}

// MarshalJSON writes only the displayable fields, so a Card inside a logged or persisted
// struct cannot leak.
func (c Card) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Brand    string `json:"brand"`
		Last4    string `json:"last4"`
		ExpMonth int    `json:"exp_month"`
		ExpYear  int    `json:"exp_year"`
	}{c.Brand(), c.Last4(), c.ExpMonth, c.ExpYear})
}

// Brand detects a card network from the leading digits (IIN ranges).
func Brand(number string) string {
	n := digitsOnly(number)
	p := func(k int) int {
		if len(n) < k {
			return -1
		}
		v, _ := strconv.Atoi(n[:k])
		return v
	}
	switch {
	case strings.HasPrefix(n, "4"):
		return BrandVisa
	case between(p(2), 51, 55), between(p(4), 2221, 2720):
		return BrandMastercard
	case p(2) == 34, p(2) == 37:
		return BrandAmex
	case p(4) == 6011, between(p(3), 644, 649), p(2) == 65:
		return BrandDiscover
	case between(p(4), 3528, 3589):
		return BrandJCB
	case p(2) == 36, p(2) == 38, p(2) == 39, between(p(3), 300, 305):
		return BrandDiners
	case p(2) == 62:
		return BrandUnionPay
	}
	return BrandUnknown
}

func between(v, lo, hi int) bool { return v >= lo && v <= hi }

// Luhn reports whether number (digits, spaces or dashes allowed) passes the Luhn check.
func Luhn(number string) bool {
	n := digitsOnly(number)
	if n == "" || len(n) != len(strings.NewReplacer(" ", "", "-", "").Replace(number)) {
		return false
	}
	sum := 0
	double := false
	for i := len(n) - 1; i >= 0; i-- {
		d := int(n[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// CheckCard validates a card before it is sent to a provider, so obviously bad input is
// answered at once and never costs a provider call. It returns the card with spaces and
// dashes removed from the number. Failures are *Error with Param set to the offending
// field: number → invalid_card_number, exp_month → invalid_expiry_month, exp_year →
// invalid_expiry_year or card_expired (hard decline), cvc → invalid_cvc. A card is valid
// through the last day of its expiry month; now is compared in UTC.
func CheckCard(c Card, now time.Time) (Card, error) {
	raw := strings.NewReplacer(" ", "", "-", "").Replace(c.Number)
	if raw != digitsOnly(raw) || len(raw) < 12 || len(raw) > 19 || !Luhn(raw) {
		return c, &Error{Class: ClassHardDecline, Code: billing.CodeInvalidCardNumber, Param: "number",
			Message: "the card number is not a valid card number"}
	}
	c.Number = raw
	if c.ExpMonth < 1 || c.ExpMonth > 12 {
		return c, invalid(billing.CodeInvalidExpiryMonth, "exp_month", "exp_month must be between 1 and 12")
	}
	now = now.UTC()
	if c.ExpYear < 2000 || c.ExpYear > now.Year()+50 {
		return c, invalid(billing.CodeInvalidExpiryYear, "exp_year", "exp_year must be a four-digit year")
	}
	if c.ExpYear < now.Year() || (c.ExpYear == now.Year() && c.ExpMonth < int(now.Month())) {
		return c, &Error{Class: ClassHardDecline, Code: billing.CodeCardExpired, Param: "exp_year",
			Message: "the card has expired"}
	}
	if c.CVC != "" {
		want := 3
		if c.Brand() == BrandAmex {
			want = 4
		}
		if len(c.CVC) != want || digitsOnly(c.CVC) != c.CVC {
			return c, invalid(billing.CodeInvalidCVC, "cvc", fmt.Sprintf("cvc must be %d digits", want))
		}
	}
	return c, nil
}
