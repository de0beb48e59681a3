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

// Refunds: the refund workflow opens the refund in the ledger (reserving its amount),
// asks the provider with the refund's id as the idempotency key, and settles it. A
// refund the store cannot take (more than is left, a payment that did not succeed) and
// a provider's refusal are results, not errors: only faults are retried.

// RefundRejection is why the ledger would not open a refund: an *billing.Error a
// client can read (kind, code, the field it is about).
type RefundRejection struct {
	Kind    billing.Kind `json:"kind"`
	Code    string       `json:"code"`
	Param   string       `json:"param,omitempty"`
	Message string       `json:"message"`
}

// Err is the rejection as the API answers it.
func (r RefundRejection) Err() error {
	return &billing.Error{Kind: r.Kind, Code: r.Code, Param: r.Param, Message: r.Message}
}

// OpenRefundResult is the refund as opened (or found), or why it was not.
type OpenRefundResult struct {
	Refund   billing.Refund   `json:"refund"`
	Rejected *RefundRejection `json:"rejected,omitempty"`
}

// OpenRefund writes the refund pending unless it exists; a refund the payment cannot
// take is the result's Rejected.
func (a *Activities) OpenRefund(ctx context.Context, req billing.NewRefund) (OpenRefundResult, error) {
	r, err := a.deps.Refunds.OpenRefund(ctx, req)
	var be *billing.Error
	if err != nil && errors.As(err, &be) {
		switch be.Kind {
		case billing.KindInvalid, billing.KindConflict, billing.KindNotFound:
			return OpenRefundResult{Rejected: &RefundRejection{Kind: be.Kind, Code: be.Code, Param: be.Param, Message: be.Message}}, nil
		}
	}
	if err != nil {
		return OpenRefundResult{}, err
	}
	return OpenRefundResult{Refund: r}, nil
}

// OpenRefund runs Activities.OpenRefund from a workflow.
func OpenRefund(ctx workflow.Context, req billing.NewRefund) (OpenRefundResult, error) {
	var a *Activities
	var out OpenRefundResult
	err := workflow.ExecuteActivity(ledgerOptions(ctx), a.OpenRefund, req).Get(ctx, &out)
	return out, err
}

// SendRefundRequest is one refund for the provider: the ledger's row.
type SendRefundRequest struct {
	Refund billing.Refund `json:"refund"`
}

// SendRefundResult is the provider's answer: its refund id, or its refusal. Pending:
// the provider took the refund and settles it later (Stripe's pending or
// requires_action), so it is not known to have succeeded yet.
type SendRefundResult struct {
	ProviderRefundID string `json:"provider_refund_id,omitempty"`
	Pending          bool   `json:"pending,omitempty"`
	Refused          bool   `json:"refused,omitempty"`
	Code             string `json:"code,omitempty"`
	Message          string `json:"message,omitempty"`
}

// SendRefund asks the refund's provider (its provider account, or the installation's
// provider) to return the refund's amount of the charge, with the refund's id as the
// idempotency key, so a retry can never refund twice where the provider takes a key.
// A refusal is the result; a transient failure (or our provider configuration) is
// retried.
func (a *Activities) SendRefund(ctx context.Context, req SendRefundRequest) (SendRefundResult, error) {
	r := req.Refund
	p, err := a.provider(ctx, r.MerchantID, billing.ChargeableCard{Provider: r.Provider, ProviderAccount: r.ProviderAccount})
	if err == nil {
		var res providers.RefundResult
		res, err = p.Refund(ctx, providers.RefundRequest{ChargeID: r.ProviderChargeID, Amount: r.Amount,
			Currency: r.Currency, IdempotencyKey: r.ID, Reason: r.Reason})
		if err == nil {
			switch res.Status {
			case "", "succeeded":
				return SendRefundResult{ProviderRefundID: res.ID}, nil
			case "failed", "canceled":
				return SendRefundResult{ProviderRefundID: res.ID, Refused: true, Code: billing.CodeProcessingError,
					Message: "the provider answered the refund " + res.Status}, nil
			}
			return SendRefundResult{ProviderRefundID: res.ID, Pending: true}, nil
		}
	}
	switch k := billing.KindOf(err); {
	case errors.Is(err, providers.ErrNotSupported):
		return SendRefundResult{Refused: true, Code: billing.CodeRefundNotSupported, Message: "the provider offers no refunds"}, nil
	case k == billing.KindNotFound || k == billing.KindInvalid:
		// The provider account is gone (deleted) or cannot be used: no call was made.
		a.deps.Logger.Warn("refund has no provider to go to", "refund_id", r.ID, "err", err)
		return SendRefundResult{Refused: true, Code: billing.CodeProviderNotAvailable, Message: "the payment's provider account is no longer available"}, nil
	}
	pe, ok := providers.AsError(err)
	if !ok || pe.Retryable() || pe.Code == billing.CodeProviderAuthenticationFailed || pe.Code == billing.CodeUnknownProvider {
		// Nobody knows whether the money went back: the same key again. Only the
		// code is logged: a transport error's text carries the provider's URL.
		var retryAfter time.Duration
		code := "unknown"
		if ok {
			retryAfter, code = pe.RetryAfter, pe.Code
		}
		a.deps.Logger.Warn("refund not answered; retrying with the same key", "refund_id", r.ID, "code", code)
		return SendRefundResult{}, temporal.NewApplicationErrorWithOptions(err.Error(), ErrTransient,
			temporal.ApplicationErrorOptions{NextRetryDelay: retryAfter})
	}
	a.deps.Logger.Info("refund refused", "refund_id", r.ID, "provider", pe.Provider, "code", pe.Code)
	return SendRefundResult{Refused: true, Code: pe.Code, Message: pe.Message}, nil
}

// RefundMaxAttempts bounds the technical retries of one refund: backing off to one an
// hour, about 18 hours, inside the 24 hours Stripe keeps an idempotency key (a retry
// after that could refund twice). A refund whose provider never answers in that time
// stays pending (its amount reserved) for an operator: retrying without end would
// hide it.
const RefundMaxAttempts = 30

// SendRefund runs Activities.SendRefund from a workflow.
func SendRefund(ctx workflow.Context, req SendRefundRequest) (SendRefundResult, error) {
	var a *Activities
	var out SendRefundResult
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Hour,
			MaximumAttempts: RefundMaxAttempts,
		},
	})
	err := workflow.ExecuteActivity(ctx, a.SendRefund, req).Get(ctx, &out)
	return out, err
}

// SettleRefund records the refund's outcome with its event.
func (a *Activities) SettleRefund(ctx context.Context, o billing.RefundOutcome) (billing.Refund, error) {
	r, err := a.deps.Refunds.SettleRefund(ctx, o)
	return r, storeError(err)
}

// SettleRefund runs Activities.SettleRefund from a workflow.
func SettleRefund(ctx workflow.Context, o billing.RefundOutcome) (billing.Refund, error) {
	var a *Activities
	var out billing.Refund
	err := workflow.ExecuteActivity(ledgerOptions(ctx), a.SettleRefund, o).Get(ctx, &out)
	return out, err
}
