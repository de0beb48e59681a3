package activities

import (
	"context"

	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/billing"
)

// Notification kinds: why the customer is told (billing holds the noun, so that
// senders such as internal/notify depend on the domain, not on activities).
const (
	NotifyPaymentFailed   = billing.NotifyPaymentFailed
	NotifyActionRequired  = billing.NotifyActionRequired
	NotifyPlanFailed      = billing.NotifyPlanFailed
	NotifyPaymentRetrying = billing.NotifyPaymentRetrying
)

// Notification is the Notify activity's input: the domain's notification, unchanged
// (same JSON in workflow histories).
type Notification = billing.Notification

// Notifier sends notifications; with no Notifier at all, Notify only logs.
type Notifier = billing.Notifier

// Notify sends a notification to the customer, with the plan's recovery page when it
// waits on them.
func (a *Activities) Notify(ctx context.Context, n Notification) error {
	if n.Kind == NotifyActionRequired || n.Kind == NotifyPaymentFailed || n.Kind == NotifyPaymentRetrying {
		_, n.PaymentURL = a.recoveryURL(ctx, n.MerchantID, n.Mode, n.PlanID)
	}
	if a.deps.Notifier == nil {
		a.deps.Logger.InfoContext(ctx, "customer notification (no notifier configured)", "kind", n.Kind,
			"plan_id", n.PlanID, "customer_id", n.CustomerID, "code", n.Code, "idempotency_key", n.IdempotencyKey)
		return nil
	}
	return a.deps.Notifier.Notify(ctx, n)
}

// Notify runs Activities.Notify from a workflow.
func Notify(ctx workflow.Context, n Notification) error {
	var a *Activities
	return workflow.ExecuteActivity(notifyOptions(ctx), a.Notify, n).Get(ctx, nil)
}
