package stripe

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdk "github.com/stripe/stripe-go/v85"

	"github.com/recurring/recurring/providers"
)

// keyMetadata is the PaymentIntent metadata field holding the engine's idempotency key.
const keyMetadata = "recurring_idempotency_key"

// LookupWindow is how far back FindCharge searches a customer's PaymentIntents. An
// unknown outcome is resolved at the plan's next attempt, days after the lost one at
// most, so two months is ample; an older intent is not this attempt's.
const LookupWindow = 60 * 24 * time.Hour

var _ providers.ChargeFinder = (*Provider)(nil)

// FindCharge finds the PaymentIntent a charge created, after its answer was lost. Stripe
// replays an idempotency key for only about 24 hours, so the adapter does not rely on
// it: it lists the customer's PaymentIntents (a list, not Stripe's search, because the
// list is read-after-write consistent and search can lag by minutes) and matches the
// key the charge put in the metadata. Intents made before the key was kept there match
// on all of the request's metadata, its initiator and amount instead. A charge that
// captures a 3-D Secure authorisation is found on that intent.
func (p *Provider) FindCharge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	if err := req.Validate(); err != nil {
		return providers.ChargeResult{}, own(err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if a := req.Authentication; a != nil && strings.HasPrefix(a.ID, "pi_") {
		params := &sdk.PaymentIntentRetrieveParams{}
		params.AddExpand("latest_charge")
		pi, err := p.client.V1PaymentIntents.Retrieve(ctx, a.ID, params)
		if err != nil {
			return providers.ChargeResult{}, mapError(err)
		}
		if pi.Status == sdk.PaymentIntentStatusRequiresCapture {
			// Authorised, never captured: the charge itself did not happen yet.
			return providers.ChargeResult{}, fmt.Errorf("stripe: %w", providers.ErrNoSuchCharge)
		}
		return p.chargeResult(pi)
	}
	amount, err := p.ProviderAmount(req.Amount, req.Currency)
	if err != nil {
		return providers.ChargeResult{}, invalidAmount(err)
	}
	params := &sdk.PaymentIntentListParams{
		CreatedRange: &sdk.RangeQueryParams{GreaterThanOrEqual: time.Now().Add(-LookupWindow).Unix()},
	}
	if req.CustomerRef != "" {
		params.Customer = sdk.String(req.CustomerRef)
	}
	params.Limit = sdk.Int64(100)
	params.AddExpand("data.latest_charge")
	for pi, err := range p.client.V1PaymentIntents.List(ctx, params).All(ctx) {
		if err != nil {
			return providers.ChargeResult{}, mapError(err)
		}
		if madeFor(pi, req, amount) {
			return p.chargeResult(pi)
		}
	}
	return providers.ChargeResult{}, fmt.Errorf("stripe: %w", providers.ErrNoSuchCharge)
}

// madeFor reports whether pi is the intent req's charge created.
func madeFor(pi *sdk.PaymentIntent, req providers.ChargeRequest, amount int64) bool {
	if key, ok := pi.Metadata[keyMetadata]; ok {
		return key == req.IdempotencyKey
	}
	if len(req.Metadata) == 0 || pi.Amount != amount || !strings.EqualFold(string(pi.Currency), req.Currency) ||
		pi.Metadata["recurring_initiator"] != string(req.Initiator) {
		return false
	}
	for k, v := range req.Metadata {
		if pi.Metadata[k] != v {
			return false
		}
	}
	return true
}
