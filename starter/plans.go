package starter

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/workflows"
)

// How a plan and its workflow are created together: the API only starts the workflow,
// whose id is the plan id (plan_…), and the workflow's first activity writes the plan's
// row (insert-or-get). So a row never exists without its workflow; a crash after the
// start leaves a workflow that writes the row as soon as the store takes it; and a
// client retrying the request (or the API retrying a start whose answer it lost)
// finds the same workflow, because starting is idempotent on the id
// (WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING) and a finished plan's id is never reused
// (WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE). The API derives the plan id from the
// request's Idempotency-Key when it has one, so a retried POST maps to the same id.

// PlanWorkflowID returns the id of a plan's workflow: the plan id itself.
func PlanWorkflowID(planID string) string { return planID }

// PlanStartOptions returns the options a plan workflow is started with, search
// attributes included, so the plan shows in the Web UI from its first instant.
func PlanStartOptions(in workflows.PlanInput) client.StartWorkflowOptions {
	attrs := []temporal.SearchAttributeUpdate{
		workflows.PlanStatusKey.ValueSet(string(billing.PlanActive)),
		workflows.CustomerIDKey.ValueSet(in.CustomerID),
		workflows.MerchantIDKey.ValueSet(in.MerchantID),
	}
	if first, ok := in.Timetable.Installment(1); ok {
		attrs = append(attrs, workflows.NextChargeAtKey.ValueSet(first.DueAt))
	}
	return client.StartWorkflowOptions{
		ID:                       PlanWorkflowID(in.PlanID),
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    temporal.NewSearchAttributes(attrs...),
	}
}

// StartPlan starts the plan's workflow and returns its run. Starting a plan id again
// returns the existing run, running or finished, and never starts a second one: the
// SDK answers a start refused by the id policies with the current or last run.
func StartPlan(ctx context.Context, c client.Client, in workflows.PlanInput) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, PlanStartOptions(in), workflows.Plan, in)
	if err != nil {
		return nil, planError(in.PlanID, fmt.Errorf("start plan workflow: %w", err))
	}
	return run, nil
}

// CreatePlan starts the plan's workflow and waits, in the same call
// (Update-With-Start), for its row to be in the store: the created update answers
// with the plan's state once the workflow wrote the row. A plan id already running
// joins that run (its row exists, or is being written); a finished one answers
// ended=true with no state, its row being there. A row the store refuses is a
// *billing.Error of KindInvalid.
func CreatePlan(ctx context.Context, c client.Client, in workflows.PlanInput) (st workflows.PlanState, ended bool, err error) {
	h, err := c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: c.NewWithStartWorkflowOperation(PlanStartOptions(in), workflows.Plan, in),
		// A fresh update id per call: a repeated create then answers the plan's state
		// now, not the first call's deduplicated answer (and a finished run refuses the
		// start, which is ended below).
		UpdateOptions: client.UpdateWorkflowOptions{UpdateName: workflows.UpdateCreated,
			WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	if err == nil {
		err = h.Get(ctx, &st)
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return workflows.PlanState{}, true, nil // a finished run of this id: never started again
	}
	if err != nil {
		return workflows.PlanState{}, false, updateError(ctx, c, in.PlanID, workflows.UpdateCreated, err)
	}
	return st, false, nil
}

// PlanState asks a plan's workflow for its live state (a finished one answers with
// its final state).
func PlanState(ctx context.Context, c client.Client, planID string) (workflows.PlanState, error) {
	v, err := c.QueryWorkflow(ctx, PlanWorkflowID(planID), "", workflows.QueryState)
	if err != nil {
		return workflows.PlanState{}, planError(planID, err)
	}
	var st workflows.PlanState
	if err := v.Get(&st); err != nil {
		return workflows.PlanState{}, fmt.Errorf("decode plan %s state: %w", planID, err)
	}
	return st, nil
}

// SignalCancelPlan asks a plan to cancel without waiting (ignored once it has ended).
// CancelPlan is the synchronous form the API uses.
func SignalCancelPlan(ctx context.Context, c client.Client, planID, reason string) error {
	return signalPlan(ctx, c, planID, workflows.SignalCancel, workflows.CancelRequest{Reason: reason})
}

// BlockPlan stops a plan's charges while paymentMethodID is blocked; the API sends it
// to every active plan using the card. A plan now charging another card ignores it.
func BlockPlan(ctx context.Context, c client.Client, planID, paymentMethodID string) error {
	return signalPlan(ctx, c, planID, workflows.SignalBlock, workflows.PaymentMethodSignal{PaymentMethodID: paymentMethodID})
}

// UnblockPlan lets a plan charge paymentMethodID again.
func UnblockPlan(ctx context.Context, c client.Client, planID, paymentMethodID string) error {
	return signalPlan(ctx, c, planID, workflows.SignalUnblock, workflows.PaymentMethodSignal{PaymentMethodID: paymentMethodID})
}

// DetachPlan tells a plan its card was deleted: it stops charging and waits for a new
// payment method or a cancel.
func DetachPlan(ctx context.Context, c client.Client, planID, paymentMethodID string) error {
	return signalPlan(ctx, c, planID, workflows.SignalDetach, workflows.PaymentMethodSignal{PaymentMethodID: paymentMethodID})
}

func signalPlan(ctx context.Context, c client.Client, planID, name string, arg any) error {
	if err := c.SignalWorkflow(ctx, PlanWorkflowID(planID), "", name, arg); err != nil {
		return planError(planID, err)
	}
	return nil
}

// PausePlan pauses a plan and returns its new state.
func PausePlan(ctx context.Context, c client.Client, planID string, req workflows.PauseRequest) (workflows.PlanState, error) {
	return updatePlan(ctx, c, planID, workflows.UpdatePause, req)
}

// ChangePlan changes a plan's terms (the change_plan update) and returns its new state.
func ChangePlan(ctx context.Context, c client.Client, planID string, req workflows.ChangePlanRequest) (workflows.PlanState, error) {
	return updatePlan(ctx, c, planID, workflows.UpdateChangePlan, req)
}

// ResumePlan resumes a paused plan and returns its new state.
func ResumePlan(ctx context.Context, c client.Client, planID string) (workflows.PlanState, error) {
	return updatePlan(ctx, c, planID, workflows.UpdateResume, workflows.ResumeRequest{})
}

// CancelPlan cancels a plan and returns its final state.
func CancelPlan(ctx context.Context, c client.Client, planID, reason string) (workflows.PlanState, error) {
	return updatePlan(ctx, c, planID, workflows.UpdateCancel, workflows.CancelRequest{Reason: reason})
}

// ChangePlanPaymentMethod switches a plan to another card and returns its new state.
func ChangePlanPaymentMethod(ctx context.Context, c client.Client, planID string, req workflows.ChangePaymentMethodRequest) (workflows.PlanState, error) {
	return updatePlan(ctx, c, planID, workflows.UpdateChangePaymentMethod, req)
}

// SkipNextInstallment skips a plan's next installment not yet attempted and returns
// its new state.
func SkipNextInstallment(ctx context.Context, c client.Client, planID string) (workflows.PlanState, error) {
	return updatePlan(ctx, c, planID, workflows.UpdateSkipNext, workflows.SkipNextRequest{})
}

// updatePlan runs an update and waits for its result. Rejections come back as
// *billing.Error: invalid transitions as KindConflict (409), bad arguments as
// KindInvalid (400); a plan whose workflow has ended is a KindConflict too.
func updatePlan(ctx context.Context, c client.Client, planID, name string, arg any) (workflows.PlanState, error) {
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: PlanWorkflowID(planID), UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return workflows.PlanState{}, updateError(ctx, c, planID, name, err)
	}
	var st workflows.PlanState
	if err := h.Get(ctx, &st); err != nil {
		return workflows.PlanState{}, updateError(ctx, c, planID, name, err)
	}
	return st, nil
}

// rejectionOf reads a refused update's code and field: a workflows.Rejection, or the
// (code, param) pair workers before it sent, so a rolling deploy keeps its 4xx answers.
func rejectionOf(appErr *temporal.ApplicationError) (code, param string) {
	if !appErr.HasDetails() {
		return "", ""
	}
	var r workflows.Rejection
	if details(appErr, &r) {
		return r.Code, r.Param
	}
	details(appErr, &code, &param)
	return code, param
}

// details decodes an application error's details into ptrs and reports whether they
// fit. Details that crossed the wire fail to decode into the wrong type; details still
// held as Go values (an error made in this process) make the SDK panic instead, which
// counts as not fitting.
func details(appErr *temporal.ApplicationError, ptrs ...any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return appErr.Details(ptrs...) == nil
}

func updateError(ctx context.Context, c client.Client, planID, name string, err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		code, param := rejectionOf(appErr)
		switch appErr.Type() {
		case workflows.ErrInvalidTransition:
			if code == "" {
				code = billing.CodeInvalidTransition
			}
			return &billing.Error{Kind: billing.KindConflict, Code: code, Message: appErr.Message(), Err: err}
		case workflows.ErrInvalidArgument:
			return &billing.Error{Kind: billing.KindInvalid, Code: code, Param: param, Message: appErr.Message(), Err: err}
		}
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// Updates cannot reach a finished workflow; tell that apart from no workflow.
		if d, derr := c.DescribeWorkflowExecution(ctx, PlanWorkflowID(planID), ""); derr == nil &&
			d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return &billing.Error{Kind: billing.KindConflict, Code: billing.CodeInvalidTransition,
				Message: fmt.Sprintf("cannot %s plan %s: it has ended", name, planID), Err: err}
		}
	}
	return planError(planID, err)
}

// planError translates Temporal client errors: no such workflow is not found (404),
// an unreachable Temporal is unavailable (503).
func planError(planID string, err error) error {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: "no plan " + planID, Err: err}
	}
	var unavailable *serviceerror.Unavailable
	if errors.As(err, &unavailable) {
		return &billing.Error{Kind: billing.KindUnavailable, Code: billing.CodeTemporalUnavailable, Message: "the workflow service is unavailable", Err: err}
	}
	return fmt.Errorf("plan %s: %w", planID, err)
}

// PaymentStartOptions returns the options a one-off or initial payment's workflow is
// started with: its id is the payment id, and a finished payment's id is never reused,
// so a retried request finds the same payment instead of charging again.
func PaymentStartOptions(paymentID string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       paymentID,
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}
}

// RunPayment starts (or joins) the payment's workflow and waits for its result. A
// payment that already finished answers with its result; it is never charged again.
func RunPayment(ctx context.Context, c client.Client, in workflows.PaymentInput) (workflows.PaymentResult, error) {
	var out workflows.PaymentResult
	run, err := c.ExecuteWorkflow(ctx, PaymentStartOptions(in.PaymentID), workflows.Payment, in)
	if err != nil {
		return out, planError(in.PaymentID, fmt.Errorf("start payment workflow: %w", err))
	}
	if err := run.Get(ctx, &out); err != nil {
		return out, fmt.Errorf("payment %s: %w", in.PaymentID, err)
	}
	return out, nil
}

// RunRefund starts (or joins) the refund's workflow (its id is the refund id) and
// waits for its result. A refund that already finished answers with its result; it is
// never sent again.
func RunRefund(ctx context.Context, c client.Client, in workflows.RefundInput) (workflows.RefundResult, error) {
	var out workflows.RefundResult
	run, err := c.ExecuteWorkflow(ctx, PaymentStartOptions(in.Refund.ID), workflows.Refund, in)
	if err != nil {
		return out, planError(in.Refund.ID, fmt.Errorf("start refund workflow: %w", err))
	}
	if err := run.Get(ctx, &out); err != nil {
		return out, fmt.Errorf("refund %s: %w", in.Refund.ID, err)
	}
	return out, nil
}

// StartCredentialRemoval starts the removal of a detached payment method's credential at
// its provider, unless one runs; after one finished, a new one finds nothing left (or
// what an earlier try could not remove) and ends.
func StartCredentialRemoval(ctx context.Context, c client.Client, in workflows.RemoveCredentialInput) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.RemoveCredentialID(in.PaymentMethodID), TaskQueue: TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.RemoveCredential, in)
	if err != nil {
		return fmt.Errorf("start the removal of %s at its provider: %w", in.PaymentMethodID, err)
	}
	return nil
}
