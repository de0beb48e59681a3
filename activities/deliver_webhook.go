package activities

import (
	"context"
	"net/http"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/netguard"
	"github.com/recurring/recurring/webhooks"
)

// Outcomes of one webhook attempt.
const (
	// WebhookDelivered: the receiver answered 2xx.
	WebhookDelivered = "delivered"
	// WebhookFailed: no 2xx answer; the workflow tries again on its schedule.
	WebhookFailed = "failed"
	// WebhookGone: the receiver answered 410; the endpoint is now disabled.
	WebhookGone = "gone"
	// WebhookStopped: the endpoint was deleted or disabled; nothing was sent.
	WebhookStopped = "stopped"
)

// DeliverWebhookRequest is one attempt to deliver an event to an endpoint.
type DeliverWebhookRequest struct {
	DeliveryID string `json:"delivery_id"`
	MerchantID string `json:"merchant_id"`
	EventID    string `json:"event_id"`
	EndpointID string `json:"endpoint_id"`
	// Attempt counts from 1 within the delivery.
	Attempt int `json:"attempt"`
}

// DeliverWebhookResult is what the attempt got.
type DeliverWebhookResult struct {
	Outcome    string        `json:"outcome"`
	StatusCode int           `json:"status_code,omitempty"`
	Error      string        `json:"error,omitempty"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
}

// DeliverWebhook sends the event once, signed with the endpoint's secrets, and records
// the attempt. HTTP outcomes are results, not errors: the workflow owns the retry
// schedule. Only store failures are errors (retried by the activity policy); a retry
// after the send may send again, which receivers absorb by webhook-id.
func (a *Activities) DeliverWebhook(ctx context.Context, req DeliverWebhookRequest) (DeliverWebhookResult, error) {
	if a.deps.Webhooks == nil {
		return DeliverWebhookResult{}, storeError(&billing.Error{Kind: billing.KindInvalid, Code: billing.CodeWebhooksNotConfigured,
			Message: "deliver webhook: no webhook store configured"})
	}
	target, err := a.deps.Webhooks.WebhookTarget(ctx, req.MerchantID, req.EndpointID)
	if billing.KindOf(err) == billing.KindNotFound {
		return DeliverWebhookResult{Outcome: WebhookStopped, Error: "endpoint deleted"}, nil
	}
	if err != nil {
		return DeliverWebhookResult{}, storeError(err)
	}
	if target.Endpoint.Status != billing.WebhookEnabled {
		return DeliverWebhookResult{Outcome: WebhookStopped, Error: "endpoint disabled"}, nil
	}
	ev, err := a.deps.Webhooks.EventByID(ctx, req.MerchantID, req.EventID)
	if err != nil {
		return DeliverWebhookResult{}, storeError(err)
	}
	live := target.Endpoint.Mode == billing.ModeLive
	client := a.webhookClient(live)
	r := webhooks.Send(ctx, client, target.Endpoint.URL, ev.ID, webhooks.Payload(a.withRecoveryURL(ctx, ev)), target.Secrets, time.Now())
	if err := a.deps.Webhooks.RecordWebhookAttempt(ctx, billing.WebhookAttempt{
		MerchantID: req.MerchantID, Mode: target.Endpoint.Mode, EventID: ev.ID, EndpointID: req.EndpointID,
		DeliveryID: req.DeliveryID, Attempt: req.Attempt, URL: target.Endpoint.URL, StatusCode: r.StatusCode,
		Error: r.Err, DurationMS: r.Duration.Milliseconds(),
	}); err != nil {
		return DeliverWebhookResult{}, storeError(err)
	}
	out := DeliverWebhookResult{Outcome: WebhookFailed, StatusCode: r.StatusCode, Error: r.Err, RetryAfter: r.RetryAfter}
	switch {
	case r.Delivered():
		out.Outcome = WebhookDelivered
	case r.StatusCode == http.StatusGone:
		if err := a.deps.Webhooks.DisableWebhookEndpoint(ctx, req.MerchantID, req.EndpointID,
			"the receiver answered 410 Gone"); err != nil {
			return DeliverWebhookResult{}, storeError(err)
		}
		out.Outcome = WebhookGone
	}
	a.deps.Metrics.WebhookDelivery(string(out.Outcome), r.Duration)
	return out, nil
}

// webhookClient returns the HTTP client for a mode: live deliveries may not reach
// internal addresses (checked on every connection, after DNS resolution).
func (a *Activities) webhookClient(live bool) *http.Client {
	a.clientsOnce.Do(func() {
		a.liveClient = netguard.Client(webhooks.AttemptTimeout, false)
		a.testClient = netguard.Client(webhooks.AttemptTimeout, true)
	})
	if live {
		return a.liveClient
	}
	return a.testClient
}

// DeliverWebhook runs Activities.DeliverWebhook from a workflow.
func DeliverWebhook(ctx workflow.Context, req DeliverWebhookRequest) (DeliverWebhookResult, error) {
	var a *Activities
	var out DeliverWebhookResult
	err := workflow.ExecuteActivity(webhookOptions(ctx), a.DeliverWebhook, req).Get(ctx, &out)
	return out, err
}
