package worker_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/worker"
	"github.com/recurring/recurring/workflows"
)

// fakeStarter is a Temporal client that only starts workflows: it remembers every
// started id (a second start of one is WorkflowExecutionAlreadyStarted, as with
// REJECT_DUPLICATE) and can fail the nth start, like a process dying there.
type fakeStarter struct {
	client.Client
	mu      sync.Mutex
	started map[string]bool
	calls   int
	failAt  int
}

func (f *fakeStarter) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls == f.failAt {
		return nil, errors.New("connection lost")
	}
	if f.started[o.ID] {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", "")
	}
	f.started[o.ID] = true
	return nil, nil
}

// An event whose dispatch was cut short (the process died after starting one of its
// two deliveries) stays undispatched; the next dispatcher starts the missing delivery,
// starts nothing twice, and marks the event.
func TestDispatcherResumesAfterACrash(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if db.Keyring, err = seal.Parse(seal.Generate("k1")); err != nil {
		t.Fatal(err)
	}
	m, err := db.CreateMerchant(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	caller := billing.Caller{MerchantID: m.ID, Mode: billing.ModeTest}
	var eps []billing.WebhookEndpoint
	for _, types := range [][]string{{"*"}, {"payment.succeeded"}, {"plan.canceled"}} {
		ep, err := db.CreateWebhookEndpoint(ctx, caller, billing.NewWebhookEndpoint{URL: "http://127.0.0.1:1/", EventTypes: types, Secret: "whsec_AAAA"})
		if err != nil {
			t.Fatal(err)
		}
		eps = append(eps, ep)
	}
	ev, err := db.AppendEvent(ctx, billing.Event{MerchantID: m.ID, Mode: billing.ModeTest, Type: "payment.succeeded", IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeStarter{started: map[string]bool{}, failAt: 2}
	d := &worker.Dispatcher{Store: db, Temporal: c}
	if _, err := d.Pass(ctx); err == nil {
		t.Fatal("the cut-short pass succeeded")
	}
	if evs, _ := db.UndispatchedEvents(ctx, 10); len(evs) != 1 {
		t.Fatalf("event dispatched although a delivery was not started: %v", evs)
	}
	d = &worker.Dispatcher{Store: db, Temporal: c} // "restarted"
	if n, err := d.Pass(ctx); err != nil || n != 1 {
		t.Fatalf("pass = %d, %v", n, err)
	}
	want := map[string]bool{workflows.WebhookDeliveryID(ev.ID, eps[0].ID): true, workflows.WebhookDeliveryID(ev.ID, eps[1].ID): true}
	if len(c.started) != 2 || !c.started[workflows.WebhookDeliveryID(ev.ID, eps[0].ID)] || !c.started[workflows.WebhookDeliveryID(ev.ID, eps[1].ID)] {
		t.Fatalf("started %v, want %v", c.started, want)
	}
	if evs, _ := db.UndispatchedEvents(ctx, 10); len(evs) != 0 {
		t.Fatalf("still undispatched: %v", evs)
	}
	if n, _ := d.Pass(ctx); n != 0 {
		t.Fatalf("a dispatched event was dispatched again")
	}
}

// cards is a fixed list of expiry notices.
type cards []billing.CardExpiryNotice

func (c cards) NoticeExpiringCards(context.Context, time.Time, int) ([]billing.CardExpiryNotice, error) {
	return c, nil
}

// sentNotes records notifications.
type sentNotes struct{ sent []billing.Notification }

func (s *sentNotes) Notify(_ context.Context, n billing.Notification) error {
	s.sent = append(s.sent, n)
	return nil
}

// TestCardExpiryPassTellsCustomers: each notice written becomes the customer's
// card_expiring or card_expired notification, naming the card and its expiry.
func TestCardExpiryPassTellsCustomers(t *testing.T) {
	expires := time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)
	notes := &sentNotes{}
	d := &worker.Dispatcher{Cards: cards{
		{Event: billing.EventPaymentMethodExpiring, ExpiresAt: expires, PaymentMethod: billing.PaymentMethod{ID: "pm_1", MerchantID: "mer_1", CustomerID: "cus_1"}},
		{Event: billing.EventPaymentMethodExpired, ExpiresAt: expires, PaymentMethod: billing.PaymentMethod{ID: "pm_2", MerchantID: "mer_1", CustomerID: "cus_2"}},
	}, Notifier: notes}
	n, err := d.PassCardExpiry(context.Background(), time.Now())
	if err != nil || n != 2 {
		t.Fatalf("pass: %d, %v", n, err)
	}
	if len(notes.sent) != 2 || notes.sent[0].Kind != billing.NotifyCardExpiring || notes.sent[0].PaymentMethodID != "pm_1" ||
		!notes.sent[0].ExpiresAt.Equal(expires) || notes.sent[1].Kind != billing.NotifyCardExpired || notes.sent[1].CustomerID != "cus_2" ||
		notes.sent[1].IdempotencyKey != "payment_method/pm_2/payment_method_expired" {
		t.Errorf("notifications %+v", notes.sent)
	}
}
