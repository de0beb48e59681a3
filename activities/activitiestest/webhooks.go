package activitiestest

import (
	"context"
	"slices"
	"sync"

	"github.com/recurring/recurring/billing"
)

var _ billing.WebhookDeliveries = (*Webhooks)(nil)

// Webhooks is an in-memory billing.WebhookDeliveries with the store's rules (held to
// them by storetest.RunWebhookDeliveries): events and endpoints are the merchant's
// own, an attempt is recorded once per (delivery, attempt), a disabled endpoint says
// why.
type Webhooks struct {
	mu        sync.Mutex
	endpoints map[string]billing.WebhookTarget
	events    map[string]billing.Event
	attempts  []billing.WebhookAttempt
}

// NewWebhooks returns an empty webhook store.
func NewWebhooks() *Webhooks {
	return &Webhooks{endpoints: map[string]billing.WebhookTarget{}, events: map[string]billing.Event{}}
}

// AddEndpoint stores an endpoint (its MerchantID owns it) with its signing secrets.
func (w *Webhooks) AddEndpoint(ep billing.WebhookEndpoint, secrets ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.endpoints[ep.ID] = billing.WebhookTarget{Endpoint: ep, Secrets: slices.Clone(secrets)}
}

// AddEvent stores an event (its MerchantID owns it).
func (w *Webhooks) AddEvent(ev billing.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events[ev.ID] = ev
}

// Endpoint returns an endpoint as stored.
func (w *Webhooks) Endpoint(id string) billing.WebhookEndpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.endpoints[id].Endpoint
}

// Attempts returns the recorded attempts in order.
func (w *Webhooks) Attempts() []billing.WebhookAttempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.attempts)
}

func notFound(what, id string) error {
	return &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: "no " + what + " " + id}
}

// EventByID returns the merchant's event.
func (w *Webhooks) EventByID(_ context.Context, merchantID, id string) (billing.Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ev, ok := w.events[id]
	if !ok || ev.MerchantID != merchantID {
		return billing.Event{}, notFound("event", id)
	}
	return ev, nil
}

// WebhookTarget returns the merchant's endpoint with its secrets.
func (w *Webhooks) WebhookTarget(_ context.Context, merchantID, endpointID string) (billing.WebhookTarget, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.endpoints[endpointID]
	if !ok || t.Endpoint.MerchantID != merchantID {
		return billing.WebhookTarget{}, notFound("webhook endpoint", endpointID)
	}
	t.Secrets = slices.Clone(t.Secrets)
	return t, nil
}

// RecordWebhookAttempt stores an attempt unless (DeliveryID, Attempt) is stored.
func (w *Webhooks) RecordWebhookAttempt(_ context.Context, a billing.WebhookAttempt) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if slices.ContainsFunc(w.attempts, func(b billing.WebhookAttempt) bool {
		return b.DeliveryID == a.DeliveryID && b.Attempt == a.Attempt
	}) {
		return nil
	}
	w.attempts = append(w.attempts, a)
	return nil
}

// DisableWebhookEndpoint stops deliveries to the merchant's endpoint.
func (w *Webhooks) DisableWebhookEndpoint(_ context.Context, merchantID, endpointID, reason string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.endpoints[endpointID]
	if !ok || t.Endpoint.MerchantID != merchantID {
		return nil
	}
	t.Endpoint.Status, t.Endpoint.DisabledReason = billing.WebhookDisabled, reason
	w.endpoints[endpointID] = t
	return nil
}
