package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/metrics"
	"github.com/recurring/recurring/providers"
)

// ChargeRequest asks for one charge attempt on a saved card.
type ChargeRequest struct {
	MerchantID      string       `json:"merchant_id"`
	Mode            billing.Mode `json:"mode"`
	PaymentMethodID string       `json:"payment_method_id"`
	Amount          int64        `json:"amount"`
	Currency        string       `json:"currency"`
	// IdempotencyKey is plan_<id>/<installment>/<attempt> for plan installments: every
	// technical retry of this activity sends the same key.
	IdempotencyKey string              `json:"idempotency_key"`
	Initiator      providers.Initiator `json:"initiator"`
	// NetworkTransactionID of the initial customer-initiated payment, for
	// merchant-initiated charges; when empty the card's stored one is used.
	NetworkTransactionID string            `json:"network_transaction_id,omitempty"`
	Description          string            `json:"description,omitempty"`
	Metadata             map[string]string `json:"metadata,omitempty"`
	// At is when the workflow makes the attempt (workflow time), the instant the
	// card's attempt limit is judged at.
	At time.Time `json:"at"`
	// AttemptLimit caps the card's failed attempts across every plan; zero is
	// billing.DefaultAttemptLimit.
	AttemptLimit billing.AttemptLimit `json:"attempt_limit,omitzero"`
	// Authentication is the 3-D Secure result of a hosted payment's charge.
	Authentication *providers.Authentication `json:"authentication,omitempty"`
	// MOTO flags a mail or telephone order (no cardholder to authenticate).
	MOTO bool `json:"moto,omitempty"`
	// Resolve says an earlier attempt under this key has an unknown outcome: the
	// provider is asked what became of it before anything is sent (see
	// providers.ChargeFinder). Every retry of the activity asks too.
	Resolve bool `json:"resolve,omitempty"`
	// LookupOnly settles such an attempt without sending anything: on a card the plan
	// has since replaced, the provider is only asked. A charge found is the result, a
	// decline found the failure, and "no such charge" fails with ErrNotCharged.
	LookupOnly bool `json:"lookup_only,omitempty"`
	// Record, when set, is the ledger row (and plan state) the workflow records when
	// the charge succeeds; the activity writes it itself once the provider accepted
	// the charge, filling in the status (succeeded or pending), provider, charge id and
	// network id, so a paid installment costs one activity instead of two. A failed
	// write does not fail the charge: ChargeResult.Recorded is false and the workflow
	// records the row itself.
	Record *RecordPaymentRequest `json:"record,omitempty"`
	// CanWait: the workflow sleeps until ChargeResult.PacedUntil when the provider
	// account's charge queue is longer than the activity waits (workflows'
	// versionPacedCharges); without it the activity waits within its deadline or fails
	// retryably with nothing sent.
	CanWait bool `json:"can_wait,omitempty"`
	// Slot is the send slot an earlier call reserved (its ChargeResult.PacedUntil): the
	// charge goes at that instant without queueing again, unless the workflow woke
	// more than a second after it.
	Slot time.Time `json:"slot,omitzero"`
}

// ChargeResult is an accepted charge.
type ChargeResult struct {
	Provider             string                 `json:"provider"`
	ChargeID             string                 `json:"charge_id"`
	Status               providers.ChargeStatus `json:"status"`
	NetworkTransactionID string                 `json:"network_transaction_id,omitempty"`
	// Recorded: ChargeRequest.Record was written.
	Recorded bool `json:"recorded,omitempty"`
	// PacedUntil, when set, says nothing was sent: the provider account's charge rate
	// queued this charge, and the slot at PacedUntil is reserved for it (call again
	// then with ChargeRequest.Slot). Only a request with CanWait gets it.
	PacedUntil time.Time `json:"paced_until,omitzero"`
}

// Charge looks up the saved card, checks its attempt limit across plans and charges it
// through its provider with the request's idempotency key. A decline ends it with a
// non-retryable error typed by class (see errors.go); a transient failure is retried
// by Temporal with the same key.
func (a *Activities) Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error) {
	res, err := a.charge(ctx, req)
	a.countCharge(res, err)
	return res, err
}

// countCharge records a charge attempt's outcome in the metrics.
func (a *Activities) countCharge(res ChargeResult, err error) {
	m := a.deps.Metrics
	if m == nil {
		return
	}
	if err == nil {
		outcome := metrics.OutcomeSucceeded
		switch {
		case !res.PacedUntil.IsZero():
			outcome = metrics.OutcomeQueued
		case res.Status == providers.ChargePending:
			outcome = metrics.OutcomePending
		}
		m.Charge(orUnknown(res.Provider), outcome, "")
		return
	}
	f, final := ChargeFailureOf(err)
	outcome := metrics.OutcomeDeclined
	switch {
	case f.Type == ErrPaymentMethodUnavailable || f.Type == ErrAttemptLimit:
		outcome = metrics.OutcomeUnavailable
	case f.Type == ErrPaced:
		outcome = metrics.OutcomeQueued
	case !final:
		outcome = metrics.OutcomeUnknown
	}
	m.Charge(orUnknown(f.Provider), outcome, f.Code)
}

func orUnknown(provider string) string {
	if provider == "" {
		return "unknown"
	}
	return provider
}

func (a *Activities) charge(ctx context.Context, req ChargeRequest) (ChargeResult, error) {
	if a.deps.PaymentMethods == nil || a.deps.Providers == nil {
		return ChargeResult{}, errors.New("charge: activities built without payment methods or providers")
	}
	card, err := a.deps.PaymentMethods.ChargeableCard(ctx, req.MerchantID, req.PaymentMethodID)
	if err == nil && req.LookupOnly {
		return a.lookupOnly(ctx, req, card)
	}
	if err != nil {
		if billing.KindOf(err) == billing.KindNotFound {
			return ChargeResult{}, ChargeFailure{Type: ErrPaymentMethodUnavailable, Code: billing.CodePaymentMethodNotFound,
				Message: "the payment method does not exist", Detached: true}.err(false, nil)
		}
		return ChargeResult{}, err
	}
	// A retry, or an attempt whose outcome was lost: an earlier try under this key
	// may have charged (and recorded itself) before the card changed state.
	lookup := req.Resolve || activity.GetInfo(ctx).Attempt > 1
	if (card.Blocked || card.Detached) && lookup {
		res, err := a.lookupOnly(ctx, req, card)
		var appErr *temporal.ApplicationError
		switch {
		case err == nil:
			return a.accepted(ctx, req, res), nil
		case !errors.As(err, &appErr) || appErr.Type() != ErrNotCharged:
			return ChargeResult{}, err // a decline found, or the provider cannot tell yet
		}
		// Never reached the provider: the card's state decides, as below.
	}
	if card.Blocked || card.Detached {
		// Nothing is sent to the provider: the plan waits for an unblock or a new card,
		// even if it missed the block or detach signal.
		code := billing.CodePaymentMethodBlocked
		if card.Detached {
			code = billing.CodePaymentMethodDetached
		}
		return ChargeResult{}, ChargeFailure{Type: ErrPaymentMethodUnavailable, Code: code, Provider: card.Provider,
			Blocked: card.Blocked && !card.Detached, Detached: card.Detached}.err(false, nil)
	}
	if a.deps.Ledger != nil && !lookup { // a retry is the attempt the limit already let through
		at := req.At
		if at.IsZero() {
			at = time.Now()
		}
		limit := req.AttemptLimit.OrDefault()
		failed, err := a.deps.Ledger.FailedAttemptsSince(ctx, req.MerchantID, req.PaymentMethodID, at.Add(-limit.Window.Std()))
		if err != nil {
			return ChargeResult{}, err
		}
		if until := limit.NextAllowed(at, failed); until.After(at) {
			return ChargeResult{}, ChargeFailure{Type: ErrAttemptLimit, Code: billing.CodeAttemptLimitReached, Provider: card.Provider,
				Message: "the card failed too often in the last " + limit.Window.String(), Until: until}.err(false, nil)
		}
	}
	// The provider account's pace: a slot is taken before anything is sent, the
	// lookup of an earlier attempt included.
	if until, err := a.pace(ctx, req, card, attemptOf(ctx)); err != nil || !until.IsZero() {
		return ChargeResult{PacedUntil: until}, err
	}
	p, err := a.provider(ctx, req.MerchantID, card)
	if err != nil {
		if lookup {
			// An earlier attempt may have charged: without its provider nobody can
			// tell, so the outcome stays unknown rather than failed.
			return ChargeResult{}, ChargeFailure{Type: ErrTransient, Code: billing.CodeProviderNotAvailable, Provider: card.Provider,
				Message: "cannot reach the provider of an earlier attempt: " + err.Error()}.err(true, nil)
		}
		return ChargeResult{}, chargeError(err)
	}
	nti := req.NetworkTransactionID
	if nti == "" && req.Initiator == providers.InitiatorMerchant {
		nti = card.NetworkTransactionID
	}
	preq := providers.ChargeRequest{
		Token: card.Token, CustomerRef: card.CustomerRef, Amount: req.Amount, Currency: req.Currency,
		IdempotencyKey: req.IdempotencyKey, Initiator: req.Initiator, NetworkTransactionID: nti,
		Description: req.Description, Metadata: req.Metadata, Authentication: req.Authentication, MOTO: req.MOTO,
		Method: string(card.Type),
	}
	res, err := a.resolve(ctx, p, preq, lookup)
	if errors.Is(err, providers.ErrNoSuchCharge) {
		res, err = p.Charge(ctx, preq)
	}
	if err != nil {
		if info := activity.GetInfo(ctx); info.Attempt > 1 {
			a.deps.Logger.Warn("charge attempt failed again", "idempotency_key", req.IdempotencyKey, "activity_attempt", info.Attempt, "err", err)
		}
		return ChargeResult{}, chargeError(err)
	}
	return a.accepted(ctx, req, ChargeResult{Provider: card.Provider, ChargeID: res.ID, Status: res.Status,
		NetworkTransactionID: res.NetworkTransactionID}), nil
}

// accepted is an accepted charge's result, its row written when the workflow asked.
func (a *Activities) accepted(ctx context.Context, req ChargeRequest, out ChargeResult) ChargeResult {
	if req.Record != nil {
		out.Recorded = a.recordCharge(ctx, *req.Record, out)
	}
	return out
}

// recordWriteTimeout bounds the ledger write a successful charge makes before it
// answers; a slower store leaves the write to the workflow.
const recordWriteTimeout = 10 * time.Second

// recordCharge writes the workflow's row for an accepted charge, reporting whether it
// did. The charge's outcome is never lost to the store: a failed write is logged and
// left to the workflow (whose own write is idempotent by the attempt's key).
func (a *Activities) recordCharge(ctx context.Context, rec RecordPaymentRequest, res ChargeResult) bool {
	if a.deps.Ledger == nil {
		return false
	}
	rec.Status = billing.PaymentSucceeded
	if res.Status == providers.ChargePending {
		rec.Status = billing.PaymentPending
	}
	rec.Provider, rec.ProviderChargeID, rec.NetworkTransactionID = res.Provider, res.ChargeID, res.NetworkTransactionID
	ctx, cancel := context.WithTimeout(ctx, recordWriteTimeout)
	defer cancel()
	if _, err := a.RecordPayment(ctx, rec); err != nil {
		a.deps.Logger.Warn("charge accepted, its ledger row left to the workflow", "idempotency_key", rec.IdempotencyKey, "err", err)
		return false
	}
	return true
}

// lookupOnly asks card's provider what became of the attempt under req's key and
// sends nothing, whatever the card's state (a blocked or detached card has no token
// here: the key alone identifies the charge).
func (a *Activities) lookupOnly(ctx context.Context, req ChargeRequest, card billing.ChargeableCard) (ChargeResult, error) {
	notCharged := func(msg string) error {
		return ChargeFailure{Type: ErrNotCharged, Code: billing.CodeProcessingError, Provider: card.Provider, Message: msg}.err(false, nil)
	}
	p, err := a.provider(ctx, req.MerchantID, card)
	if err != nil {
		return ChargeResult{}, ChargeFailure{Type: ErrTransient, Code: billing.CodeProviderNotAvailable, Provider: card.Provider,
			Message: "cannot ask the provider about the earlier attempt: " + err.Error()}.err(true, nil)
	}
	if _, ok := p.(providers.ChargeFinder); !ok {
		// Nobody can tell what became of it: it stays unknown.
		return ChargeResult{}, ChargeFailure{Type: ErrTransient, Code: billing.CodeProcessingError, Provider: card.Provider,
			Message: card.Provider + " cannot look charges up"}.err(true, nil)
	}
	res, err := a.resolve(ctx, p, providers.ChargeRequest{
		Token: card.Token, CustomerRef: card.CustomerRef, Amount: req.Amount, Currency: req.Currency,
		IdempotencyKey: req.IdempotencyKey, Initiator: req.Initiator, NetworkTransactionID: req.NetworkTransactionID,
		Description: req.Description, Metadata: req.Metadata, Authentication: req.Authentication, MOTO: req.MOTO,
		Method: string(card.Type),
	}, true)
	switch {
	case err == nil:
		return ChargeResult{Provider: card.Provider, ChargeID: res.ID, Status: res.Status, NetworkTransactionID: res.NetworkTransactionID}, nil
	case errors.Is(err, providers.ErrNoSuchCharge):
		return ChargeResult{}, notCharged("the earlier attempt never reached the provider")
	}
	return ChargeResult{}, chargeError(err) // a found failure, or transient: cannot tell
}

// provider is the adapter that charges card: its merchant's provider account, or the
// installation's provider.
func (a *Activities) provider(ctx context.Context, merchantID string, card billing.ChargeableCard) (providers.Provider, error) {
	if card.ProviderAccount == "" {
		return a.deps.Providers.Get(card.Provider)
	}
	if a.deps.Accounts == nil {
		return nil, &providers.Error{Class: providers.ClassInvalidRequest, Code: billing.CodeProviderNotAvailable,
			Message: "this worker charges no provider accounts"}
	}
	return a.deps.Accounts.ForAccount(ctx, merchantID, card.ProviderAccount)
}

// resolve asks the provider what became of an earlier attempt under req's key when one
// may have reached it (lookup) and the provider can tell. It returns
// providers.ErrNoSuchCharge when the charge may be sent: nothing to resolve, or the
// provider has no such charge. A charge found, or a failure the provider found
// (providers.Found), is the earlier attempt's outcome; any other answer is a transient
// error, after which nothing is sent and the activity retries.
func (a *Activities) resolve(ctx context.Context, p providers.Provider, req providers.ChargeRequest, lookup bool) (providers.ChargeResult, error) {
	f, ok := p.(providers.ChargeFinder)
	if !lookup || !ok {
		return providers.ChargeResult{}, providers.ErrNoSuchCharge
	}
	res, err := f.FindCharge(ctx, req)
	switch {
	case err == nil:
		a.deps.Logger.Info("an earlier attempt's charge was found", "idempotency_key", req.IdempotencyKey, "charge_id", res.ID)
		return res, nil
	case errors.Is(err, providers.ErrNoSuchCharge):
		return res, err
	case providers.IsFound(err):
		return res, err // the earlier attempt failed for good: its outcome
	}
	// The provider could not tell. Whatever the error says, it is not the charge's
	// outcome: nothing is sent and nothing is recorded as failed; the activity retries
	// and the attempt stays unknown.
	a.deps.Logger.Warn("could not learn an earlier attempt's outcome", "idempotency_key", req.IdempotencyKey, "err", err)
	return providers.ChargeResult{}, &providers.Error{Class: providers.ClassTransient, Code: billing.CodeProcessingError,
		Provider: p.Name(), Message: "could not learn the outcome of an earlier attempt under this key; nothing was sent", Err: err}
}

// Charge runs Activities.Charge from a workflow with the charge retry policy.
func Charge(ctx workflow.Context, req ChargeRequest) (ChargeResult, error) {
	var a *Activities
	var res ChargeResult
	err := workflow.ExecuteActivity(chargeOptions(ctx), a.Charge, req).Get(ctx, &res)
	return res, err
}
