package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/webhooks"
)

func TestWebhookListenVerifies(t *testing.T) {
	secret := webhooks.NewSecret()
	var out bytes.Buffer
	srv := httptest.NewServer(listenHandler(secret, &out))
	defer srv.Close()
	body := []byte(`{"id":"evt_1","object":"event","type":"payment.succeeded","data":{"object":{"id":"pay_1","object":"payment"}}}`)
	if r := webhooks.Send(t.Context(), srv.Client(), srv.URL, "evt_1", body, []string{secret}, time.Now()); r.StatusCode != http.StatusNoContent {
		t.Fatalf("signed delivery: %+v", r)
	}
	if r := webhooks.Send(t.Context(), srv.Client(), srv.URL, "evt_2", body, []string{webhooks.NewSecret()}, time.Now()); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrongly signed delivery: %+v", r)
	}
	if s := out.String(); !strings.Contains(s, `verified evt_1 payment.succeeded pay_1 {"id":"evt_1",`) || !strings.Contains(s, "REJECTED evt_2") {
		t.Fatalf("output:\n%s", s)
	}
}
