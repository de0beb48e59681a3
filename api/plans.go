package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/rest"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// queryWait is how long plan routes wait on the workflow's live state before answering
// with the last recorded state instead (live_state: false).
const queryWait = 5 * time.Second

// CreatePlan implements POST /v1/plans. The API validates and starts the plan's
// workflow; the workflow writes the plan's row as its first step, so no row exists
// without a workflow, and the workflow id is the plan id, so a retried start (same
// Idempotency-Key, same derived id) joins the workflow instead of starting another.
func (s *server) CreatePlan(ctx context.Context, req CreatePlanRequestObject) (CreatePlanResponseObject, error) {
	caller := callerFrom(ctx)
	b := req.Body
	now := time.Now()
	mode := caller.Mode

	v := &billing.ValidationError{}
	if _, err := billing.LookupCurrency(b.Currency); err != nil {
		v.Add("currency", billing.CodeInvalidCurrency, "%v", err)
	}
	var sched billing.Schedule
	if err := jsonConvert(b.Schedule, &sched, "schedule"); err != nil {
		return nil, err
	}
	timetable, err := sched.Resolve(mode, now)
	var sv *billing.ValidationError
	if errors.As(err, &sv) {
		v.Violations = append(v.Violations, sv.Violations...)
	} else if err != nil {
		return nil, err
	}
	var dunning billing.DunningPolicy
	if b.Dunning != nil {
		if err := jsonConvert(b.Dunning, &dunning, "dunning.retries"); err != nil {
			return nil, err
		}
	}
	dunning, err = dunning.Resolve(mode)
	if errors.As(err, &sv) {
		v.Violations = append(v.Violations, sv.Violations...)
	} else if err != nil {
		return nil, err
	}
	if v.Err() == nil {
		if err := billing.CheckSpacing(timetable, derefOr(b.MinDaysBetweenCharges, 0)); err != nil {
			return nil, err
		}
	}
	hosted := b.PaymentMethod == nil && b.Payment == nil
	switch {
	case b.PaymentMethod != nil && b.Payment != nil:
		v.Add("payment", billing.CodeInvalidValue, "give one of payment_method or payment, or neither for a hosted page")
	case !hosted && b.ReturnUrl != nil:
		v.Add("return_url", billing.CodeParameterUnknown, "return_url is for plans without a card (a hosted page)")
	case !hosted && b.ExpiresIn != nil:
		v.Add("expires_in", billing.CodeParameterUnknown, "expires_in is for plans without a card (a hosted page)")
	case !hosted && b.Provider != nil:
		v.Add("provider", billing.CodeParameterUnknown, "provider is for plans without a card (a saved card keeps its provider)")
	case !hosted && b.ProviderAccount != nil:
		v.Add("provider_account", billing.CodeParameterUnknown, "provider_account is for plans without a card (a saved card keeps its account)")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	c, err := s.temporalClient()
	if err != nil {
		return nil, err
	}
	customer, err := s.store.GetCustomer(ctx, caller, b.Customer)
	if err != nil {
		return nil, withParam(err, "customer")
	}
	in := workflows.PlanInput{
		MerchantID: caller.MerchantID, Mode: mode, CustomerID: customer.ID,
		Currency: b.Currency, Timetable: timetable, Dunning: dunning,
		Type: string(derefOr(b.Type, PlanCreateTypeEcom)), Reference: deref(b.Reference),
		MinDaysBetweenCharges: derefOr(b.MinDaysBetweenCharges, 0), CatchUp: billing.CatchUp(derefOr(b.CatchUp, "")),
		UpcomingNotice: time.Duration(derefOr(b.UpcomingNoticeDays, 0)) * 24 * time.Hour,
	}
	in.PlanID = derivedID(billing.PrefixPlan, caller, deref(req.Params.IdempotencyKey))
	rawSchedule, _ := json.Marshal(b.Schedule)
	create := &workflows.PlanCreate{Schedule: rawSchedule, CreatedAt: now.UTC()}
	if b.MerchantData != nil {
		create.MerchantData, _ = json.Marshal(*b.MerchantData)
	}
	in.Create = create
	if hosted {
		return s.createHostedPlan(ctx, req, in)
	}

	pmID, pmParam := deref(b.PaymentMethod), "payment_method"
	if b.Payment != nil {
		pay, err := s.store.GetPayment(ctx, caller, *b.Payment)
		if err != nil {
			return nil, withParam(err, "payment")
		}
		if pay.Status != billing.PaymentSucceeded || pay.PaymentType != billing.PaymentInitial || pay.CustomerID != customer.ID {
			return nil, billing.Invalid("payment", billing.CodePaymentNotReusable,
				"only a succeeded initial payment (save_card) of the same customer can start a plan")
		}
		pmID, pmParam = pay.PaymentMethodID, "payment"
		in.InitialNetworkTransactionID, in.InitialPaymentID = pay.NetworkTransactionID, pay.ID
	}
	pm, err := s.chargeableMethod(ctx, caller, customer.ID, pmID, pmParam, true)
	if err != nil {
		return nil, err
	}
	in.PaymentMethodID, in.Provider = pm.ID, pm.Provider
	// An imported card's consent predates the plan: its first charge is merchant-initiated.
	in.CredentialOnFile = pm.Imported && b.Payment == nil
	if err := s.checkAmounts(ctx, caller, in.Provider, pm.ProviderAccount, in.Currency, scheduleAmounts(in.Timetable)); err != nil {
		return nil, err
	}
	out, err := s.createPlan(ctx, c, caller, in)
	if err != nil {
		return nil, err
	}
	return CreatePlan201JSONResponse(out), nil
}

// createPlan starts the plan's workflow and renders the plan once its row is in the
// store, in one round trip (starter.CreatePlan): no polling, and no deadline after
// which a plan being created would be reported missing.
func (s *server) createPlan(ctx context.Context, c client.Client, caller billing.Caller, in workflows.PlanInput) (Plan, error) {
	st, ended, err := s.startPlan(ctx, c, caller, in)
	if err != nil {
		return Plan{}, err
	}
	if ended {
		return s.planOut(ctx, caller, in.PlanID, nil) // a retried create of a plan that has finished since
	}
	return s.planOut(ctx, caller, in.PlanID, &st)
}

// startPlan is starter.CreatePlan within s.createWait: a plan whose row is not
// written by then (no worker polling, the store down) answers 503 with Retry-After,
// never "not found"; its workflow goes on, and the same request again (same
// Idempotency-Key, so the same plan id) joins it.
//
// A worker from before the created update (a rolling deploy that reached the API
// first) refuses the update although the plan started: the plan is then read from its
// row once it appears, within the same wait.
func (s *server) startPlan(ctx context.Context, c client.Client, caller billing.Caller, in workflows.PlanInput) (workflows.PlanState, bool, error) {
	wctx, cancel := context.WithTimeout(ctx, s.createWait)
	defer cancel()
	st, ended, err := starter.CreatePlan(wctx, c, in)
	var be *billing.Error
	if err != nil && !errors.As(err, &be) && wctx.Err() == nil {
		for {
			if _, gerr := s.store.GetPlan(wctx, caller, in.PlanID); gerr == nil {
				return workflows.PlanState{}, true, nil // rendered from the row and a query
			}
			select {
			case <-wctx.Done():
			case <-time.After(100 * time.Millisecond):
				continue
			}
			break
		}
	}
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return st, ended, &billing.Error{Kind: billing.KindUnavailable, Code: billing.CodeTemporalUnavailable,
			Message: fmt.Sprintf("plan %s was started but its workflow has not recorded it within %s; repeat the request with the same Idempotency-Key", in.PlanID, s.createWait)}
	}
	return st, ended, err
}

// planOut renders a plan: its row, with the workflow's live state (live, or asked of
// the workflow when it answers in time).
func (s *server) planOut(ctx context.Context, caller billing.Caller, id string, live *workflows.PlanState) (Plan, error) {
	row, err := s.store.GetPlan(ctx, caller, id)
	if err != nil {
		return Plan{}, err
	}
	out := planRowOut(row)
	if live != nil {
		applyState(&out, *live)
	} else if s.temporal != nil {
		qctx, cancel := context.WithTimeout(ctx, queryWait)
		defer cancel()
		if st, err := starter.PlanState(qctx, s.temporal, id); err == nil {
			applyState(&out, st)
		}
	}
	if out.Status == PlanStatusIncomplete || out.Status == PlanStatusActionRequired || out.Status == PlanStatusPastDue {
		// The page its customer starts it on, or fixes it on.
		if session, err := s.store.OpenPlanSession(ctx, caller, id, out.Status == PlanStatusIncomplete); err == nil {
			out.PaymentSession = &session.ID
			if u := s.pageURL(ctx, session); u != "" {
				out.PaymentUrl = &u
			}
		} else if billing.KindOf(err) != billing.KindNotFound {
			return Plan{}, err
		}
	}
	return out, nil
}

// planRowOut renders a plan's row with the rendering its events carry
// (rest.PlanObject).
func planRowOut(p billing.Plan) Plan { return fromREST[Plan](rest.PlanObject(p)) }

// applyState overlays the workflow's live state on a plan's rendering.
func applyState(out *Plan, st workflows.PlanState) {
	live := true
	out.LiveState = &live
	out.Status = PlanStatus(st.Status)
	out.PaymentMethod = st.PaymentMethodID
	out.Paid, out.PaidAmount = st.Paid, st.PaidAmount
	out.Skipped = &st.Skipped
	out.Remaining = st.Remaining
	out.NextChargeAt = nil
	if !st.NextChargeAt.IsZero() {
		out.NextChargeAt = &st.NextChargeAt
	}
	if st.NextInstallment > 0 {
		out.NextInstallment, out.NextAmount = &st.NextInstallment, &st.NextAmount
		out.NextDueAt = &st.NextDueAt
	}
	if e := st.LastError; e != nil {
		out.LastError = &PlanError{Code: e.Code, Class: &e.Class, Message: e.Message}
	}
	if st.CancelReason != "" {
		out.CancelReason = &st.CancelReason
	}
	if !st.IncompleteUntil.IsZero() {
		out.IncompleteUntil = &st.IncompleteUntil
	}
	if st.PauseBehavior != "" {
		b := PlanPauseBehavior(st.PauseBehavior)
		out.PauseBehavior = &b
	}
	if !st.ResumeAt.IsZero() {
		out.ResumeAt = &st.ResumeAt
	}
	catchUp := PlanCatchUp(billing.CatchUpAll)
	if st.CatchUp != "" {
		catchUp = PlanCatchUp(st.CatchUp)
	}
	out.CatchUp = &catchUp
	out.MinDaysBetweenCharges = &st.MinDaysBetweenCharges
}

// PreviewPlan implements POST /v1/plans/preview: the schedule's first installments,
// computed exactly as the workflow will, without creating anything.
func (s *server) PreviewPlan(ctx context.Context, req PreviewPlanRequestObject) (PreviewPlanResponseObject, error) {
	caller := callerFrom(ctx)
	b := req.Body
	change := billing.PlanChange{RecurringAmount: b.RecurringAmount, FinalAmount: b.FinalAmount, Installments: b.Installments, ExpiresOn: b.ExpiresOn}
	switch {
	case b.Plan != nil:
		if b.Currency != nil || b.Schedule != nil {
			return nil, billing.Invalid(first(b.Currency != nil, "currency", "schedule"), billing.CodeParameterNotAllowed,
				"a plan's change is previewed with plan and the change's fields, without currency or schedule")
		}
		return s.previewChange(ctx, caller, *b.Plan, change, derefOr(b.Count, 12))
	case !change.Empty():
		return nil, billing.Invalid(change.Fields()[0], billing.CodeParameterNotAllowed, "the change's fields go with plan")
	case b.Currency == nil:
		return nil, billing.Invalid("currency", billing.CodeParameterMissing, "currency is required (or plan, to preview a change)")
	case b.Schedule == nil:
		return nil, billing.Invalid("schedule", billing.CodeParameterMissing, "schedule is required (or plan, to preview a change)")
	}
	v := &billing.ValidationError{}
	if _, err := billing.LookupCurrency(*b.Currency); err != nil {
		v.Add("currency", billing.CodeInvalidCurrency, "%v", err)
	}
	var sched billing.Schedule
	if err := jsonConvert(b.Schedule, &sched, "schedule"); err != nil {
		return nil, err
	}
	tt, err := sched.Resolve(caller.Mode, time.Now())
	var sv *billing.ValidationError
	if errors.As(err, &sv) {
		v.Violations = append(v.Violations, sv.Violations...)
	} else if err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := billing.CheckSpacing(tt, derefOr(b.MinDaysBetweenCharges, 0)); err != nil {
		return nil, err
	}
	return previewOut(tt, 1, derefOr(b.Count, 12), *b.Currency), nil
}

// previewOut lists up to limit installments of tt from installment from, with the
// timetable's count and total when it is limited.
func previewOut(tt billing.Timetable, from, limit int, currency string) PreviewPlan200JSONResponse {
	out := PreviewPlan200JSONResponse{Object: PlanPreviewObjectPlanPreview, Currency: currency, Installments: []Installment{}}
	for n := from; n < from+limit; n++ {
		inst, ok := tt.Installment(n)
		if !ok {
			break
		}
		out.Installments = append(out.Installments, Installment{Number: inst.Number, DueAt: inst.DueAt, Amount: inst.Amount})
	}
	count, limited := tt.Count()
	out.Limited = limited
	if limited {
		out.Count = &count
		if total, ok := tt.Total(); ok {
			out.Total = &total
		}
	}
	return out
}

// GetPlan implements GET /v1/plans/{id}.
func (s *server) GetPlan(ctx context.Context, req GetPlanRequestObject) (GetPlanResponseObject, error) {
	out, err := s.planOut(ctx, callerFrom(ctx), req.Id, nil)
	if err != nil {
		return nil, err
	}
	return GetPlan200JSONResponse(out), nil
}

// ListPlans implements GET /v1/plans: rows with the status each workflow last recorded.
func (s *server) ListPlans(ctx context.Context, req ListPlansRequestObject) (ListPlansResponseObject, error) {
	p := req.Params
	page, err := s.store.ListPlans(ctx, callerFrom(ctx), billing.PlanFilter{
		CustomerID: deref(p.Customer), Status: billing.PlanStatus(deref(p.Status)),
	}, billing.ListParams{Limit: deref(p.Limit), StartingAfter: deref(p.StartingAfter)})
	if err != nil {
		return nil, err
	}
	out := ListPlans200JSONResponse{Object: PlanListObjectList, Data: []Plan{}, HasMore: page.HasMore}
	for _, row := range page.Items {
		out.Data = append(out.Data, planRowOut(row))
	}
	return out, nil
}

// ListPlanPayments implements GET /v1/plans/{id}/payments.
func (s *server) ListPlanPayments(ctx context.Context, req ListPlanPaymentsRequestObject) (ListPlanPaymentsResponseObject, error) {
	caller := callerFrom(ctx)
	if _, err := s.store.GetPlan(ctx, caller, req.Id); err != nil {
		return nil, err
	}
	page, err := s.store.ListPlanPayments(ctx, caller, req.Id, billing.ListParams{
		Limit: deref(req.Params.Limit), StartingAfter: deref(req.Params.StartingAfter)})
	if err != nil {
		return nil, err
	}
	out := ListPlanPayments200JSONResponse{Object: PaymentListObjectList, Data: []Payment{}, HasMore: page.HasMore}
	for _, p := range page.Items {
		out.Data = append(out.Data, paymentOut(p))
	}
	return out, nil
}

// planUpdate runs one update on a plan's workflow, given the plan's row.
type planUpdate func(ctx context.Context, c client.Client, row billing.Plan) (workflows.PlanState, error)

// byID adapts a starter helper that needs only the plan id.
func byID(f func(context.Context, client.Client, string) (workflows.PlanState, error)) planUpdate {
	return func(ctx context.Context, c client.Client, row billing.Plan) (workflows.PlanState, error) {
		return f(ctx, c, row.ID)
	}
}

// lifecycle loads the caller's plan (404 for anyone else's), runs update on its
// workflow and renders the plan with the state the update returned.
func (s *server) lifecycle(ctx context.Context, id string, update planUpdate) (Plan, error) {
	row, err := s.store.GetPlan(ctx, callerFrom(ctx), id)
	if err != nil {
		return Plan{}, err
	}
	c, err := s.temporalClient()
	if err != nil {
		return Plan{}, err
	}
	st, err := update(ctx, c, row)
	if err != nil {
		return Plan{}, err
	}
	out := planRowOut(row)
	applyState(&out, st)
	return out, nil
}

// CancelPlan implements POST /v1/plans/{id}/cancel.
func (s *server) CancelPlan(ctx context.Context, req CancelPlanRequestObject) (CancelPlanResponseObject, error) {
	reason := "requested"
	if req.Body != nil && req.Body.Reason != nil {
		reason = *req.Body.Reason
	}
	out, err := s.lifecycle(ctx, req.Id, func(ctx context.Context, c client.Client, row billing.Plan) (workflows.PlanState, error) {
		return starter.CancelPlan(ctx, c, row.ID, reason)
	})
	if err != nil {
		return nil, err
	}
	return CancelPlan200JSONResponse(out), nil
}

// PausePlan implements POST /v1/plans/{id}/pause.
func (s *server) PausePlan(ctx context.Context, req PausePlanRequestObject) (PausePlanResponseObject, error) {
	var pause workflows.PauseRequest
	if b := req.Body; b != nil {
		pause.Behavior = billing.PauseBehavior(derefOr(b.Behavior, ""))
		if b.ResumeAt != nil {
			pause.ResumeAt = b.ResumeAt.UTC()
		}
	}
	out, err := s.lifecycle(ctx, req.Id, func(ctx context.Context, c client.Client, row billing.Plan) (workflows.PlanState, error) {
		return starter.PausePlan(ctx, c, row.ID, pause)
	})
	if err != nil {
		return nil, err
	}
	return PausePlan200JSONResponse(out), nil
}

// ResumePlan implements POST /v1/plans/{id}/resume.
func (s *server) ResumePlan(ctx context.Context, req ResumePlanRequestObject) (ResumePlanResponseObject, error) {
	out, err := s.lifecycle(ctx, req.Id, byID(starter.ResumePlan))
	if err != nil {
		return nil, err
	}
	return ResumePlan200JSONResponse(out), nil
}

// SkipNextInstallment implements POST /v1/plans/{id}/skip-next.
func (s *server) SkipNextInstallment(ctx context.Context, req SkipNextInstallmentRequestObject) (SkipNextInstallmentResponseObject, error) {
	out, err := s.lifecycle(ctx, req.Id, byID(starter.SkipNextInstallment))
	if err != nil {
		return nil, err
	}
	return SkipNextInstallment200JSONResponse(out), nil
}

// ChangePlanPaymentMethod implements POST /v1/plans/{id}/payment-method. The new card
// must be an active card of the plan's customer whose provider does recurring.
func (s *server) ChangePlanPaymentMethod(ctx context.Context, req ChangePlanPaymentMethodRequestObject) (ChangePlanPaymentMethodResponseObject, error) {
	out, err := s.lifecycle(ctx, req.Id, func(ctx context.Context, c client.Client, row billing.Plan) (workflows.PlanState, error) {
		pm, err := s.chargeableMethod(ctx, callerFrom(ctx), row.CustomerID, req.Body.PaymentMethod, "payment_method", true)
		if err != nil {
			return workflows.PlanState{}, err
		}
		// The new card's provider must be able to charge the plan's amounts.
		var tt billing.Timetable
		if err := json.Unmarshal(row.Timetable, &tt); err != nil {
			return workflows.PlanState{}, fmt.Errorf("plan %s timetable: %w", row.ID, err)
		}
		if err := s.checkAmounts(ctx, callerFrom(ctx), pm.Provider, pm.ProviderAccount, row.Currency, scheduleAmounts(tt)); err != nil {
			var be *billing.Error
			if errors.As(err, &be) {
				cp := *be
				cp.Param, cp.Message = "payment_method", "the card's provider cannot charge this plan: "+be.Message
				return workflows.PlanState{}, &cp
			}
			return workflows.PlanState{}, err
		}
		return starter.ChangePlanPaymentMethod(ctx, c, row.ID, workflows.ChangePaymentMethodRequest{PaymentMethodID: pm.ID})
	})
	if err != nil {
		return nil, err
	}
	return ChangePlanPaymentMethod200JSONResponse(out), nil
}

// first returns a when cond holds, else b.
func first(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// openInstallments is where a plan's change would start: the first installment not yet
// charged or attempted by the live state st, and whether the one before it is being
// collected.
func openInstallments(st workflows.PlanState) (int, bool) {
	if st.FirstOpen > 0 {
		return st.FirstOpen, st.Collecting
	}
	if st.Attempts > 0 { // a worker older than FirstOpen
		return st.NextInstallment + 1, true
	}
	return st.NextInstallment, false
}

// previewChange lists a plan's open installments as they would be after change,
// checked as the change_plan update checks it.
func (s *server) previewChange(ctx context.Context, caller billing.Caller, id string, change billing.PlanChange, limit int) (PreviewPlanResponseObject, error) {
	row, err := s.store.GetPlan(ctx, caller, id)
	if err != nil {
		return nil, withParam(err, "plan")
	}
	c, err := s.temporalClient()
	if err != nil {
		return nil, err
	}
	st, err := starter.PlanState(ctx, c, id)
	if err != nil {
		return nil, err
	}
	if st.Status.Terminal() || st.NextInstallment == 0 {
		return nil, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeInvalidTransition, Param: "plan",
			Message: fmt.Sprintf("plan %s is %s: it has no installment left to change", id, st.Status)}
	}
	var tt billing.Timetable
	if err := json.Unmarshal(row.Timetable, &tt); err != nil {
		return nil, fmt.Errorf("read plan %s timetable: %w", id, err)
	}
	if err := s.checkAmounts(ctx, caller, row.Provider, row.ProviderAccount, row.Currency, changeAmounts(change)); err != nil {
		return nil, err
	}
	open, unsettled := openInstallments(st)
	changed, err := change.Apply(tt, open, unsettled, time.Now())
	if err != nil {
		return nil, err
	}
	return previewOut(changed, open, limit, row.Currency), nil
}

// changeAmounts names a change's amounts for the provider's limits.
func changeAmounts(c billing.PlanChange) []namedAmount {
	var out []namedAmount
	if c.RecurringAmount != nil {
		out = append(out, namedAmount{"recurring_amount", *c.RecurringAmount})
	}
	if c.FinalAmount != nil {
		out = append(out, namedAmount{"final_amount", *c.FinalAmount})
	}
	return out
}

// UpdatePlan implements PATCH /v1/plans/{id}: the change_plan update, then the plan
// with its live state and its schedule as changed.
func (s *server) UpdatePlan(ctx context.Context, req UpdatePlanRequestObject) (UpdatePlanResponseObject, error) {
	caller := callerFrom(ctx)
	b := req.Body
	change := billing.PlanChange{RecurringAmount: b.RecurringAmount, FinalAmount: b.FinalAmount, Installments: b.Installments, ExpiresOn: b.ExpiresOn}
	if change.Empty() && b.MerchantData == nil {
		return nil, billing.Invalid("recurring_amount", billing.CodeParameterMissing,
			"give at least one of recurring_amount, final_amount, installments, expires_on, merchant_data")
	}
	row, err := s.store.GetPlan(ctx, caller, req.Id)
	if err != nil {
		return nil, err
	}
	if err := s.checkAmounts(ctx, caller, row.Provider, row.ProviderAccount, row.Currency, changeAmounts(change)); err != nil {
		return nil, err
	}
	upd := workflows.ChangePlanRequest{Change: change}
	if b.MerchantData != nil {
		upd.MerchantData, _ = json.Marshal(*b.MerchantData)
	}
	c, err := s.temporalClient()
	if err != nil {
		return nil, err
	}
	st, err := starter.ChangePlan(ctx, c, row.ID, upd)
	if err != nil {
		return nil, err
	}
	out, err := s.planOut(ctx, caller, row.ID, &st)
	if err != nil {
		return nil, err
	}
	// The row is written by the workflow right after it answers: show the change now
	// (a change still pending before this one is not shown until written).
	if raw, err := change.ApplyToSchedule(row.Schedule); err == nil {
		var schedule map[string]any
		if json.Unmarshal(raw, &schedule) == nil {
			out.Schedule = &schedule
		}
	}
	if b.MerchantData != nil {
		out.MerchantData = b.MerchantData
	}
	return UpdatePlan200JSONResponse(out), nil
}
