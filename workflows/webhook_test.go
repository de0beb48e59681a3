package workflows_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/webhooks"
	"github.com/recurring/recurring/workflows"
)

// receiver is a real HTTP receiver that verifies every request with the
// standard-webhooks library and answers from a script (then 204).
type receiver struct {
	t       *testing.T
	secret  string
	mu      sync.Mutex
	script  []func(w http.ResponseWriter)
	calls   int
	ids     []string
	bodies  []string
	invalid int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if err := webhooks.Verify(r.secret, body, req.Header); err != nil {
		r.invalid++
		r.t.Errorf("signature does not verify: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if len(r.script) > 0 {
		step := r.script[0]
		r.script = r.script[1:]
		step(w)
		return
	}
	// Accepted: a receiver dedupes on webhook-id.
	r.ids = append(r.ids, req.Header.Get("webhook-id"))
	r.bodies = append(r.bodies, string(body))
	w.WriteHeader(http.StatusNoContent)
}

func status(code int, header ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

type webhookRun struct {
	res    workflows.WebhookDeliveryResult
	waits  []time.Duration
	store  *activitiestest.Webhooks
	recv   *receiver
	secret string
}

func runDelivery(t *testing.T, script ...func(http.ResponseWriter)) webhookRun {
	t.Helper()
	secret := webhooks.NewSecret()
	recv := &receiver{t: t, secret: secret, script: script}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	ws := activitiestest.NewWebhooks()
	ws.AddEndpoint(billing.WebhookEndpoint{ID: "we_1", MerchantID: "mer_1", Mode: billing.ModeTest, URL: srv.URL,
		EventTypes: []string{"*"}, Status: billing.WebhookEnabled}, secret)
	ws.AddEvent(billing.Event{ID: "evt_1", MerchantID: "mer_1", Mode: billing.ModeTest, Type: "payment.succeeded",
		Data: billing.JSONDoc(`{"id":"pay_1","payment_type":"recurring","is_recurring":true}`), CreatedAt: time.Now()})
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterActivity(activities.New(activities.Deps{Webhooks: ws}))
	env.RegisterWorkflow(workflows.WebhookDelivery)
	var waits []time.Duration
	env.SetOnTimerScheduledListener(func(_ string, d time.Duration) { waits = append(waits, d) })
	env.ExecuteWorkflow(workflows.WebhookDelivery, workflows.WebhookDeliveryInput{
		DeliveryID: workflows.WebhookDeliveryID("evt_1", "we_1"), MerchantID: "mer_1", EventID: "evt_1", EndpointID: "we_1"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res workflows.WebhookDeliveryResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return webhookRun{res: res, waits: waits, store: ws, recv: recv, secret: secret}
}

func near(got, want time.Duration) bool {
	return got >= want-want/10-time.Millisecond && got <= want+want/10+time.Millisecond
}

// A receiver that fails three times then succeeds accepts the event exactly once,
// signed (verified with the standard-webhooks library), after the first waits of the
// schedule.
func TestWebhookDeliveredOnceAfterFailures(t *testing.T) {
	r := runDelivery(t, status(500), func(w http.ResponseWriter) { panic(http.ErrAbortHandler) }, status(502))
	if r.res.Outcome != activities.WebhookDelivered || r.res.Attempts != 4 {
		t.Fatalf("result %+v", r.res)
	}
	if len(r.recv.ids) != 1 || r.recv.ids[0] != "evt_1" {
		t.Fatalf("accepted %v, want evt_1 once", r.recv.ids)
	}
	if len(r.waits) != 3 || !near(r.waits[0], 5*time.Second) || !near(r.waits[1], 5*time.Minute) || !near(r.waits[2], 30*time.Minute) {
		t.Errorf("waits %v, want ~5s, ~5m, ~30m", r.waits)
	}
	if attempts := r.store.Attempts(); len(attempts) != 4 || attempts[0].StatusCode != 500 || attempts[1].Error == "" ||
		attempts[3].StatusCode != 204 || attempts[3].Attempt != 4 {
		t.Errorf("attempts %+v", attempts)
	}
	for _, want := range []string{`"id":"evt_1"`, `"type":"payment.succeeded"`, `"payment_type":"recurring"`, `"is_recurring":true`} {
		if !strings.Contains(r.recv.bodies[0], want) {
			t.Errorf("body %s lacks %s", r.recv.bodies[0], want)
		}
	}
}

// Every attempt failing: eight attempts over the whole schedule, then give up.
func TestWebhookScheduleExhausted(t *testing.T) {
	fail := make([]func(http.ResponseWriter), 20)
	for i := range fail {
		fail[i] = status(500)
	}
	r := runDelivery(t, fail...)
	if r.res.Outcome != activities.WebhookFailed || r.res.Attempts != 8 || r.recv.calls != 8 {
		t.Fatalf("result %+v after %d calls", r.res, r.recv.calls)
	}
	if len(r.waits) != len(workflows.DefaultWebhookSchedule) {
		t.Fatalf("waits %v", r.waits)
	}
	for i, w := range r.waits {
		if !near(w, workflows.DefaultWebhookSchedule[i]) {
			t.Errorf("wait %d = %v, want %v ±10%%", i, w, workflows.DefaultWebhookSchedule[i])
		}
	}
}

// 410 Gone disables the endpoint and stops at once.
func TestWebhookGoneDisablesEndpoint(t *testing.T) {
	r := runDelivery(t, status(http.StatusGone))
	if r.res.Outcome != activities.WebhookGone || r.res.Attempts != 1 || len(r.waits) != 0 {
		t.Fatalf("result %+v, waits %v", r.res, r.waits)
	}
	if ep := r.store.Endpoint("we_1"); ep.Status != billing.WebhookDisabled {
		t.Fatalf("endpoint %+v", ep)
	}
}

// 429 and 503 with Retry-After wait at least that long.
func TestWebhookHonoursRetryAfter(t *testing.T) {
	r := runDelivery(t, status(http.StatusTooManyRequests, "Retry-After", "120"), status(http.StatusServiceUnavailable, "Retry-After", "3600"))
	if r.res.Outcome != activities.WebhookDelivered || r.res.Attempts != 3 {
		t.Fatalf("result %+v", r.res)
	}
	if len(r.waits) != 2 || r.waits[0] != 120*time.Second || r.waits[1] != time.Hour {
		t.Fatalf("waits %v, want 2m then 1h", r.waits)
	}
}

// A rotated secret: both signatures are sent, each verifies on its own.
func TestWebhookSignsWithBothSecretsAfterRotation(t *testing.T) {
	old, cur := webhooks.NewSecret(), webhooks.NewSecret()
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r.Header.Clone(), must(io.ReadAll(r.Body))
	}))
	defer srv.Close()
	res := webhooks.Send(context.Background(), srv.Client(), srv.URL, "evt_1", []byte(`{"a":1}`), []string{cur, old}, time.Now())
	if !res.Delivered() {
		t.Fatalf("send: %+v", res)
	}
	for _, s := range []string{old, cur} {
		if err := webhooks.Verify(s, body, got); err != nil {
			t.Errorf("verify: %v (signature %q)", err, got.Get("webhook-signature"))
		}
	}
	if err := webhooks.Verify(webhooks.NewSecret(), body, got); err == nil {
		t.Error("a third secret verifies")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
