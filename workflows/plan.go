package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
)

// Plan is the workflow of one payment plan (id plan_…). It sleeps on a durable timer
// until the next installment is due, charges it through the Charge activity with the
// idempotency key plan_<id>/<installment>/<attempt>, records every attempt in the
// ledger, retries soft declines on the plan's dunning schedule, and reacts to signals
// (cancel, block, unblock, detach) and validated updates (pause, resume, cancel_plan,
// change_payment_method, skip_next) by waking the timer and deciding again. It
// continues as new before its history grows past DefaultMaxRunEvents, carrying its
// state in PlanInput.State.
//
// Installments are worked on one at a time, in order: while one is in dunning, later
// ones wait and are charged at once (catching up) when it is settled. Pausing skips
// the installments falling due meanwhile; blocking and past_due only delay them.
func Plan(ctx workflow.Context, in PlanInput) (PlanResult, error) {
	p := newPlanRun(ctx, in)
	if err := p.registerHandlers(ctx); err != nil {
		return PlanResult{}, err
	}
	// Every behaviour change from here on is branched on a version recorded here.
	p.version = workflow.GetVersion(ctx, "plan", workflow.DefaultVersion, versionFirstFailureNotice)
	p.events++

	if in.State == nil {
		if in.Hosted != nil && p.version >= versionHostedStart {
			p.s.Status = billing.PlanIncomplete
		}
		if err := p.createRow(ctx); err != nil {
			// The created update (if any) answers with the store's refusal. A local
			// activity's failure is not logged by the SDK: say it here, once.
			workflow.GetLogger(ctx).Error("plan row not written; the plan fails", "plan_id", p.in.PlanID, "error", err)
			p.createErr = err
			_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
			return PlanResult{}, err
		}
	}
	p.rowWritten = true
	for {
		if err := p.publish(ctx, nil); err != nil {
			return PlanResult{}, err
		}
		if t := p.s.PendingTerms; t != nil {
			// A change_plan update's terms: the row and plan.updated (a later change
			// replaces an earlier one not written yet; each has its own key).
			if err := activities.ChangePlanTerms(ctx, *t); err != nil {
				return PlanResult{}, fmt.Errorf("write plan terms: %w", err)
			}
			if p.s.PendingTerms == t {
				p.s.PendingTerms = nil
			}
			continue
		}
		if p.s.Status.Terminal() {
			return p.finish(ctx), nil
		}
		if p.s.PendingNotify {
			p.s.PendingNotify = false
			p.notify(ctx, activities.NotifyActionRequired, p.waiting(), p.s.Attempt,
				activities.ChargeFailure{Code: billing.CodePaymentMethodDetached, Message: "the card was removed; a new payment method is needed"})
			continue
		}
		if !p.s.Starting && p.shouldContinueAsNew(ctx) {
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return PlanResult{}, err
			}
			if p.drainSignals(ctx) {
				continue // act on them before leaving the run
			}
			return PlanResult{}, p.continueAsNew(ctx)
		}
		if err := p.step(ctx); err != nil {
			return PlanResult{}, err
		}
	}
}

// Versions of the plan workflow (its "plan" change id). Histories recorded before a
// version replay with the behaviour they had.
const (
	// versionHostedStart: a plan created without a card starts incomplete and waits
	// for start_plan (PlanInput.Hosted).
	versionHostedStart workflow.Version = 2
	// versionRecoveryLinks: a plan that starts waiting on its customer (action_required,
	// past_due) opens a recovery page first (OpenRecovery), which its event's webhook
	// and the customer's email link to.
	versionRecoveryLinks workflow.Version = 3
	// versionResolveOldCard: a card change while the last attempt's outcome is unknown
	// keeps that attempt (PlanCarry.UnknownCard): it is settled on its own card with a
	// lookup (LookupOnly) before the new card is charged, instead of being dropped.
	versionResolveOldCard workflow.Version = 4
	// versionChargeRecords: a merchant-initiated installment's Charge activity writes
	// its own ledger row and plan state when the charge succeeds
	// (activities.ChargeRequest.Record), instead of a RecordPayment activity after it:
	// 12 history events per paid installment instead of 18.
	versionChargeRecords workflow.Version = 5
	// versionRunCharges: a run continues as new after DefaultMaxRunCharges charge
	// attempts, on the server's suggestion or at its real history length, and no
	// longer on the run's own event estimate (planRun.events), which runs begun before
	// this version still follow so their histories replay.
	versionRunCharges workflow.Version = 6
	// versionSkipInFlight: skip_next while an installment's first attempt is at the
	// provider skips the next one, not the one being charged (which would drop its
	// debt on a decline and hand its dunning to the next installment).
	versionSkipInFlight workflow.Version = 7
	// versionLocalCreate: the plan's row is written by a local activity in the first
	// workflow task, so the created update (POST /v1/plans) answers after that one
	// task instead of after an activity's round trips through the server.
	versionLocalCreate workflow.Version = 8
	// versionPacedCharges: a charge queued by its provider account's pace
	// (max_charges_per_second) comes back with the slot reserved for it
	// (activities.ChargeResult.PacedUntil); the plan sleeps on a timer until then
	// (PlanCarry.PacedSlot) and charges in that slot, instead of an activity holding a
	// worker slot while it waits.
	versionPacedCharges workflow.Version = 9
	// versionFirstFailureNotice: an installment's first soft decline, which dunning
	// retries, opens a card-update page (OpenRecovery) and tells the customer at once
	// (payment_retrying, with the retry date and the page), not only once dunning is
	// exhausted.
	versionFirstFailureNotice workflow.Version = 10
)

// planRun is one run's working state around the carried PlanCarry.
type planRun struct {
	in      PlanInput
	s       *PlanCarry
	version workflow.Version
	// wakeCh wakes a waiting run after an update changed its state.
	wakeCh workflow.Channel
	// events estimates this run's history length where the server's count is unknown
	// (the test environment reports 0); it errs on the high side. Only runs begun
	// before versionRunCharges decide on it.
	events int
	// charges counts this run's charge attempts (versionRunCharges).
	charges int
	// inFlight is the installment whose charge is at the provider (versionSkipInFlight).
	inFlight int
	// retryAt is the retry date the payment_retrying notice being sent gives.
	retryAt time.Time
	// sending is the same for every version: only handlers new since (catch_up,
	// change_plan) read it, so it changes nothing an older history replays.
	sending int
	logger  interface {
		Info(string, ...any)
		Warn(string, ...any)
	}

	cancelCh, blockCh, unblockCh, detachCh workflow.ReceiveChannel

	// startOutcome is the first charge's outcome for the start_plan update waiting on
	// it; startSession the session that sent it.
	startOutcome *activities.StartPlanResult
	startSession string

	// rowWritten is set once the plan's row is in the store (at once in a continued
	// run); createErr is the store's refusal of it. The created update waits on them.
	rowWritten bool
	createErr  error
}

func newPlanRun(ctx workflow.Context, in PlanInput) *planRun {
	p := &planRun{in: in, logger: workflow.GetLogger(ctx)}
	if in.State != nil {
		s := *in.State
		p.s = &s
	} else {
		p.s = &PlanCarry{
			Status: billing.PlanActive, PaymentMethodID: in.PaymentMethodID, Next: 1,
			NetworkTransactionID: in.InitialNetworkTransactionID, InitialDone: in.InitialNetworkTransactionID != "" || in.CredentialOnFile,
		}
	}
	p.s.Runs++
	p.events += 4 // started, and the first workflow task
	return p
}

// createRow writes the plan's row: the first thing the first run does, so a plan row
// never exists without its workflow and a workflow's row appears as soon as the store
// takes it.
func (p *planRun) createRow(ctx workflow.Context) error {
	st := p.state()
	req := activities.CreatePlanRequest{
		PlanID: p.in.PlanID, MerchantID: p.in.MerchantID, Mode: p.in.Mode, CustomerID: p.in.CustomerID,
		PaymentMethodID: p.s.PaymentMethodID, Provider: p.in.Provider, Currency: p.in.Currency,
		Type: p.planType(), Reference: p.in.Reference, Timetable: p.in.Timetable, Dunning: p.in.Dunning,
		InitialPaymentID: p.in.InitialPaymentID, Status: st.Status, NextChargeAt: st.NextChargeAt,
		CreatedAt: workflow.GetInfo(ctx).WorkflowStartTime,
	}
	if c := p.in.Create; c != nil {
		req.MerchantData, req.Schedule = c.MerchantData, c.Schedule
		if !c.CreatedAt.IsZero() {
			req.CreatedAt = c.CreatedAt
		}
	}
	p.events += 6
	create := activities.CreatePlan
	if p.version >= versionLocalCreate {
		create = activities.CreatePlanLocal
	}
	if err := create(ctx, req); err != nil {
		return fmt.Errorf("create plan row: %w", err)
	}
	p.s.Published = PublishedState{Status: st.Status, NextChargeAt: st.NextChargeAt, PaymentMethodID: p.s.PaymentMethodID}
	return nil
}

func (p *planRun) planType() string {
	if p.in.Type == "" {
		return "ecom"
	}
	return p.in.Type
}

// step does the next thing the plan needs: wait, or charge.
func (p *planRun) step(ctx workflow.Context) error {
	now := workflow.Now(ctx)
	if p.s.Status == billing.PlanIncomplete {
		// Waiting for the customer's card, until the plan's deadline.
		until := p.in.Hosted.ExpiresAt
		if !now.Before(until) {
			p.s.Status = billing.PlanIncompleteExpired
			return nil
		}
		p.wait(ctx, until.Sub(now))
		return nil
	}
	if p.s.Paused && !p.s.ResumeAt.IsZero() && !now.Before(p.s.ResumeAt) {
		// The pause's end came (the timer may fire late): it ends at ResumeAt, so what
		// falls due from then on is not skipped. The loop publishes the plan again.
		p.resume(p.s.ResumeAt, now)
		return nil
	}
	p.advance(now)
	if p.s.Status.Terminal() {
		return nil
	}
	if !p.charging() {
		if p.s.Starting {
			// The card was blocked or detached before its first charge: the customer's
			// page must not wait for an unblock.
			code := billing.CodePaymentMethodDetached
			if p.s.Blocked {
				code = billing.CodePaymentMethodBlocked
			}
			return p.abortStart(ctx, code, "the card cannot be charged")
		}
		var until time.Duration
		if p.s.Paused && !p.s.ResumeAt.IsZero() {
			until = p.s.ResumeAt.Sub(now) // sleeps until the pause ends by itself
		}
		p.wait(ctx, until)
		return nil
	}
	inst, _ := p.in.Timetable.Installment(p.s.Next)
	if at := p.attemptAt(inst); at.After(now) {
		if notice := p.in.UpcomingNotice; notice > 0 && p.s.UpcomingSent < inst.Number && p.s.Attempt == 0 && !p.s.Starting {
			noticeAt := inst.DueAt.Add(-notice)
			if !now.Before(noticeAt) {
				return p.announceUpcoming(ctx, inst)
			}
			at = noticeAt // wake for the notice first
		}
		if err := p.publish(ctx, nil); err != nil {
			return err
		}
		p.wait(ctx, at.Sub(now))
		return nil
	}
	limit := p.in.AttemptLimit.OrDefault()
	if until := limit.NextAllowed(now, p.cardFailures(now)); until.After(now) {
		if p.s.Starting {
			return p.abortStart(ctx, billing.CodeAttemptLimitReached, "the card failed too often lately")
		}
		p.s.NotBefore = until
		return nil
	}
	if p.s.PacedSlot.After(now) {
		// Queued by the provider account's pace: the slot is this plan's.
		p.wait(ctx, p.s.PacedSlot.Sub(now))
		return nil
	}
	return p.charge(ctx, inst)
}

// wait sleeps until d has passed (d > 0), a signal arrives or an update changed
// something. The timer is canceled when something else wakes the plan first: the
// loop then decides again, as in the updatable-timer pattern.
func (p *planRun) wait(ctx workflow.Context, d time.Duration) {
	for p.wakeCh.ReceiveAsync(nil) {
		// Wake-ups from updates handled while the loop was busy: it is deciding
		// afresh now anyway.
	}
	sel := workflow.NewSelector(ctx)
	for _, ch := range p.signalChannels() {
		sel.AddReceive(ch, func(c workflow.ReceiveChannel, _ bool) { p.receive(ctx, c, c.Receive) })
	}
	sel.AddReceive(p.wakeCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
	if d > 0 {
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		defer cancelTimer() // no-op once fired
		p.events += 5       // timer started, fired or canceled, and the workflow task after
		sel.AddFuture(workflow.NewTimerWithOptions(timerCtx, d, workflow.TimerOptions{Summary: "next charge"}), func(workflow.Future) {})
	}
	sel.Select(ctx)
}

// charge makes one attempt on inst and acts on its outcome.
func (p *planRun) charge(ctx workflow.Context, inst billing.Installment) error {
	s := p.s
	attempt := s.Attempt + 1
	if s.Unknown {
		attempt = s.Attempt // same key: whatever the provider did, it happens once
	}
	key := fmt.Sprintf("%s/%d/%d", p.in.PlanID, inst.Number, attempt)
	payType, initiator := billing.PaymentRecurring, providers.InitiatorMerchant
	if !s.InitialDone {
		payType, initiator = billing.PaymentInitial, providers.InitiatorCustomer
	}
	pmID := s.PaymentMethodID
	// The attempt whose outcome is unknown belongs to a card the plan has since
	// replaced: settle it there first, sending nothing, with what it carried.
	auth, moto := s.StartAuth, s.StartMOTO
	lookupOnly := s.Unknown && s.UnknownCard != ""
	if lookupOnly {
		pmID, auth, moto = s.UnknownCard, s.UnknownAuth, s.UnknownMOTO
	}
	rec := activities.RecordPaymentRequest{
		MerchantID: p.in.MerchantID, Mode: p.in.Mode, PlanID: p.in.PlanID, CustomerID: p.in.CustomerID,
		PaymentMethodID: pmID, Installment: inst.Number, Attempt: attempt, Amount: inst.Amount,
		Currency: p.in.Currency, PaymentType: payType, IdempotencyKey: key, DueAt: inst.DueAt,
	}
	// A merchant-initiated charge of the plan's own card records itself when it
	// succeeds: the row, and the state the plan is in once the installment is paid.
	var onSuccess *activities.RecordPaymentRequest
	var successState PublishedState
	var successSeq int64
	if p.version >= versionChargeRecords && s.InitialDone && !s.Starting && !lookupOnly && s.PendingSession == "" {
		r := rec
		r.AttemptedAt = workflow.Now(ctx) // when the charge is sent
		r.Plan, successState, successSeq = p.successUpdate(inst, r.AttemptedAt)
		onSuccess = &r
	}
	p.events += 6
	p.charges++
	if p.version >= versionSkipInFlight {
		p.inFlight = inst.Number
	}
	p.sending = inst.Number
	sentAt := workflow.Now(ctx)
	// A plan being started on the hosted page does not queue: the payer is waiting.
	paced := p.version >= versionPacedCharges && !s.Starting
	slot := s.PacedSlot
	s.PacedSlot = time.Time{}
	res, err := activities.Charge(ctx, activities.ChargeRequest{
		MerchantID: p.in.MerchantID, Mode: p.in.Mode, PaymentMethodID: pmID, Amount: inst.Amount, Currency: p.in.Currency,
		IdempotencyKey: key, Initiator: initiator, NetworkTransactionID: s.NetworkTransactionID,
		Description: fmt.Sprintf("%s installment %d", p.in.PlanID, inst.Number),
		Metadata: map[string]string{
			"plan_id": p.in.PlanID, "installment": fmt.Sprint(inst.Number), "attempt": fmt.Sprint(attempt),
			"type": p.planType(), "reference": p.in.Reference,
		},
		At: workflow.Now(ctx), AttemptLimit: p.in.AttemptLimit,
		// The first charge of a plan started on the hosted page carries its 3-D Secure
		// result, or is flagged MOTO for a plan taken over the phone.
		// A retry of an unknown outcome repeats them under the same key.
		Authentication: auth, MOTO: moto,
		// The provider is asked what became of the lost attempt before the key is
		// sent again: its own replay of the key may have expired since.
		Resolve: s.Unknown, LookupOnly: lookupOnly, Record: onSuccess,
		CanWait: paced, Slot: slot,
	})
	p.inFlight, p.sending = 0, 0
	if err == nil && !res.PacedUntil.IsZero() {
		s.PacedSlot = res.PacedUntil // nothing was sent; step waits for the slot
		return nil
	}
	now := workflow.Now(ctx)
	rec.AttemptedAt = now
	if err == nil && res.Recorded && onSuccess != nil {
		// The activity wrote the row and the state successUpdate foresaw. Updates
		// handled while the charge ran changed the state since: the loop publishes
		// that next, under a later sequence number.
		s.LastPaidAt = sentAt
		p.paid(inst)
		if onSuccess.Plan != nil {
			s.Seq, s.Published = successSeq, successState
		}
		return p.upsertSearchAttributes(ctx, p.state())
	}
	if err == nil {
		rec.Status = billing.PaymentSucceeded
		if res.Status == providers.ChargePending {
			rec.Status = billing.PaymentPending
		}
		rec.Provider, rec.ProviderChargeID, rec.NetworkTransactionID = res.Provider, res.ChargeID, res.NetworkTransactionID
		if !s.InitialDone {
			s.InitialDone = true
			// The card charged may be one the plan has left (an attempt settled
			// late): its network id is not the current card's.
			if res.NetworkTransactionID != "" && pmID == s.PaymentMethodID {
				s.NetworkTransactionID = res.NetworkTransactionID
			}
		}
		s.LastPaidAt = sentAt
		p.paid(inst)
		started := p.started(billing.PaymentSucceeded, nil)
		row, err := p.record(ctx, &rec)
		if err != nil {
			return err
		}
		p.answerStart(started, row)
		if err := p.settleSession(ctx, billing.PaymentSucceeded); err != nil {
			return err
		}
		if payType == billing.PaymentInitial && res.NetworkTransactionID != "" {
			// The plan's first charge stored the credential: keep its network id on
			// the card too, for other plans reusing it.
			p.events += 6
			if err := activities.RememberNetworkID(ctx, activities.RememberNetworkIDRequest{
				MerchantID: p.in.MerchantID, PaymentMethodID: pmID, NetworkTransactionID: res.NetworkTransactionID,
			}); err != nil {
				return fmt.Errorf("keep network transaction id: %w", err)
			}
		}
		return nil
	}

	f, final := activities.ChargeFailureOf(err)
	p.logFailure(inst, attempt, f, final)
	if lookupOnly && final {
		// The old card's attempt failed, or never reached the provider: record it as
		// failed and charge the new card at once, under the next key.
		rec.Status, rec.Provider, rec.ProviderChargeID = billing.PaymentFailed, f.Provider, f.ChargeID
		rec.FailureCode, rec.FailureClass, rec.FailureMessage = f.Code, f.Class(), f.Message
		if _, err := p.record(ctx, &rec); err != nil {
			return err
		}
		p.clearUnknown()
		s.Attempt = attempt
		return nil // the loop charges the current card next, if the plan still charges
	}
	if lookupOnly {
		// The old card's provider cannot tell yet: ask again in an hour. The new card
		// waits, its dunning untouched, and nothing is recorded twice.
		s.RetryAt = now.Add(time.Hour)
		s.LastError = p.planError(inst, attempt, f, now)
		return p.publish(ctx, nil)
	}
	if s.Starting && final {
		return p.startFailed(ctx, inst, attempt, rec, f, now)
	}
	if final && f.Type == activities.ErrPaced {
		// The provider account's queue was longer than the activity could wait and
		// nothing was sent: the same attempt when the lane frees.
		s.NotBefore = f.Until
		return nil
	}
	if final {
		s.StartAuth, s.StartMOTO = nil, false // the customer-present attempt is over
	}
	switch {
	case final && f.Type == activities.ErrPaymentMethodUnavailable:
		// Nothing reached the provider: no attempt to record.
		s.Blocked = s.Blocked || f.Blocked
		s.Detached = s.Detached || f.Detached || !f.Blocked
		s.LastError = p.planError(inst, s.Attempt, f, now)
		return p.afterNoAttempt(ctx, inst, f)
	case final && f.Type == activities.ErrAttemptLimit:
		s.NotBefore = f.Until
		return nil
	}

	s.Attempt = attempt
	s.Unknown = !final
	if p.version >= versionResolveOldCard {
		// The attempt's card, when the plan moved off it while the charge ran.
		s.UnknownCard, s.UnknownAuth, s.UnknownMOTO = "", nil, false
		if s.Unknown && pmID != s.PaymentMethodID {
			s.UnknownCard, s.UnknownAuth, s.UnknownMOTO = pmID, auth, moto
		}
	}
	s.Failures = append(p.recentFailures(now), CardFailure{PaymentMethodID: pmID, At: now})
	s.LastError = p.planError(inst, attempt, f, now)
	rec.Status = billing.PaymentFailed
	if !final {
		rec.Status = billing.PaymentPending
	}
	rec.Provider, rec.ProviderChargeID = f.Provider, f.ChargeID
	rec.FailureCode, rec.FailureClass, rec.FailureMessage = f.Code, f.Class(), f.Message

	notify := ""
	switch {
	case !final || f.Type == activities.ErrSoftDecline:
		if p.scheduleRetry(now, f) {
			if final && p.version >= versionFirstFailureNotice && !s.Status.Terminal() && s.RetryToldFor != inst.Number {
				// The installment's first decline (an unknown outcome before it, or a
				// card change since, does not make it a second one): told once.
				s.RetryToldFor = inst.Number
				notify = activities.NotifyPaymentRetrying
				p.retryAt = s.RetryAt // read now: an update may clear it before the notice goes
			}
			break
		}
		notify = p.setStatus(p.outcome(), activities.NotifyPaymentFailed)
	case f.Type == activities.ErrHardDecline:
		notify = p.setStatus(p.outcome(), activities.NotifyPaymentFailed)
	case f.Type == activities.ErrAuthenticationRequired:
		notify = p.setStatus(billing.PlanActionRequired, activities.NotifyActionRequired)
	default: // invalid_request and anything unforeseen: no new card helps
		notify = p.setStatus(billing.PlanFailed, activities.NotifyPlanFailed)
	}
	started := p.started(billing.PaymentPending, &f) // an outcome not known yet: retried with the same key
	row, err := p.record(ctx, &rec)
	if err != nil {
		return err
	}
	p.answerStart(started, row)
	if final {
		if err := p.settleSession(ctx, billing.PaymentFailed); err != nil {
			return err
		}
	}
	if notify == activities.NotifyPaymentRetrying {
		p.openRetryPage(ctx, inst, attempt)
	}
	if notify != "" {
		p.notify(ctx, notify, inst, attempt, f)
	}
	return nil
}

// openRetryPage opens a card-update page for an installment whose first attempt was
// declined, so the customer told about the retry can give another card before it.
// Best effort, like the recovery page of a plan waiting on its customer.
func (p *planRun) openRetryPage(ctx workflow.Context, inst billing.Installment, attempt int) {
	p.events += 6
	key := fmt.Sprintf("%s/%d/%d/%s/retrying", p.in.PlanID, inst.Number, attempt, p.s.PaymentMethodID)
	if _, err := activities.OpenRecovery(ctx, activities.OpenRecoveryRequest{MerchantID: p.in.MerchantID, Mode: p.in.Mode,
		PlanID: p.in.PlanID, CustomerID: p.in.CustomerID, Provider: p.in.Provider, Currency: p.in.Currency,
		Amount: inst.Amount, Key: key, PaymentMethodID: p.s.PaymentMethodID}); err != nil {
		p.logger.Warn("card-update page not opened", "error", err)
	}
}

// started ends a start in progress (Starting) with the first charge's outcome, which
// the start_plan update answers once the attempt is recorded; nil when the plan was
// not starting.
func (p *planRun) started(status billing.PaymentStatus, f *activities.ChargeFailure) *activities.StartPlanResult {
	s := p.s
	if !s.Starting {
		return nil
	}
	s.Starting = false
	if status == billing.PaymentPending {
		s.PendingSession = p.startSession // told later, when the charge settles
	}
	out := &activities.StartPlanResult{Status: status}
	if f != nil {
		out.FailureCode, out.FailureMessage = f.Code, f.Message
	}
	return out
}

// answerStart hands the waiting start_plan update its outcome.
func (p *planRun) answerStart(out *activities.StartPlanResult, rec activities.RecordPaymentResult) {
	if out != nil {
		out.PaymentID = rec.PaymentID
		p.startOutcome = out
	}
}

// startFailed records a failed first charge of a plan being started on the hosted
// page: no dunning (the customer is still on the page, or gone), the plan is incomplete
// again without a card, and waits for another session until its deadline.
func (p *planRun) startFailed(ctx workflow.Context, inst billing.Installment, attempt int, rec activities.RecordPaymentRequest, f activities.ChargeFailure, now time.Time) error {
	s := p.s
	started := p.started(billing.PaymentFailed, &f)
	p.unstart()
	s.LastError = p.planError(inst, attempt, f, now)
	var res activities.RecordPaymentResult
	if f.Type != activities.ErrPaymentMethodUnavailable && f.Type != activities.ErrAttemptLimit {
		// The attempt reached the provider: record it; the next card uses the next key.
		s.Attempt = attempt
		rec.Status, rec.Provider, rec.ProviderChargeID = billing.PaymentFailed, f.Provider, f.ChargeID
		rec.FailureCode, rec.FailureClass, rec.FailureMessage = f.Code, f.Class(), f.Message
		var err error
		if res, err = p.record(ctx, &rec); err != nil {
			return err
		}
	} else if err := p.publish(ctx, nil); err != nil {
		return err
	}
	p.answerStart(started, res)
	return nil
}

// logFailure logs one line per failed charge: INFO for a soft decline (dunning
// retries it), WARN for the rest. Declines reach the SDK as benign errors, which it
// logs at DEBUG only (activities/errors.go), so this is the line operators see; faults
// are also logged at ERROR by the SDK for every failed activity attempt. Logging adds
// no command to the history, so it needs no version gate, and the workflow logger is
// silent during replay, so a decline is logged once. No card data: ids, codes and
// classes only.
func (p *planRun) logFailure(inst billing.Installment, attempt int, f activities.ChargeFailure, final bool) {
	args := []any{"plan_id", p.in.PlanID, "installment", inst.Number, "attempt", attempt,
		"class", f.Type, "code", f.Code, "provider", f.Provider}
	if f.DeclineCode != "" {
		args = append(args, "decline_code", f.DeclineCode)
	}
	if f.AdviceCode != "" {
		args = append(args, "advice_code", f.AdviceCode)
	}
	switch {
	case !final:
		p.logger.Warn("charge outcome unknown after its retries; the next attempt reuses the key", args...)
	case f.Type == activities.ErrSoftDecline:
		p.logger.Info("charge declined", args...)
	case f.Type == activities.ErrPaymentMethodUnavailable || f.Type == activities.ErrAttemptLimit:
		p.logger.Info("charge not attempted", args...)
	case f.Outcome():
		p.logger.Warn("charge declined", args...)
	default:
		p.logger.Warn("charge failed", args...)
	}
}

// afterNoAttempt publishes a card found unavailable and tells the customer when they
// must give a new one.
func (p *planRun) afterNoAttempt(ctx workflow.Context, inst billing.Installment, f activities.ChargeFailure) error {
	if err := p.publish(ctx, nil); err != nil {
		return err
	}
	if p.s.Detached {
		p.s.PendingNotify = false
		p.notify(ctx, activities.NotifyActionRequired, inst, p.s.Attempt, f)
	}
	return nil
}

// waiting returns the installment the plan waits on (zero when none is left).
func (p *planRun) waiting() billing.Installment {
	inst, _ := p.in.Timetable.Installment(p.s.Next)
	return inst
}

// scheduleRetry sets when the failed installment is tried again, and reports false
// when the dunning policy has no retry left.
func (p *planRun) scheduleRetry(now time.Time, f activities.ChargeFailure) bool {
	s := p.s
	delay, ok := p.in.Dunning.RetryDelay(s.Retries + 1)
	if !ok {
		return false
	}
	s.Retries++
	at := now.Add(delay)
	if hint := now.Add(f.RetryAfter); hint.After(at) {
		at = hint // the network asked for a longer wait
	}
	s.RetryAt = at
	return true
}

// setStatus moves the plan to status after a failed charge and returns the
// notification to send, unless the plan was finished meanwhile (canceled by an update
// while the charge ran), which nothing overrides.
func (p *planRun) setStatus(status billing.PlanStatus, notify string) string {
	if p.s.Status.Terminal() {
		return ""
	}
	p.s.Status = status
	return notify
}

// outcome is the status the dunning policy leads to after the last failure.
func (p *planRun) outcome() billing.PlanStatus {
	if p.in.Dunning.Outcome == "" {
		return billing.PlanPastDue
	}
	return p.in.Dunning.Outcome.Status()
}

func (p *planRun) planError(inst billing.Installment, attempt int, f activities.ChargeFailure, now time.Time) *PlanError {
	return &PlanError{Installment: inst.Number, Attempt: attempt, Class: f.Class(), Code: f.Code, Message: f.Message, At: now}
}

// paid moves the plan past inst, paid.
func (p *planRun) paid(inst billing.Installment) {
	s := p.s
	s.Paid++
	s.PaidAmount += inst.Amount
	s.LastError = nil
	s.StartAuth, s.StartMOTO = nil, false // spent: the proof fits this charge only
	p.nextInstallment()
}

// successUpdate is the plan state to record with inst paid, as record would publish it
// after paid on the current state: the update (nil when nothing changes), the state it
// publishes and its sequence number. The plan's own state is left as it is.
func (p *planRun) successUpdate(inst billing.Installment, sent time.Time) (*activities.UpdatePlanRequest, PublishedState, int64) {
	carry := *p.s
	carry.LastPaidAt = sent // spacing counts from when a charge is sent
	q := *p
	q.s = &carry
	q.paid(inst)
	cur, upd := q.pendingUpdate(q.state())
	return upd, cur, carry.Seq
}

// pendingUpdate is the row update publishing st (with the event of a status change),
// under the next sequence number, or nil when the row already shows it.
func (p *planRun) pendingUpdate(st PlanState) (PublishedState, *activities.UpdatePlanRequest) {
	cur := PublishedState{Status: st.Status, NextChargeAt: st.NextChargeAt, PaymentMethodID: st.PaymentMethodID}
	if cur == p.s.Published {
		return cur, nil
	}
	p.s.Seq++
	upd := &activities.UpdatePlanRequest{
		PlanID: p.in.PlanID, MerchantID: p.in.MerchantID, Mode: p.in.Mode, Seq: p.s.Seq, Status: cur.Status,
		NextChargeAt: cur.NextChargeAt, PaymentMethodID: cur.PaymentMethodID,
	}
	if cur.Status != p.s.Published.Status {
		if typ := billing.PlanEventType(cur.Status); typ != "" {
			upd.EventType, upd.EventData = typ, st
		}
	}
	return cur, upd
}

// nextInstallment moves on after the current installment is settled.
func (p *planRun) nextInstallment() {
	s := p.s
	s.Next++
	s.Attempt, s.Retries = 0, 0
	p.clearUnknown()
	s.RetryAt, s.NotBefore = time.Time{}, time.Time{}
}

// clearUnknown forgets an attempt whose outcome was unknown, once it is settled.
func (p *planRun) clearUnknown() {
	p.s.Unknown, p.s.UnknownCard, p.s.UnknownAuth, p.s.UnknownMOTO = false, "", nil, false
}

// notify tells the customer, best effort: a notifier that stays down is logged, not
// allowed to hold the plan.
func (p *planRun) notify(ctx workflow.Context, kind string, inst billing.Installment, attempt int, f activities.ChargeFailure) {
	st := p.state()
	p.events += 6
	err := activities.Notify(ctx, activities.Notification{
		Kind: kind, MerchantID: p.in.MerchantID, Mode: p.in.Mode, CustomerID: p.in.CustomerID, PlanID: p.in.PlanID,
		Installment: inst.Number, Amount: inst.Amount, Currency: p.in.Currency, Status: st.Status, Code: f.Code,
		Message: f.Message, RetryAt: p.retryAtFor(kind),
		IdempotencyKey: fmt.Sprintf("%s/%d/%d/%s", p.in.PlanID, inst.Number, attempt, kind),
	})
	if err != nil {
		p.logger.Warn("customer notification failed", "kind", kind, "error", err)
	}
}

// announceUpcoming writes payment.upcoming for inst and tells the customer, once.
func (p *planRun) announceUpcoming(ctx workflow.Context, inst billing.Installment) error {
	p.s.UpcomingSent = inst.Number
	err := activities.AnnounceUpcoming(ctx, activities.AnnounceUpcomingRequest{
		Payment: billing.UpcomingPayment{PlanID: p.in.PlanID, MerchantID: p.in.MerchantID, Installment: inst.Number,
			Amount: inst.Amount, DueAt: inst.DueAt},
		Notification: activities.Notification{Kind: billing.NotifyPaymentUpcoming, MerchantID: p.in.MerchantID,
			Mode: p.in.Mode, CustomerID: p.in.CustomerID, PlanID: p.in.PlanID, Installment: inst.Number,
			Amount: inst.Amount, Currency: p.in.Currency, DueAt: inst.DueAt,
			IdempotencyKey: fmt.Sprintf("%s/%d/upcoming", p.in.PlanID, inst.Number)},
	})
	if err != nil {
		return fmt.Errorf("announce installment %d: %w", inst.Number, err)
	}
	return nil
}

// retryAtFor is the retry date a payment_retrying notice gives.
func (p *planRun) retryAtFor(kind string) time.Time {
	if kind == activities.NotifyPaymentRetrying {
		return p.retryAt
	}
	return time.Time{}
}

// publish reports the plan's state to the ledger and to the search attributes, when it
// changed since it was last reported. The event of a status change rides along.
func (p *planRun) publish(ctx workflow.Context, rec *activities.RecordPaymentRequest) error {
	_, err := p.record(ctx, rec)
	return err
}

// unstart puts a plan whose start failed back to incomplete, without the card or
// anything said about it; a cancel that came meanwhile stands.
func (p *planRun) unstart() {
	s := p.s
	if !s.Status.Terminal() {
		s.Status = billing.PlanIncomplete
	}
	s.PaymentMethodID, s.StartAuth, s.StartMOTO = "", nil, false
	s.Blocked, s.Detached, s.PendingNotify, s.Paused, s.NotBefore = false, false, false, false, time.Time{}
}

// abortStart ends a start whose first charge cannot be made now (no attempt reached
// the provider): the plan is incomplete again, without a card, and the waiting
// start_plan answers failed.
func (p *planRun) abortStart(ctx workflow.Context, code, msg string) error {
	p.releaseStart(ctx)
	started := p.started(billing.PaymentFailed, &activities.ChargeFailure{Code: code, Message: msg})
	p.unstart()
	if err := p.publish(ctx, nil); err != nil {
		return err
	}
	p.answerStart(started, activities.RecordPaymentResult{})
	return nil
}

// settleSession tells the session whose start_plan answered pending how installment 1
// ended.
func (p *planRun) settleSession(ctx workflow.Context, outcome billing.PaymentStatus) error {
	id := p.s.PendingSession
	if id == "" {
		return nil
	}
	p.s.PendingSession = ""
	p.events += 6
	if err := activities.SettleSession(ctx, activities.SettleSessionRequest{MerchantID: p.in.MerchantID, SessionID: id,
		Outcome: outcome}); err != nil {
		return fmt.Errorf("settle session %s: %w", id, err)
	}
	return nil
}

// releaseStart cancels the first charge's authentication when that charge will not be
// made (Stripe authorises money as it authenticates).
func (p *planRun) releaseStart(ctx workflow.Context) {
	if p.s.StartAuth == nil {
		return
	}
	p.events += 6
	if err := activities.CancelAuthentication(ctx, activities.CancelAuthenticationRequest{MerchantID: p.in.MerchantID,
		PaymentMethodID: p.s.PaymentMethodID, AuthenticationID: p.s.StartAuth.ID}); err != nil {
		p.logger.Warn("first charge's authentication not canceled", "error", err)
	}
}

// record is publish with the attempt rec (if any), whose ledger row it returns.
func (p *planRun) record(ctx workflow.Context, rec *activities.RecordPaymentRequest) (activities.RecordPaymentResult, error) {
	var row activities.RecordPaymentResult
	p.openRecovery(ctx)
	st := p.state()
	cur, upd := p.pendingUpdate(st)
	switch {
	case rec != nil:
		rec.Plan = upd
		p.events += 6
		var err error
		if row, err = activities.RecordPayment(ctx, *rec); err != nil {
			return row, fmt.Errorf("record payment %s: %w", rec.IdempotencyKey, err)
		}
	case upd != nil:
		p.events += 6
		if err := activities.UpdatePlan(ctx, *upd); err != nil {
			return row, fmt.Errorf("update plan row: %w", err)
		}
	}
	if upd != nil {
		p.s.Published = cur
	}
	return row, p.upsertSearchAttributes(ctx, st)
}

// openRecovery opens a recovery page when the plan has just started waiting on its
// customer (action_required or past_due), before the status is recorded, so the
// event's webhook finds it. One page per wait: a new failure or card opens a new one.
// Best effort, like a notification: the merchant can still make one on demand.
func (p *planRun) openRecovery(ctx workflow.Context) {
	status := p.status()
	if p.version < versionRecoveryLinks || (status != billing.PlanActionRequired && status != billing.PlanPastDue) {
		return
	}
	inst := p.waiting()
	key := fmt.Sprintf("%s/%d/%d/%s/%s", p.in.PlanID, inst.Number, p.s.Attempt, p.s.PaymentMethodID, status)
	if p.s.RecoveryKey == key {
		return
	}
	p.s.RecoveryKey = key
	p.events += 6
	res, err := activities.OpenRecovery(ctx, activities.OpenRecoveryRequest{MerchantID: p.in.MerchantID, Mode: p.in.Mode,
		PlanID: p.in.PlanID, CustomerID: p.in.CustomerID, Provider: p.in.Provider, Currency: p.in.Currency,
		Amount: inst.Amount, Key: key, PaymentMethodID: p.s.PaymentMethodID})
	if err != nil {
		p.logger.Warn("recovery page not opened", "error", err)
		return
	}
	if res.SessionID != "" {
		p.logger.Info("recovery page opened", "payment_session", res.SessionID)
	}
}

// upsertSearchAttributes keeps PlanStatus, CustomerId, MerchantId and NextChargeAt
// current, writing only those that differ.
func (p *planRun) upsertSearchAttributes(ctx workflow.Context, st PlanState) error {
	have := workflow.GetTypedSearchAttributes(ctx)
	var updates []temporal.SearchAttributeUpdate
	if v, ok := have.GetKeyword(PlanStatusKey); !ok || v != string(st.Status) {
		updates = append(updates, PlanStatusKey.ValueSet(string(st.Status)))
	}
	if v, ok := have.GetKeyword(CustomerIDKey); !ok || v != p.in.CustomerID {
		updates = append(updates, CustomerIDKey.ValueSet(p.in.CustomerID))
	}
	if v, ok := have.GetKeyword(MerchantIDKey); !ok || v != p.in.MerchantID {
		updates = append(updates, MerchantIDKey.ValueSet(p.in.MerchantID))
	}
	v, ok := have.GetTime(NextChargeAtKey)
	switch {
	case st.NextChargeAt.IsZero() && ok:
		updates = append(updates, NextChargeAtKey.ValueUnset())
	case !st.NextChargeAt.IsZero() && (!ok || !v.Equal(st.NextChargeAt)):
		updates = append(updates, NextChargeAtKey.ValueSet(st.NextChargeAt))
	}
	if len(updates) == 0 {
		return nil
	}
	p.events++
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		return fmt.Errorf("upsert search attributes: %w", err)
	}
	return nil
}

// shouldContinueAsNew reports whether this run's history is long enough to start a
// fresh run: the server's suggestion, its event count, or our own estimate where the
// count is unknown.
func (p *planRun) shouldContinueAsNew(ctx workflow.Context) bool {
	limit := p.in.MaxRunEvents
	if limit <= 0 {
		limit = DefaultMaxRunEvents
	}
	info := workflow.GetInfo(ctx)
	if info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= limit {
		return true
	}
	if p.version < versionRunCharges {
		return p.events >= limit
	}
	charges := p.in.MaxRunCharges
	if charges == 0 {
		charges = DefaultMaxRunCharges
	}
	return p.charges >= charges
}

// runEvents is the run's history length: the server's count (and, for runs begun
// before versionRunCharges, at least the estimate they decided on).
func (p *planRun) runEvents(ctx workflow.Context) int {
	n := workflow.GetInfo(ctx).GetCurrentHistoryLength()
	if p.version < versionRunCharges {
		return max(n, p.events)
	}
	return n
}

// continueAsNew ends the run, carrying the state into the next one.
func (p *planRun) continueAsNew(ctx workflow.Context) error {
	next := p.in
	s := *p.s
	p.events += 2 // the workflow task completing, and the continued-as-new event
	n := p.runEvents(ctx)
	s.LastRunEvents, s.LastRunEstimate, s.MaxRunEvents = n, p.events, max(s.MaxRunEvents, n)
	s.Failures = p.recentFailures(workflow.Now(ctx))
	next.State, next.Create = &s, nil
	return workflow.NewContinueAsNewError(ctx, Plan, next)
}

// finish ends a plan that reached a terminal status.
func (p *planRun) finish(ctx workflow.Context) PlanResult {
	if p.s.Starting {
		// Canceled before its first charge: the waiting start_plan answers failed.
		p.releaseStart(ctx)
		p.s.Starting, p.s.StartAuth, p.s.StartMOTO = false, nil, false
		p.startOutcome = &activities.StartPlanResult{Status: billing.PaymentFailed, FailureCode: billing.CodeInvalidTransition,
			FailureMessage: "the plan ended before its first payment"}
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	s := p.s
	return PlanResult{
		Status: s.Status, Paid: s.Paid, PaidAmount: s.PaidAmount, Skipped: s.Skipped,
		Runs: s.Runs, MaxRunEvents: max(s.MaxRunEvents, p.runEvents(ctx)),
	}
}
