package providers_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// fakeProvider only answers Name and Capabilities; the registry needs nothing else.
type fakeProvider struct {
	name string
	caps []providers.Capability
}

var _ providers.Provider = fakeProvider{}

func (f fakeProvider) Name() string                         { return f.name }
func (f fakeProvider) Capabilities() []providers.Capability { return f.caps }
func (fakeProvider) SaveCard(context.Context, providers.SaveCardRequest) (providers.SavedCard, error) {
	return providers.SavedCard{}, errors.New("not implemented")
}
func (fakeProvider) Charge(context.Context, providers.ChargeRequest) (providers.ChargeResult, error) {
	return providers.ChargeResult{}, errors.New("not implemented")
}
func (fakeProvider) Detach(context.Context, providers.DetachRequest) error { return nil }

func (fakeProvider) Refund(context.Context, providers.RefundRequest) (providers.RefundResult, error) {
	return providers.RefundResult{}, errors.New("not implemented")
}

func testRegistry(t *testing.T) *providers.Registry {
	t.Helper()
	r, err := providers.NewRegistry(
		fakeProvider{"zeta", []providers.Capability{
			{Provider: "zeta", Method: "card", Recurring: true, Refunds: true},
		}},
		fakeProvider{"alpha", []providers.Capability{
			{Provider: "alpha", Method: "card", Recurring: false, Refunds: false, Currencies: []string{"JOD"}},
			{Provider: "alpha", Method: "apple_pay", Recurring: true},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRegistryMatrix(t *testing.T) {
	r := testRegistry(t)
	b, err := json.Marshal(r.Capabilities())
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"provider":"alpha","method":"apple_pay","recurring":true,"refunds":false,"three_d_secure":false,"moto":false,"hosted_page":false},` +
		`{"provider":"alpha","method":"card","recurring":false,"refunds":false,"three_d_secure":false,"moto":false,"hosted_page":false,"currencies":["JOD"]},` +
		`{"provider":"zeta","method":"card","recurring":true,"refunds":true,"three_d_secure":false,"moto":false,"hosted_page":false}]`
	if string(b) != want {
		t.Errorf("matrix JSON\n got %s\nwant %s", b, want)
	}
	empty, _ := providers.NewRegistry()
	if b, _ := json.Marshal(empty.Capabilities()); string(b) != "[]" {
		t.Errorf("empty matrix renders %s, want []", b)
	}
	if got := r.Names(); len(got) != 2 || got[0] != "alpha" {
		t.Errorf("Names = %v", got)
	}
}

func TestRegistryCheckRecurring(t *testing.T) {
	r := testRegistry(t)
	if err := r.CheckRecurring("zeta", "card"); err != nil {
		t.Errorf("zeta card: %v", err)
	}
	for _, c := range [][2]string{{"alpha", "card"}, {"zeta", "apple_pay"}} {
		err := r.CheckRecurring(c[0], c[1])
		if providers.CodeOf(err) != billing.CodeRecurringNotSupported || providers.ClassOf(err) != providers.ClassHardDecline {
			t.Errorf("%s/%s = %v, want a recurring_not_supported hard decline", c[0], c[1], err)
		}
		if !errors.Is(err, providers.ErrNotSupported) {
			t.Errorf("%s/%s does not wrap ErrNotSupported", c[0], c[1])
		}
		var be *billing.Error
		if !errors.As(providers.ToBilling(err), &be) || be.Kind != billing.KindUnprocessable || be.Code != billing.CodeRecurringNotSupported {
			t.Errorf("ToBilling(%v) = %+v, want unprocessable recurring_not_supported", err, be)
		}
	}
	err := r.CheckRecurring("nope", "card")
	if e, ok := providers.AsError(err); !ok || e.Code != billing.CodeUnknownProvider || e.Param != "provider" {
		t.Errorf("unknown provider = %v", err)
	}
	if billing.KindOf(providers.ToBilling(err)) != billing.KindInvalid {
		t.Errorf("unknown provider is not a 400: %v", providers.ToBilling(err))
	}
}

func TestRegistryRejectsDuplicates(t *testing.T) {
	if _, err := providers.NewRegistry(fakeProvider{name: "a"}, fakeProvider{name: "a"}); err == nil {
		t.Error("two providers named a were accepted")
	}
	if _, err := providers.NewRegistry(fakeProvider{}); err == nil {
		t.Error("a provider without a name was accepted")
	}
}

func TestCapabilityCurrencies(t *testing.T) {
	c := providers.Capability{Currencies: []string{"JOD", "USD"}}
	if !c.SupportsCurrency("usd") || c.SupportsCurrency("EUR") {
		t.Error("SupportsCurrency ignores the list")
	}
	if !(providers.Capability{}).SupportsCurrency("XYZ") {
		t.Error("an empty list must accept any currency")
	}
}

func TestToBilling(t *testing.T) {
	cases := []struct {
		err  error
		kind billing.Kind
	}{
		{providers.Classify(providers.Failure{Reason: "insufficient_funds"}), billing.KindCardDeclined},
		{providers.Classify(providers.Failure{Reason: "stolen_card"}), billing.KindCardDeclined},
		{providers.Classify(providers.Failure{Reason: "authentication_required"}), billing.KindCardDeclined},
		{providers.Classify(providers.Failure{HTTPStatus: 429}), billing.KindRateLimited},
		{providers.Classify(providers.Failure{HTTPStatus: 503}), billing.KindUnavailable},
		{providers.Classify(providers.Failure{HTTPStatus: 401}), billing.KindInternal},
		{providers.Classify(providers.Failure{Reason: "idempotency_conflict"}), billing.KindConflict},
		{&providers.Error{Class: providers.ClassHardDecline, Code: billing.CodeCardExpired, Param: "exp_year"}, billing.KindInvalid},
		{&providers.Error{Class: providers.ClassInvalidRequest, Code: billing.CodeRefundNotSupported, Err: providers.ErrNotSupported}, billing.KindUnprocessable},
	}
	for _, c := range cases {
		got := providers.ToBilling(c.err)
		if billing.KindOf(got) != c.kind {
			t.Errorf("ToBilling(%v) kind = %s, want %s", c.err, billing.KindOf(got), c.kind)
		}
		if providers.CodeOf(got) != providers.CodeOf(c.err) {
			t.Errorf("ToBilling lost the *providers.Error cause of %v", c.err)
		}
	}
	plain := errors.New("plain")
	if providers.ToBilling(plain) != plain {
		t.Error("ToBilling changed an error that is not a provider error")
	}
}

func TestChargeRequestValidate(t *testing.T) {
	ok := providers.ChargeRequest{Token: "t", Amount: 1, Currency: "JOD", IdempotencyKey: "k", Initiator: providers.InitiatorMerchant}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := ok
	bad.IdempotencyKey = ""
	if e, _ := providers.AsError(bad.Validate()); e == nil || e.Code != billing.CodeIdempotencyKeyRequired || e.Class != providers.ClassInvalidRequest {
		t.Errorf("missing key = %v", bad.Validate())
	}
	bad = ok
	bad.Amount = -5
	if providers.CodeOf(bad.Validate()) != billing.CodeInvalidAmount {
		t.Errorf("negative amount = %v", bad.Validate())
	}
}
