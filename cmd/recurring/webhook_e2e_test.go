package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestDevWebhookEndToEnd goes through the real binary: register an endpoint, make an
// initial payment, and receive its payment.succeeded event at a local receiver that
// verifies the signature with the standard-webhooks library — the API, the outbox,
// the delivery workflow and the signing all in the path.
func TestDevWebhookEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	type delivery struct {
		id      string
		verdict error
		event   struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				Object struct {
					ID          string `json:"id"`
					PaymentType string `json:"payment_type"`
					IsRecurring bool   `json:"is_recurring"`
				} `json:"object"`
			} `json:"data"`
		}
	}
	var mu sync.Mutex
	var secret string
	got := make(chan delivery, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		wh, err := standardwebhooks.NewWebhook(secret)
		mu.Unlock()
		var d delivery
		d.id = r.Header.Get("webhook-id")
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		d.verdict = err
		_ = json.Unmarshal(body, &d.event)
		got <- d
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	const key = "sk_test_e2ewebhooks0123456789ab"
	d := startDev(t, t.TempDir(), freePorts(t), key)
	var endpoint struct{ Secret string }
	// The secret is answered once; hold deliveries until the receiver knows it.
	mu.Lock()
	call(t, d.apiURL, key, http.MethodPost, "/v1/webhook-endpoints",
		fmt.Sprintf(`{"url": %q, "event_types": ["payment.succeeded"]}`, receiver.URL+"/hooks"), &endpoint)
	secret = endpoint.Secret
	mu.Unlock()

	var cus, pay struct{ ID string }
	call(t, d.apiURL, key, http.MethodPost, "/v1/customers", `{"email": "hooks@example.com"}`, &cus)
	call(t, d.apiURL, key, http.MethodPost, "/v1/payments", fmt.Sprintf(`{"customer": %q, "card": {"number": "4242424242424242",
		"exp_month": 12, "exp_year": 2035}, "amount": 2500, "currency": "USD", "save_card": true}`, cus.ID), &pay)

	select {
	case dl := <-got:
		if dl.verdict != nil {
			t.Fatalf("signature did not verify with the standard-webhooks library: %v", dl.verdict)
		}
		if dl.id != dl.event.ID || dl.event.Type != "payment.succeeded" || dl.event.Data.Object.ID != pay.ID {
			t.Errorf("delivery webhook-id %q, event %+v; want the payment.succeeded event of %s with its id as webhook-id", dl.id, dl.event, pay.ID)
		}
		if o := dl.event.Data.Object; o.PaymentType != "initial" || !o.IsRecurring {
			t.Errorf("payment_type %q is_recurring %v, want initial and true", o.PaymentType, o.IsRecurring)
		}
	case <-time.After(time.Minute):
		t.Fatalf("no webhook within a minute\n%s", d.stderr)
	}
	select {
	case dl := <-got:
		t.Errorf("a second delivery arrived (%s %s); the receiver answered 204 to the first", dl.id, dl.event.Type)
	case <-time.After(3 * time.Second):
	}
	d.stop(t)
}
