package starter

import (
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/workflows"
)

// overTheWire sends err through the SDK's default failure converter, as a rejected
// update reaches the client.
func overTheWire(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	fc := temporal.GetDefaultFailureConverter()
	var appErr *temporal.ApplicationError
	if !errors.As(fc.FailureToError(fc.ErrorToFailure(err)), &appErr) {
		t.Fatalf("%v did not come back as an application error", err)
	}
	return appErr
}

// A rejection crosses as a typed workflows.Rejection; the positional (code, param)
// details of workers before it still read the same.
func TestRejectionOf(t *testing.T) {
	for name, details := range map[string][]any{
		"typed":      {workflows.Rejection{Code: billing.CodeInvalidValue, Param: "payment_method"}},
		"positional": {billing.CodeInvalidValue, "payment_method"},
	} {
		t.Run(name, func(t *testing.T) {
			err := temporal.NewApplicationErrorWithOptions("no such card", workflows.ErrInvalidArgument,
				temporal.ApplicationErrorOptions{NonRetryable: true, Details: details})
			code, param := rejectionOf(overTheWire(t, err))
			if code != billing.CodeInvalidValue || param != "payment_method" {
				t.Errorf("code %q param %q, want %s payment_method", code, param, billing.CodeInvalidValue)
			}
		})
	}
	if code, param := rejectionOf(overTheWire(t, temporal.NewApplicationError("bare", workflows.ErrInvalidTransition))); code != "" || param != "" {
		t.Errorf("no details read as %q %q", code, param)
	}
	// An error made in this process keeps its details as Go values, which the SDK's
	// decoder panics on when the types differ: old-shaped details still read.
	local := temporal.NewApplicationErrorWithOptions("no such card", workflows.ErrInvalidArgument,
		temporal.ApplicationErrorOptions{Details: []any{billing.CodeInvalidValue, "payment_method"}})
	if code, param := rejectionOf(local.(*temporal.ApplicationError)); code != billing.CodeInvalidValue || param != "payment_method" {
		t.Errorf("local positional details read as %q %q", code, param)
	}
}
