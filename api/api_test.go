package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"go.temporal.io/sdk/client"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/recurring/recurring/api"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/metrics"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/internal/testdb"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/simulator"
	"github.com/recurring/recurring/store"
)

type fixture struct {
	handler http.Handler
	db      *store.DB
	dbPath  string
	sim     *simulator.Simulator
	logs    *syncBuffer
	// testKey and liveKey are merchant A's; otherKey is merchant B's test key.
	testKey, liveKey, otherKey string
	merchantID                 string
}

type fixtureOptions struct {
	ready       map[string]api.Checker
	plans       api.PlanNotifier
	activePlans api.PlanCounter
	// temporal, when set, is called with the fixture's store and providers and returns
	// the Temporal client the API uses (see plans_test.go).
	temporal func(t testing.TB, db *store.DB, reg *providers.Registry) client.Client
	// dbURL makes the store's database (testdb.SQLiteURL or testdb.PostgresURL); a
	// SQLite file in a temp dir when nil.
	dbURL func(testing.TB) string
	// lease is the Idempotency-Key claim lease (the API's default when zero).
	lease time.Duration
	// providers are registered besides the simulator.
	providers []providers.Provider
	// createWait is api.Deps.PlanCreateWait (the API's default when zero).
	createWait time.Duration
	// metrics is api.Deps.Metrics (none when nil).
	metrics *metrics.Metrics
	// refundWait is api.Deps.RefundWait (the API's default when zero).
	refundWait time.Duration
}

// eachStore runs fn once per store dialect (SQLite and Postgres), each with a fresh
// fixture made from o.
func eachStore(t *testing.T, o fixtureOptions, fn func(t *testing.T, f fixture)) {
	for name, url := range testdb.URLs() {
		t.Run(name, func(t *testing.T) {
			o := o
			o.dbURL = url
			fn(t, newFixtureWith(t, o))
		})
	}
}

func newFixture(t testing.TB, ready map[string]api.Checker) fixture {
	return newFixtureWith(t, fixtureOptions{ready: ready})
}

func newFixtureWith(t testing.TB, o fixtureOptions) fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "api.db")
	url := "sqlite:" + path
	if o.dbURL != nil {
		url = o.dbURL(t)
		path = strings.TrimPrefix(url, "sqlite:")
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	kr, err := seal.Parse(seal.Generate("k1"))
	if err != nil {
		t.Fatal(err)
	}
	db.Keyring = kr
	f := fixture{db: db, dbPath: path, logs: &syncBuffer{},
		testKey: store.NewSecretKey(billing.ModeTest), liveKey: store.NewSecretKey(billing.ModeLive),
		otherKey: store.NewSecretKey(billing.ModeTest)}
	m, err := db.CreateMerchant(ctx, "Acme", f.testKey, f.liveKey)
	if err != nil {
		t.Fatal(err)
	}
	f.merchantID = m.ID
	if _, err := db.CreateMerchant(ctx, "Other", f.otherKey); err != nil {
		t.Fatal(err)
	}
	f.sim, err = simulator.New(simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := providers.NewRegistry(append([]providers.Provider{f.sim}, o.providers...)...)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var tc client.Client
	if o.temporal != nil {
		tc = o.temporal(t, db, reg)
	}
	f.handler = api.New(api.Deps{Store: db, Providers: reg, Ready: o.ready, Logger: logger,
		Plans: o.plans, ActivePlans: o.activePlans, Temporal: tc, IdempotencyLease: o.lease, PlanCreateWait: o.createWait,
		Metrics: o.metrics, RefundWait: o.refundWait})
	return f
}

// syncBuffer collects logs written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type errorResponse struct {
	Error struct {
		Type, Code, Message, Param string
		RequestID                  string `json:"request_id"`
	}
}

// request is one API call; headers are extra request headers.
type request struct {
	method, path, key, body string
	headers                 map[string]string
}

func (f fixture) serve(t testing.TB, r request) (*httptest.ResponseRecorder, errorResponse) {
	t.Helper()
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.key != "" {
		req.Header.Set("Authorization", "Bearer "+r.key)
	}
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	var e errorResponse
	if rec.Code >= 400 && r.method != http.MethodHead && r.path != "/readyz" {
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Type == "" {
			t.Fatalf("%s %s: %d with a body that is not an error object: %q", r.method, r.path, rec.Code, rec.Body)
		}
	}
	if rec.Header().Get("X-Request-Id") == "" {
		t.Errorf("%s %s: no X-Request-Id header", r.method, r.path)
	}
	checkResponse(t, req, rec)
	return rec, e
}

// specRouter finds a request's operation in openapi.yaml.
var specRouter = sync.OnceValues(func() (routers.Router, error) {
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, err
	}
	doc.Servers = nil
	return gorillamux.NewRouter(doc)
})

// checkResponse holds every answer the tests see to openapi.yaml: a status the
// operation declares and a body matching its schema.
func checkResponse(t testing.TB, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	router, err := specRouter()
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil || req.URL.Path == "/openapi.yaml" {
		return // not an operation (an unknown route, a wrong method), or not JSON
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: rec.Code, Header: rec.Header(),
		Options: &openapi3filter.Options{IncludeResponseStatus: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()}},
	}
	in.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: the %d response does not match openapi.yaml: %v\n%s", req.Method, req.URL.Path, rec.Code, err, rec.Body)
	}
}

func (f fixture) do(t testing.TB, method, path, key, body string) (*httptest.ResponseRecorder, errorResponse) {
	t.Helper()
	return f.serve(t, request{method: method, path: path, key: key, body: body})
}

// ok calls the API and decodes a successful answer into out.
func (f fixture) ok(t testing.TB, method, path, key, body string, out any) {
	t.Helper()
	rec, _ := f.do(t, method, path, key, body)
	if rec.Code >= 300 {
		t.Fatalf("%s %s = %d: %s", method, path, rec.Code, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, rec.Body)
		}
	}
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
		{"unknown key", store.NewSecretKey(billing.ModeTest), "invalid_api_key", http.StatusUnauthorized},
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
