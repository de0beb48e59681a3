package stripe

import (
	"context"
	"fmt"
	"strings"
	"time"

	sdk "github.com/stripe/stripe-go/v85"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// keyMetadata is the PaymentIntent metadata field holding the engine's idempotency key.
const keyMetadata = "recurring_idempotency_key"

// LookupWindow is how far back FindCharge searches a customer's PaymentIntents. An
// unknown outcome is resolved at the plan's next attempt, but a plan can be paused or
// blocked for months with the outcome still unknown, so the window is wide: a year
// and more of one customer's intents is a few pages.
const LookupWindow = 400 * 24 * time.Hour

var _ providers.ChargeFinder = (*Provider)(nil)

// FindCharge finds the PaymentIntent a charge created, after its answer was lost. Stripe
// replays an idempotency key for only about 24 hours, so the adapter does not rely on
// it: it lists the customer's PaymentIntents (a list, not Stripe's search, because the
// list is read-after-write consistent and search can lag by minutes) and matches the
// key the charge put in the metadata. Intents made before the key was kept there match
// on all of the request's metadata, its initiator and amount instead. A charge that
// captures a 3-D Secure authorisation is found on that intent.
func (p *Provider) FindCharge(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	if err := req.ValidateLookup(); err != nil {
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
		return p.foundResult(pi, req)
	}
	amount, err := p.ProviderAmount(req.Amount, req.Currency)
	if err != nil {
		return providers.ChargeResult{}, invalidAmount(err)
	}
	if req.CustomerRef == "" {
		// Listing a whole account's intents is too much; search by the key instead
		// (eventually consistent, but a lookup comes well after the lost attempt).
		sp := &sdk.PaymentIntentSearchParams{}
		sp.Query = fmt.Sprintf("metadata['%s']:'%s'", keyMetadata, strings.ReplaceAll(req.IdempotencyKey, "'", `\'`))
		sp.AddExpand("data.latest_charge")
		return p.firstMadeFor(p.client.V1PaymentIntents.Search(ctx, sp).All(ctx), req, amount)
	}
	params := &sdk.PaymentIntentListParams{
		CreatedRange: &sdk.RangeQueryParams{GreaterThanOrEqual: time.Now().Add(-LookupWindow).Unix()},
		Customer:     sdk.String(req.CustomerRef),
	}
	params.Limit = sdk.Int64(100)
	params.AddExpand("data.latest_charge")
	return p.firstMadeFor(p.client.V1PaymentIntents.List(ctx, params).All(ctx), req, amount)
}

// firstMadeFor reads intents until one req's charge made, and answers its outcome;
// after the last one, ErrNoSuchCharge.
func (p *Provider) firstMadeFor(intents sdk.Seq2[*sdk.PaymentIntent, error], req providers.ChargeRequest, amount int64) (providers.ChargeResult, error) {
	for pi, err := range intents {
		if err != nil {
			return providers.ChargeResult{}, mapError(err)
		}
		if madeFor(pi, req, amount) {
			return p.foundResult(pi, req)
		}
	}
	return providers.ChargeResult{}, fmt.Errorf("stripe: %w", providers.ErrNoSuchCharge)
}

// foundResult is a found intent's outcome. One for another amount, currency or card is
// an idempotency conflict; one that failed failed for good (a new attempt goes out
// under a new key), so even a processing error on it is a decline, not "try again".
func (p *Provider) foundResult(pi *sdk.PaymentIntent, req providers.ChargeRequest) (providers.ChargeResult, error) {
	pm := ""
	if pi.PaymentMethod != nil {
		pm = pi.PaymentMethod.ID
	}
	if p.ISOAmount(pi.Amount, string(pi.Currency)) != req.Amount || !strings.EqualFold(string(pi.Currency), req.Currency) ||
		(pm != "" && req.Token != "" && pm != req.Token) {
		return providers.ChargeResult{}, providers.Found(&providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
			Code: billing.CodeIdempotencyConflict, ChargeID: pi.ID,
			Message: fmt.Sprintf("payment intent %s under this key is for another amount, currency or card", pi.ID)})
	}
	res, err := p.chargeResult(pi)
	if err == nil {
		return res, nil
	}
	e, ok := providers.AsError(err)
	if !ok {
		return res, err
	}
	if e.Retryable() {
		if pi.Status == sdk.PaymentIntentStatusProcessing {
			return res, err // still settling: ask again later
		}
		e = &providers.Error{Provider: Name, Class: providers.ClassSoftDecline, Code: billing.CodeCardDeclined, ChargeID: pi.ID,
			Message: "the earlier attempt failed at Stripe: " + e.Message}
	}
	return res, providers.Found(e)
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
