package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/recurring/recurring/billing"
)

// Idempotency headers.
const (
	HeaderIdempotencyKey     = "Idempotency-Key"
	HeaderIdempotentReplayed = "Idempotent-Replayed"
	// idempotencyLease is how long a claim outlives its last renewal: a request renews
	// it every quarter lease while it runs, so a claim whose process died is taken over
	// within this long, and a slow request never loses its key.
	idempotencyLease          = 8 * time.Second
	idempotentHandlerDeadline = time.Minute
	idempotencyPurgeEvery     = time.Hour
)

// idempotency makes POSTs with an Idempotency-Key safe to retry. It runs after
// authentication and validation, so requests that fail those are not remembered and
// can be fixed and retried under the same key.
//
// The key is claimed in the store before the handler runs (an INSERT on the key's
// primary key), so two concurrent requests with one key never both execute: the loser
// is answered 409 idempotency_key_in_use at once rather than left waiting, and its
// retry replays the winner's response. Responses below 500 are stored and replayed for
// 24 hours with Idempotent-Replayed: true; after a 5xx or a panic the claim is released
// so the retry executes. The claim is a lease renewed while the handler runs, so a claim
// is only taken over from a process that stopped renewing (it died): a client retrying
// after a crash gets through within seconds, not minutes. Should the claim be lost all
// the same (the store was unreachable for a whole lease and another request took the
// key), the handler's context is canceled.
func idempotency(db billing.Store, logger *slog.Logger, lease time.Duration) echo.MiddlewareFunc {
	if lease <= 0 {
		lease = idempotencyLease
	}
	var lastPurge atomic.Int64
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			key := req.Header.Get(HeaderIdempotencyKey)
			if req.Method != http.MethodPost || key == "" {
				return next(c)
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return err
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			caller := callerOf(c)
			fingerprint := requestFingerprint(req.Method, req.URL.Path, body)

			claim, err := db.ClaimIdempotencyKey(req.Context(), caller, key, fingerprint, lease)
			if err != nil {
				return err
			}
			if claim.Replayed {
				c.Response().Header().Set(HeaderIdempotentReplayed, "true")
				return c.JSONBlob(claim.Status, claim.Response)
			}

			ctx, cancel := context.WithTimeout(req.Context(), idempotentHandlerDeadline)
			defer cancel()
			stopRenewing := renewWhileRunning(ctx, cancel, db, logger, caller, claim, lease)
			defer stopRenewing()
			c.SetRequest(req.WithContext(ctx))
			rec := &recorder{ResponseWriter: c.Response().Writer}
			c.Response().Writer = rec
			completed := false
			defer func() {
				if completed {
					return
				}
				// A panic: give the key back, then let Recover answer 500.
				if err := db.ReleaseIdempotencyKey(context.WithoutCancel(ctx), caller, claim); err != nil {
					logger.Error("release idempotency key", "error", err)
				}
			}()
			if err := next(c); err != nil {
				c.Error(err) // render now, so the stored body is exactly what the client got
			}
			completed = true
			stopRenewing()
			status := c.Response().Status
			storeCtx := context.WithoutCancel(ctx)
			if status >= 500 {
				if err := db.ReleaseIdempotencyKey(storeCtx, caller, claim); err != nil {
					logger.Error("release idempotency key", "error", err)
				}
				return nil
			}
			if err := db.CompleteIdempotencyKey(storeCtx, caller, claim, status, rec.body.Bytes()); err != nil {
				// The client has its answer; a retry within the lease gets in_use, later
				// ones execute again.
				logger.Error("store idempotent response", "error", err)
			}
			// The client already has its response, so the purge costs it nothing.
			purgeExpired(storeCtx, &lastPurge, db, logger)
			return nil
		}
	}
}

// renewWhileRunning renews claim every quarter lease until the returned stop is called
// (it waits for the renewer to finish, so no renewal follows it). A claim found taken
// over cancels the request's context.
func renewWhileRunning(ctx context.Context, cancel context.CancelFunc, db billing.Store, logger *slog.Logger,
	caller billing.Caller, claim billing.IdempotencyClaim, lease time.Duration) (stop func()) {
	done := make(chan struct{})
	var stopped sync.WaitGroup
	stopped.Add(1)
	go func() {
		defer stopped.Done()
		tick := time.NewTicker(lease / 4)
		defer tick.Stop()
		for {
			select {
			case <-done: // the handler returned; a canceled request context does not stop
				return // renewal while the handler still finishes its work
			case <-tick.C:
			}
			held, err := db.RenewIdempotencyKey(context.WithoutCancel(ctx), caller, claim, lease)
			switch {
			case err != nil:
				logger.Warn("renew idempotency key", "error", err) // the next tick tries again
			case !held:
				logger.Error("idempotency key taken over while its request ran; canceling the request")
				cancel()
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done); stopped.Wait() })
	}
}

// requestFingerprint identifies a request: method, path and the body with JSON object
// members in a canonical order, so a client re-encoding the same request is not told
// the key was reused. The store keeps only a keyed MAC of it.
func requestFingerprint(method, path string, body []byte) []byte {
	canonical := body
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err == nil && !dec.More() {
		if b, err := json.Marshal(v); err == nil {
			canonical = b
		}
	}
	out := make([]byte, 0, len(method)+len(path)+len(canonical)+2)
	out = append(out, method...)
	out = append(out, ' ')
	out = append(out, path...)
	out = append(out, '\n')
	return append(out, canonical...)
}

// derivedID turns an Idempotency-Key into a stable object id, so a client retrying a
// request whose answer it lost reaches the same workflow even if the API crashed
// before it could store the answer; otherwise a fresh id.
func derivedID(prefix string, caller billing.Caller, idemKey string) string {
	if idemKey == "" {
		return billing.NewID(prefix)
	}
	sum := sha256.Sum256([]byte(caller.MerchantID + "\x00" + string(caller.Mode) + "\x00" + prefix + "\x00" + idemKey))
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}

// purgeExpired deletes expired keys, at most once per idempotencyPurgeEvery per
// process.
func purgeExpired(ctx context.Context, last *atomic.Int64, db billing.Store, logger *slog.Logger) {
	now := time.Now().UnixNano()
	prev := last.Load()
	if now-prev < int64(idempotencyPurgeEvery) || !last.CompareAndSwap(prev, now) {
		return
	}
	if n, err := db.PurgeIdempotencyKeys(ctx); err != nil {
		logger.Warn("purge idempotency keys", "error", err)
	} else if n > 0 {
		logger.Info("purged expired idempotency keys", "count", n)
	}
}

// recorder keeps a copy of the response body.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
