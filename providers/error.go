package providers

import (
	"errors"
	"strings"
	"time"

	"github.com/recurring/recurring/billing"
)

// Class is what the engine may do after a failed provider call. It is the only thing
// retry logic looks at; codes are for people and for the API.
type Class string

// The five classes. Each failure belongs to exactly one.
const (
	// ClassHardDecline: the issuer or network will never approve this card for this
	// merchant again (expired, lost, stolen, blocked, revoked, closed, recurring not
	// supported). Never retried; the customer needs a new payment method.
	ClassHardDecline Class = "hard_decline"
	// ClassSoftDecline: the issuer declined now but may approve later (insufficient funds,
	// generic decline, issuer unavailable). Not retried by the activity; dunning tries
	// again on its schedule of days, with a new idempotency key per attempt.
	ClassSoftDecline Class = "soft_decline"
	// ClassTransient: a technical failure before a decision (timeout, 5xx, rate limit,
	// processing error). Retried soon by the activity with the same idempotency key, which
	// is safe even when the provider did charge.
	ClassTransient Class = "transient"
	// ClassAuthenticationRequired: the issuer wants the cardholder to authenticate (3-D
	// Secure). Retrying without the customer cannot succeed; the customer must act.
	ClassAuthenticationRequired Class = "authentication_required"
	// ClassInvalidRequest: the request itself is wrong (missing idempotency key, unknown
	// token, bad API key, refund not supported). A bug or misconfiguration: never retried.
	ClassInvalidRequest Class = "invalid_request"
)

// ErrNotSupported is wrapped by every error about something a provider does not offer
// (a refund, recurring charges on a method), so callers can test with errors.Is.
var ErrNotSupported = errors.New("not supported by provider")

// Error is the one failure type of every provider call. Retry decisions use Class only;
// the rest explains the failure to people and keeps the network's own words for audits.
// It carries nothing secret: no PAN, no API key, no raw provider payload.
type Error struct {
	Class Class
	// Code is one of the provider codes of billing/codes.go; clients see it as
	// error.code.
	Code    string
	Message string
	// Param names the request field at fault, for validation failures.
	Param string
	// Provider is the adapter's name.
	Provider string
	// DeclineCode is the provider's own reason, for example Stripe's decline_code.
	DeclineCode string
	// NetworkCode is the card network's response code (Visa "05", "R1").
	NetworkCode string
	// AdviceCode is the network's merchant advice code (Mastercard "03", "24").
	AdviceCode string
	// ChargeID is the provider's id of the declined attempt, when it created one.
	ChargeID string
	// RetryAfter, when positive, is the earliest the same card may be tried again: a rate
	// limit's Retry-After, or a Mastercard advice code's hint for declines.
	RetryAfter time.Duration
	// Err is the underlying cause, already stripped of secrets by the adapter.
	Err error
}

// Error renders the provider, class, code and message.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		b.WriteString(e.Provider)
		b.WriteString(": ")
	}
	b.WriteString(string(e.Class))
	b.WriteString(" ")
	b.WriteString(e.Code)
	if e.Param != "" {
		b.WriteString(" (")
		b.WriteString(e.Param)
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may be sent again soon with the same
// idempotency key: only transient failures, after RetryAfter when it is set. This is the
// activity retry layer's question.
func (e *Error) Retryable() bool { return e.Class == ClassTransient }

// RetryLater reports whether dunning may try the card again on its schedule of days
// (soft declines only), not before RetryAfter when it is set. Hard declines, required
// authentication and invalid requests are never retried by anyone.
func (e *Error) RetryLater() bool { return e.Class == ClassSoftDecline }

// AsError returns the *Error in err's chain.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// ClassOf returns the class of the *Error in err's chain, or "" when there is none.
func ClassOf(err error) Class {
	if e, ok := AsError(err); ok {
		return e.Class
	}
	return ""
}

// CodeOf returns the code of the *Error in err's chain, or "" when there is none.
func CodeOf(err error) string {
	if e, ok := AsError(err); ok {
		return e.Code
	}
	return ""
}

// ToBilling turns a provider failure into the application error the API renders, keeping
// the *Error as its cause. Errors without a *Error are returned unchanged. The choice of
// kind lives here so the API's status table needs no provider knowledge.
func ToBilling(err error) error {
	e, ok := AsError(err)
	if !ok {
		return err
	}
	return &billing.Error{Kind: billingKind(e), Code: e.Code, Param: e.Param, Message: e.Message, Err: e}
}

func billingKind(e *Error) billing.Kind {
	if e.Param != "" {
		// A field the client sent is at fault: card number, expiry, amount, currency.
		return billing.KindInvalid
	}
	switch e.Code {
	case billing.CodeRecurringNotSupported:
		return billing.KindUnprocessable
	case billing.CodeRateLimited:
		return billing.KindRateLimited
	case billing.CodeIdempotencyConflict:
		return billing.KindConflict
	case billing.CodePaymentMethodNotFound, billing.CodeResourceMissing:
		return billing.KindNotFound
	case billing.CodeUnknownProvider:
		return billing.KindInvalid
	}
	switch e.Class {
	case ClassHardDecline, ClassSoftDecline, ClassAuthenticationRequired:
		return billing.KindCardDeclined
	case ClassTransient:
		return billing.KindUnavailable
	case ClassInvalidRequest:
		if errors.Is(e, ErrNotSupported) {
			return billing.KindUnprocessable
		}
		// Our request was wrong or our credentials are: not the client's fault.
		return billing.KindInternal
	}
	return billing.KindInternal
}
