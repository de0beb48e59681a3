package workflows

import (
	"hash/fnv"
	"strconv"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/activities"
)

// DefaultWebhookSchedule is the wait before each retry of a webhook delivery (the
// first attempt is immediate): about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, each
// with ±10% jitter — eight attempts over about 28 hours.
var DefaultWebhookSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// MaxWebhookRetryAfter caps how long a receiver's Retry-After may hold a delivery.
const MaxWebhookRetryAfter = 24 * time.Hour

// WebhookDeliveryInput names one delivery: an event to one endpoint. The workflow id is
// WebhookDeliveryID(event, endpoint) (a suffix for redeliveries).
type WebhookDeliveryInput struct {
	DeliveryID string `json:"delivery_id"`
	MerchantID string `json:"merchant_id"`
	EventID    string `json:"event_id"`
	EndpointID string `json:"endpoint_id"`
	// Schedule overrides DefaultWebhookSchedule (tests and test-mode drills).
	Schedule []time.Duration `json:"schedule,omitempty"`
}

// WebhookDeliveryResult is how a delivery ended.
type WebhookDeliveryResult struct {
	// Outcome is the last attempt's: activities.WebhookDelivered, WebhookGone,
	// WebhookStopped, or WebhookFailed when every attempt failed.
	Outcome    string `json:"outcome"`
	Attempts   int    `json:"attempts"`
	StatusCode int    `json:"status_code,omitempty"`
}

// WebhookDeliveryID is the workflow id of the first delivery of an event to an
// endpoint: starting it twice is a no-op.
func WebhookDeliveryID(eventID, endpointID string) string {
	return "whd_" + eventID + "_" + endpointID
}

// WebhookDelivery delivers an event to an endpoint: an attempt at once, then after each
// wait of the schedule (longer if the receiver sent Retry-After with a 429 or 503),
// until a 2xx, a 410 (the endpoint is disabled), the endpoint's deletion, or the
// schedule's end. Every attempt is recorded by the activity.
func WebhookDelivery(ctx workflow.Context, in WebhookDeliveryInput) (WebhookDeliveryResult, error) {
	schedule := in.Schedule
	if len(schedule) == 0 {
		schedule = DefaultWebhookSchedule
	}
	for attempt := 1; ; attempt++ {
		res, err := activities.DeliverWebhook(ctx, activities.DeliverWebhookRequest{
			DeliveryID: in.DeliveryID, MerchantID: in.MerchantID, EventID: in.EventID, EndpointID: in.EndpointID,
			Attempt: attempt,
		})
		if err != nil {
			return WebhookDeliveryResult{Outcome: activities.WebhookFailed, Attempts: attempt}, err
		}
		out := WebhookDeliveryResult{Outcome: res.Outcome, Attempts: attempt, StatusCode: res.StatusCode}
		if res.Outcome != activities.WebhookFailed || attempt > len(schedule) {
			return out, nil
		}
		wait := jitter(schedule[attempt-1], in.DeliveryID, attempt)
		if res.RetryAfter > wait {
			wait = min(res.RetryAfter, MaxWebhookRetryAfter)
		}
		workflow.GetLogger(ctx).Info("webhook attempt failed; retrying", "attempt", attempt, "status", res.StatusCode,
			"error", res.Error, "wait", wait)
		if err := workflow.Sleep(ctx, wait); err != nil {
			return out, err
		}
	}
}

// jitter spreads retries by ±10%, deterministically (a hash of the delivery and the
// attempt), so replays wait the same and deliveries failing together do not retry in
// lockstep.
func jitter(d time.Duration, deliveryID string, attempt int) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(deliveryID + "/" + strconv.Itoa(attempt)))
	frac := float64(h.Sum64()%2001)/10000 - 0.1 // [-0.1, +0.1]
	return d + time.Duration(float64(d)*frac)
}
