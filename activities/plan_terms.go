package activities

import (
	"context"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/billing"
)

// ChangePlanTerms writes a plan's changed terms to its row, with plan.updated.
func (a *Activities) ChangePlanTerms(ctx context.Context, t billing.PlanTerms) error {
	if a.deps.PlanTerms == nil {
		return temporal.NewNonRetryableApplicationError("this worker cannot write plan terms", ErrStoreRejected, nil)
	}
	return storeError(a.deps.PlanTerms.ChangePlanTerms(ctx, t))
}

// ChangePlanTerms runs Activities.ChangePlanTerms from a workflow.
func ChangePlanTerms(ctx workflow.Context, t billing.PlanTerms) error {
	var a *Activities
	return workflow.ExecuteActivity(ledgerOptions(ctx), a.ChangePlanTerms, t).Get(ctx, nil)
}
