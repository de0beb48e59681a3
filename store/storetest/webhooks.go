package storetest

import (
	"slices"
	"testing"

	"github.com/recurring/recurring/billing"
)

// Delivery names what a webhook delivery works on: a merchant's enabled endpoint
// (signing with Secret) and one of its events.
type Delivery struct {
	MerchantID string
	EndpointID string
	EventID    string
	Secret     string
}

// WebhookSubject is a billing.WebhookDeliveries under test with the means to set it up
// and observe it.
type WebhookSubject struct {
	Deliveries billing.WebhookDeliveries
	// Setup stores, for a new merchant, an enabled endpoint wanting every event type
	// and one event.
	Setup func(t *testing.T) Delivery
	// Attempts returns the attempts recorded for the delivery's event, oldest first.
	Attempts func(t *testing.T, d Delivery) []billing.WebhookAttempt
}

// RunWebhookDeliveries runs the webhook delivery contract against fresh subjects.
func RunWebhookDeliveries(t *testing.T, newSubject func(t *testing.T) WebhookSubject) {
	t.Run("EventsAndEndpointsAreTheMerchants", func(t *testing.T) {
		s := newSubject(t)
		d, other := s.Setup(t), s.Setup(t)
		ev, err := s.Deliveries.EventByID(ctx, d.MerchantID, d.EventID)
		if err != nil || ev.ID != d.EventID || ev.MerchantID != d.MerchantID || len(ev.Data) == 0 {
			t.Fatalf("own event: %+v, %v", ev, err)
		}
		_, err = s.Deliveries.EventByID(ctx, other.MerchantID, d.EventID)
		wantKind(t, "another merchant's event", err, billing.KindNotFound)
		target, err := s.Deliveries.WebhookTarget(ctx, d.MerchantID, d.EndpointID)
		if err != nil || target.Endpoint.ID != d.EndpointID || target.Endpoint.Status != billing.WebhookEnabled ||
			!slices.Equal(target.Secrets, []string{d.Secret}) {
			t.Fatalf("own endpoint: %+v (%d secrets), %v", target.Endpoint, len(target.Secrets), err)
		}
		_, err = s.Deliveries.WebhookTarget(ctx, other.MerchantID, d.EndpointID)
		wantKind(t, "another merchant's endpoint", err, billing.KindNotFound)
	})
	t.Run("AnAttemptIsRecordedOnce", func(t *testing.T) {
		s := newSubject(t)
		d := s.Setup(t)
		attempt := func(n, code int) billing.WebhookAttempt {
			return billing.WebhookAttempt{MerchantID: d.MerchantID, Mode: billing.ModeTest, EventID: d.EventID,
				EndpointID: d.EndpointID, DeliveryID: "whd_contract_" + d.EventID, Attempt: n,
				URL: "https://receiver.example/hook", StatusCode: code, DurationMS: 12}
		}
		for _, a := range []billing.WebhookAttempt{attempt(1, 500), attempt(1, 500), attempt(2, 204)} {
			if err := s.Deliveries.RecordWebhookAttempt(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		got := s.Attempts(t, d)
		if len(got) != 2 || got[0].Attempt != 1 || got[0].StatusCode != 500 || got[1].Attempt != 2 || got[1].StatusCode != 204 {
			t.Fatalf("attempts %+v, want attempt 1 (500) and 2 (204) once each", got)
		}
	})
	t.Run("ADisabledEndpointSaysWhy", func(t *testing.T) {
		s := newSubject(t)
		d, other := s.Setup(t), s.Setup(t)
		if err := s.Deliveries.DisableWebhookEndpoint(ctx, other.MerchantID, d.EndpointID, "not yours"); err != nil {
			t.Fatal(err)
		}
		if target, err := s.Deliveries.WebhookTarget(ctx, d.MerchantID, d.EndpointID); err != nil || target.Endpoint.Status != billing.WebhookEnabled {
			t.Fatalf("another merchant disabled the endpoint: %+v, %v", target.Endpoint, err)
		}
		if err := s.Deliveries.DisableWebhookEndpoint(ctx, d.MerchantID, d.EndpointID, "receiver answered 410 Gone"); err != nil {
			t.Fatal(err)
		}
		target, err := s.Deliveries.WebhookTarget(ctx, d.MerchantID, d.EndpointID)
		if err != nil || target.Endpoint.Status != billing.WebhookDisabled || target.Endpoint.DisabledReason != "receiver answered 410 Gone" {
			t.Fatalf("disabled endpoint: %+v, %v", target.Endpoint, err)
		}
	})
}
