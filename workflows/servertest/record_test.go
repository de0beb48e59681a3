package servertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// startWithWebhooks is start with the store also serving webhook deliveries (start
// always wires them; the name says what the caller relies on).
func startWithWebhooks(t *testing.T, respond func(activitiestest.Call) (providers.ChargeResult, error)) *env {
	t.Helper()
	return startEnv(t, respond, nil, oneCard(), &activitiestest.Notifier{})
}

// startWithFakes is start with the cards the activities charge and the notifier they
// tell customers through given, so a test can detach a card or add one and read the
// notifications sent.
func startWithFakes(t *testing.T, respond func(activitiestest.Call) (providers.ChargeResult, error),
	cards *activitiestest.PaymentMethods, notifier *activitiestest.Notifier) *env {
	t.Helper()
	return startEnv(t, respond, nil, cards, notifier)
}

// TestOneShotWorkflowsOnRealServer runs a succeeded initial payment, a hard-declined
// one-off payment, a webhook delivery whose receiver fails once and then answers 200,
// and a Baseline timer on the embedded server. With -record each history is written to
// workflows/testdata (payment_succeeded.json, payment_declined.json,
// webhook_delivery_retried.json, baseline.json) for the replay test.
func TestOneShotWorkflowsOnRealServer(t *testing.T) {
	e := startWithWebhooks(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.IdempotencyKey == "pay_record_declined" {
			return providers.ChargeResult{}, activitiestest.Decline(providers.ClassHardDecline, billing.CodeCardBlocked)
		}
		return activitiestest.Succeed(c)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	caller := billing.Caller{MerchantID: e.merchant, Mode: billing.ModeTest}

	// Payments: an initial one that succeeds (and keeps the network id), a one-off one
	// the card's issuer refuses for good.
	paid, err := starter.RunPayment(ctx, e.c, workflows.PaymentInput{PaymentID: "pay_record_succeeded",
		MerchantID: e.merchant, Mode: billing.ModeTest, CustomerID: "cus_1", PaymentMethodID: "pm_card1",
		Amount: 990, Currency: "USD", Type: "ecom", Reference: "order-1", SaveCard: true})
	if err != nil || paid.Status != billing.PaymentSucceeded || paid.PaymentType != billing.PaymentInitial ||
		paid.NetworkTransactionID != "nti_pay_record_succeeded" {
		t.Fatalf("initial payment: %+v, %v", paid, err)
	}
	declined, err := starter.RunPayment(ctx, e.c, workflows.PaymentInput{PaymentID: "pay_record_declined",
		MerchantID: e.merchant, Mode: billing.ModeTest, CustomerID: "cus_1", PaymentMethodID: "pm_card1",
		Amount: 500, Currency: "USD", Type: "ecom"})
	if err != nil || declined.Status != billing.PaymentFailed || declined.PaymentType != billing.PaymentOneOff ||
		declined.FailureCode != billing.CodeCardBlocked {
		t.Fatalf("declined payment: %+v, %v", declined, err)
	}
	for id, status := range map[string]billing.PaymentStatus{paid.PaymentID: billing.PaymentSucceeded, declined.PaymentID: billing.PaymentFailed} {
		if p, err := e.db.GetPayment(ctx, caller, id); err != nil || p.Status != status {
			t.Errorf("ledger row of %s: %+v, %v; want %s", id, p, err, status)
		}
	}

	// A delivery: the receiver answers 500, then 200 after the one-second retry.
	var mu sync.Mutex
	var got []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("webhook-id"))
		if len(got) == 1 {
			http.Error(w, "not yet", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(receiver.Close)
	ep, err := e.db.CreateWebhookEndpoint(ctx, caller, billing.NewWebhookEndpoint{URL: receiver.URL,
		EventTypes: []string{"*"}, Secret: "whsec_c2VydmVydGVzdC1yZWNvcmQtc2VjcmV0"})
	if err != nil {
		t.Fatal(err)
	}
	events, err := e.db.ListEvents(ctx, caller, billing.EventPaymentSucceeded, billing.ListParams{})
	if err != nil || len(events.Items) != 1 {
		t.Fatalf("the succeeded payment's event: %+v, %v", events, err)
	}
	ev := events.Items[0]
	delivery := workflows.WebhookDeliveryInput{DeliveryID: workflows.WebhookDeliveryID(ev.ID, ep.ID),
		MerchantID: e.merchant, EventID: ev.ID, EndpointID: ep.ID, Schedule: []time.Duration{time.Second, time.Second}}
	if err := starter.StartWebhookDelivery(ctx, e.c, delivery); err != nil {
		t.Fatal(err)
	}
	var res workflows.WebhookDeliveryResult
	if err := e.c.GetWorkflow(ctx, delivery.DeliveryID, "").Get(ctx, &res); err != nil {
		t.Fatalf("delivery result: %v", err)
	}
	if res.Outcome != activities.WebhookDelivered || res.Attempts != 2 || res.StatusCode != http.StatusOK {
		t.Errorf("delivery %+v, want delivered on the second attempt", res)
	}
	mu.Lock()
	if len(got) != 2 || got[0] != ev.ID || got[1] != ev.ID {
		t.Errorf("the receiver saw webhook-ids %v, want %s twice", got, ev.ID)
	}
	mu.Unlock()
	attempts, err := e.db.ListWebhookAttempts(ctx, caller, ev.ID)
	if err != nil || len(attempts) != 2 || attempts[0].StatusCode != 500 || attempts[1].StatusCode != 200 {
		t.Errorf("recorded attempts %+v, %v; want 500 then 200", attempts, err)
	}

	// Baseline: a one-second timer, then the no-op activity.
	baseline, err := e.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "baseline_record", TaskQueue: starter.TaskQueue},
		workflows.Baseline, workflows.BaselineInput{DueAt: time.Now().Add(time.Second).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	var b workflows.BaselineResult
	if err := baseline.Get(ctx, &b); err != nil || b.FiredAt.Before(b.DueAt) || b.RanAt.Before(b.FiredAt) {
		t.Errorf("baseline %+v, %v", b, err)
	}

	if *record {
		for id, name := range map[string]string{
			paid.PaymentID:      "payment_succeeded.json",
			declined.PaymentID:  "payment_declined.json",
			delivery.DeliveryID: "webhook_delivery_retried.json",
			"baseline_record":   "baseline.json",
		} {
			writeHistory(t, history(t, e.c, id), name)
		}
	}
}

// history returns the latest run's history of workflow id.
func history(t *testing.T, c client.Client, id string) *historypb.History {
	t.Helper()
	h := &historypb.History{}
	it := c.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}

// writeHistory writes h to workflows/testdata/name in the format the replay test reads.
func writeHistory(t *testing.T, h *historypb.History, name string) {
	t.Helper()
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "testdata", name)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %s (%d events)", path, len(h.Events))
}
