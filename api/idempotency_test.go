package api_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func (f fixture) post(t testing.TB, path, key, idemKey, body string) (int, string, errorResponse, http.Header) {
	t.Helper()
	rec, e := f.serve(t, request{method: http.MethodPost, path: path, key: key, body: body,
		headers: map[string]string{"Idempotency-Key": idemKey}})
	return rec.Code, rec.Body.String(), e, rec.Header()
}

func countCustomers(t testing.TB, f fixture, key string) int {
	t.Helper()
	var list listBody[customerBody]
	f.ok(t, http.MethodGet, "/v1/customers?limit=100", key, "", &list)
	return len(list.Data)
}

func TestIdempotentReplay(t *testing.T) {
	f := newFixture(t, nil)
	body := `{"email": "ada@example.com", "metadata": {"a": "1", "b": "2"}}`
	status, first, _, h := f.post(t, "/v1/customers", f.testKey, "key-1", body)
	if status != http.StatusCreated || h.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first = %d %s", status, first)
	}
	// The same request again, and re-encoded with its members in another order.
	for _, again := range []string{body, `{"metadata":{"b":"2","a":"1"},"email":"ada@example.com"}`} {
		status, replay, _, h := f.post(t, "/v1/customers", f.testKey, "key-1", again)
		if status != http.StatusCreated || replay != first || h.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay = %d %s (replayed %q), want %s", status, replay, h.Get("Idempotent-Replayed"), first)
		}
	}
	if n := countCustomers(t, f, f.testKey); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}

	// The same key with another body, or on another route, is refused.
	status, _, e, _ := f.post(t, "/v1/customers", f.testKey, "key-1", `{"email": "eve@example.com"}`)
	if status != http.StatusConflict || e.Error.Code != "idempotency_key_reused" || e.Error.Param != "Idempotency-Key" {
		t.Errorf("other body = %d %s", status, e.Error.Code)
	}
	c := f.createCustomer(t, f.testKey, "x@example.com")
	status, _, e, _ = f.post(t, "/v1/customers/"+c.ID+"/payment-methods", f.testKey, "key-1", cardJSON(visa))
	if status != http.StatusConflict || e.Error.Code != "idempotency_key_reused" {
		t.Errorf("same key on another route = %d %s", status, e.Error.Code)
	}

	// Keys belong to a merchant and a mode: the same key elsewhere executes.
	for _, key := range []string{f.otherKey, f.liveKey} {
		if status, out, _, h := f.post(t, "/v1/customers", key, "key-1", body); status != http.StatusCreated || out == first || h.Get("Idempotent-Replayed") != "" {
			t.Errorf("same key, other scope = %d %s", status, out)
		}
	}

	// Errors the handler decided are replayed too.
	status, notFound, _, _ := f.post(t, "/v1/payment-methods/pm_nope/block", f.testKey, "key-2", "")
	status2, notFound2, _, h := f.post(t, "/v1/payment-methods/pm_nope/block", f.testKey, "key-2", "")
	if status != 404 || status2 != 404 || h.Get("Idempotent-Replayed") != "true" ||
		strings.Replace(notFound, requestIDOf(notFound), "", 1) != strings.Replace(notFound2, requestIDOf(notFound2), "", 1) {
		t.Errorf("404 replay: %d %s then %d %s", status, notFound, status2, notFound2)
	}
}

func requestIDOf(body string) string {
	_, rest, _ := strings.Cut(body, `"request_id":"`)
	id, _, _ := strings.Cut(rest, `"`)
	return id
}

// A request that fails validation is not remembered, so the client can fix it and
// retry under the same key.
func TestIdempotencyIgnoresInvalidRequests(t *testing.T) {
	f := newFixture(t, nil)
	status, _, e, _ := f.post(t, "/v1/customers", f.testKey, "k", `{"email": "ada@example.com", "phone": "1"}`)
	if status != 400 || e.Error.Code != "parameter_unknown" {
		t.Fatalf("invalid = %d %s", status, e.Error.Code)
	}
	if status, out, _, _ := f.post(t, "/v1/customers", f.testKey, "k", `{"email": "ada@example.com"}`); status != http.StatusCreated {
		t.Fatalf("fixed retry = %d %s", status, out)
	}
	status, _, e, _ = f.post(t, "/v1/customers", f.testKey, strings.Repeat("k", 256), `{"email": "ada@example.com"}`)
	if status != 400 || e.Error.Param != "Idempotency-Key" {
		t.Errorf("256-character key = %d %s %s", status, e.Error.Code, e.Error.Param)
	}
}

// Concurrent requests with one key: exactly one executes. The others are told the key
// is in use (or, once it finished, get its response), and only one customer and one
// card exist afterwards.
func TestIdempotencyConcurrentRequests(t *testing.T) {
	f := newFixture(t, nil)
	c := f.createCustomer(t, f.testKey, "ada@example.com")
	for _, tc := range []struct{ path, body string }{
		{"/v1/customers", `{"email": "race@example.com"}`},
		{"/v1/customers/" + c.ID + "/payment-methods", cardJSON(visa)},
	} {
		const n = 12
		var wg sync.WaitGroup
		var mu sync.Mutex
		created, replayed, inUse := 0, 0, 0
		var bodies []string
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				status, body, e, h := f.post(t, tc.path, f.testKey, "race-"+tc.path, tc.body)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case status == http.StatusCreated && h.Get("Idempotent-Replayed") == "true":
					replayed++
					bodies = append(bodies, body)
				case status == http.StatusCreated:
					created++
					bodies = append(bodies, body)
				case status == http.StatusConflict && e.Error.Code == "idempotency_key_in_use":
					inUse++
				default:
					t.Errorf("%s: %d %s", tc.path, status, body)
				}
			})
		}
		close(start)
		wg.Wait()
		t.Logf("%s: %d executed, %d replayed, %d in use", tc.path, created, replayed, inUse)
		if created != 1 || created+replayed+inUse != n {
			t.Fatalf("%s: %d executed, %d replayed, %d in use; want exactly 1 executed", tc.path, created, replayed, inUse)
		}
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				t.Errorf("%s: replay %s differs from %s", tc.path, b, bodies[0])
			}
		}
	}
	if n := countCustomers(t, f, f.testKey); n != 2 {
		t.Errorf("%d customers, want 2", n)
	}
	var cards listBody[paymentMethodBody]
	f.ok(t, http.MethodGet, "/v1/customers/"+c.ID+"/payment-methods", f.testKey, "", &cards)
	if len(cards.Data) != 1 {
		t.Errorf("%d cards saved, want 1", len(cards.Data))
	}
}

// After 24 hours a key is forgotten: the same key may be used for something else.
func TestIdempotencyKeysExpire(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now()
	f.db.Now = func() time.Time { return now }
	if status, _, _, _ := f.post(t, "/v1/customers", f.testKey, "daily", `{"email": "a@example.com"}`); status != 201 {
		t.Fatal(status)
	}
	now = now.Add(23 * time.Hour)
	if status, _, e, _ := f.post(t, "/v1/customers", f.testKey, "daily", `{"email": "b@example.com"}`); status != 409 {
		t.Fatalf("after 23 h = %d %s, want the key still held", status, e.Error.Code)
	}
	now = now.Add(2 * time.Hour)
	if status, _, _, h := f.post(t, "/v1/customers", f.testKey, "daily", `{"email": "b@example.com"}`); status != 201 || h.Get("Idempotent-Replayed") != "" {
		t.Fatalf("after 25 h = %d, want a fresh execution", status)
	}
	if n, err := f.db.PurgeIdempotencyKeys(context.Background()); err != nil || n != 0 {
		t.Errorf("purge = %d, %v; the key was renewed", n, err)
	}
}
