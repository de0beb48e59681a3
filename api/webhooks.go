package api

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/netguard"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/webhooks"
	"github.com/recurring/recurring/workflows"
)

// SecretRotationOverlap is how long a rotated-out secret keeps signing.
const SecretRotationOverlap = 24 * time.Hour

// CreateWebhookEndpoint implements POST /v1/webhook-endpoints.
func (s *server) CreateWebhookEndpoint(ctx context.Context, req CreateWebhookEndpointRequestObject) (CreateWebhookEndpointResponseObject, error) {
	caller := callerFrom(ctx)
	if err := netguard.CheckURL(ctx, req.Body.Url, caller.Mode == billing.ModeTest); err != nil {
		if errors.Is(err, netguard.ErrForbiddenAddress) {
			return nil, billing.Invalid("url", billing.CodeURLNotAllowed,
				"live webhook endpoints may not reach loopback, private or link-local addresses")
		}
		return nil, billing.Invalid("url", billing.CodeInvalidURL, "url must be an absolute http:// or https:// URL without credentials")
	}
	// openapi.yaml's enum (billing.EventTypes and "*") has refused any other type.
	types := make([]string, len(req.Body.EventTypes))
	for i, t := range req.Body.EventTypes {
		types[i] = string(t)
	}
	secret := webhooks.NewSecret()
	ep, err := s.store.CreateWebhookEndpoint(ctx, caller, billing.NewWebhookEndpoint{URL: req.Body.Url,
		Description: deref(req.Body.Description), EventTypes: types, Secret: secret})
	if err != nil {
		return nil, err
	}
	out := webhookEndpointOut(ep)
	out.Secret = &secret
	return CreateWebhookEndpoint201JSONResponse(out), nil
}

// ListWebhookEndpoints implements GET /v1/webhook-endpoints.
func (s *server) ListWebhookEndpoints(ctx context.Context, req ListWebhookEndpointsRequestObject) (ListWebhookEndpointsResponseObject, error) {
	page, err := s.store.ListWebhookEndpoints(ctx, callerFrom(ctx),
		billing.ListParams{Limit: deref(req.Params.Limit), StartingAfter: deref(req.Params.StartingAfter)})
	if err != nil {
		return nil, err
	}
	out := ListWebhookEndpoints200JSONResponse{Object: WebhookEndpointListObjectList, Data: []WebhookEndpoint{}, HasMore: page.HasMore}
	for _, ep := range page.Items {
		out.Data = append(out.Data, webhookEndpointOut(ep))
	}
	return out, nil
}

// GetWebhookEndpoint implements GET /v1/webhook-endpoints/{id}.
func (s *server) GetWebhookEndpoint(ctx context.Context, req GetWebhookEndpointRequestObject) (GetWebhookEndpointResponseObject, error) {
	ep, err := s.store.GetWebhookEndpoint(ctx, callerFrom(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return GetWebhookEndpoint200JSONResponse(webhookEndpointOut(ep)), nil
}

// DeleteWebhookEndpoint implements DELETE /v1/webhook-endpoints/{id}.
func (s *server) DeleteWebhookEndpoint(ctx context.Context, req DeleteWebhookEndpointRequestObject) (DeleteWebhookEndpointResponseObject, error) {
	if err := s.store.DeleteWebhookEndpoint(ctx, callerFrom(ctx), req.Id); err != nil {
		return nil, err
	}
	return DeleteWebhookEndpoint200JSONResponse{Id: req.Id, Object: string(WebhookEndpointObjectWebhookEndpoint), Deleted: true}, nil
}

// RotateWebhookSecret implements POST /v1/webhook-endpoints/{id}/rotate-secret.
func (s *server) RotateWebhookSecret(ctx context.Context, req RotateWebhookSecretRequestObject) (RotateWebhookSecretResponseObject, error) {
	secret := webhooks.NewSecret()
	ep, err := s.store.RotateWebhookSecret(ctx, callerFrom(ctx), req.Id, secret, time.Now().Add(SecretRotationOverlap))
	if err != nil {
		return nil, err
	}
	out := webhookEndpointOut(ep)
	out.Secret = &secret
	return RotateWebhookSecret200JSONResponse(out), nil
}

func webhookEndpointOut(ep billing.WebhookEndpoint) WebhookEndpoint {
	out := WebhookEndpoint{Id: ep.ID, Object: WebhookEndpointObjectWebhookEndpoint, Url: ep.URL, Description: ep.Description,
		EventTypes: ep.EventTypes, Status: WebhookEndpointStatus(ep.Status), Livemode: ep.Mode == billing.ModeLive,
		CreatedAt: ep.CreatedAt, PreviousSecretExpiresAt: ep.PreviousExpiresAt}
	if ep.DisabledReason != "" {
		out.DisabledReason = &ep.DisabledReason
	}
	return out
}

// ListEvents implements GET /v1/events.
func (s *server) ListEvents(ctx context.Context, req ListEventsRequestObject) (ListEventsResponseObject, error) {
	page, err := s.store.ListEvents(ctx, callerFrom(ctx), string(deref(req.Params.Type)),
		billing.ListParams{Limit: deref(req.Params.Limit), StartingAfter: deref(req.Params.StartingAfter)})
	if err != nil {
		return nil, err
	}
	out := ListEvents200JSONResponse{Object: EventListObjectList, Data: []Event{}, HasMore: page.HasMore}
	for _, ev := range page.Items {
		out.Data = append(out.Data, eventOut(ev))
	}
	return out, nil
}

// GetEvent implements GET /v1/events/{id}.
func (s *server) GetEvent(ctx context.Context, req GetEventRequestObject) (GetEventResponseObject, error) {
	ev, err := s.store.GetEvent(ctx, callerFrom(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return GetEvent200JSONResponse(eventOut(ev)), nil
}

// eventOut renders an event exactly as its webhooks carry it (webhooks.Payload); its
// data.object passes through as stored, already rendered by the store.
func eventOut(ev billing.Event) Event {
	var out Event
	_ = json.Unmarshal(webhooks.Payload(ev), &out) // Payload always renders a valid object
	return out
}

// ListEventAttempts implements GET /v1/events/{id}/attempts.
func (s *server) ListEventAttempts(ctx context.Context, req ListEventAttemptsRequestObject) (ListEventAttemptsResponseObject, error) {
	attempts, err := s.store.ListWebhookAttempts(ctx, callerFrom(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	out := ListEventAttempts200JSONResponse{Object: WebhookAttemptListObjectList, Data: []WebhookAttempt{}}
	for _, a := range attempts {
		w := WebhookAttempt{Id: a.ID, Object: WebhookAttemptObjectWebhookAttempt, Event: a.EventID, Endpoint: a.EndpointID,
			Delivery: &a.DeliveryID, Attempt: a.Attempt, Url: a.URL, StatusCode: a.StatusCode, DurationMs: a.DurationMS,
			CreatedAt: a.CreatedAt.UTC()}
		if a.Error != "" {
			w.Error = &a.Error
		}
		out.Data = append(out.Data, w)
	}
	return out, nil
}

// RedeliverEvent implements POST /v1/events/{id}/redeliver: a new delivery workflow
// per enabled endpoint that wants the event (an Idempotency-Key makes a retried
// request replay instead of sending again).
func (s *server) RedeliverEvent(ctx context.Context, req RedeliverEventRequestObject) (RedeliverEventResponseObject, error) {
	c, err := s.temporalClient()
	if err != nil {
		return nil, err
	}
	caller := callerFrom(ctx)
	ev, err := s.store.GetEvent(ctx, caller, req.Id)
	if err != nil {
		return nil, err
	}
	eps, err := s.store.EnabledWebhookEndpoints(ctx, caller.MerchantID, caller.Mode, ev.Type)
	if err != nil {
		return nil, err
	}
	out := RedeliverEvent202JSONResponse{Object: RedeliveryObjectRedelivery, Event: ev.ID}
	out.Deliveries = []struct {
		Delivery string `json:"delivery"`
		Endpoint string `json:"endpoint"`
	}{}
	suffix := "_r" + billing.RandomToken(5)
	for _, ep := range eps {
		id := workflows.WebhookDeliveryID(ev.ID, ep.ID) + suffix
		if err := starter.StartWebhookDelivery(ctx, c, workflows.WebhookDeliveryInput{DeliveryID: id,
			MerchantID: caller.MerchantID, EventID: ev.ID, EndpointID: ep.ID}); err != nil {
			return nil, err
		}
		out.Deliveries = append(out.Deliveries, struct {
			Delivery string `json:"delivery"`
			Endpoint string `json:"endpoint"`
		}{id, ep.ID})
	}
	return out, nil
}
