package stripe

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	sdk "github.com/stripe/stripe-go/v85"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Stripe runs 3-D Secure inside its own objects: a PaymentIntent confirmed with a
// return_url authenticates and charges in one step, and a SetupIntent authenticates a
// card without charging. When the issuer challenges, Stripe answers
// next_action.redirect_to_url: the hosted page sends the customer to Stripe's page,
// which returns them to the engine's callback route with the intent's id and client
// secret. So, for this adapter:
//   - BeginAuthentication creates and confirms the intent (a SetupIntent when
//     req.Setup) with capture_method=manual: the card is authorised, never captured,
//     until the engine's charge step; a redirect is a challenge, anything else is
//     handed on to the charge;
//   - the callback is verified by reading the intent back with the secret key and
//     comparing its client secret, and it names the session from the intent's metadata;
//   - CompleteAuthentication reads the intent's state after the customer's return;
//   - Charge with an Authentication whose id is a PaymentIntent captures that intent
//     (or reads its outcome) instead of creating a second charge, after checking it is
//     for the same card, amount and currency;
//   - CancelAuthentication cancels an intent nothing will charge (the page expired,
//     the plan refused the card), releasing the authorisation.
var (
	_ providers.Authenticator    = (*Provider)(nil)
	_ providers.CallbackVerifier = (*Provider)(nil)
)

// Metadata keys naming the engine's session on Stripe's intents.
const (
	metaSession  = "recurring_session"
	metaMerchant = "recurring_merchant"
	metaMode     = "recurring_mode"
)

// maxReturnAge bounds how long after its creation an intent's return is taken.
const maxReturnAge = 24 * time.Hour

// BeginAuthentication creates and confirms the intent that authenticates (and, unless
// Setup, charges) the card.
func (p *Provider) BeginAuthentication(ctx context.Context, req providers.AuthenticationRequest) (providers.Authentication, error) {
	if req.ReturnURL == "" {
		// Without a page to come back to, Stripe's challenge cannot run.
		return providers.Authentication{Status: providers.AuthenticationUnavailable}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	meta := map[string]string{metaSession: req.Session.SessionID, metaMerchant: req.Session.MerchantID,
		metaMode: string(req.Session.Mode)}
	if req.Setup {
		params := &sdk.SetupIntentCreateParams{
			PaymentMethod: sdk.String(req.Token), PaymentMethodTypes: []*string{sdk.String("card")},
			Confirm: sdk.Bool(true), Usage: sdk.String("off_session"), ReturnURL: sdk.String(req.ReturnURL), Metadata: meta,
		}
		if req.CustomerRef != "" {
			params.Customer = sdk.String(req.CustomerRef)
		}
		params.SetIdempotencyKey(req.IdempotencyKey)
		si, err := p.client.V1SetupIntents.Create(ctx, params)
		if err != nil {
			return providers.Authentication{}, mapError(err)
		}
		return setupAuthentication(si), nil
	}
	if err := (providers.ChargeRequest{Token: req.Token, Amount: req.Amount, Currency: req.Currency,
		IdempotencyKey: req.IdempotencyKey, Initiator: providers.InitiatorCustomer}).Validate(); err != nil {
		return providers.Authentication{}, own(err)
	}
	amount, err := p.ProviderAmount(req.Amount, req.Currency)
	if err != nil {
		return providers.Authentication{}, invalidAmount(err)
	}
	params := &sdk.PaymentIntentCreateParams{
		Amount: sdk.Int64(amount), Currency: sdk.String(strings.ToLower(req.Currency)),
		PaymentMethod: sdk.String(req.Token), PaymentMethodTypes: []*string{sdk.String("card")},
		Confirm: sdk.Bool(true), SetupFutureUsage: sdk.String("off_session"), ReturnURL: sdk.String(req.ReturnURL),
		CaptureMethod: sdk.String(string(sdk.PaymentIntentCaptureMethodManual)), Metadata: meta,
	}
	params.Metadata["recurring_initiator"] = string(providers.InitiatorCustomer)
	if req.CustomerRef != "" {
		params.Customer = sdk.String(req.CustomerRef)
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	pi, err := p.client.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		return providers.Authentication{}, mapError(err)
	}
	return intentAuthentication(pi), nil
}

// CompleteAuthentication reads the intent after the customer came back from Stripe's
// page (the answer is Stripe's to give, not the callback's).
func (p *Provider) CompleteAuthentication(ctx context.Context, req providers.CompleteAuthenticationRequest) (providers.Authentication, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if strings.HasPrefix(req.ID, "seti_") {
		si, err := p.client.V1SetupIntents.Retrieve(ctx, req.ID, nil)
		if err != nil {
			return providers.Authentication{}, mapError(err)
		}
		a := setupAuthentication(si)
		if a.Status == providers.AuthenticationChallenge {
			a.Status = providers.AuthenticationFailed // back without finishing Stripe's page
		}
		return a, nil
	}
	pi, err := p.client.V1PaymentIntents.Retrieve(ctx, req.ID, nil)
	if err != nil {
		return providers.Authentication{}, mapError(err)
	}
	a := intentAuthentication(pi)
	switch {
	case a.Status == providers.AuthenticationChallenge:
		a.Status = providers.AuthenticationFailed
	case pi.LastPaymentError != nil && pi.LastPaymentError.Code == "payment_intent_authentication_failure":
		a.Status = providers.AuthenticationFailed
	}
	return a, nil
}

// intentAuthentication reads a PaymentIntent as an authentication: a redirect is a
// challenge; any other state goes on to Charge, which reads the intent's outcome.
func intentAuthentication(pi *sdk.PaymentIntent) providers.Authentication {
	if pi.Status == sdk.PaymentIntentStatusRequiresAction {
		if na := pi.NextAction; na != nil && na.RedirectToURL != nil && na.RedirectToURL.URL != "" {
			return providers.Authentication{ID: pi.ID, Status: providers.AuthenticationChallenge, ChallengeURL: na.RedirectToURL.URL}
		}
		return providers.Authentication{ID: pi.ID, Status: providers.AuthenticationFailed}
	}
	return providers.Authentication{ID: pi.ID, Status: providers.AuthenticationSucceeded, Proof: pi.ID}
}

// setupAuthentication reads a SetupIntent: set up, a redirect, or refused.
func setupAuthentication(si *sdk.SetupIntent) providers.Authentication {
	switch si.Status {
	case sdk.SetupIntentStatusSucceeded, sdk.SetupIntentStatusProcessing:
		return providers.Authentication{ID: si.ID, Status: providers.AuthenticationSucceeded, Proof: si.ID}
	case sdk.SetupIntentStatusRequiresAction:
		if na := si.NextAction; na != nil && na.RedirectToURL != nil && na.RedirectToURL.URL != "" {
			return providers.Authentication{ID: si.ID, Status: providers.AuthenticationChallenge, ChallengeURL: na.RedirectToURL.URL}
		}
	}
	return providers.Authentication{ID: si.ID, Status: providers.AuthenticationFailed}
}

// chargeAuthenticated is Charge for a payment Stripe authenticated and charged in one
// PaymentIntent: it reads that intent's outcome, refusing an intent for another card,
// amount or currency.
func (p *Provider) chargeAuthenticated(ctx context.Context, req providers.ChargeRequest) (providers.ChargeResult, error) {
	params := &sdk.PaymentIntentRetrieveParams{}
	params.AddExpand("latest_charge")
	pi, err := p.client.V1PaymentIntents.Retrieve(ctx, req.Authentication.ID, params)
	if err != nil {
		return providers.ChargeResult{}, mapError(err)
	}
	switch pi.Status {
	case sdk.PaymentIntentStatusRequiresCapture, sdk.PaymentIntentStatusSucceeded, sdk.PaymentIntentStatusProcessing:
		// Authorised: it must be this charge's (a failed intent has no card to compare).
		pm := ""
		if pi.PaymentMethod != nil {
			pm = pi.PaymentMethod.ID
		}
		if p.ISOAmount(pi.Amount, string(pi.Currency)) != req.Amount || !strings.EqualFold(string(pi.Currency), req.Currency) || pm != req.Token {
			return providers.ChargeResult{}, &providers.Error{Provider: Name, Class: providers.ClassInvalidRequest,
				Code: billing.CodeAuthenticationFailed, Message: fmt.Sprintf("payment intent %s is for another card, amount or currency", pi.ID)}
		}
	}
	if pi.Status == sdk.PaymentIntentStatusRequiresCapture {
		cp := &sdk.PaymentIntentCaptureParams{}
		cp.AddExpand("latest_charge")
		cp.SetIdempotencyKey(req.IdempotencyKey + "/capture")
		if pi, err = p.client.V1PaymentIntents.Capture(ctx, pi.ID, cp); err != nil {
			return providers.ChargeResult{}, mapError(err)
		}
	}
	return p.chargeResult(pi)
}

// CancelAuthentication releases an authorised PaymentIntent that will not be charged.
// An intent already captured, canceled or never authorised is left as it is.
func (p *Provider) CancelAuthentication(ctx context.Context, id string) error {
	if !strings.HasPrefix(id, "pi_") {
		return nil // SetupIntents hold no money
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	pi, err := p.client.V1PaymentIntents.Retrieve(ctx, id, nil)
	if err != nil {
		return mapError(err)
	}
	switch pi.Status {
	case sdk.PaymentIntentStatusRequiresCapture, sdk.PaymentIntentStatusRequiresAction, sdk.PaymentIntentStatusRequiresConfirmation:
		if _, err := p.client.V1PaymentIntents.Cancel(ctx, id, nil); err != nil {
			return mapError(err)
		}
	}
	return nil
}

// VerifyCallback takes the customer's return from Stripe's page: Stripe adds the
// intent's id and client secret to the return URL. The intent is read back with the
// secret key; a client secret that does not match it (or no intent) is
// ErrCallbackSignature, an intent older than a day ErrCallbackStale.
func (p *Provider) VerifyCallback(ctx context.Context, form url.Values, now time.Time) (providers.Callback, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var id, secret, want string
	var created int64
	var meta map[string]string
	switch {
	case strings.HasPrefix(form.Get("payment_intent"), "pi_"):
		id, secret = form.Get("payment_intent"), form.Get("payment_intent_client_secret")
		pi, err := p.client.V1PaymentIntents.Retrieve(ctx, id, nil)
		if err != nil {
			return providers.Callback{}, returnError(err)
		}
		want, created, meta = pi.ClientSecret, pi.Created, pi.Metadata
	case strings.HasPrefix(form.Get("setup_intent"), "seti_"):
		id, secret = form.Get("setup_intent"), form.Get("setup_intent_client_secret")
		si, err := p.client.V1SetupIntents.Retrieve(ctx, id, nil)
		if err != nil {
			return providers.Callback{}, returnError(err)
		}
		want, created, meta = si.ClientSecret, si.Created, si.Metadata
	default:
		return providers.Callback{}, providers.ErrCallbackSignature
	}
	if secret == "" || want == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(want)) != 1 {
		return providers.Callback{}, providers.ErrCallbackSignature
	}
	if now.Sub(time.Unix(created, 0)) > maxReturnAge {
		return providers.Callback{}, providers.ErrCallbackStale
	}
	return providers.Callback{MerchantID: meta[metaMerchant], Mode: billing.Mode(meta[metaMode]),
		SessionID: meta[metaSession], AuthenticationID: id, Answer: "return"}, nil
}

// returnError reads a failed look-up of a returning customer's intent: no such intent
// is a forged return (ErrCallbackSignature); anything else (Stripe down, rate limited)
// is Stripe's, which the route answers with a 5xx.
func returnError(err error) error {
	var se *sdk.Error
	if errors.As(err, &se) && se.HTTPStatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: no such intent", providers.ErrCallbackSignature)
	}
	return mapError(err)
}
