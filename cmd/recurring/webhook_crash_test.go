package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestWorkerKilledMidDelivery: the worker is SIGKILLed while a webhook request is in
// flight (the receiver holds the first request open). The restarted worker retries the
// delivery, and the receiver gets the event — none is lost.
func TestWorkerKilledMidDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	var requests atomic.Int32
	accepted := make(chan string, 8)
	inFlight := make(chan struct{})
	release := make(chan struct{})
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if requests.Add(1) == 1 {
			close(inFlight)
			<-release // hold the first attempt until its worker is dead
			return
		}
		var ev struct{ ID, Type string }
		_ = json.Unmarshal(body, &ev)
		accepted <- ev.Type + " " + r.Header.Get("webhook-id")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	defer close(release)

	st := startOpsStack(t, "hooks")
	base, key := st.base, st.key
	worker := startOps(t, st.env, "worker")

	call(t, base, key, http.MethodPost, "/v1/webhook-endpoints",
		fmt.Sprintf(`{"url": %q, "event_types": ["payment.succeeded"]}`, receiver.URL), nil)
	var cus, pay struct{ ID string }
	call(t, base, key, http.MethodPost, "/v1/customers", `{"email": "crash@example.com"}`, &cus)
	call(t, base, key, http.MethodPost, "/v1/payments", fmt.Sprintf(`{"customer": %q, "card": {"number": "4242424242424242",
		"exp_month": 12, "exp_year": 2035}, "amount": 900, "currency": "USD"}`, cus.ID), &pay)

	select {
	case <-inFlight:
	case <-time.After(time.Minute):
		t.Fatalf("no delivery attempt within a minute\n%s", worker.stderr)
	}
	if err := worker.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-worker.exited

	restarted := startOps(t, st.env, "worker")
	defer restarted.terminate(t)
	// The interrupted attempt's activity times out (30 s) before Temporal retries it.
	select {
	case got := <-accepted:
		if !strings.HasPrefix(got, "payment.succeeded evt_") {
			t.Errorf("the receiver accepted %q, want the payment.succeeded event", got)
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("the event was lost: no delivery after the worker restarted\n%s", restarted.stderr)
	}
}
