package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// RemoveCredentialRequest names a detached payment method whose credential the
// provider may still hold.
type RemoveCredentialRequest struct {
	MerchantID      string `json:"merchant_id"`
	PaymentMethodID string `json:"payment_method_id"`
}

// RemoveCredentialResult says how the removal ended: one of billing's Credential…
// outcomes, or "" when nothing was left to remove.
type RemoveCredentialResult struct {
	Outcome string `json:"outcome,omitempty"`
}

// RemoveCredential removes a detached payment method's stored credential at its
// provider (Stripe detaches the PaymentMethod) and records the outcome. The token is
// read from the store's outbox and never enters a workflow payload. A provider that
// does not answer, or refuses our credentials, is retried; one that has the credential
// no more counts as removed.
func (a *Activities) RemoveCredential(ctx context.Context, req RemoveCredentialRequest) (RemoveCredentialResult, error) {
	if a.deps.Credentials == nil {
		return RemoveCredentialResult{}, temporal.NewNonRetryableApplicationError("this worker keeps no credential outbox", ErrStoreRejected, nil)
	}
	c, ok, err := a.deps.Credentials.CredentialToRemove(ctx, req.MerchantID, req.PaymentMethodID)
	if err != nil || !ok {
		return RemoveCredentialResult{}, storeError(err)
	}
	outcome := billing.CredentialRemoved
	p, err := a.provider(ctx, req.MerchantID, billing.ChargeableCard{Provider: c.Provider, ProviderAccount: c.ProviderAccount})
	if err == nil {
		err = p.Detach(ctx, providers.DetachRequest{Token: c.Token, CustomerRef: c.CustomerRef, Method: string(c.Type)})
	}
	pe, isProvider := providers.AsError(err)
	switch {
	case err == nil || providers.IsGone(err):
	case errors.Is(err, providers.ErrNotSupported):
		outcome = billing.CredentialNotSupported
	case isProvider && pe.Code == billing.CodeProviderNotAvailable:
		outcome = billing.CredentialNoProvider
	case isProvider && !pe.Retryable() && pe.Code != billing.CodeProviderAuthenticationFailed && pe.Code != billing.CodeUnknownProvider:
		// The provider refuses the removal itself: retrying cannot change that.
		outcome = billing.CredentialRefused
		a.deps.Logger.Warn("the provider refused to remove a detached credential", "payment_method_id", req.PaymentMethodID,
			"provider", c.Provider, "code", pe.Code)
	default:
		// A provider down, or our credentials for it refused: try again. Only the code
		// is logged: a transport error's text carries the credential's URL.
		var retryAfter time.Duration
		code := "unknown"
		if isProvider {
			retryAfter, code = pe.RetryAfter, pe.Code
		}
		a.deps.Logger.Warn("could not remove a detached credential at its provider; retrying",
			"payment_method_id", req.PaymentMethodID, "provider", c.Provider, "code", code)
		return RemoveCredentialResult{}, temporal.NewApplicationErrorWithOptions("remove credential: "+code, ErrTransient,
			temporal.ApplicationErrorOptions{NextRetryDelay: retryAfter})
	}
	if err := a.deps.Credentials.FinishCredentialRemoval(ctx, req.MerchantID, req.PaymentMethodID, outcome); err != nil {
		return RemoveCredentialResult{}, storeError(err)
	}
	a.deps.Logger.Info("detached credential removed at its provider", "payment_method_id", req.PaymentMethodID,
		"provider", c.Provider, "outcome", outcome)
	return RemoveCredentialResult{Outcome: outcome}, nil
}

// RemoveCredential runs Activities.RemoveCredential from a workflow, retried until it
// succeeds: backing off to one try an hour, with no limit (a detached card must not
// stay chargeable at the provider because it was down for a day).
func RemoveCredential(ctx workflow.Context, req RemoveCredentialRequest) (RemoveCredentialResult, error) {
	var a *Activities
	var out RemoveCredentialResult
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Hour,
		},
	})
	err := workflow.ExecuteActivity(ctx, a.RemoveCredential, req).Get(ctx, &out)
	return out, err
}
