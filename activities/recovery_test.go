package activities_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
)

// planSessions is a billing.PaymentSessionService holding one open page per plan.
type planSessions struct {
	billing.PaymentSessionService // only OpenPlanSession is used
	open                          map[string]billing.PaymentSession
}

func (s planSessions) OpenPlanSession(_ context.Context, caller billing.Caller, planID string, startPlan bool) (billing.PaymentSession, error) {
	ps, ok := s.open[planID]
	if !ok || ps.MerchantID != caller.MerchantID || ps.StartPlan != startPlan {
		return billing.PaymentSession{}, &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: "none"}
	}
	return ps, nil
}

type capturedNotes struct {
	mu    sync.Mutex
	notes []billing.Notification
}

func (c *capturedNotes) Notify(_ context.Context, n billing.Notification) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notes = append(c.notes, n)
	return nil
}

// TestRecoveryLinksReachWebhooksAndEmails: a plan.action_required event is sent with
// the plan's open card-change page (payment_url, payment_session) added to data.object
// as it is sent; a plan without such a page (only a page that starts it), and other
// event types, go out as stored; the customer's notification carries the link.
func TestRecoveryLinksReachWebhooksAndEmails(t *testing.T) {
	var mu sync.Mutex
	bodies := map[string]string{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies[r.Header.Get("webhook-id")] = string(b)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	wh := activitiestest.NewWebhooks()
	wh.AddEndpoint(billing.WebhookEndpoint{ID: "we_1", MerchantID: "mer_1", Mode: billing.ModeTest, URL: receiver.URL,
		Status: billing.WebhookEnabled}, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	events := map[string]billing.Event{
		"evt_waits":   {ID: "evt_waits", Type: billing.EventPlanActionRequired, Data: []byte(`{"object":{"id":"plan_1","status":"action_required"}}`)},
		"evt_no_page": {ID: "evt_no_page", Type: billing.EventPlanPastDue, Data: []byte(`{"object":{"id":"plan_2","status":"past_due"}}`)},
		"evt_other":   {ID: "evt_other", Type: billing.EventPlanUpdated, Data: []byte(`{"object":{"id":"plan_1","status":"active"}}`)},
	}
	for _, ev := range events {
		ev.MerchantID, ev.Mode = "mer_1", billing.ModeTest
		wh.AddEvent(ev)
	}
	notes := &capturedNotes{}
	acts := activities.New(activities.Deps{Webhooks: wh, Notifier: notes, PublicURL: "https://pay.example/",
		Sessions: planSessions{open: map[string]billing.PaymentSession{
			"plan_1": {ID: "ps_open", MerchantID: "mer_1", Mode: billing.ModeTest, PlanID: "plan_1", Token: "tok_secret_page",
				Status: billing.PaymentSessionOpen},
			"plan_2": {ID: "ps_start", MerchantID: "mer_1", Mode: billing.ModeTest, PlanID: "plan_2", Token: "tok_start_page",
				Status: billing.PaymentSessionOpen, StartPlan: true},
		}}})
	ctx := context.Background()
	for id := range events {
		res, err := acts.DeliverWebhook(ctx, activities.DeliverWebhookRequest{MerchantID: "mer_1", EndpointID: "we_1",
			EventID: id, DeliveryID: "del_" + id, Attempt: 1})
		if err != nil || res.Outcome != activities.WebhookDelivered {
			t.Fatalf("deliver %s: %+v, %v", id, res, err)
		}
	}
	object := func(id string) map[string]any {
		var body struct {
			Data struct {
				Object map[string]any `json:"object"`
			} `json:"data"`
		}
		mu.Lock()
		defer mu.Unlock()
		if err := json.Unmarshal([]byte(bodies[id]), &body); err != nil {
			t.Fatalf("%s: %v in %q", id, err, bodies[id])
		}
		return body.Data.Object
	}
	if o := object("evt_waits"); o["payment_url"] != "https://pay.example/pay/tok_secret_page" || o["payment_session"] != "ps_open" || o["id"] != "plan_1" {
		t.Errorf("plan.action_required sent as %v, want the plan's page added", o)
	}
	for _, id := range []string{"evt_no_page", "evt_other"} {
		if o := object(id); o["payment_url"] != nil {
			t.Errorf("%s sent with payment_url %v", id, o["payment_url"])
		}
	}

	for _, kind := range []string{activities.NotifyActionRequired, activities.NotifyPlanFailed} {
		if err := acts.Notify(ctx, billing.Notification{Kind: kind, MerchantID: "mer_1", Mode: billing.ModeTest,
			CustomerID: "cus_1", PlanID: "plan_1", IdempotencyKey: "k/" + kind}); err != nil {
			t.Fatal(err)
		}
	}
	if len(notes.notes) != 2 || notes.notes[0].PaymentURL != "https://pay.example/pay/tok_secret_page" || notes.notes[1].PaymentURL != "" {
		t.Errorf("notifications %+v, want the link on action_required only", notes.notes)
	}
}
