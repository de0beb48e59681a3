package stripe

import (
	"context"
	"maps"
	"slices"
	"strings"

	sdk "github.com/stripe/stripe-go/v85"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

var _ providers.TokenImporter = (*Provider)(nil)

// ImportToken takes over a card saved at Stripe: payment_method (pm_… or a legacy
// card_…) and customer (cus_…), the customer being required unless the payment method
// is attached to one already, because off-session charges need it. The payment method
// is read back, so a wrong id is refused now, and its brand, last4, expiry and
// fingerprint are Stripe's; card details the merchant sent must agree with them.
func (p *Provider) ImportToken(ctx context.Context, req providers.ImportTokenRequest) (providers.SavedCard, error) {
	for _, k := range slices.Sorted(maps.Keys(req.Fields)) {
		if k != "payment_method" && k != "customer" {
			return providers.SavedCard{}, importError(billing.CodeParameterUnknown, "token."+k, "Stripe tokens have payment_method and customer")
		}
	}
	pmID, customer := req.Fields["payment_method"], req.Fields["customer"]
	switch {
	case pmID == "":
		return providers.SavedCard{}, importError(billing.CodeParameterMissing, "token.payment_method", "payment_method is required")
	case !strings.HasPrefix(pmID, "pm_") && !strings.HasPrefix(pmID, "card_"):
		return providers.SavedCard{}, importError(billing.CodeInvalidValue, "token.payment_method", "payment_method is a Stripe id (pm_… or card_…)")
	case customer != "" && !strings.HasPrefix(customer, "cus_"):
		return providers.SavedCard{}, importError(billing.CodeInvalidValue, "token.customer", "customer is a Stripe id (cus_…)")
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	pm, err := p.client.V1PaymentMethods.Retrieve(ctx, pmID, nil)
	if err != nil {
		if e, ok := providers.AsError(mapError(err)); ok && e.Code == billing.CodeResourceMissing {
			return providers.SavedCard{}, importError(billing.CodeResourceMissing, "token.payment_method", "Stripe has no such payment method")
		}
		return providers.SavedCard{}, mapError(err)
	}
	if pm.Card == nil {
		return providers.SavedCard{}, importError(billing.CodeInvalidValue, "token.payment_method", "the payment method is not a card")
	}
	if req.Last4 != "" && req.Last4 != pm.Card.Last4 {
		return providers.SavedCard{}, importError(billing.CodeInvalidValue, "card.last4", "Stripe's payment method ends in other digits")
	}
	attached := ""
	if pm.Customer != nil {
		attached = pm.Customer.ID
	}
	switch {
	case attached != "" && customer != "" && attached != customer:
		return providers.SavedCard{}, importError(billing.CodeInvalidValue, "token.customer", "the payment method belongs to another Stripe customer")
	case attached == "" && customer == "":
		return providers.SavedCard{}, importError(billing.CodeParameterMissing, "token.customer",
			"the payment method is attached to no Stripe customer: name the customer it was saved for")
	case attached == "":
		// Off-session charges need the payment method on the customer.
		params := &sdk.PaymentMethodAttachParams{Customer: sdk.String(customer)}
		params.SetIdempotencyKey("import/" + pm.ID + "/" + customer)
		if _, err := p.client.V1PaymentMethods.Attach(ctx, pm.ID, params); err != nil {
			return providers.SavedCard{}, mapError(err)
		}
	default:
		customer = attached
	}
	saved := providers.SavedCard{Token: pm.ID, CustomerRef: customer}
	if c := pm.Card; c != nil {
		saved.Brand, saved.Last4, saved.ExpMonth, saved.ExpYear, saved.Fingerprint = string(c.Brand), c.Last4, int(c.ExpMonth), int(c.ExpYear), c.Fingerprint
	}
	return saved, nil
}

func importError(code, param, msg string) *providers.Error {
	return &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest, Code: code, Param: param, Message: msg}
}
