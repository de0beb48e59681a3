// Package webhooks signs and sends events to merchants' endpoints per the Standard
// Webhooks specification (https://www.standardwebhooks.com): headers webhook-id (the
// event id, so receivers can drop duplicates), webhook-timestamp and webhook-signature
// (v1, HMAC-SHA256, one signature per active secret, space-separated), computed with
// the standard-webhooks Go library.
package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/recurring/recurring/billing"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// AttemptTimeout bounds one delivery attempt.
const AttemptTimeout = 15 * time.Second

// NewSecret returns a fresh signing secret: whsec_ and 32 random bytes in base64.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Payload is the body sent for an event: the same object GET /v1/events/{id} answers,
// {"id": "evt_…", "object": "event", "type": …, "livemode": …, "created_at": …,
// "data": {"object": …}}, where data.object is the payment or plan as the API renders
// it (the store wrote it so with the event).
func Payload(ev billing.Event) []byte {
	data := json.RawMessage(ev.Data)
	if !json.Valid(data) {
		data = json.RawMessage("{}")
	}
	b, _ := json.Marshal(struct {
		ID        string          `json:"id"`
		Object    string          `json:"object"`
		Type      string          `json:"type"`
		Livemode  bool            `json:"livemode"`
		CreatedAt time.Time       `json:"created_at"`
		Data      json.RawMessage `json:"data"`
	}{ev.ID, "event", ev.Type, ev.Mode == billing.ModeLive, ev.CreatedAt.UTC(), data})
	return b
}

// Sign returns the webhook-signature header value: one v1 signature per secret.
func Sign(msgID string, ts time.Time, body []byte, secrets []string) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return "", fmt.Errorf("sign webhook: %w", err)
		}
		sig, err := wh.Sign(msgID, ts, body)
		if err != nil {
			return "", fmt.Errorf("sign webhook: %w", err)
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) == 0 {
		return "", errors.New("sign webhook: no secret")
	}
	return strings.Join(sigs, " "), nil
}

// Result is the outcome of one attempt.
type Result struct {
	StatusCode int
	// Err describes a failure to get an answer (or a non-2xx one); empty on success.
	Err string
	// RetryAfter is the receiver's Retry-After on 429 and 503.
	RetryAfter time.Duration
	Duration   time.Duration
}

// Delivered reports a 2xx answer.
func (r Result) Delivered() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// Send posts body to url once, signed with secrets, with msgID as webhook-id.
func Send(ctx context.Context, c *http.Client, url, msgID string, body []byte, secrets []string, now time.Time) Result {
	start := time.Now()
	res := func(r Result) Result { r.Duration = time.Since(start); return r }
	sig, err := Sign(msgID, now, body, secrets)
	if err != nil {
		return res(Result{Err: err.Error()})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return res(Result{Err: "build request: " + err.Error()})
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "recurring-webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, msgID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := c.Do(req)
	if err != nil {
		return res(Result{Err: err.Error()})
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r := Result{StatusCode: resp.StatusCode}
	if !r.Delivered() {
		r.Err = "receiver answered " + resp.Status
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		r.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return res(r)
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Verify checks a received webhook with secret (for receivers: `recurring webhook
// listen` and tests).
func Verify(secret string, body []byte, h http.Header) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	return wh.Verify(body, h)
}
