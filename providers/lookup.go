package providers

import (
	"context"
	"errors"
)

// ChargeFinder is implemented by providers that can say what became of a charge whose
// answer was lost (a timeout, a dropped connection, a crash, a response that failed
// its signature check). An idempotency key alone does not settle it: Stripe forgets
// keys after about 24 hours and some providers keep none, so a retry days later could
// charge a second time. The engine therefore asks FindCharge before it sends a charge
// again, and only ErrNoSuchCharge lets the new attempt go out, under the same key.
type ChargeFinder interface {
	// FindCharge looks up the charge made for req (by its IdempotencyKey, or the
	// reference the adapter derived from it); req.Token may be empty (see
	// ChargeRequest.ValidateLookup), and the card is then not compared. It returns the charge's result when the
	// provider accepted it, its decline as *Error when the provider declined it, and
	// an error wrapping ErrNoSuchCharge when the provider has no such charge. Any other
	// error means the provider could not tell, and nothing may be sent yet.
	FindCharge(ctx context.Context, req ChargeRequest) (ChargeResult, error)
}

// ErrNoSuchCharge is FindCharge's answer when the provider has no charge for the key:
// the lost attempt never reached it, so the charge may be sent (again).
var ErrNoSuchCharge = errors.New("the provider has no charge under this idempotency key")

// Found marks FindCharge's answer that the provider has the charge and it failed for
// good (declined, or the key was used for another charge): the attempt's outcome is
// known. Every other error from FindCharge means "cannot tell yet", and the caller
// must neither send the charge nor record a failure.
func Found(e *Error) error { return &found{e} }

// IsFound reports whether err is a failure FindCharge found (see Found).
func IsFound(err error) bool {
	var f *found
	return errors.As(err, &f)
}

type found struct{ e *Error }

func (f *found) Error() string { return f.e.Error() }
func (f *found) Unwrap() error { return f.e }
