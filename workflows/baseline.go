package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/activities"
)

// BaselineInput says when a Baseline workflow's timer fires.
type BaselineInput struct {
	DueAt time.Time `json:"due_at"`
	// TimerOnly ends the workflow when the timer fires, without the activity: the
	// cheapest thing a due installment could cost, the bench's ceiling.
	TimerOnly bool `json:"timer_only,omitempty"`
}

// BaselineResult reports when the timer fired and the activity ran, by workflow clock.
type BaselineResult struct {
	DueAt   time.Time `json:"due_at"`
	FiredAt time.Time `json:"fired_at"`
	RanAt   time.Time `json:"ran_at"`
}

// Baseline is the smallest workflow shaped like a plan installment: a durable timer
// until DueAt, then one no-op activity. `recurring bench` runs it beside the plan
// workflow as the ceiling the server itself allows, and end-to-end tests use it to
// prove timers survive a restart.
func Baseline(ctx workflow.Context, in BaselineInput) (BaselineResult, error) {
	if d := in.DueAt.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.Sleep(ctx, d); err != nil {
			return BaselineResult{}, err
		}
	}
	res := BaselineResult{DueAt: in.DueAt, FiredAt: workflow.Now(ctx)}
	if in.TimerOnly {
		res.RanAt = res.FiredAt
		return res, nil
	}
	if err := activities.Noop(ctx); err != nil {
		return res, err
	}
	res.RanAt = workflow.Now(ctx)
	return res, nil
}
