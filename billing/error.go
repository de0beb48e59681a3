// Package billing holds the domain of recurring: money, schedules, plan states and the
// application error type. It imports no infrastructure: no Temporal, no HTTP, no SQL.
package billing

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an application error. The api package maps each kind to one HTTP
// status and error type in a single table; nothing else decides statuses.
type Kind string

// Error kinds, each mapped to one HTTP status by the api package.
const (
	KindInvalid         Kind = "invalid"         // 400 invalid_request_error
	KindUnauthenticated Kind = "unauthenticated" // 401 authentication_error
	KindNotFound        Kind = "not_found"       // 404 invalid_request_error
	KindConflict        Kind = "conflict"        // 409 invalid_request_error
	KindCardDeclined    Kind = "card_declined"   // 402 card_error
	KindUnprocessable   Kind = "unprocessable"   // 422 invalid_request_error
	KindRateLimited     Kind = "rate_limited"    // 429 invalid_request_error
	KindUnavailable     Kind = "unavailable"     // 503 api_error
	KindInternal        Kind = "internal"        // 500 api_error
)

// Error is the one application error type. Code is the stable machine-readable code a
// client sees (for example "invalid_currency"); Param names the offending field with a
// dotted path (for example "schedule.final_payment_date").
type Error struct {
	Kind    Kind
	Code    string
	Param   string
	Message string
	// Err is the underlying cause. It is never shown to clients.
	Err error
}

// Error returns the message with its code and field.
func (e *Error) Error() string {
	var b strings.Builder
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

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind and code with a formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a KindInvalid error about one field.
func Invalid(param, code, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first *Error in err's chain, KindInternal otherwise.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var v *ValidationError
	if errors.As(err, &v) {
		return KindInvalid
	}
	return KindInternal
}

// ValidationError carries every violation found in one input, so a client can fix them
// all at once. The api package answers it with 400 and the first violation's param.
type ValidationError struct {
	Violations []*Error
}

// Error joins every violation.
func (v *ValidationError) Error() string {
	parts := make([]string, len(v.Violations))
	for i, e := range v.Violations {
		parts[i] = e.Error()
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records a violation of param.
func (v *ValidationError) Add(param, code, format string, args ...any) {
	v.Violations = append(v.Violations, Invalid(param, code, format, args...))
}

// Err returns v when it holds violations, nil otherwise.
func (v *ValidationError) Err() error {
	if v == nil || len(v.Violations) == 0 {
		return nil
	}
	return v
}
