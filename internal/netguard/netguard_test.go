package netguard

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		url      string
		internal bool
		ok       bool
	}{
		{"https://example.com/hook", false, true},
		{"http://93.184.215.14/hook", false, true},
		{"ftp://example.com/", true, false},
		{"/relative", true, false},
		{"https://user:pw@example.com/", true, false},
		{"http://127.0.0.1:9000/", false, false},
		{"http://127.0.0.1:9000/", true, true},
		{"http://localhost/", false, false},
		{"http://10.1.2.3/", false, false},
		{"http://192.168.0.1/", false, false},
		{"http://169.254.169.254/latest/meta-data", false, false},
		{"http://[::1]/", false, false},
		{"http://[fe80::1]/", false, false},
		{"http://[::ffff:127.0.0.1]/", false, false},
		{"http://0.0.0.0/", false, false},
		{"http://100.64.0.1/", false, false},
	} {
		err := CheckURL(ctx, tc.url, tc.internal)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q, internal=%v) = %v, want ok=%v", tc.url, tc.internal, err, tc.ok)
		}
	}
}

// The dialer refuses a loopback address however the URL names it, so DNS rebinding
// cannot get around the registration check.
func TestClientRefusesInternalOnDial(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, err := Client(5*time.Second, false).Get(srv.URL)
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("live client reached %s: err = %v", srv.URL, err)
	}
	resp, err := Client(5*time.Second, true).Get(srv.URL)
	if err != nil {
		t.Fatalf("test client: %v", err)
	}
	resp.Body.Close()
}
