// Package activities holds the engine's Temporal activities: thin calls into providers,
// the store and webhooks. Each activity is a method on Activities, which holds the
// dependencies; workflows call them through the typed wrappers in this package, never
// by string name.
package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Activities holds what activities need.
type Activities struct{}

// New returns the activities with their dependencies.
func New() *Activities { return &Activities{} }

// Noop does nothing; the Baseline workflow uses it to measure the server's own cost of
// one activity.
func (a *Activities) Noop(ctx context.Context) error { return nil }

// localOptions are for activities that only touch our own store or do nothing: short
// timeouts, quick retries.
func localOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
}

// Noop runs Activities.Noop from a workflow.
func Noop(ctx workflow.Context) error {
	var a *Activities
	return workflow.ExecuteActivity(localOptions(ctx), a.Noop).Get(ctx, nil)
}
