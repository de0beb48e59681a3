package activities

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// AuthenticateRequest starts or completes 3-D Secure for a hosted payment's charge on
// a saved card. It carries no card data: the activity reads the token from the store.
type AuthenticateRequest struct {
	MerchantID      string                `json:"merchant_id"`
	PaymentMethodID string                `json:"payment_method_id"`
	Amount          int64                 `json:"amount"`
	Currency        string                `json:"currency"`
	IdempotencyKey  string                `json:"idempotency_key"`
	Browser         providers.BrowserInfo `json:"browser"`
	// AuthenticationID and Answer complete a challenge (CompleteAuthentication only).
	AuthenticationID string `json:"authentication_id,omitempty"`
	Answer           string `json:"answer,omitempty"`
	// SessionID and Mode name the hosted session for the provider's callback; Setup
	// says no charge follows (providers.AuthenticationRequest.Setup).
	SessionID string       `json:"session_id,omitempty"`
	Mode      billing.Mode `json:"mode,omitempty"`
	Setup     bool         `json:"setup,omitempty"`
}

// authenticator returns the card's provider as an Authenticator, with the card.
func (a *Activities) authenticator(ctx context.Context, req AuthenticateRequest) (providers.Authenticator, billing.ChargeableCard, error) {
	if a.deps.PaymentMethods == nil || a.deps.Providers == nil {
		return nil, billing.ChargeableCard{}, errors.New("authenticate: activities built without payment methods or providers")
	}
	card, err := a.deps.PaymentMethods.ChargeableCard(ctx, req.MerchantID, req.PaymentMethodID)
	if err != nil {
		return nil, billing.ChargeableCard{}, storeError(err)
	}
	if card.Blocked || card.Detached {
		return nil, card, ChargeFailure{Type: ErrPaymentMethodUnavailable, Code: billing.CodePaymentMethodDetached,
			Provider: card.Provider, Blocked: card.Blocked, Detached: card.Detached}.err(false, nil)
	}
	p, err := a.provider(ctx, req.MerchantID, card) // the card's provider account, if any
	if err != nil {
		return nil, card, err
	}
	auth, ok := p.(providers.Authenticator)
	if !ok {
		return nil, card, nil
	}
	return auth, card, nil
}

// BeginAuthentication asks the card's provider for 3-D Secure. A provider without
// 3-D Secure answers unavailable: the charge goes on unauthenticated.
func (a *Activities) BeginAuthentication(ctx context.Context, req AuthenticateRequest) (providers.Authentication, error) {
	auth, card, err := a.authenticator(ctx, req)
	if err != nil {
		return providers.Authentication{}, err
	}
	if auth == nil {
		return providers.Authentication{Status: providers.AuthenticationUnavailable}, nil
	}
	preq := providers.AuthenticationRequest{Token: card.Token, CustomerRef: card.CustomerRef, Method: string(card.Type),
		Amount: req.Amount, Currency: req.Currency, IdempotencyKey: req.IdempotencyKey, Browser: req.Browser, Setup: req.Setup,
		Session: providers.Callback{MerchantID: req.MerchantID, Mode: req.Mode, SessionID: req.SessionID}}
	if a.deps.PublicURL != "" {
		// Where a provider's own 3-D Secure page sends the customer back.
		preq.ReturnURL = strings.TrimSuffix(a.deps.PublicURL, "/") + "/v1/providers/" + card.Provider + "/callback"
		if card.ProviderAccount != "" {
			// The account's own route: its credentials verify what comes back.
			preq.ReturnURL = strings.TrimSuffix(a.deps.PublicURL, "/") + "/v1/provider-accounts/" + card.ProviderAccount + "/callback"
		}
	}
	res, err := auth.BeginAuthentication(ctx, preq)
	if err != nil {
		return providers.Authentication{}, chargeError(err)
	}
	return a.keepAgreement(ctx, req, card, auth, res)
}

// keepAgreement seals the agreement a PayPal approval created into the method that
// awaited it, and strips it from what goes back to the workflow. A succeeded PayPal
// result is always kept (the store makes the same agreement again a no-op, so a
// retried activity passes, and another agreement a conflict). A payment that cannot
// start the series (no agreement named, the method detached meanwhile, another
// agreement on it) is canceled at the provider and fails: nothing would record it or
// charge the later installments. A store that cannot be reached is an error the
// activity retries (the begin and completion are idempotent).
func (a *Activities) keepAgreement(ctx context.Context, req AuthenticateRequest, card billing.ChargeableCard,
	auth providers.Authenticator, res providers.Authentication) (providers.Authentication, error) {
	token := res.MethodToken
	res.MethodToken = ""
	if card.Type != billing.PaymentMethodPayPal || res.Status != providers.AuthenticationSucceeded {
		return res, nil
	}
	var err error
	if token == "" {
		err = &billing.Error{Kind: billing.KindConflict, Code: billing.CodeProcessingError, Message: "the PayPal approval named no billing agreement"}
	} else {
		err = a.deps.PaymentMethods.KeepPayPalAgreement(ctx, req.MerchantID, req.PaymentMethodID, token)
	}
	if err == nil {
		return res, nil
	}
	if k := billing.KindOf(err); k != billing.KindConflict && k != billing.KindNotFound {
		return providers.Authentication{}, storeError(err)
	}
	a.deps.Logger.Warn("PayPal payment canceled: its agreement cannot be kept", "payment_method_id", req.PaymentMethodID, "err", err)
	if c, ok := auth.(providers.AuthenticationCanceler); ok {
		if err := c.CancelAuthentication(ctx, res.ID); err != nil {
			return providers.Authentication{}, chargeError(err)
		}
	}
	return providers.Authentication{ID: res.ID, Status: providers.AuthenticationFailed}, nil
}

// CompleteAuthentication hands the challenge's answer to the card's provider.
func (a *Activities) CompleteAuthentication(ctx context.Context, req AuthenticateRequest) (providers.Authentication, error) {
	auth, card, err := a.authenticator(ctx, req)
	if err != nil {
		return providers.Authentication{}, err
	}
	if auth == nil {
		return providers.Authentication{Status: providers.AuthenticationFailed}, nil
	}
	res, err := auth.CompleteAuthentication(ctx, providers.CompleteAuthenticationRequest{ID: req.AuthenticationID,
		Token: card.Token, Amount: req.Amount, Currency: req.Currency, Answer: req.Answer, Method: string(card.Type)})
	if err != nil {
		return providers.Authentication{}, chargeError(err)
	}
	return a.keepAgreement(ctx, req, card, auth, res)
}

// SetPaymentSessionRequest records a hosted session's card and status.
type SetPaymentSessionRequest struct {
	MerchantID      string                       `json:"merchant_id"`
	PaymentID       string                       `json:"payment_id"`
	Status          billing.PaymentSessionStatus `json:"status"`
	PaymentMethodID string                       `json:"payment_method_id,omitempty"`
	// KeepCard keeps the session's card once it ended (save_card and a payment that
	// did not fail); otherwise the store detaches it.
	KeepCard bool `json:"keep_card,omitempty"`
	// Outcome is how an ended session went (succeeded or failed).
	Outcome billing.PaymentStatus `json:"outcome,omitempty"`
}

// SetPaymentSession records a hosted session's card and status (see
// billing.PaymentSessionRecorder).
func (a *Activities) SetPaymentSession(ctx context.Context, req SetPaymentSessionRequest) error {
	if a.deps.Sessions == nil {
		return errors.New("set payment session: activities built without a session store")
	}
	return storeError(a.deps.Sessions.SetPaymentSession(ctx, billing.PaymentSessionUpdate{MerchantID: req.MerchantID,
		ID: req.PaymentID, Status: req.Status, PaymentMethodID: req.PaymentMethodID, KeepCard: req.KeepCard, Outcome: req.Outcome}))
}

// BeginAuthentication runs Activities.BeginAuthentication from a workflow.
func BeginAuthentication(ctx workflow.Context, req AuthenticateRequest) (providers.Authentication, error) {
	var a *Activities
	var out providers.Authentication
	err := workflow.ExecuteActivity(chargeOptions(ctx), a.BeginAuthentication, req).Get(ctx, &out)
	return out, err
}

// CompleteAuthentication runs Activities.CompleteAuthentication from a workflow.
func CompleteAuthentication(ctx workflow.Context, req AuthenticateRequest) (providers.Authentication, error) {
	var a *Activities
	var out providers.Authentication
	err := workflow.ExecuteActivity(chargeOptions(ctx), a.CompleteAuthentication, req).Get(ctx, &out)
	return out, err
}

// SetPaymentSession runs Activities.SetPaymentSession from a workflow.
func SetPaymentSession(ctx workflow.Context, req SetPaymentSessionRequest) error {
	var a *Activities
	return workflow.ExecuteActivity(ledgerOptions(ctx), a.SetPaymentSession, req).Get(ctx, nil)
}

// PlanCards changes a plan's card; starter.PlanCards (a Temporal client) is one.
type PlanCards interface {
	// ChangePlanCard makes paymentMethodID the plan's card (the plan's
	// change_payment_method update): a plan waiting for a card tries the waiting
	// installment at once. A plan that refuses (it has ended) is a *billing.Error.
	ChangePlanCard(ctx context.Context, planID, paymentMethodID string) error
	// StartPlan hands an incomplete plan its first card (the plan's start_plan
	// update) and returns how the plan's first payment went. The update's id is the
	// session's, so a retried call waits on the same update instead of sending another.
	// A plan that refuses (it expired or was canceled) is a *billing.Error.
	StartPlan(ctx context.Context, req StartPlanRequest) (StartPlanResult, error)
	// StartCardSession starts (or joins) the workflow of a stored card-change session.
	StartCardSession(ctx context.Context, s billing.PaymentSession) error
}

// StartPlanRequest starts an incomplete plan with the card its customer gave on the
// hosted page. It is also the plan workflow's start_plan update.
type StartPlanRequest struct {
	PlanID string `json:"plan_id"`
	// SessionID is the hosted session's id (ps_…), the update's id.
	SessionID       string `json:"session_id"`
	PaymentMethodID string `json:"payment_method_id"`
	// Authentication is the 3-D Secure result the first charge carries; nil for MOTO.
	Authentication *providers.Authentication `json:"authentication,omitempty"`
	// Verified: the card was verified with an authenticated zero-amount check (the plan
	// starts later), so the stored-credential series has its customer-initiated step and
	// the first installment is charged merchant-initiated on its date.
	Verified bool `json:"verified,omitempty"`
}

// StartPlanResult is how an incomplete plan's start went: succeeded (the first
// installment paid, or the card verified), failed (the plan is incomplete again), or
// pending (the first charge's outcome is unknown; the plan settles it under the same
// key).
type StartPlanResult struct {
	Status         billing.PaymentStatus `json:"status"`
	PaymentID      string                `json:"payment_id,omitempty"`
	FailureCode    string                `json:"failure_code,omitempty"`
	FailureMessage string                `json:"failure_message,omitempty"`
}

// ChangePlanCardRequest hands a plan the card its hosted session authenticated.
type ChangePlanCardRequest struct {
	PlanID          string `json:"plan_id"`
	PaymentMethodID string `json:"payment_method_id"`
}

// ChangePlanCard changes the plan's card. A plan that refuses is a non-retryable
// store_rejected error: retrying cannot change its mind.
func (a *Activities) ChangePlanCard(ctx context.Context, req ChangePlanCardRequest) error {
	if a.deps.Plans == nil {
		return errors.New("change plan card: activities built without a plan client")
	}
	return storeError(a.deps.Plans.ChangePlanCard(ctx, req.PlanID, req.PaymentMethodID))
}

// ChangePlanCard runs Activities.ChangePlanCard from a workflow.
func ChangePlanCard(ctx workflow.Context, req ChangePlanCardRequest) error {
	var a *Activities
	return workflow.ExecuteActivity(ledgerOptions(ctx), a.ChangePlanCard, req).Get(ctx, nil)
}

// StartPlan starts an incomplete plan with the session's card and waits for its first
// payment. A plan that refuses is a non-retryable store_rejected error.
func (a *Activities) StartPlan(ctx context.Context, req StartPlanRequest) (StartPlanResult, error) {
	if a.deps.Plans == nil {
		return StartPlanResult{}, errors.New("start plan: activities built without a plan client")
	}
	out, err := a.deps.Plans.StartPlan(ctx, req)
	return out, storeError(err)
}

// StartPlan runs Activities.StartPlan from a workflow. It waits for the plan's first
// charge, whose own retries may take minutes.
func StartPlan(ctx workflow.Context, req StartPlanRequest) (StartPlanResult, error) {
	var a *Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: LedgerMaxAttempts},
	})
	var out StartPlanResult
	err := workflow.ExecuteActivity(ctx, a.StartPlan, req).Get(ctx, &out)
	return out, err
}

// CancelAuthenticationRequest releases an authentication no charge will follow.
type CancelAuthenticationRequest struct {
	MerchantID       string `json:"merchant_id"`
	PaymentMethodID  string `json:"payment_method_id"`
	AuthenticationID string `json:"authentication_id"`
}

// CancelAuthentication cancels, at the card's provider, an authentication that holds
// money (providers.AuthenticationCanceler: Stripe's authorised PaymentIntent) when the
// session or plan it was made for will not charge it. Providers whose authentications
// hold nothing need nothing.
func (a *Activities) CancelAuthentication(ctx context.Context, req CancelAuthenticationRequest) error {
	if a.deps.PaymentMethods == nil || a.deps.Providers == nil || req.AuthenticationID == "" {
		return nil
	}
	card, err := a.deps.PaymentMethods.ChargeableCard(ctx, req.MerchantID, req.PaymentMethodID)
	if err != nil {
		return storeError(err)
	}
	p, err := a.provider(ctx, req.MerchantID, card)
	if err != nil {
		return err
	}
	if c, ok := p.(providers.AuthenticationCanceler); ok {
		return chargeError(c.CancelAuthentication(ctx, req.AuthenticationID))
	}
	return nil
}

// CancelAuthentication runs Activities.CancelAuthentication from a workflow, with the
// bounded retries of a notification; a failure is logged by the caller (an authorised,
// uncaptured intent also lapses at the provider).
func CancelAuthentication(ctx workflow.Context, req CancelAuthenticationRequest) error {
	var a *Activities
	return workflow.ExecuteActivity(notifyOptions(ctx), a.CancelAuthentication, req).Get(ctx, nil)
}

// SettleSessionRequest gives a plan's pending first-payment session its outcome.
type SettleSessionRequest struct {
	MerchantID string                `json:"merchant_id"`
	SessionID  string                `json:"session_id"`
	Outcome    billing.PaymentStatus `json:"outcome"`
}

// SettleSession records how a plan's first payment ended after its session answered
// pending (the charge's answer was lost, and the plan settled it under the same key).
func (a *Activities) SettleSession(ctx context.Context, req SettleSessionRequest) error {
	if a.deps.Sessions == nil {
		return nil // no session store: nothing shows the session
	}
	return storeError(a.deps.Sessions.SettlePaymentSession(ctx, req.MerchantID, req.SessionID, req.Outcome))
}

// SettleSession runs Activities.SettleSession from a workflow.
func SettleSession(ctx workflow.Context, req SettleSessionRequest) error {
	var a *Activities
	return workflow.ExecuteActivity(ledgerOptions(ctx), a.SettleSession, req).Get(ctx, nil)
}
