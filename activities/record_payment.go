package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/billing"
)

// RecordPaymentRequest is one charge attempt's outcome for the ledger.
type RecordPaymentRequest struct {
	// PaymentID is the row's id; empty makes a new pay_ id (plan attempts), a one-off
	// payment passes the id its workflow runs under.
	PaymentID            string                `json:"payment_id,omitempty"`
	MerchantID           string                `json:"merchant_id"`
	Mode                 billing.Mode          `json:"mode"`
	PlanID               string                `json:"plan_id,omitempty"`
	CustomerID           string                `json:"customer_id"`
	PaymentMethodID      string                `json:"payment_method_id"`
	Installment          int                   `json:"installment,omitempty"`
	Attempt              int                   `json:"attempt"`
	Amount               int64                 `json:"amount"`
	Currency             string                `json:"currency"`
	Status               billing.PaymentStatus `json:"status"`
	PaymentType          billing.PaymentType   `json:"payment_type"`
	Provider             string                `json:"provider,omitempty"`
	ProviderChargeID     string                `json:"provider_charge_id,omitempty"`
	NetworkTransactionID string                `json:"network_transaction_id,omitempty"`
	IdempotencyKey       string                `json:"idempotency_key"`
	FailureCode          string                `json:"failure_code,omitempty"`
	FailureClass         string                `json:"failure_class,omitempty"`
	FailureMessage       string                `json:"failure_message,omitempty"`
	DueAt                time.Time             `json:"due_at,omitzero"`
	AttemptedAt          time.Time             `json:"attempted_at"`
	// Plan, when set, is the plan's new state to record after the attempt (one
	// activity instead of two per installment keeps the history short).
	Plan *UpdatePlanRequest `json:"plan,omitempty"`
}

// RecordPaymentResult names the ledger row.
type RecordPaymentResult struct {
	PaymentID string                `json:"payment_id"`
	Status    billing.PaymentStatus `json:"status"`
}

// RecordPayment writes the attempt to the ledger with its payment event, then the
// plan's new state if given; recording the same attempt again returns the stored row.
func (a *Activities) RecordPayment(ctx context.Context, req RecordPaymentRequest) (RecordPaymentResult, error) {
	if a.deps.Ledger == nil {
		return RecordPaymentResult{}, errors.New("record payment: activities built without a ledger")
	}
	p := billing.Payment{
		ID: req.PaymentID, MerchantID: req.MerchantID, Mode: req.Mode, CustomerID: req.CustomerID,
		PaymentMethodID: req.PaymentMethodID, Installment: req.Installment, Attempt: req.Attempt,
		Amount: req.Amount, Currency: req.Currency, Status: req.Status, PaymentType: req.PaymentType,
		IsRecurring: req.PaymentType.IsRecurring(), Provider: req.Provider, ProviderChargeID: req.ProviderChargeID,
		NetworkTransactionID: req.NetworkTransactionID, IdempotencyKey: req.IdempotencyKey,
		// The provider's words: made storable rather than refused, because the
		// attempt happened and must be recorded whatever the provider said.
		FailureCode: storableText(req.FailureCode), FailureClass: storableText(req.FailureClass),
		FailureMessage: storableText(req.FailureMessage), AttemptedAt: req.AttemptedAt,
	}
	if req.PlanID != "" {
		p.PlanID = &req.PlanID
	}
	if !req.DueAt.IsZero() {
		p.DueAt = &req.DueAt
	}
	got, err := a.deps.Ledger.RecordPayment(ctx, p)
	if err != nil {
		return RecordPaymentResult{}, storeError(err)
	}
	// Charged (succeeded, or pending at the provider; not an unknown outcome, which is
	// recorded pending with its failure): the lag of first attempts (a dunning retry is
	// late by design), and recoveries. A retried write counts again.
	charged := req.Status == billing.PaymentSucceeded || (req.Status == billing.PaymentPending && req.FailureClass == "")
	if charged && req.Attempt == 1 && !req.DueAt.IsZero() && !req.AttemptedAt.IsZero() {
		a.deps.Metrics.Lag(req.AttemptedAt.Sub(req.DueAt))
	}
	if req.Status == billing.PaymentSucceeded && req.PlanID != "" && req.Attempt > 1 {
		a.deps.Metrics.DunningRecovered()
	}
	if req.Plan != nil {
		if err := a.UpdatePlan(ctx, *req.Plan); err != nil {
			return RecordPaymentResult{}, err
		}
	}
	return RecordPaymentResult{PaymentID: got.ID, Status: got.Status}, nil
}

// RecordPayment runs Activities.RecordPayment from a workflow.
func RecordPayment(ctx workflow.Context, req RecordPaymentRequest) (RecordPaymentResult, error) {
	var a *Activities
	var res RecordPaymentResult
	err := workflow.ExecuteActivity(ledgerOptions(ctx), a.RecordPayment, req).Get(ctx, &res)
	return res, err
}
