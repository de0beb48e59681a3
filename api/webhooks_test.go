package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/recurring/recurring/store"
)

type webhookEndpointBody struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	EventTypes []string `json:"event_types"`
	Status     string   `json:"status"`
	Secret     string   `json:"secret"`
	Livemode   bool     `json:"livemode"`
	PrevExp    string   `json:"previous_secret_expires_at"`
}

func TestWebhookEndpointsLifecycle(t *testing.T) {
	f := newFixture(t, nil)
	var ep webhookEndpointBody
	f.ok(t, http.MethodPost, "/v1/webhook-endpoints", f.testKey,
		`{"url": "http://127.0.0.1:9999/hook", "event_types": ["payment.succeeded"]}`, &ep)
	if !strings.HasPrefix(ep.ID, "we_") || !strings.HasPrefix(ep.Secret, "whsec_") || ep.Status != "enabled" || ep.Livemode {
		t.Fatalf("created %+v", ep)
	}
	var got webhookEndpointBody
	f.ok(t, http.MethodGet, "/v1/webhook-endpoints/"+ep.ID, f.testKey, "", &got)
	if got.Secret != "" || got.URL != ep.URL {
		t.Fatalf("read %+v (the secret is shown once only)", got)
	}
	var list listBody[webhookEndpointBody]
	f.ok(t, http.MethodGet, "/v1/webhook-endpoints", f.testKey, "", &list)
	if len(list.Data) != 1 || list.Data[0].Secret != "" {
		t.Fatalf("list %+v", list)
	}
	var rotated webhookEndpointBody
	f.ok(t, http.MethodPost, "/v1/webhook-endpoints/"+ep.ID+"/rotate-secret", f.testKey, "", &rotated)
	if rotated.Secret == "" || rotated.Secret == ep.Secret || rotated.PrevExp == "" {
		t.Fatalf("rotated %+v", rotated)
	}
	// Both secrets sign while the old one is valid.
	target, err := f.db.WebhookTarget(context.Background(), f.merchantID, ep.ID)
	if err != nil || len(target.Secrets) != 2 || target.Secrets[0] != rotated.Secret || target.Secrets[1] != ep.Secret {
		t.Fatalf("target secrets: %v (err %v)", len(target.Secrets), err)
	}
	// Other scopes see nothing.
	for _, key := range []string{f.otherKey, f.liveKey} {
		for _, r := range [][2]string{{"GET", ""}, {"DELETE", ""}, {"POST", "/rotate-secret"}} {
			rec, e := f.do(t, r[0], "/v1/webhook-endpoints/"+ep.ID+r[1], key, "")
			if rec.Code != http.StatusNotFound || e.Error.Code != "resource_missing" {
				t.Errorf("%s with another key: %d %s", r[0], rec.Code, e.Error.Code)
			}
		}
	}
	f.ok(t, http.MethodDelete, "/v1/webhook-endpoints/"+ep.ID, f.testKey, "", nil)
	if rec, _ := f.do(t, http.MethodGet, "/v1/webhook-endpoints/"+ep.ID, f.testKey, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("after delete: %d", rec.Code)
	}
}

func TestWebhookEndpointURLRules(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct {
		key, url, code string
	}{
		{f.testKey, "ftp://example.com/x", "invalid_url"},
		{f.testKey, "example.com/x", "invalid_url"},
		{f.liveKey, "http://127.0.0.1:8080/hook", "url_not_allowed"},
		{f.liveKey, "http://localhost/hook", "url_not_allowed"},
		{f.liveKey, "http://10.0.0.1/hook", "url_not_allowed"},
		{f.liveKey, "http://169.254.169.254/latest", "url_not_allowed"},
		{f.liveKey, "http://[::1]/hook", "url_not_allowed"},
	} {
		rec, e := f.do(t, http.MethodPost, "/v1/webhook-endpoints", tc.key, `{"url": "`+tc.url+`", "event_types": ["*"]}`)
		if rec.Code != http.StatusBadRequest || e.Error.Code != tc.code || e.Error.Param != "url" {
			t.Errorf("%s: %d %s %s, want 400 %s", tc.url, rec.Code, e.Error.Code, e.Error.Param, tc.code)
		}
	}
	var ep webhookEndpointBody
	f.ok(t, http.MethodPost, "/v1/webhook-endpoints", f.liveKey, `{"url": "https://93.184.215.14/hook", "event_types": ["*"]}`, &ep)
	if !ep.Livemode {
		t.Fatalf("live endpoint %+v", ep)
	}
}

func TestEventsAPI(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	ev, err := f.db.AppendEvent(ctx, store.Event{MerchantID: f.merchantID, Mode: store.ModeTest, Type: "payment.succeeded",
		Data: store.JSONDoc(`{"id":"pay_1","payment_type":"recurring","is_recurring":true}`), IdempotencyKey: "t/1"})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		ID, Object, Type string
		Data             map[string]any
	}
	f.ok(t, http.MethodGet, "/v1/events/"+ev.ID, f.testKey, "", &got)
	if got.ID != ev.ID || got.Object != "event" || got.Data["payment_type"] != "recurring" || got.Data["is_recurring"] != true {
		t.Fatalf("event %+v", got)
	}
	var list listBody[struct{ ID string }]
	f.ok(t, http.MethodGet, "/v1/events?type=payment.succeeded", f.testKey, "", &list)
	if len(list.Data) != 1 {
		t.Fatalf("list %+v", list)
	}
	f.ok(t, http.MethodGet, "/v1/events?type=plan.canceled", f.testKey, "", &list)
	if len(list.Data) != 0 {
		t.Fatalf("filtered list %+v", list)
	}
	var attempts listBody[struct{ ID string }]
	f.ok(t, http.MethodGet, "/v1/events/"+ev.ID+"/attempts", f.testKey, "", &attempts)
	if len(attempts.Data) != 0 || attempts.Object != "list" {
		t.Fatalf("attempts %+v", attempts)
	}
	for _, key := range []string{f.otherKey, f.liveKey} {
		for _, p := range []string{"", "/attempts"} {
			if rec, _ := f.do(t, http.MethodGet, "/v1/events/"+ev.ID+p, key, ""); rec.Code != http.StatusNotFound {
				t.Errorf("GET event%s with another key: %d", p, rec.Code)
			}
		}
	}
}
