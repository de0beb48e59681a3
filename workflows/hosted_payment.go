package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// HostedPaymentInput is a hosted payment session: a customer-present payment the
// customer makes on the engine's page. Its workflow id is the payment id.
type HostedPaymentInput struct {
	Payment PaymentInput `json:"payment"` // PaymentMethodID empty: the page gives it
	// ExpiresAt is when the page stops taking the payment.
	ExpiresAt time.Time `json:"expires_at"`
	// PlanID makes the session a change of that plan's card: the card is authenticated
	// (Payment.Amount is the plan's next amount, for 3-D Secure), nothing is charged
	// here, and the plan gets the card (and charges a waiting installment at once).
	PlanID string `json:"plan_id,omitempty"`
	// StartPlan makes the session the start of PlanID, a plan created without a card:
	// the card is authenticated for the first installment (Payment.Amount) and handed
	// to the plan, which charges it customer-initiated with that authentication; the
	// session's outcome is that charge's. With Payment.Amount 0 (the plan starts later)
	// the authentication is a zero-amount verification and nothing is charged now.
	StartPlan bool `json:"start_plan,omitempty"`
}

// Updates of a hosted payment, sent by the page.
const (
	// UpdateSubmitCard hands the workflow the card the customer entered (saved by the
	// page as a payment method; the workflow never sees card data) and the browser's
	// 3-D Secure data. It answers a challenge to show, or the payment's outcome.
	UpdateSubmitCard = "submit_card"
	// UpdateCompleteChallenge hands over the challenge page's answer and answers the
	// payment's outcome.
	UpdateCompleteChallenge = "complete_challenge"
)

// SubmitCardRequest is UpdateSubmitCard's argument.
type SubmitCardRequest struct {
	PaymentMethodID string                `json:"payment_method_id"`
	Browser         providers.BrowserInfo `json:"browser"`
}

// CompleteChallengeRequest is UpdateCompleteChallenge's argument.
type CompleteChallengeRequest struct {
	Answer string `json:"answer"`
	// AuthenticationID, when set, must name the challenge being answered: a callback
	// for another (older) authentication is refused.
	AuthenticationID string `json:"authentication_id,omitempty"`
}

// HostedStep is what the page does next: show the challenge (Challenge set), or the
// outcome (Payment set).
type HostedStep struct {
	Challenge *providers.Authentication `json:"challenge,omitempty"`
	Payment   *PaymentResult            `json:"payment,omitempty"`
}

type hostedStage int

const (
	stageCard hostedStage = iota
	stageBusy
	stageChallenge
	stageDone
	stageExpired
)

// HostedPayment waits, with a durable timer, for the customer to complete the payment
// on the hosted page: a card (UpdateSubmitCard), 3-D Secure when the issuer asks
// (UpdateCompleteChallenge; a MOTO order skips it), then one customer-initiated
// charge carrying the authentication. It completes at most once: a second card, a
// replayed answer or a late click is rejected by the validators, and the charge's
// idempotency key is the payment id. An unfinished session expires at ExpiresAt and
// announces payment.expired.
func HostedPayment(ctx workflow.Context, in HostedPaymentInput) (PaymentResult, error) {
	stage := stageCard
	var result PaymentResult
	var pending providers.Authentication // the challenge being answered
	pay := in.Payment

	// cancelAuth releases an authentication no charge will follow (Stripe authorises
	// money as it authenticates). Best effort: an uncaptured authorisation also lapses.
	cancelAuth := func(ctx workflow.Context, id string) {
		if id == "" || workflow.GetVersion(ctx, "hosted-cancel-auth", workflow.DefaultVersion, 1) < 1 {
			return
		}
		if err := activities.CancelAuthentication(ctx, activities.CancelAuthenticationRequest{MerchantID: pay.MerchantID,
			PaymentMethodID: pay.PaymentMethodID, AuthenticationID: id}); err != nil {
			workflow.GetLogger(ctx).Warn("authentication not canceled", "payment_id", pay.PaymentID, "error", err)
		}
	}
	// release is cancelAuth on the paths version 1 of "hosted-release-auth" added: an
	// authentication whose check failed, and one whose charge failed (Amazon Payment
	// Services and Stripe hold the money until it is captured or released).
	release := func(ctx workflow.Context, id string) {
		if id == "" || workflow.GetVersion(ctx, "hosted-release-auth", workflow.DefaultVersion, 1) < 1 {
			return
		}
		cancelAuth(ctx, id)
	}
	notWaiting := func(what string) error {
		return rejection(&billing.Error{Kind: billing.KindConflict, Code: billing.CodeSessionNotWaiting,
			Message: fmt.Sprintf("this payment session is not waiting for %s", what)})
	}
	// finish charges (auth nil for MOTO) or records the authentication's failure, and
	// closes the session. A card-change session charges nothing: it hands the plan the
	// card.
	finish := func(ctx workflow.Context, auth *providers.Authentication, failed bool) (HostedStep, error) {
		var err error
		switch {
		case in.StartPlan:
			result = PaymentResult{PaymentID: pay.PaymentID, Status: billing.PaymentFailed, FailureCode: billing.CodeAuthenticationFailed}
			if failed {
				break
			}
			res, serr := activities.StartPlan(ctx, activities.StartPlanRequest{PlanID: in.PlanID, SessionID: pay.PaymentID,
				PaymentMethodID: pay.PaymentMethodID, Authentication: auth, Verified: pay.Amount == 0})
			if serr != nil {
				// The plan refused the card (it expired, was canceled, or another page
				// started it): the card goes, and what its authentication holds.
				result.FailureCode = billing.CodeInvalidTransition
				// Only a refusal means the plan will never charge this authentication: an
				// activity that timed out may have started the plan, whose first charge
				// recorded the payment (Axerve's is the authentication itself). Version 1
				// of "hosted-release-auth" releases on refusals only.
				if auth != nil && (workflow.GetVersion(ctx, "hosted-release-auth", workflow.DefaultVersion, 1) < 1 || refused(serr)) {
					cancelAuth(ctx, auth.ID)
				}
				break
			}
			result.Status, result.FailureCode, result.FailureMessage = res.Status, res.FailureCode, res.FailureMessage
			if res.PaymentID != "" {
				result.PaymentID = res.PaymentID
			}
			if res.Status == billing.PaymentFailed && auth != nil {
				release(ctx, auth.ID) // the plan's first charge failed: nothing captures the hold
			}
		case in.PlanID != "":
			result = PaymentResult{PaymentID: pay.PaymentID, Status: billing.PaymentSucceeded}
			if failed {
				result.Status, result.FailureCode = billing.PaymentFailed, billing.CodeAuthenticationFailed
			} else if err := activities.ChangePlanCard(ctx, activities.ChangePlanCardRequest{PlanID: in.PlanID,
				PaymentMethodID: pay.PaymentMethodID}); err != nil {
				// The plan refused the card (it has ended): the session fails, the card goes.
				result.Status, result.FailureCode = billing.PaymentFailed, billing.CodeInvalidTransition
			}
		case failed:
			result, err = recordAuthenticationFailure(ctx, pay)
		default:
			result, err = chargePayment(ctx, pay, auth)
			if err == nil && result.Status == billing.PaymentFailed && auth != nil {
				release(ctx, auth.ID)
			}
		}
		if err != nil {
			return HostedStep{}, err
		}
		keep := result.Status != billing.PaymentFailed && (pay.SaveCard || in.PlanID != "")
		if err := activities.SetPaymentSession(ctx, activities.SetPaymentSessionRequest{MerchantID: pay.MerchantID,
			PaymentID: pay.PaymentID, Status: billing.PaymentSessionCompleted, PaymentMethodID: pay.PaymentMethodID,
			KeepCard: keep, Outcome: result.Status}); err != nil {
			return HostedStep{}, err
		}
		stage = stageDone
		return HostedStep{Payment: &result}, nil
	}

	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateSubmitCard,
		func(ctx workflow.Context, req SubmitCardRequest) (HostedStep, error) {
			stage = stageBusy
			pay.PaymentMethodID = req.PaymentMethodID
			// The session knows its card from now on, so an expiry can drop it.
			if err := activities.SetPaymentSession(ctx, activities.SetPaymentSessionRequest{MerchantID: pay.MerchantID,
				PaymentID: pay.PaymentID, Status: billing.PaymentSessionOpen, PaymentMethodID: pay.PaymentMethodID}); err != nil {
				stage = stageCard
				return HostedStep{}, err
			}
			if pay.Type == "moto" {
				return finish(ctx, nil, false)
			}
			auth, err := activities.BeginAuthentication(ctx, activities.AuthenticateRequest{MerchantID: pay.MerchantID,
				PaymentMethodID: pay.PaymentMethodID, Amount: pay.Amount, Currency: pay.Currency,
				// One authentication per card: a second card after a refusal is a new request.
				IdempotencyKey: pay.PaymentID + "/3ds/" + pay.PaymentMethodID, Browser: req.Browser, SessionID: pay.PaymentID, Mode: pay.Mode,
				// A card change or a verification charges nothing after it.
				Setup: in.PlanID != "" && (!in.StartPlan || pay.Amount == 0)})
			if err != nil {
				// The card could not be authenticated at all (a provider error): the
				// customer may try another card.
				stage = stageCard
				return HostedStep{}, err
			}
			switch auth.Status {
			case providers.AuthenticationChallenge:
				pending, stage = auth, stageChallenge
				return HostedStep{Challenge: &auth}, nil
			case providers.AuthenticationFailed:
				return finish(ctx, nil, true)
			}
			return finish(ctx, &auth, false)
		}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req SubmitCardRequest) error {
			if stage != stageCard {
				return notWaiting("a card")
			}
			if req.PaymentMethodID == "" {
				return rejection(billing.Invalid("payment_method", billing.CodeParameterMissing, "no card given"))
			}
			return nil
		}}); err != nil {
		return PaymentResult{}, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateCompleteChallenge,
		func(ctx workflow.Context, req CompleteChallengeRequest) (HostedStep, error) {
			stage = stageBusy
			auth, err := activities.CompleteAuthentication(ctx, activities.AuthenticateRequest{MerchantID: pay.MerchantID,
				PaymentMethodID: pay.PaymentMethodID, Amount: pay.Amount, Currency: pay.Currency,
				AuthenticationID: pending.ID, Answer: req.Answer})
			if err != nil || auth.Status != providers.AuthenticationSucceeded {
				release(ctx, pending.ID)
				return finish(ctx, nil, true)
			}
			return finish(ctx, &auth, false)
		}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, req CompleteChallengeRequest) error {
			if stage != stageChallenge {
				return notWaiting("a challenge answer")
			}
			if req.AuthenticationID != "" && req.AuthenticationID != pending.ID {
				return rejection(billing.Invalid("authentication", billing.CodeAuthenticationFailed,
					"the answer is for another authentication"))
			}
			return nil
		}}); err != nil {
		return PaymentResult{}, err
	}

	wait := in.ExpiresAt.Sub(workflow.Now(ctx))
	done, err := workflow.AwaitWithTimeout(ctx, max(wait, time.Millisecond), func() bool { return stage == stageDone })
	if err != nil {
		return PaymentResult{}, err
	}
	if !done && stage == stageBusy {
		// The customer submitted just before the end: the payment in flight decides.
		if err := workflow.Await(ctx, func() bool { return stage != stageBusy }); err != nil {
			return PaymentResult{}, err
		}
		done = stage == stageDone
	}
	if !done {
		if stage == stageChallenge {
			// The customer may have passed the issuer's page without coming back.
			cancelAuth(ctx, pending.ID)
		}
		stage = stageExpired
		if err := activities.SetPaymentSession(ctx, activities.SetPaymentSessionRequest{MerchantID: pay.MerchantID,
			PaymentID: pay.PaymentID, Status: billing.PaymentSessionExpired, Outcome: billing.PaymentExpired}); err != nil {
			return PaymentResult{}, err
		}
		result = PaymentResult{PaymentID: pay.PaymentID, Status: billing.PaymentExpired}
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return PaymentResult{}, err
	}
	return result, nil
}

// recordAuthenticationFailure records the hosted payment as failed because 3-D Secure
// failed: nothing reached the issuer's authorization, so no charge id.
func recordAuthenticationFailure(ctx workflow.Context, in PaymentInput) (PaymentResult, error) {
	payType := billing.CustomerPaymentType(in.SaveCard)
	out := PaymentResult{PaymentID: in.PaymentID, Status: billing.PaymentFailed, PaymentType: payType,
		IsRecurring: payType.IsRecurring(), FailureCode: billing.CodeAuthenticationFailed,
		FailureClass: string(providers.ClassAuthenticationRequired), FailureMessage: "the cardholder did not pass 3-D Secure"}
	_, err := activities.RecordPayment(ctx, activities.RecordPaymentRequest{
		PaymentID: in.PaymentID, MerchantID: in.MerchantID, Mode: in.Mode, CustomerID: in.CustomerID,
		PaymentMethodID: in.PaymentMethodID, Attempt: 1, Amount: in.Amount, Currency: in.Currency,
		PaymentType: payType, IdempotencyKey: in.PaymentID, AttemptedAt: workflow.Now(ctx),
		Status: out.Status, FailureCode: out.FailureCode, FailureClass: out.FailureClass, FailureMessage: out.FailureMessage,
	})
	if err != nil {
		return out, fmt.Errorf("record payment %s: %w", in.PaymentID, err)
	}
	return out, nil
}

// refused reports whether an activity's error is the store's (or the plan's) refusal,
// which no retry changes, rather than a failure to find out.
func refused(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == activities.ErrStoreRejected
}
