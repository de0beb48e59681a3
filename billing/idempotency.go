package billing

import (
	"context"
	"time"
)

// IdempotencyTTL is how long an Idempotency-Key and its response are kept; afterwards
// the key may be used again.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyClaim is the outcome of claiming a key. Either Replayed is set and Status
// and Response are the stored answer, or the caller owns the key and must end the claim
// with CompleteIdempotencyKey or ReleaseIdempotencyKey, passing the claim back.
type IdempotencyClaim struct {
	Replayed bool
	Status   int
	Response []byte

	// Key and Fence identify the claim: Fence grows with every takeover of the key, so
	// a holder whose lease was taken over can no longer complete, release or renew it.
	Key   string
	Fence int64
}

// IdempotencyService keeps the API's Idempotency-Keys: a key answers one request, and
// a retry of it gets the stored answer.
type IdempotencyService interface {
	// ClaimIdempotencyKey claims key for one request of the caller, identified by
	// request (method, path and canonical body). Of concurrent requests exactly one
	// wins; the others get idempotency_key_in_use until the winner stores its response,
	// then a replay. A different request under a key still held gets
	// idempotency_key_reused. lease bounds how long a claim without a response blocks
	// the key: after it (the holder crashed) the next request takes over.
	ClaimIdempotencyKey(ctx context.Context, caller Caller, key string, request []byte, lease time.Duration) (IdempotencyClaim, error)
	// CompleteIdempotencyKey stores the response of a claimed key, to be replayed for
	// IdempotencyTTL; it does nothing if the claim was taken over meanwhile.
	CompleteIdempotencyKey(ctx context.Context, caller Caller, c IdempotencyClaim, status int, response []byte) error
	// ReleaseIdempotencyKey gives a claimed key up without a response, so a retry with
	// the key executes again.
	ReleaseIdempotencyKey(ctx context.Context, caller Caller, c IdempotencyClaim) error
	// RenewIdempotencyKey extends a claim's lease while its request still runs; it
	// reports false when the claim is no longer held.
	RenewIdempotencyKey(ctx context.Context, caller Caller, c IdempotencyClaim, lease time.Duration) (bool, error)
	// PurgeIdempotencyKeys deletes keys older than IdempotencyTTL and returns how many.
	PurgeIdempotencyKeys(ctx context.Context) (int64, error)
}
