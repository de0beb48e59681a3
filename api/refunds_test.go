package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/simulator"
)

type refundBody struct {
	ID               string `json:"id"`
	Object           string `json:"object"`
	Payment          string `json:"payment"`
	Amount           int64  `json:"amount"`
	Currency         string `json:"currency"`
	Status           string `json:"status"`
	Reason           string `json:"reason"`
	ProviderRefundID string `json:"provider_refund_id"`
}

type refundedPayment struct {
	ID             string `json:"id"`
	Status         string `json:"status"`
	Amount         int64  `json:"amount"`
	AmountRefunded int64  `json:"amount_refunded"`
}

// TestRefundsThroughHTTP: a payment made with a saved card is refunded in two parts
// through the simulator, each part once (an Idempotency-Key retry replays the answer);
// the payment shows amount_refunded; more than is left, another currency, a failed
// payment and another merchant's payment get 4xx naming the field; the refunds list
// by payment, the events carry them, and GET /v1/payments finds payments across
// plans by status, customer and created range. SQLite and Postgres.
func TestRefundsThroughHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	eachStore(t, fixtureOptions{temporal: withTemporal}, func(t *testing.T, f fixture) {
		start := time.Now().Add(-time.Second).UTC()
		cus := f.createCustomer(t, f.testKey, "ada@example.com")
		pm := f.saveCard(t, f.testKey, cus.ID, visa)
		var paid, failed refundedPayment
		f.ok(t, http.MethodPost, "/v1/payments", f.testKey,
			fmt.Sprintf(`{"customer":%q,"payment_method":%q,"amount":1000,"currency":"EUR"}`, cus.ID, pm.ID), &paid)
		if paid.Status != "succeeded" || paid.AmountRefunded != 0 {
			t.Fatalf("payment %+v", paid)
		}
		other := f.createCustomer(t, f.testKey, "bob@example.com")
		f.ok(t, http.MethodPost, "/v1/payments", f.testKey, fmt.Sprintf(`{"customer":%q,"card":{"number":"4000000000000002","exp_month":12,"exp_year":%d,"cvc":"123"},"amount":500,"currency":"EUR"}`,
			other.ID, nextYear), &failed)
		if failed.Status != "failed" {
			t.Fatalf("declined payment %+v", failed)
		}

		post := func(key, idem, body string) (*refundBody, errorResponse, int) {
			t.Helper()
			h := map[string]string{}
			if idem != "" {
				h["Idempotency-Key"] = idem
			}
			rec, e := f.serve(t, request{method: http.MethodPost, path: "/v1/refunds", key: key, body: body, headers: h})
			if rec.Code != http.StatusCreated {
				return nil, e, rec.Code
			}
			var r refundBody
			decode(t, rec, &r)
			return &r, e, rec.Code
		}
		first, e, code := post(f.testKey, "", fmt.Sprintf(`{"payment":%q,"amount":400,"reason":"requested_by_customer"}`, paid.ID))
		if first == nil || first.Status != "succeeded" || first.Amount != 400 || first.Currency != "EUR" ||
			!strings.HasPrefix(first.ID, "re_") || first.Object != "refund" || first.ProviderRefundID == "" || first.Reason != "requested_by_customer" {
			t.Fatalf("refund of 400 = %d %+v %+v", code, first, e)
		}
		var got refundedPayment
		if f.ok(t, http.MethodGet, "/v1/payments/"+paid.ID, f.testKey, "", &got); got.AmountRefunded != 400 {
			t.Errorf("payment after a refund of 400: %+v", got)
		}

		for name, c := range map[string]struct {
			key, body, param, code string
			status                 int
		}{
			"more than is left": {f.testKey, fmt.Sprintf(`{"payment":%q,"amount":601}`, paid.ID), "amount", billing.CodeRefundExceedsPayment, 400},
			"another currency":  {f.testKey, fmt.Sprintf(`{"payment":%q,"currency":"USD"}`, paid.ID), "currency", billing.CodeCurrencyMismatch, 400},
			"a failed payment":  {f.testKey, fmt.Sprintf(`{"payment":%q}`, failed.ID), "payment", billing.CodePaymentNotRefundable, 409},
			"another merchant":  {f.otherKey, fmt.Sprintf(`{"payment":%q}`, paid.ID), "payment", billing.CodeResourceMissing, 404},
			"the live mode":     {f.liveKey, fmt.Sprintf(`{"payment":%q}`, paid.ID), "payment", billing.CodeResourceMissing, 404},
			"no payment":        {f.testKey, `{"amount":100}`, "payment", billing.CodeParameterMissing, 400},
			"a zero amount":     {f.testKey, fmt.Sprintf(`{"payment":%q,"amount":0}`, paid.ID), "amount", "", 400},
			"an unknown reason": {f.testKey, fmt.Sprintf(`{"payment":%q,"reason":"because"}`, paid.ID), "reason", "", 400},
			"an unknown field":  {f.testKey, fmt.Sprintf(`{"payment":%q,"refund_all":true}`, paid.ID), "refund_all", billing.CodeParameterUnknown, 400},
		} {
			r, e, code := post(c.key, "", c.body)
			if r != nil || code != c.status || e.Error.Param != c.param || (c.code != "" && e.Error.Code != c.code) {
				t.Errorf("%s: %d %+v %+v; want %d %s naming %s", name, code, r, e.Error, c.status, c.code, c.param)
			}
		}

		// The rest, with an Idempotency-Key: a retry replays it and refunds nothing more.
		rest, _, _ := post(f.testKey, "refund-rest", fmt.Sprintf(`{"payment":%q,"currency":"EUR"}`, paid.ID))
		again, _, _ := post(f.testKey, "refund-rest", fmt.Sprintf(`{"payment":%q,"currency":"EUR"}`, paid.ID))
		if rest == nil || again == nil || rest.Amount != 600 || rest.Status != "succeeded" || again.ID != rest.ID {
			t.Fatalf("refund of the rest %+v, its retry %+v", rest, again)
		}
		if _, e, code := post(f.testKey, "", fmt.Sprintf(`{"payment":%q}`, paid.ID)); code != 409 || e.Error.Code != billing.CodeRefundExceedsPayment {
			t.Errorf("refund of a payment refunded in full: %d %+v", code, e.Error)
		}
		refunds := f.sim.Refunds()
		if len(refunds) != 2 || refunds[0].IdempotencyKey != first.ID || refunds[1].IdempotencyKey != rest.ID ||
			refunds[0].Amount+refunds[1].Amount != 1000 {
			t.Errorf("the simulator refunded %+v, want %s (400) and %s (600) once each", refunds, first.ID, rest.ID)
		}
		if f.ok(t, http.MethodGet, "/v1/payments/"+paid.ID, f.testKey, "", &got); got.AmountRefunded != 1000 {
			t.Errorf("payment refunded in full shows %+v", got)
		}

		var list listBody[refundBody]
		f.ok(t, http.MethodGet, "/v1/refunds?payment="+paid.ID+"&limit=1", f.testKey, "", &list)
		if len(list.Data) != 1 || !list.HasMore || list.Data[0].ID != rest.ID {
			t.Errorf("first page of the payment's refunds: %+v", list)
		}
		f.ok(t, http.MethodGet, "/v1/refunds?starting_after="+rest.ID, f.testKey, "", &list)
		if len(list.Data) != 1 || list.HasMore || list.Data[0].ID != first.ID {
			t.Errorf("second page: %+v", list)
		}
		var one refundBody
		if f.ok(t, http.MethodGet, "/v1/refunds/"+first.ID, f.testKey, "", &one); one != *first {
			t.Errorf("GET the refund = %+v, want %+v", one, *first)
		}
		if rec, _ := f.do(t, http.MethodGet, "/v1/refunds/"+first.ID, f.otherKey, ""); rec.Code != 404 {
			t.Errorf("another merchant reads the refund: %d", rec.Code)
		}
		if rec, e := f.do(t, http.MethodGet, "/v1/refunds?payment="+paid.ID, f.otherKey, ""); rec.Code != 404 || e.Error.Param != "payment" {
			t.Errorf("another merchant lists the payment's refunds: %d %+v", rec.Code, e.Error)
		}
		var events listBody[struct {
			Type string `json:"type"`
			Data struct {
				Object refundBody `json:"object"`
			} `json:"data"`
		}]
		f.ok(t, http.MethodGet, "/v1/events?type=refund.succeeded", f.testKey, "", &events)
		if len(events.Data) != 2 || events.Data[0].Data.Object.ID != rest.ID || events.Data[1].Data.Object.Amount != 400 {
			t.Errorf("refund.succeeded events: %+v", events.Data)
		}

		// Payments across plans.
		var pays listBody[refundedPayment]
		f.ok(t, http.MethodGet, "/v1/payments?status=failed", f.testKey, "", &pays)
		if len(pays.Data) != 1 || pays.Data[0].ID != failed.ID {
			t.Errorf("failed payments: %+v", pays.Data)
		}
		f.ok(t, http.MethodGet, "/v1/payments?customer="+cus.ID, f.testKey, "", &pays)
		if len(pays.Data) != 1 || pays.Data[0].ID != paid.ID || pays.Data[0].AmountRefunded != 1000 {
			t.Errorf("the customer's payments: %+v", pays.Data)
		}
		window := "created%5Bgte%5D=" + url.QueryEscape(start.Format(time.RFC3339)) + "&created%5Blt%5D=" +
			url.QueryEscape(time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
		f.ok(t, http.MethodGet, "/v1/payments?limit=1&"+window, f.testKey, "", &pays)
		if len(pays.Data) != 1 || !pays.HasMore || pays.Data[0].ID != failed.ID {
			t.Errorf("first page in the window: %+v", pays)
		}
		f.ok(t, http.MethodGet, "/v1/payments?"+window+"&starting_after="+failed.ID, f.testKey, "", &pays)
		if len(pays.Data) != 1 || pays.HasMore || pays.Data[0].ID != paid.ID {
			t.Errorf("second page in the window: %+v", pays)
		}
		f.ok(t, http.MethodGet, "/v1/payments", f.otherKey, "", &pays)
		if len(pays.Data) != 0 {
			t.Errorf("another merchant lists %d payments", len(pays.Data))
		}
		for q, param := range map[string]string{
			"status=unknown":             "status",
			"created%5Bgte%5D=yesterday": "created[gte]",
			"created%5Bgte%5D=2026-01-02T00:00:00Z&created%5Blt%5D=2026-01-01T00:00:00Z": "created[lt]",
			"starting_after=pay_nobody": "starting_after",
		} {
			if rec, e := f.do(t, http.MethodGet, "/v1/payments?"+q, f.testKey, ""); rec.Code != 400 || e.Error.Param != param {
				t.Errorf("GET /v1/payments?%s = %d %+v, want 400 naming %s", q, rec.Code, e.Error, param)
			}
		}
	})
}

// slowRefunds is the simulator (under another name) whose refunds wait until released:
// a provider that answers a refund later than the API waits.
type slowRefunds struct {
	*simulator.Simulator
	mu      sync.Mutex
	release chan struct{}
}

func (s *slowRefunds) gate() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.release
}

func (s *slowRefunds) Refund(ctx context.Context, req providers.RefundRequest) (providers.RefundResult, error) {
	select {
	case <-s.gate():
	case <-ctx.Done():
		return providers.RefundResult{}, providers.TransportError(s.Name(), ctx.Err())
	}
	return s.Simulator.Refund(ctx, req)
}

// TestRefundAnsweredPendingThenSettles: a provider slower than the API's wait gets the
// refund answered 201 pending (its amount reserved: a second full refund is refused);
// once the provider answers, the refund is succeeded, and the same request with the
// same Idempotency-Key joins it instead of being refused as exceeding the payment. The
// provider refunded once. SQLite and Postgres.
func TestRefundAnsweredPendingThenSettles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded Temporal server")
	}
	sim, err := simulator.New(simulator.Options{Name: "slowsim"})
	if err != nil {
		t.Fatal(err)
	}
	slow := &slowRefunds{Simulator: sim}
	eachStore(t, fixtureOptions{temporal: withTemporal, providers: []providers.Provider{slow}, refundWait: 3 * time.Second},
		func(t *testing.T, f fixture) {
			release := make(chan struct{})
			slow.mu.Lock()
			slow.release = release
			slow.mu.Unlock()
			cus := f.createCustomer(t, f.testKey, "ada@example.com")
			var pm struct{ ID string }
			f.ok(t, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods", f.testKey,
				fmt.Sprintf(`{"provider": "slowsim", "card": {"number": %q, "exp_month": 12, "exp_year": %d, "cvc": "123"}}`, visa, nextYear), &pm)
			var paid refundedPayment
			f.ok(t, http.MethodPost, "/v1/payments", f.testKey,
				fmt.Sprintf(`{"customer":%q,"payment_method":%q,"amount":700,"currency":"EUR"}`, cus.ID, pm.ID), &paid)
			body := fmt.Sprintf(`{"payment":%q}`, paid.ID)
			key := map[string]string{"Idempotency-Key": "slow-refund-" + paid.ID}
			rec, _ := f.serve(t, request{method: http.MethodPost, path: "/v1/refunds", key: f.testKey, body: body, headers: key})
			var first refundBody
			if rec.Code != http.StatusCreated {
				t.Fatalf("refund with a slow provider = %d %s\n%s", rec.Code, rec.Body, f.logs)
			}
			decode(t, rec, &first)
			if first.Status != "pending" || first.Amount != 700 {
				t.Fatalf("refund with a slow provider = %+v, want pending 700", first)
			}
			if rec, e := f.do(t, http.MethodPost, "/v1/refunds", f.testKey, body); rec.Code != 409 || e.Error.Code != billing.CodeRefundExceedsPayment {
				t.Errorf("another full refund while one is pending = %d %+v", rec.Code, e.Error)
			}
			close(release)
			deadline := time.Now().Add(30 * time.Second)
			var now refundBody
			for f.ok(t, http.MethodGet, "/v1/refunds/"+first.ID, f.testKey, "", &now); now.Status == "pending" && time.Now().Before(deadline); {
				time.Sleep(100 * time.Millisecond)
				f.ok(t, http.MethodGet, "/v1/refunds/"+first.ID, f.testKey, "", &now)
			}
			if now.Status != "succeeded" {
				t.Fatalf("the refund after the provider answered: %+v", now)
			}
			rec, _ = f.serve(t, request{method: http.MethodPost, path: "/v1/refunds", key: f.testKey, body: body, headers: key})
			var again refundBody
			if rec.Code != http.StatusCreated {
				t.Fatalf("the same refund again = %d %s", rec.Code, rec.Body)
			}
			decode(t, rec, &again)
			if again != first || rec.Header().Get("Idempotent-Replayed") != "true" {
				t.Errorf("the same refund again = %+v, want the first answer replayed", again)
			}
			// When the first answer was not kept (a 5xx, or a key past its 24 hours), the
			// same key reaches the handler again: it joins the refund instead of
			// refusing it as more than is left.
			if _, err := f.db.ExecContext(context.Background(), `DELETE FROM idempotency_keys`); err != nil {
				t.Fatal(err)
			}
			rec, _ = f.serve(t, request{method: http.MethodPost, path: "/v1/refunds", key: f.testKey, body: body, headers: key})
			var joined refundBody
			if rec.Code != http.StatusCreated {
				t.Fatalf("the same refund, its answer forgotten = %d %s", rec.Code, rec.Body)
			}
			if decode(t, rec, &joined); joined.ID != first.ID || joined.Status != "succeeded" {
				t.Errorf("the same refund, its answer forgotten = %+v, want %s succeeded", joined, first.ID)
			}
			n := 0
			for _, r := range sim.Refunds() {
				if r.IdempotencyKey == first.ID {
					n++
				}
			}
			if n != 1 {
				t.Errorf("the provider refunded %s %d times, want once", first.ID, n)
			}
		})
}

// TestDetachQueuesRemovalAtTheProvider: detaching a card through HTTP, or deleting its
// customer, queues the card's sealed token for removal at its provider (the worker's
// dispatcher takes it from there); the API answers no card details either way, and
// another merchant's detach queues nothing. SQLite and Postgres.
func TestDetachQueuesRemovalAtTheProvider(t *testing.T) {
	eachStore(t, fixtureOptions{}, func(t *testing.T, f fixture) {
		ctx := context.Background()
		cus := f.createCustomer(t, f.testKey, "ada@example.com")
		one := f.saveCard(t, f.testKey, cus.ID, visa)
		two := f.saveCard(t, f.testKey, cus.ID, visa)
		if rec, _ := f.do(t, http.MethodPost, "/v1/payment-methods/"+one.ID+"/detach", f.otherKey, ""); rec.Code != 404 {
			t.Errorf("another merchant's detach = %d", rec.Code)
		}
		if pending, _ := f.db.UnstartedCredentialRemovals(ctx, 10); len(pending) != 0 {
			t.Errorf("queued before any detach: %v", pending)
		}
		var detached struct {
			Status string          `json:"status"`
			Card   json.RawMessage `json:"card"`
		}
		f.ok(t, http.MethodPost, "/v1/payment-methods/"+one.ID+"/detach", f.testKey, "", &detached)
		if detached.Status != "detached" || len(detached.Card) != 0 {
			t.Errorf("detach answered %+v", detached)
		}
		f.ok(t, http.MethodDelete, "/v1/customers/"+cus.ID, f.testKey, "", nil)
		pending, err := f.db.UnstartedCredentialRemovals(ctx, 10)
		if err != nil || len(pending) != 2 || pending[0][1] != one.ID || pending[1][1] != two.ID {
			t.Fatalf("queued removals %v, %v; want %s and %s", pending, err, one.ID, two.ID)
		}
		for _, id := range []string{one.ID, two.ID} {
			c, ok, err := f.db.CredentialToRemove(ctx, f.merchantID, id)
			if err != nil || !ok || c.Token == "" || c.Provider != "simulator" {
				t.Errorf("credential of %s to remove: %+v %v %v", id, c.Provider, ok, err)
			}
		}
	})
}
