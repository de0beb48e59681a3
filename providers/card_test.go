package providers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

func TestCardNeverRevealsNumberOrCVC(t *testing.T) {
	card := providers.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2031, CVC: "987"}
	req := providers.SaveCardRequest{CustomerID: "cus_1", Card: card}
	secrets := []string{card.Number, "424242424242", card.CVC}

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		out = append(out, fmt.Sprintf(verb, card), fmt.Sprintf(verb, &card), fmt.Sprintf(verb, req), fmt.Sprintf(verb, &req))
	}
	out = append(out, fmt.Sprint(card), fmt.Sprintln(card), card.String(), card.GoString())

	var logs bytes.Buffer
	// No timestamps: their nanoseconds can hold the CVC's digits by chance.
	noTime := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	jl := slog.New(slog.NewJSONHandler(&logs, noTime))
	jl.Info("save", "card", card, "req", req, "ptr", &card)
	tl := slog.New(slog.NewTextHandler(&logs, noTime))
	tl.Info("save", "card", card, "req", req, slog.Any("any", card))
	out = append(out, logs.String())

	for _, v := range []any{card, &card, req, []providers.Card{card}, map[string]any{"c": card}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}

	for _, s := range out {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("output leaks %q: %s", secret, s)
			}
		}
	}
	if !strings.Contains(logs.String(), `"last4":"4242"`) || !strings.Contains(logs.String(), `"brand":"visa"`) {
		t.Errorf("slog JSON lost the displayable fields: %s", logs.String())
	}
	if got := fmt.Sprintf("%+v", card); got != "Card{brand=visa last4=4242 exp=12/2031}" {
		t.Errorf("%%+v = %q", got)
	}
}

func TestLuhnAndBrand(t *testing.T) {
	cases := []struct {
		number string
		luhn   bool
		brand  string
	}{
		{"4242424242424242", true, providers.BrandVisa},
		{"4242 4242 4242 4242", true, providers.BrandVisa},
		{"4242-4242-4242-4242", true, providers.BrandVisa},
		{"4242424242424241", false, providers.BrandVisa},
		{"5555555555554444", true, providers.BrandMastercard},
		{"2223003122003222", true, providers.BrandMastercard},
		{"378282246310005", true, providers.BrandAmex},
		{"6011111111111117", true, providers.BrandDiscover},
		{"3056930009020004", true, providers.BrandDiners},
		{"3566002020360505", true, providers.BrandJCB},
		{"6200000000000005", true, providers.BrandUnionPay},
		{"9999999999999995", true, providers.BrandUnknown},
		{"4242x42424242424", false, providers.BrandVisa},
		{"", false, providers.BrandUnknown},
	}
	for _, c := range cases {
		if got := providers.Luhn(c.number); got != c.luhn {
			t.Errorf("Luhn(%q) = %v, want %v", c.number, got, c.luhn)
		}
		if got := providers.Brand(c.number); got != c.brand {
			t.Errorf("Brand(%q) = %q, want %q", c.number, got, c.brand)
		}
	}
}

func TestCheckCard(t *testing.T) {
	now := time.Date(2026, time.March, 31, 23, 0, 0, 0, time.UTC)
	ok := providers.Card{Number: "4242 4242 4242 4242", ExpMonth: 3, ExpYear: 2026, CVC: "123"}
	got, err := providers.CheckCard(ok, now)
	if err != nil {
		t.Fatalf("a card valid through the end of this month was rejected: %v", err)
	}
	if got.Number != "4242424242424242" {
		t.Errorf("number not normalized: %v", got.Number)
	}

	cases := []struct {
		name  string
		card  providers.Card
		code  string
		param string
		class providers.Class
	}{
		{"bad luhn", providers.Card{Number: "4242424242424241", ExpMonth: 1, ExpYear: 2030}, billing.CodeInvalidCardNumber, "number", providers.ClassHardDecline},
		{"letters", providers.Card{Number: "4242abcd42424242", ExpMonth: 1, ExpYear: 2030}, billing.CodeInvalidCardNumber, "number", providers.ClassHardDecline},
		{"too short", providers.Card{Number: "42424", ExpMonth: 1, ExpYear: 2030}, billing.CodeInvalidCardNumber, "number", providers.ClassHardDecline},
		{"month 13", providers.Card{Number: "4242424242424242", ExpMonth: 13, ExpYear: 2030}, billing.CodeInvalidExpiryMonth, "exp_month", providers.ClassInvalidRequest},
		{"two-digit year", providers.Card{Number: "4242424242424242", ExpMonth: 1, ExpYear: 30}, billing.CodeInvalidExpiryYear, "exp_year", providers.ClassInvalidRequest},
		{"last month", providers.Card{Number: "4242424242424242", ExpMonth: 2, ExpYear: 2026}, billing.CodeCardExpired, "exp_year", providers.ClassHardDecline},
		{"last year", providers.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2025}, billing.CodeCardExpired, "exp_year", providers.ClassHardDecline},
		{"short cvc", providers.Card{Number: "4242424242424242", ExpMonth: 1, ExpYear: 2030, CVC: "12"}, billing.CodeInvalidCVC, "cvc", providers.ClassInvalidRequest},
		{"amex wants 4", providers.Card{Number: "378282246310005", ExpMonth: 1, ExpYear: 2030, CVC: "123"}, billing.CodeInvalidCVC, "cvc", providers.ClassInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := providers.CheckCard(c.card, now)
			e, ok := providers.AsError(err)
			if !ok {
				t.Fatalf("CheckCard = %v, want *providers.Error", err)
			}
			if e.Code != c.code || e.Param != c.param || e.Class != c.class {
				t.Errorf("got %s/%s param %q, want %s/%s param %q", e.Class, e.Code, e.Param, c.class, c.code, c.param)
			}
			if strings.Contains(err.Error(), c.card.Number) {
				t.Errorf("error leaks the number: %v", err)
			}
		})
	}
}
