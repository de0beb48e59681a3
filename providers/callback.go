package providers

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/recurring/recurring/billing"
)

// CallbackVerifier is implemented by providers whose customer-present steps report
// back to the engine: the issuer's or the provider's page returns the customer (or
// calls server to server) to POST /v1/providers/{provider}/callback with the step's
// result, signed with the provider's own scheme. The route needs no API key: it
// believes only what VerifyCallback verified.
type CallbackVerifier interface {
	// VerifyCallback checks a callback's signature and freshness (now) and returns
	// what it says. An unsigned or badly signed callback is ErrCallbackSignature; one
	// signed too long ago (or in the future) is ErrCallbackStale.
	VerifyCallback(ctx context.Context, form url.Values, now time.Time) (Callback, error)
}

// Callback is a verified result of a customer-present step: the session it belongs
// to (as the engine named it to the provider) and the answer to complete it with.
type Callback struct {
	MerchantID string
	Mode       billing.Mode
	// SessionID is the hosted session (pay_… or ps_…) the step belongs to.
	SessionID string
	// AuthenticationID is the authentication the answer completes.
	AuthenticationID string
	// Answer is CompleteAuthenticationRequest.Answer.
	Answer string
}

// Callback verification failures.
var (
	ErrCallbackSignature = errors.New("callback signature missing or invalid")
	ErrCallbackStale     = errors.New("callback timestamp outside the accepted window")
)

// CallbackWindow is how old (or how far ahead) a callback's timestamp may be.
const CallbackWindow = 15 * time.Minute
