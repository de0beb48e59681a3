package activities

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// This file is the one place where failures become Temporal errors, so whether
// something is retried is decided once: transient provider failures are retryable (the
// activity retries them with the same idempotency key, after RetryAfter when the
// provider gave one); declines, required authentication and invalid requests are
// non-retryable, typed so the workflow can switch on the type.
//
// It is also where a failure is told apart from a fault. A decline is a business
// outcome the plan workflow acts on (dunning, past_due), not something to page anyone
// about, so its ApplicationError has the benign category: the SDK then logs its
// "Activity error." line at DEBUG instead of ERROR and leaves it out of the activity
// failure metrics, and the workflow logs one INFO/WARN line per decline with the plan,
// installment, attempt and code. Faults (transient provider failures, our provider
// configuration, invalid requests, the store) keep the default category and log at
// ERROR.
//
// The category was chosen over returning declines as result values because it changes
// nothing the workflow reads: the error keeps its type, details and retryability, the
// workflow's commands are the same, so running plans replay unchanged (no version
// gate) and the recorded histories in workflows/testdata keep passing. It also works
// with whatever logger the client was built with, so no logger wrapper is needed.

// Types of the non-retryable ApplicationErrors a charge ends with.
const (
	// ErrHardDecline: a new card is needed; the plan stops at once.
	ErrHardDecline = string(providers.ClassHardDecline)
	// ErrSoftDecline: dunning may try again on its schedule.
	ErrSoftDecline = string(providers.ClassSoftDecline)
	// ErrAuthenticationRequired: the customer must act.
	ErrAuthenticationRequired = string(providers.ClassAuthenticationRequired)
	// ErrInvalidRequest: the provider refuses the request itself.
	ErrInvalidRequest = string(providers.ClassInvalidRequest)
	// ErrTransient is the type of retryable provider failures; a charge whose retries
	// ran out ends with it (or with a timeout), and its outcome is unknown.
	ErrTransient = string(providers.ClassTransient)
	// ErrPaymentMethodUnavailable: the saved card is blocked, detached or gone; nothing
	// was sent to the provider.
	ErrPaymentMethodUnavailable = "payment_method_unavailable"
	// ErrAttemptLimit: the card failed too often lately (billing.AttemptLimit); nothing
	// was sent, and ChargeFailure.Until says when it may be tried.
	ErrAttemptLimit = "attempt_limit"
	// ErrPaced: the card's provider account is at its charge rate (its pace) and the
	// charge could not wait for a slot; nothing was sent. Final on a first try (try
	// again after Until), retryable on a retry (whose earlier try stays unknown).
	ErrPaced = "paced"
	// ErrStoreRejected: the store refused a write for a reason retrying cannot fix.
	ErrStoreRejected = "store_rejected"
	// ErrNotCharged: a lookup (ChargeRequest.LookupOnly) found that the attempt with an
	// unknown outcome never reached the provider: nothing was charged under its key.
	ErrNotCharged = "not_charged"
)

// ChargeFailure explains why a charge did not succeed. It is the details of the
// ApplicationError the Charge activity fails with.
type ChargeFailure struct {
	// Type is one of the Err… types above.
	Type        string        `json:"type"`
	Code        string        `json:"code"`
	Message     string        `json:"message,omitempty"`
	Provider    string        `json:"provider,omitempty"`
	ChargeID    string        `json:"charge_id,omitempty"`
	DeclineCode string        `json:"decline_code,omitempty"`
	NetworkCode string        `json:"network_code,omitempty"`
	AdviceCode  string        `json:"advice_code,omitempty"`
	RetryAfter  time.Duration `json:"retry_after,omitempty"`
	// Blocked and Detached say why a payment method is unavailable.
	Blocked  bool `json:"blocked,omitempty"`
	Detached bool `json:"detached,omitempty"`
	// Until is when an attempt-limited card may be tried again.
	Until time.Time `json:"until,omitzero"`
}

// Class returns the failure class recorded in the ledger (the provider's taxonomy).
func (f ChargeFailure) Class() string { return f.Type }

// Outcome reports whether f is a business outcome (a decline, the customer having to
// act, a card that is unavailable or over its attempt limit) rather than a fault.
func (f ChargeFailure) Outcome() bool {
	switch f.Type {
	case ErrHardDecline, ErrSoftDecline, ErrAuthenticationRequired, ErrPaymentMethodUnavailable, ErrAttemptLimit, ErrNotCharged, ErrPaced:
		return true
	}
	return false
}

// err wraps f in an ApplicationError of its type; a final business outcome is benign
// (see the top of this file). The activity must return it unwrapped: the SDK checks
// the category on the returned error itself.
func (f ChargeFailure) err(retryable bool, cause error) error {
	opts := temporal.ApplicationErrorOptions{NonRetryable: !retryable, Details: []any{f}, Cause: cause}
	if retryable && f.RetryAfter > 0 {
		opts.NextRetryDelay = f.RetryAfter
	}
	if !retryable && f.Outcome() {
		opts.Category = temporal.ApplicationErrorCategoryBenign
	}
	msg := f.Code
	if f.Message != "" {
		msg += ": " + f.Message
	}
	return temporal.NewApplicationErrorWithOptions(msg, f.Type, opts)
}

// chargeError turns a provider failure into the Temporal error the Charge activity
// returns. Errors that are not provider errors stay as they are (retryable).
func chargeError(err error) error {
	pe, ok := providers.AsError(err)
	if !ok {
		return err
	}
	f := ChargeFailure{
		Type: string(pe.Class), Code: pe.Code, Message: pe.Message, Provider: pe.Provider, ChargeID: pe.ChargeID,
		DeclineCode: pe.DeclineCode, NetworkCode: pe.NetworkCode, AdviceCode: pe.AdviceCode, RetryAfter: pe.RetryAfter,
	}
	switch {
	case pe.Retryable():
		return f.err(true, nil)
	case pe.Code == billing.CodeProviderAuthenticationFailed || pe.Code == billing.CodeUnknownProvider:
		// Our configuration is wrong, not the customer's card: retry while operators
		// fix it; when retries run out the attempt's outcome counts as unknown.
		return f.err(true, nil)
	case pe.Code == billing.CodePaymentMethodNotFound || pe.Code == billing.CodeResourceMissing:
		// The provider no longer has the card: the customer must give a new one.
		f.Type, f.Detached = ErrPaymentMethodUnavailable, true
		return f.err(false, nil)
	}
	return f.err(false, nil)
}

// storeError makes store errors that retrying cannot fix (invalid, conflict, not found)
// non-retryable; the rest (a database that is down) stay retryable. Values the
// database refuses (a NUL byte in a string on Postgres, a CHECK or NOT NULL
// constraint) come as KindInvalid with billing.CodeInvalidData. A store error is a fault
// either way: it keeps the default category and logs at ERROR.
func storeError(err error) error {
	if err == nil {
		return nil
	}
	switch billing.KindOf(err) {
	case billing.KindInvalid, billing.KindConflict, billing.KindNotFound, billing.KindUnprocessable:
		return temporal.NewNonRetryableApplicationError("the store refused; retrying cannot fix it", ErrStoreRejected, err)
	}
	return err
}

// ChargeFailureOf reads the failure out of the error a Charge call returned to the
// workflow. final is false when the charge's retries ran out on a technical failure:
// nobody knows whether the provider charged, so the next attempt must reuse the same
// idempotency key.
func ChargeFailureOf(err error) (f ChargeFailure, final bool) {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		if appErr.HasDetails() && appErr.Details(&f) == nil && f.Type != "" {
			return f, appErr.NonRetryable()
		}
		return ChargeFailure{Type: ErrTransient, Code: appErr.Type(), Message: appErr.Error()}, appErr.NonRetryable()
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return ChargeFailure{Type: ErrTransient, Code: billing.CodeTimeout, Message: timeoutErr.Error()}, false
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return ChargeFailure{Type: ErrTransient, Code: billing.CodeProcessingError, Message: msg}, false
}
