package activities

import "go.temporal.io/sdk/workflow"

// Noop runs Activities.Noop from a workflow.
func Noop(ctx workflow.Context) error {
	var a *Activities
	return workflow.ExecuteActivity(localOptions(ctx), a.Noop).Get(ctx, nil)
}
