package billing

import (
	"errors"
	"maps"
	"math"
	"math/big"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func codeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestMoneyAdd(t *testing.T) {
	usd := func(a int64) Money { return Money{Amount: a, Currency: "USD"} }
	tests := []struct {
		name     string
		a, b     Money
		want     int64
		wantCode string
	}{
		{"plain", usd(1050), usd(250), 1300, ""},
		{"negative", usd(-100), usd(30), -70, ""},
		{"to the max", usd(math.MaxInt64 - 1), usd(1), math.MaxInt64, ""},
		{"to the min", usd(math.MinInt64 + 1), usd(-1), math.MinInt64, ""},
		{"past the max", usd(math.MaxInt64), usd(1), 0, CodeAmountOverflow},
		{"past the min", usd(math.MinInt64), usd(-1), 0, CodeAmountOverflow},
		{"two halves past the max", usd(math.MaxInt64/2 + 1), usd(math.MaxInt64/2 + 1), 0, CodeAmountOverflow},
		{"other currency", usd(1), Money{Amount: 1, Currency: "EUR"}, 0, CodeCurrencyMismatch},
	}
	for _, tc := range tests {
		got, err := tc.a.Add(tc.b)
		if codeOf(err) != tc.wantCode || tc.wantCode == "" && (err != nil || got != usd(tc.want)) {
			t.Errorf("%s: %v + %v = %v, %v; want %d, code %q", tc.name, tc.a.Amount, tc.b.Amount, got, err, tc.want, tc.wantCode)
		}
	}
}

func TestMoneySub(t *testing.T) {
	usd := func(a int64) Money { return Money{Amount: a, Currency: "USD"} }
	if got, err := usd(100).Sub(usd(250)); err != nil || got.Amount != -150 {
		t.Errorf("100 - 250 = %v, %v", got, err)
	}
	// -MinInt64 has no int64 form: 0 - MinInt64 overflows, -1 - MinInt64 does not.
	if _, err := usd(0).Sub(usd(math.MinInt64)); codeOf(err) != CodeAmountOverflow {
		t.Errorf("0 - MinInt64: %v, want amount_overflow", err)
	}
	if got, err := usd(-1).Sub(usd(math.MinInt64)); err != nil || got.Amount != math.MaxInt64 {
		t.Errorf("-1 - MinInt64 = %v, %v; want MaxInt64", got, err)
	}
	if _, err := usd(math.MinInt64).Sub(usd(1)); codeOf(err) != CodeAmountOverflow {
		t.Errorf("MinInt64 - 1: %v, want amount_overflow", err)
	}
}

// TestMoneyAddMatchesBigInt checks the overflow rule against arbitrary precision: Add
// and Sub return the exact result when it fits in int64 and amount_overflow otherwise.
func TestMoneyAddMatchesBigInt(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		a := rapid.OneOf(rapid.Int64(), rapid.Int64Range(math.MaxInt64-1000, math.MaxInt64), rapid.Int64Range(math.MinInt64, math.MinInt64+1000)).Draw(t, "a")
		b := rapid.OneOf(rapid.Int64(), rapid.Int64Range(-1000, 1000), rapid.Int64Range(math.MinInt64, math.MinInt64+1000)).Draw(t, "b")
		exact := new(big.Int).Add(big.NewInt(a), big.NewInt(b))
		got, err := Money{a, "EUR"}.Add(Money{b, "EUR"})
		if exact.IsInt64() {
			if err != nil || got.Amount != exact.Int64() {
				t.Fatalf("%d + %d = %v, %v; want %v", a, b, got.Amount, err, exact)
			}
		} else if codeOf(err) != CodeAmountOverflow {
			t.Fatalf("%d + %d = %v, %v; want amount_overflow", a, b, got.Amount, err)
		}
		exact = new(big.Int).Sub(big.NewInt(a), big.NewInt(b))
		got, err = Money{a, "EUR"}.Sub(Money{b, "EUR"})
		if exact.IsInt64() {
			if err != nil || got.Amount != exact.Int64() {
				t.Fatalf("%d - %d = %v, %v; want %v", a, b, got.Amount, err, exact)
			}
		} else if codeOf(err) != CodeAmountOverflow {
			t.Fatalf("%d - %d = %v, %v; want amount_overflow", a, b, got.Amount, err)
		}
	})
}

func TestParseMoney(t *testing.T) {
	tests := []struct {
		in, currency string
		want         int64
		wantCode     string
	}{
		{"10.50", "USD", 1050, ""},
		{"10.5", "USD", 1050, ""},
		{"10", "USD", 1000, ""},
		{"0.01", "USD", 1, ""},
		{"-0.01", "USD", -1, ""},
		{"007.10", "USD", 710, ""},
		{"1000", "JPY", 1000, ""},
		{"0.125", "KWD", 125, ""},
		{"1.2345", "CLF", 12345, ""},
		{"92233720368547758.07", "USD", math.MaxInt64, ""},
		{"-92233720368547758.08", "USD", math.MinInt64, ""},
		{"92233720368547758.08", "USD", 0, CodeAmountOverflow},
		{"99999999999999999999999", "JPY", 0, CodeAmountOverflow},
		{"10.505", "USD", 0, CodeInvalidAmount},
		{"1.0", "JPY", 0, CodeInvalidAmount},
		{"1e3", "USD", 0, CodeInvalidAmount},
		{"1,000", "USD", 0, CodeInvalidAmount},
		{"+1", "USD", 0, CodeInvalidAmount},
		{"", "USD", 0, CodeInvalidAmount},
		{"-", "USD", 0, CodeInvalidAmount},
		{".5", "USD", 0, CodeInvalidAmount},
		{"5.", "USD", 0, CodeInvalidAmount},
		{" 1", "USD", 0, CodeInvalidAmount},
		{"--1", "USD", 0, CodeInvalidAmount},
		{"1", "HRK", 0, CodeInvalidCurrency},
	}
	for _, tc := range tests {
		got, err := ParseMoney(tc.in, tc.currency)
		if codeOf(err) != tc.wantCode || tc.wantCode == "" && got != (Money{tc.want, tc.currency}) {
			t.Errorf("ParseMoney(%q, %s) = %v, %v; want %d, code %q", tc.in, tc.currency, got.Amount, err, tc.want, tc.wantCode)
		}
	}
}

// TestFormatParseRoundTrip: what Format shows, ParseMoney reads back to the same
// amount, for every active currency, so the display never loses or moves a digit.
func TestFormatParseRoundTrip(t *testing.T) {
	codes := slices.Sorted(maps.Keys(iso4217Exponents)) // sorted: rapid seeds must replay
	rapid.Check(t, func(t *rapid.T) {
		code := rapid.SampledFrom(codes).Draw(t, "currency")
		amount := rapid.OneOf(rapid.Int64(), rapid.Int64Range(-100000, 100000)).Draw(t, "amount")
		shown := Money{amount, code}.Format()
		number, ok := strings.CutSuffix(shown, " "+code)
		if !ok {
			t.Fatalf("Format = %q, want the code last", shown)
		}
		back, err := ParseMoney(strings.ReplaceAll(number, ",", ""), code)
		if err != nil || back.Amount != amount {
			t.Fatalf("ParseMoney(Format(%d %s) = %q) = %v, %v", amount, code, shown, back, err)
		}
	})
}

func TestMoneyFormatUnknownCurrency(t *testing.T) {
	if got := (Money{1050, "XYZ"}).Format(); got != "1050 XYZ?" {
		t.Errorf("Format = %q", got)
	}
	if got := (Money{math.MinInt64, "HRK"}).String(); got != "-9223372036854775808 HRK?" {
		t.Errorf("String = %q", got)
	}
}

func TestNewMoney(t *testing.T) {
	if m, err := NewMoney(1050, "USD"); err != nil || m != (Money{1050, "USD"}) {
		t.Errorf("NewMoney = %v, %v", m, err)
	}
	if _, err := NewMoney(1, "VEF"); codeOf(err) != CodeInvalidCurrency {
		t.Errorf("NewMoney(VEF) = %v", err)
	}
}
