package starter

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/workflows"
)

// StartWebhookDelivery starts the delivery workflow named in.DeliveryID unless one with
// that id ran or runs: dispatching an event twice delivers it once.
func StartWebhookDelivery(ctx context.Context, c client.Client, in workflows.WebhookDeliveryInput) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       in.DeliveryID,
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.WebhookDelivery, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		return fmt.Errorf("start webhook delivery %s: %w", in.DeliveryID, err)
	}
	return nil
}
