package store_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store"
)

func TestIdempotencyKeyLifecycle(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		now := time.Now()
		db.Now = func() time.Time { return now }
		req := []byte("POST /v1/customers {\"email\":\"a@example.com\"}")

		c, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k1", req, time.Minute)
		if err != nil || c.Replayed {
			t.Fatalf("first claim: %+v, %v", c, err)
		}
		_, err = db.ClaimIdempotencyKey(ctx, ten.aTest, "k1", req, time.Minute)
		wantKind(t, "claim while executing", err, billing.KindConflict, billing.CodeIdempotencyKeyInUse)
		_, err = db.ClaimIdempotencyKey(ctx, ten.aTest, "k1", []byte("other"), time.Minute)
		wantKind(t, "other request while executing", err, billing.KindConflict, billing.CodeIdempotencyKeyReused)

		// Keys are per merchant and mode.
		for name, other := range map[string]billing.Caller{"other merchant": ten.bTest, "live mode": ten.aLive} {
			oc, err := db.ClaimIdempotencyKey(ctx, other, "k1", []byte("other"), time.Minute)
			if err != nil || oc.Replayed {
				t.Errorf("%s claiming the same key: %+v, %v", name, oc, err)
			}
		}

		if err := db.CompleteIdempotencyKey(ctx, ten.aTest, c, 201, []byte(`{"id":"cus_1"}`)); err != nil {
			t.Fatal(err)
		}
		r, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k1", req, time.Minute)
		if err != nil || !r.Replayed || r.Status != 201 || string(r.Response) != `{"id":"cus_1"}` {
			t.Fatalf("replay: %+v, %v", r, err)
		}
		_, err = db.ClaimIdempotencyKey(ctx, ten.aTest, "k1", []byte("other"), time.Minute)
		wantKind(t, "reuse with another request", err, billing.KindConflict, billing.CodeIdempotencyKeyReused)

		// Still kept just before 24 h, gone after.
		now = now.Add(billing.IdempotencyTTL - time.Second)
		if r, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k1", req, time.Minute); err != nil || !r.Replayed {
			t.Fatalf("replay after 23:59:59: %+v, %v", r, err)
		}
		now = now.Add(2 * time.Second)
		if r, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k1", []byte("other"), time.Minute); err != nil || r.Replayed {
			t.Fatalf("claim of an expired key for another request: %+v, %v", r, err)
		}
		now = now.Add(billing.IdempotencyTTL)
		n, err := db.PurgeIdempotencyKeys(ctx)
		if err != nil || n != 3 {
			t.Errorf("purge: %d, %v; want the 3 keys left", n, err)
		}
	})
}

func TestIdempotencyReleaseAndAbandonedClaims(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		now := time.Now()
		db.Now = func() time.Time { return now }
		req := []byte("req")

		c, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k", req, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.ReleaseIdempotencyKey(ctx, ten.aTest, c); err != nil {
			t.Fatal(err)
		}
		// Released: the retry executes, even with another body.
		c2, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k", req, time.Minute)
		if err != nil || c2.Replayed {
			t.Fatalf("claim after release: %+v, %v", c2, err)
		}
		// The holder crashed: after its lease the same request takes over, and the old
		// holder can no longer store a response.
		now = now.Add(2 * time.Minute)
		_, err = db.ClaimIdempotencyKey(ctx, ten.aTest, "k", []byte("different"), time.Minute)
		wantKind(t, "another request after the lease", err, billing.KindConflict, billing.CodeIdempotencyKeyReused)
		c3, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k", req, time.Minute)
		if err != nil || c3.Replayed {
			t.Fatalf("takeover after the lease: %+v, %v", c3, err)
		}
		if err := db.CompleteIdempotencyKey(ctx, ten.aTest, c2, 500, []byte("stale")); err != nil {
			t.Fatal(err)
		}
		if err := db.CompleteIdempotencyKey(ctx, ten.aTest, c3, 200, []byte("fresh")); err != nil {
			t.Fatal(err)
		}
		r, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k", req, time.Minute)
		if err != nil || string(r.Response) != "fresh" {
			t.Fatalf("replay after takeover: %+v, %v", r, err)
		}
	})
}

// Of many concurrent claims of one key, exactly one wins.
func TestIdempotencyConcurrentClaims(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, inUse := 0, 0
		for range n {
			wg.Go(func() {
				c, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "race", []byte("req"), time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && !c.Replayed:
					won++
				case billing.KindOf(err) == billing.KindConflict:
					inUse++
				default:
					t.Errorf("claim: %+v, %v", c, err)
				}
			})
		}
		wg.Wait()
		if won != 1 || inUse != n-1 {
			t.Fatalf("%d claims won and %d were told the key is in use, want 1 and %d", won, inUse, n-1)
		}
	})
}

// TestIdempotencyLeaseRenewal: a running request renews its claim, so it keeps the key
// past the first lease; once renewals stop (the process died) the key is taken over
// one lease after the last renewal, and the dead holder's renewal then fails.
func TestIdempotencyLeaseRenewal(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ten := newTenants(t, db)
		now := time.Now()
		db.Now = func() time.Time { return now }
		req := []byte("POST /v1/plans {}")
		const lease = 8 * time.Second

		c, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k", req, lease)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 { // 5 renewals, 2 s apart: 10 s, past the first lease
			now = now.Add(2 * time.Second)
			if held, err := db.RenewIdempotencyKey(ctx, ten.aTest, c, lease); err != nil || !held {
				t.Fatalf("renew: %t, %v", held, err)
			}
		}
		now = now.Add(lease - time.Millisecond)
		_, err = db.ClaimIdempotencyKey(ctx, ten.aTest, "k", req, lease)
		wantKind(t, "a retry while the renewed claim runs", err, billing.KindConflict, billing.CodeIdempotencyKeyInUse)

		now = now.Add(time.Millisecond) // one lease after the last renewal
		taken, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k", req, lease)
		if err != nil || taken.Replayed {
			t.Fatalf("takeover one lease after the last renewal: %+v, %v", taken, err)
		}
		if held, err := db.RenewIdempotencyKey(ctx, ten.aTest, c, lease); err != nil || held {
			t.Errorf("the dead holder's renewal after a takeover: %t, %v; want false", held, err)
		}
		if err := db.CompleteIdempotencyKey(ctx, ten.aTest, taken, 201, []byte(`{"secret":"whsec_abc"}`)); err != nil {
			t.Fatal(err)
		}
		if held, err := db.RenewIdempotencyKey(ctx, ten.aTest, taken, lease); err != nil || held {
			t.Errorf("renewing a completed claim: %t, %v; want false", held, err)
		}
		// The response is replayed as stored, and stored sealed.
		r, err := db.ClaimIdempotencyKey(ctx, ten.aTest, "k", req, lease)
		if err != nil || !r.Replayed || string(r.Response) != `{"secret":"whsec_abc"}` {
			t.Fatalf("replay: %+v, %v", r, err)
		}
		var raw []byte
		if err := db.GetContext(ctx, &raw, `SELECT response FROM idempotency_keys`); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("whsec_abc")) {
			t.Errorf("the stored response is in clear: %q", raw)
		}
	})
}
