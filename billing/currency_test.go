package billing

import (
	"errors"
	"strings"
	"testing"
)

// TestCurrencyExponents pins minor-unit exponents against ISO 4217 List One, favouring
// the ones other sources get wrong: CLDR (golang.org/x/text/currency) says IDR 0, COP 0,
// IQD 0 and others carry withdrawn codes or guess 2 for the funds.
func TestCurrencyExponents(t *testing.T) {
	want := map[string]int{
		// Two decimals, the common case.
		"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "INR": 2, "BRL": 2,
		"MXN": 2, "SAR": 2, "AED": 2, "EGP": 2, "HUF": 2, "TWD": 2,
		// Two per ISO although CLDR/x/text says 0.
		"IDR": 2, "COP": 2,
		// No minor unit.
		"JPY": 0, "KRW": 0, "VND": 0, "ISK": 0, "CLP": 0, "PYG": 0, "UGX": 0, "XOF": 0,
		"XAF": 0, "XPF": 0, "BIF": 0, "DJF": 0, "GNF": 0, "KMF": 0, "RWF": 0, "VUV": 0,
		"UYI": 0,
		// Three decimals: the dinars and the Omani rial (IQD is 0 in CLDR).
		"JOD": 3, "KWD": 3, "BHD": 3, "IQD": 3, "LYD": 3, "OMR": 3, "TND": 3,
		// Four: the Chilean and Uruguayan indexed units.
		"CLF": 4, "UYW": 4,
		// Recent List One additions and replacements.
		"XCG": 2, "ZWG": 2, "SLE": 2, "VES": 2, "VED": 2, "MRU": 2, "STN": 2, "BYN": 2,
		"XAD": 2,
	}
	for code, exp := range want {
		c, err := LookupCurrency(code)
		if err != nil {
			t.Errorf("LookupCurrency(%s): %v", code, err)
			continue
		}
		if c.Code != code || c.Exponent != exp {
			t.Errorf("LookupCurrency(%s) = %+v, want exponent %d", code, c, exp)
		}
	}
	if len(want) < 20 {
		t.Fatalf("pin at least 20 currencies, have %d", len(want))
	}
}

func TestLookupCurrencyRefuses(t *testing.T) {
	tests := []struct {
		code, mention string
	}{
		// Withdrawn, with what replaced them.
		{"HRK", "EUR"}, {"VEF", "VES"}, {"SLL", "SLE"}, {"MRO", "MRU"}, {"STD", "STN"},
		{"BYR", "BYN"}, {"LTL", "EUR"}, {"EEK", "EUR"}, {"ZWL", "ZWG"}, {"ANG", "XCG"},
		{"BGN", "EUR"}, {"CUC", "CUP"},
		// In List One but with no minor unit.
		{"XAU", "no minor unit"}, {"XDR", "no minor unit"}, {"XTS", "no minor unit"}, {"XXX", "no minor unit"},
		// Not currencies, or not spelled as ISO does.
		{"", "required"}, {"ABC", "not an active"}, {"US", "not an active"}, {"USDD", "not an active"},
		{"usd", "upper case"}, {"Eur", "upper case"},
	}
	for _, tc := range tests {
		_, err := LookupCurrency(tc.code)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("LookupCurrency(%q) = %v, want *Error", tc.code, err)
			continue
		}
		if e.Kind != KindInvalid || e.Code != CodeInvalidCurrency || e.Param != "currency" {
			t.Errorf("LookupCurrency(%q) = %s/%s/%s, want invalid/invalid_currency/currency", tc.code, e.Kind, e.Code, e.Param)
		}
		if !strings.Contains(e.Message, tc.mention) {
			t.Errorf("LookupCurrency(%q) message %q does not mention %q", tc.code, e.Message, tc.mention)
		}
	}
}

func TestCurrencyTablesAreConsistent(t *testing.T) {
	for code, exp := range iso4217Exponents {
		if len(code) != 3 || strings.ToUpper(code) != code {
			t.Errorf("code %q is not three upper-case letters", code)
		}
		if exp != 0 && exp != 2 && exp != 3 && exp != 4 {
			t.Errorf("%s exponent %d: ISO 4217 uses only 0, 2, 3 and 4", code, exp)
		}
		if noMinorUnit[code] || withdrawnCurrencies[code] != "" {
			t.Errorf("%s is both active and refused", code)
		}
	}
	for old, repl := range withdrawnCurrencies {
		if noMinorUnit[old] {
			t.Errorf("%s is both withdrawn and without minor unit", old)
		}
		if _, ok := iso4217Exponents[repl]; !ok {
			t.Errorf("%s is replaced by %s, which is not active", old, repl)
		}
	}
	// List One of 2026-01-01 has 178 codes: those with a minor unit and the N.A. ones.
	if n := len(iso4217Exponents) + len(noMinorUnit); n != 178 {
		t.Errorf("table has %d List One codes, want 178", n)
	}
}

func TestCurrencyFormatAmount(t *testing.T) {
	tests := []struct {
		amount int64
		code   string
		want   string
	}{
		{1050, "USD", "10.50 USD"},
		{5, "USD", "0.05 USD"},
		{-5, "USD", "-0.05 USD"},
		{0, "USD", "0.00 USD"},
		{123456789, "EUR", "1,234,567.89 EUR"},
		{999, "JPY", "999 JPY"},
		{1000, "JPY", "1,000 JPY"},
		{-100000, "KRW", "-100,000 KRW"},
		{1234567, "KWD", "1,234.567 KWD"},
		{-5, "BHD", "-0.005 BHD"},
		{12345, "CLF", "1.2345 CLF"},
		{9223372036854775807, "JPY", "9,223,372,036,854,775,807 JPY"},
		// The magnitude of MinInt64 has no int64 form; it must not wrap.
		{-9223372036854775808, "USD", "-92,233,720,368,547,758.08 USD"},
	}
	for _, tc := range tests {
		c, err := LookupCurrency(tc.code)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.FormatAmount(tc.amount); got != tc.want {
			t.Errorf("FormatAmount(%d %s) = %q, want %q", tc.amount, tc.code, got, tc.want)
		}
	}
}
