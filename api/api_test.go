package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/recurring/recurring/api"
	"github.com/recurring/recurring/internal/testdb"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/simulator"
	"github.com/recurring/recurring/store"
)

type fixture struct {
	handler http.Handler
	testKey string
}

func newFixture(t *testing.T, ready map[string]api.Checker) fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, testdb.SQLiteURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	key := store.NewSecretKey(store.ModeTest)
	if _, err := db.CreateMerchant(ctx, "Acme", key); err != nil {
		t.Fatal(err)
	}
	sim, err := simulator.New(simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := providers.NewRegistry(sim)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{handler: api.New(api.Deps{Store: db, Providers: reg, Ready: ready}), testKey: key}
}

type errorResponse struct {
	Error struct {
		Type, Code, Message, Param string
		RequestID                  string `json:"request_id"`
	}
}

func (f fixture) do(t *testing.T, method, path, key, body string) (*httptest.ResponseRecorder, errorResponse) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	var e errorResponse
	if rec.Code >= 400 {
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s %s: %d with a body that is not an error object: %q", method, path, rec.Code, rec.Body)
		}
	}
	if rec.Header().Get("X-Request-Id") == "" {
		t.Errorf("%s %s: no X-Request-Id header", method, path)
	}
	return rec, e
}

func TestHealthz(t *testing.T) {
	f := newFixture(t, nil)
	rec, _ := f.do(t, http.MethodGet, "/healthz", "", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("/healthz = %d", rec.Code)
	}
}

func TestReadyzNamesTheFailingPart(t *testing.T) {
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused") }

	f := newFixture(t, map[string]api.Checker{"store": ok, "temporal": ok})
	if rec, _ := f.do(t, http.MethodGet, "/readyz", "", ""); rec.Code != http.StatusOK {
		t.Fatalf("/readyz with everything up = %d: %s", rec.Code, rec.Body)
	}

	f = newFixture(t, map[string]api.Checker{"store": ok, "temporal": down})
	rec, _ := f.do(t, http.MethodGet, "/readyz", "", "")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with temporal down = %d, want 503", rec.Code)
	}
	var body struct {
		Failing []string          `json:"failing"`
		Checks  map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Failing) != 1 || body.Failing[0] != "temporal" || body.Checks["store"] != "ok" {
		t.Errorf("/readyz body = %s, want only temporal failing", rec.Body)
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, nil)
	cases := []struct {
		name, key, code string
		status          int
	}{
		{"no key", "", "missing_api_key", http.StatusUnauthorized},
		{"unknown key", store.NewSecretKey(store.ModeTest), "invalid_api_key", http.StatusUnauthorized},
		{"malformed key", "hunter2", "invalid_api_key", http.StatusUnauthorized},
		{"valid key", f.testKey, "", http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec, e := f.do(t, http.MethodGet, "/v1/providers", tc.key, "")
			if rec.Code != tc.status || e.Error.Code != tc.code {
				t.Fatalf("status %d code %q, want %d %q", rec.Code, e.Error.Code, tc.status, tc.code)
			}
			if tc.status == http.StatusUnauthorized && e.Error.Type != "authentication_error" {
				t.Errorf("type %q, want authentication_error", e.Error.Type)
			}
		})
	}
}

func TestProvidersListsTheCapabilityMatrix(t *testing.T) {
	f := newFixture(t, nil)
	rec, _ := f.do(t, http.MethodGet, "/v1/providers", f.testKey, "")
	var body struct {
		Object string                 `json:"object"`
		Data   []providers.Capability `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Object != "list" || len(body.Data) != 1 || body.Data[0].Provider != "simulator" || !body.Data[0].Recurring {
		t.Fatalf("/v1/providers = %s", rec.Body)
	}
}

func TestEchoErrorsUseTheErrorShape(t *testing.T) {
	f := newFixture(t, nil)
	rec, e := f.do(t, http.MethodGet, "/nowhere", "", "")
	if rec.Code != http.StatusNotFound || e.Error.Code != "route_not_found" {
		t.Errorf("unknown route: %d %q", rec.Code, e.Error.Code)
	}
	rec, e = f.do(t, http.MethodDelete, "/healthz", "", "")
	if rec.Code != http.StatusMethodNotAllowed || e.Error.Code != "method_not_allowed" {
		t.Errorf("wrong method: %d %q", rec.Code, e.Error.Code)
	}
	big := `{"x":"` + strings.Repeat("a", 1<<20+1) + `"}`
	rec, e = f.do(t, http.MethodPost, "/v1/providers", f.testKey, big)
	if rec.Code != http.StatusRequestEntityTooLarge || e.Error.Code != "body_too_large" {
		t.Errorf("2 MiB body: %d %q", rec.Code, e.Error.Code)
	}
}

func TestOpenAPISpecIsServed(t *testing.T) {
	f := newFixture(t, nil)
	rec, _ := f.do(t, http.MethodGet, "/openapi.yaml", "", "")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), "openapi: 3.0") {
		t.Fatalf("/openapi.yaml = %d %.40q", rec.Code, rec.Body)
	}
}
