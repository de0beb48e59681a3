package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// maxSkips bounds the installments skip_next may mark ahead, keeping the carried state
// small.
const maxSkips = 100

// registerHandlers installs the state query and the update handlers with their
// validators, and opens the signal channels. Update handlers only change state and
// wake the main loop, which does the work (activities, events), so no handler ever
// blocks and none is left running at continue-as-new. Signals are received by the
// main loop itself (see wait), never by a background coroutine: a value a coroutine's
// selector has taken but not yet handled is invisible to the drain before
// continue-as-new, and would be lost.
func (p *planRun) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryState, func() (PlanState, error) {
		return p.state(), nil
	}, workflow.QueryHandlerOptions{Description: "the plan's live state"}); err != nil {
		return err
	}

	updates := []struct {
		name      string
		handler   any
		validator any
	}{
		{UpdatePause, func(ctx workflow.Context, req PauseRequest) (PlanState, error) {
			p.s.Paused, p.s.PausedAt = true, workflow.Now(ctx)
			p.s.PauseDefer, p.s.ResumeAt = req.Behavior == billing.PauseDefer, req.ResumeAt
			return p.changed(ctx), nil
		}, func(ctx workflow.Context, req PauseRequest) error {
			switch {
			case req.Behavior != "" && req.Behavior != billing.PauseSkip && req.Behavior != billing.PauseDefer:
				return rejection(billing.Invalid("behavior", billing.CodeInvalidValue, `behavior must be "skip" or "defer"`))
			case !req.ResumeAt.IsZero() && !req.ResumeAt.After(workflow.Now(ctx)):
				return rejection(billing.Invalid("resume_at", billing.CodeDateInPast, "resume_at must be in the future"))
			}
			return rejection(billing.CheckAction(p.status(), billing.ActionPause))
		}},
		{UpdateResume, func(ctx workflow.Context, _ ResumeRequest) (PlanState, error) {
			now := workflow.Now(ctx)
			p.resume(now, now)
			return p.changed(ctx), nil
		}, func(ctx workflow.Context, _ ResumeRequest) error {
			return rejection(billing.CheckAction(p.status(), billing.ActionResume))
		}},
		{UpdateCancel, func(ctx workflow.Context, req CancelRequest) (PlanState, error) {
			p.cancel(req)
			return p.changed(ctx), nil
		}, func(ctx workflow.Context, _ CancelRequest) error {
			return rejection(billing.CheckAction(p.status(), billing.ActionCancel))
		}},
		{UpdateChangePaymentMethod, func(ctx workflow.Context, req ChangePaymentMethodRequest) (PlanState, error) {
			p.changePaymentMethod(req)
			return p.changed(ctx), nil
		}, func(ctx workflow.Context, req ChangePaymentMethodRequest) error {
			if !strings.HasPrefix(req.PaymentMethodID, billing.PrefixPaymentMethod) {
				return rejection(billing.Invalid("payment_method", billing.CodeInvalidPaymentMethod, "payment_method must be a pm_ id"))
			}
			return rejection(billing.CheckAction(p.status(), billing.ActionChangePaymentMethod))
		}},
		{UpdateSkipNext, func(ctx workflow.Context, _ SkipNextRequest) (PlanState, error) {
			now := workflow.Now(ctx)
			if n := p.skipTarget(now); n > 0 {
				p.s.SkipNext = append(p.s.SkipNext, n)
				slices.Sort(p.s.SkipNext)
			}
			p.advance(now)
			return p.changed(ctx), nil
		}, func(ctx workflow.Context, _ SkipNextRequest) error {
			if err := billing.CheckAction(p.status(), billing.ActionSkipNext); err != nil {
				return rejection(err)
			}
			if len(p.s.SkipNext) >= maxSkips {
				return rejection(&billing.Error{Kind: billing.KindConflict, Code: billing.CodeNothingToSkip,
					Message: fmt.Sprintf("at most %d installments can be marked to skip", maxSkips)})
			}
			if p.skipTarget(workflow.Now(ctx)) == 0 {
				return rejection(&billing.Error{Kind: billing.KindConflict, Code: billing.CodeNothingToSkip,
					Message: "the plan has no installment left to skip"})
			}
			return nil
		}},
		{UpdateChangePlan, func(ctx workflow.Context, req ChangePlanRequest) (PlanState, error) {
			firstOpen, unsettled := p.firstOpen()
			now := workflow.Now(ctx)
			tt, err := req.Change.Apply(p.in.Timetable, firstOpen, unsettled, now)
			if err != nil {
				return p.state(), rejection(firstViolation(err)) // the validator ran on this same state
			}
			p.in.Timetable = tt
			p.s.TermsSeq++
			terms := billing.PlanTerms{PlanID: p.in.PlanID, MerchantID: p.in.MerchantID, Timetable: tt, Change: req.Change,
				MerchantData: billing.JSONDoc(req.MerchantData), Key: fmt.Sprintf("%s/terms/%d", p.in.PlanID, p.s.TermsSeq)}
			if prev := p.s.PendingTerms; prev != nil {
				// The loop has not written the previous change yet: this write carries both.
				terms.Change = prev.Change.Merge(req.Change)
				if len(terms.MerchantData) == 0 {
					terms.MerchantData = prev.MerchantData
				}
			}
			p.s.PendingTerms = &terms
			p.advance(now) // fewer installments, or an earlier expiry, may end the plan
			return p.changed(ctx), nil
		}, func(ctx workflow.Context, req ChangePlanRequest) error {
			if err := billing.CheckAction(p.status(), billing.ActionChangePaymentMethod); err != nil {
				return rejection(&billing.Error{Kind: billing.KindConflict, Code: billing.CodeInvalidTransition,
					Message: fmt.Sprintf("cannot change the terms of a plan that is %s", p.status())})
			}
			if req.Change.Empty() && len(req.MerchantData) == 0 {
				return rejection(billing.Invalid("recurring_amount", billing.CodeParameterMissing, "the change changes nothing"))
			}
			firstOpen, unsettled := p.firstOpen()
			_, err := req.Change.Apply(p.in.Timetable, firstOpen, unsettled, workflow.Now(ctx))
			return rejection(firstViolation(err))
		}},
		{UpdateStartPlan, p.startPlan, func(ctx workflow.Context, req activities.StartPlanRequest) error {
			if !strings.HasPrefix(req.PaymentMethodID, billing.PrefixPaymentMethod) {
				return rejection(billing.Invalid("payment_method", billing.CodeInvalidPaymentMethod, "payment_method must be a pm_ id"))
			}
			now := workflow.Now(ctx)
			if p.s.Status != billing.PlanIncomplete || p.s.Starting || !now.Before(p.in.Hosted.ExpiresAt) {
				return rejection(&billing.Error{Kind: billing.KindConflict, Code: billing.CodeInvalidTransition,
					Message: fmt.Sprintf("plan %s is %s: it is not waiting for its first card", p.in.PlanID, p.status())})
			}
			if first := p.waiting(); req.Verified && !first.DueAt.After(now) {
				// The page verified the card, but the first installment fell due meanwhile:
				// it must be paid customer-present, on a new page.
				return rejection(&billing.Error{Kind: billing.KindConflict, Code: billing.CodeInvalidTransition,
					Message: "the first installment is due: the customer must pay it on a new page"})
			}
			return nil
		}},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler,
			workflow.UpdateHandlerOptions{Validator: u.validator}); err != nil {
			return err
		}
	}
	if err := workflow.SetUpdateHandler(ctx, UpdateCreated, func(ctx workflow.Context) (PlanState, error) {
		if err := workflow.Await(ctx, func() bool { return p.rowWritten || p.createErr != nil }); err != nil {
			return PlanState{}, err
		}
		if p.createErr != nil {
			// The activity's own message, without the error chain around it.
			// The activity's error with its causes, without the activity's identity.
			msg := "the store refused the plan's row"
			var appErr *temporal.ApplicationError
			if errors.As(p.createErr, &appErr) {
				msg += ": " + appErr.Error()
			}
			return PlanState{}, rejection(&billing.Error{Kind: billing.KindInvalid, Code: billing.CodeInvalidData, Message: msg})
		}
		return p.state(), nil
	}); err != nil {
		return err
	}

	p.cancelCh = workflow.GetSignalChannel(ctx, SignalCancel)
	p.blockCh = workflow.GetSignalChannel(ctx, SignalBlock)
	p.unblockCh = workflow.GetSignalChannel(ctx, SignalUnblock)
	p.detachCh = workflow.GetSignalChannel(ctx, SignalDetach)
	p.wakeCh = workflow.NewBufferedChannel(ctx, 1)
	return nil
}

func (p *planRun) signalChannels() []workflow.ReceiveChannel {
	return []workflow.ReceiveChannel{p.cancelCh, p.blockCh, p.unblockCh, p.detachCh}
}

// drainSignals applies signals that arrived but were not handled yet, so none is lost
// at continue-as-new; it reports whether there were any.
func (p *planRun) drainSignals(ctx workflow.Context) bool {
	found := false
	for _, ch := range p.signalChannels() {
		for {
			got := false
			p.receive(ctx, ch, func(_ workflow.Context, v any) bool {
				got = ch.ReceiveAsync(v)
				return got
			})
			if !got {
				break
			}
			found = true
		}
	}
	return found
}

// receive reads one signal from ch with recv and applies it.
func (p *planRun) receive(ctx workflow.Context, ch workflow.ReceiveChannel, recv func(workflow.Context, any) bool) {
	switch ch {
	case p.cancelCh:
		var req CancelRequest
		if recv(ctx, &req) {
			p.cancel(req)
			p.signaled()
		}
	default:
		var sig PaymentMethodSignal
		if !recv(ctx, &sig) {
			return
		}
		p.signaled()
		if p.s.Status.Terminal() || sig.PaymentMethodID != "" && sig.PaymentMethodID != p.s.PaymentMethodID {
			p.logger.Info("signal ignored", "signal", ch.Name(), "payment_method_id", sig.PaymentMethodID)
			return
		}
		switch ch {
		case p.blockCh:
			p.s.Blocked = true
		case p.unblockCh:
			p.s.Blocked = false
		case p.detachCh:
			if !p.s.Detached {
				p.s.Detached = true
				p.s.PendingNotify = true
			}
		}
	}
}

func (p *planRun) signaled() {
	p.events += 4 // the signal, and the workflow task it causes
}

// changed marks state changed by an update, wakes the main loop and returns the new
// state.
func (p *planRun) changed(ctx workflow.Context) PlanState {
	p.wakeCh.SendAsync(struct{}{}) // a wake-up already pending is enough
	p.events += 5                  // update accepted and completed, and the workflow task
	return p.state()
}

func (p *planRun) cancel(req CancelRequest) {
	if p.s.Status.Terminal() {
		return
	}
	p.s.Status = billing.PlanCanceled
	p.s.CancelReason = req.Reason
	if p.s.CancelReason == "" {
		p.s.CancelReason = "requested"
	}
}

// changePaymentMethod switches cards. The new card is neither blocked nor detached; a
// plan waiting for a card becomes active and tries the waiting installment at once,
// with a fresh dunning schedule and, for another card, a fresh idempotency key.
func (p *planRun) changePaymentMethod(req ChangePaymentMethodRequest) {
	s := p.s
	// What a hosted start's first attempt carried goes only with its own card.
	carried, carriedMOTO := (*providers.Authentication)(nil), false
	if req.PaymentMethodID != s.PaymentMethodID {
		switch {
		case s.Unknown && p.version >= versionResolveOldCard:
			// The old key belongs to the old card: its attempt is settled there
			// first (charge, LookupOnly); back on that card it is simply retried.
			if s.UnknownCard == "" {
				s.UnknownCard, s.UnknownAuth, s.UnknownMOTO = s.PaymentMethodID, s.StartAuth, s.StartMOTO
			}
			if req.PaymentMethodID == s.UnknownCard {
				carried, carriedMOTO = s.UnknownAuth, s.UnknownMOTO
				s.UnknownCard, s.UnknownAuth, s.UnknownMOTO = "", nil, false
			}
		default:
			s.Unknown = false // histories before versionResolveOldCard dropped the attempt
		}
		s.NetworkTransactionID = req.NetworkTransactionID
	} else if req.NetworkTransactionID != "" {
		s.NetworkTransactionID = req.NetworkTransactionID
	}
	s.PaymentMethodID = req.PaymentMethodID
	s.StartAuth, s.StartMOTO = carried, carriedMOTO // the first card's proof is not this card's
	s.Blocked, s.Detached, s.PendingNotify = false, false, false
	if s.Status == billing.PlanPastDue || s.Status == billing.PlanActionRequired {
		s.Status = billing.PlanActive
	}
	s.Retries = 0
	s.RetryAt, s.NotBefore = time.Time{}, time.Time{}
	// A pacing slot belongs to the old card's lane (set only since versionPacedCharges).
	s.PacedSlot = time.Time{}
}

// startPlan gives an incomplete plan its card and answers how its first payment went.
// Unlike the other handlers it waits: for the main loop's first charge, since the
// customer's page shows its outcome. The loop never continues as new while a start is
// in progress, and a plan that ends first answers the start as failed (finish).
func (p *planRun) startPlan(ctx workflow.Context, req activities.StartPlanRequest) (PlanState, error) {
	s := p.s
	s.PaymentMethodID, s.Status, s.LastError = req.PaymentMethodID, billing.PlanActive, nil
	p.clearUnknown()
	if req.Verified {
		// A zero-amount verification was the customer-initiated step: every charge of
		// the plan is merchant-initiated, the first on its date.
		s.InitialDone = true
		st := p.changed(ctx)
		st.Start = &activities.StartPlanResult{Status: billing.PaymentSucceeded}
		return st, nil
	}
	s.Starting, s.StartAuth, p.startOutcome, p.startSession = true, req.Authentication, nil, req.SessionID
	s.StartMOTO = req.Authentication == nil && p.planType() == "moto"
	p.changed(ctx)
	if err := workflow.Await(ctx, func() bool { return p.startOutcome != nil }); err != nil {
		return PlanState{}, err
	}
	st := p.state()
	st.Start = p.startOutcome
	return st, nil
}

// Rejection is the one detail of an update a plan workflow refuses: the public error
// code and the request field it names. starter turns it back into a *billing.Error.
type Rejection struct {
	Code  string `json:"code"`
	Param string `json:"param,omitempty"`
}

// firstViolation is the first violation of a *billing.ValidationError (the one the API
// names), or err.
func firstViolation(err error) error {
	var v *billing.ValidationError
	if errors.As(err, &v) && len(v.Violations) > 0 {
		return v.Violations[0]
	}
	return err
}

// firstOpen is the first installment neither charged, attempted nor being charged;
// unsettled says the one before it is attempted and not settled (its amount stands).
func (p *planRun) firstOpen() (int, bool) {
	s := p.s
	if s.Attempt > 0 || p.sending == s.Next || s.Starting {
		return s.Next + 1, true
	}
	return s.Next, false
}

// rejection turns a billing error from a validator into the ApplicationError the
// client sees: type invalid_transition for conflicts, invalid_argument otherwise, with
// a Rejection as its details.
func rejection(err error) error {
	if err == nil {
		return nil
	}
	var be *billing.Error
	if !errors.As(err, &be) {
		return err
	}
	typ := ErrInvalidTransition
	if be.Kind != billing.KindConflict {
		typ = ErrInvalidArgument
	}
	return temporal.NewApplicationErrorWithOptions(be.Message, typ, temporal.ApplicationErrorOptions{
		NonRetryable: true, Details: []any{Rejection{Code: be.Code, Param: be.Param}},
	})
}
