package starter

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/workflows"
)

// StartHostedPayment starts (or joins) a hosted payment's workflow; it does not wait:
// the customer has until in.ExpiresAt.
func StartHostedPayment(ctx context.Context, c client.Client, in workflows.HostedPaymentInput) error {
	if _, err := c.ExecuteWorkflow(ctx, PaymentStartOptions(in.Payment.PaymentID), workflows.HostedPayment, in); err != nil {
		return planError(in.Payment.PaymentID, fmt.Errorf("start hosted payment workflow: %w", err))
	}
	return nil
}

// SubmitHostedCard hands a hosted payment the customer's saved card and browser data
// and waits for the next step: a challenge, or the outcome.
func SubmitHostedCard(ctx context.Context, c client.Client, paymentID string, req workflows.SubmitCardRequest) (workflows.HostedStep, error) {
	return hostedUpdate(ctx, c, paymentID, workflows.UpdateSubmitCard, req)
}

// CompleteHostedChallenge hands a hosted payment the challenge page's answer and waits
// for the outcome.
func CompleteHostedChallenge(ctx context.Context, c client.Client, paymentID string, req workflows.CompleteChallengeRequest) (workflows.HostedStep, error) {
	return hostedUpdate(ctx, c, paymentID, workflows.UpdateCompleteChallenge, req)
}

func hostedUpdate(ctx context.Context, c client.Client, paymentID, name string, arg any) (workflows.HostedStep, error) {
	var step workflows.HostedStep
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: paymentID, UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &step)
	}
	if err == nil {
		return step, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		code, param := rejectionOf(appErr)
		switch appErr.Type() {
		case workflows.ErrInvalidTransition:
			return step, &billing.Error{Kind: billing.KindConflict, Code: code, Message: appErr.Message(), Err: err}
		case workflows.ErrInvalidArgument:
			return step, &billing.Error{Kind: billing.KindInvalid, Code: code, Param: param, Message: appErr.Message(), Err: err}
		}
		// The card could not be authenticated (a provider's refusal): the customer may
		// give another.
		return step, &billing.Error{Kind: billing.KindCardDeclined, Code: billing.CodeCardDeclined,
			Message: "the card could not be authenticated; try another card", Err: err}
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// The workflow ended (expired or completed): an update cannot reach it.
		return step, &billing.Error{Kind: billing.KindConflict, Code: billing.CodeSessionNotWaiting,
			Message: "this payment session has ended", Err: err}
	}
	return step, fmt.Errorf("payment session %s: %w", paymentID, err)
}

// PlanCards changes plans' cards through the workflow service; the worker hands it to
// the activities (activities.PlanCards) for hosted card-change sessions.
type PlanCards struct{ Client client.Client }

// ChangePlanCard sends the plan its change_payment_method update.
func (p PlanCards) ChangePlanCard(ctx context.Context, planID, paymentMethodID string) error {
	_, err := ChangePlanPaymentMethod(ctx, p.Client, planID, workflows.ChangePaymentMethodRequest{PaymentMethodID: paymentMethodID})
	return err
}

// StartPlan sends an incomplete plan its start_plan update under the session's id
// and waits for the plan's first payment. Temporal keeps one update per id, so a
// retried call (the activity's retry, a worker restart) waits on the first one.
func (p PlanCards) StartPlan(ctx context.Context, req activities.StartPlanRequest) (activities.StartPlanResult, error) {
	h, err := p.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: PlanWorkflowID(req.PlanID), UpdateID: req.SessionID, UpdateName: workflows.UpdateStartPlan,
		Args: []any{req}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var st workflows.PlanState
	if err == nil {
		err = h.Get(ctx, &st)
	}
	if err != nil {
		return activities.StartPlanResult{}, updateError(ctx, p.Client, req.PlanID, workflows.UpdateStartPlan, err)
	}
	if st.Start == nil {
		return activities.StartPlanResult{}, fmt.Errorf("plan %s answered start_plan without its outcome", req.PlanID)
	}
	return *st.Start, nil
}

// StartCardSession starts (or joins) the workflow of a stored card-change session of a
// plan (a recovery page the plan opened).
func (p PlanCards) StartCardSession(ctx context.Context, s billing.PaymentSession) error {
	return StartHostedPayment(ctx, p.Client, workflows.HostedPaymentInput{
		Payment: workflows.PaymentInput{PaymentID: s.ID, MerchantID: s.MerchantID, Mode: s.Mode, CustomerID: s.CustomerID,
			Amount: s.Amount, Currency: s.Currency, Type: s.Type},
		ExpiresAt: s.ExpiresAt, PlanID: s.PlanID,
	})
}
