package activities

import (
	"context"

	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/billing"
)

// AnnounceUpcomingRequest is an installment a plan charges soon, and the customer's
// notification of it.
type AnnounceUpcomingRequest struct {
	Payment      billing.UpcomingPayment `json:"payment"`
	Notification Notification            `json:"notification"`
}

// AnnounceUpcoming writes payment.upcoming (once per installment) and tells the
// customer, best effort: a notifier that fails is logged, the event stands.
func (a *Activities) AnnounceUpcoming(ctx context.Context, req AnnounceUpcomingRequest) error {
	if a.deps.Upcoming != nil {
		if err := a.deps.Upcoming.AnnounceUpcoming(ctx, req.Payment); err != nil {
			return storeError(err)
		}
	}
	if err := a.Notify(ctx, req.Notification); err != nil {
		a.deps.Logger.WarnContext(ctx, "upcoming payment notification failed", "plan_id", req.Payment.PlanID, "error", err)
	}
	return nil
}

// AnnounceUpcoming runs Activities.AnnounceUpcoming from a workflow.
func AnnounceUpcoming(ctx workflow.Context, req AnnounceUpcomingRequest) error {
	var a *Activities
	return workflow.ExecuteActivity(ledgerOptions(ctx), a.AnnounceUpcoming, req).Get(ctx, nil)
}
