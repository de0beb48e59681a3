// Package api is the engine's HTTP API. openapi.yaml is its contract: the types, the
// strict server interface and the routing in openapi.gen.go are generated from it, and
// every /v1 request is validated against it before a handler runs. Around the
// generated code: authentication, Idempotency-Key, and the one table that maps
// application errors to HTTP statuses.
package api

import (
	"bytes"
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/metrics"
	"github.com/recurring/recurring/internal/provideraccounts"
	"github.com/recurring/recurring/providers"
)

//go:embed openapi.yaml
var openapiSpec []byte

// Checker reports whether a dependency is reachable.
type Checker func(ctx context.Context) error

// Deps are what the API needs. Store, Providers and a Store.Keyring are required.
type Deps struct {
	Store     billing.Store
	Providers *providers.Registry
	Logger    *slog.Logger
	// Ready names each dependency /readyz checks, for example "store" and "temporal".
	Ready map[string]Checker
	// Plans is told when a card is blocked, unblocked or detached; NoPlans when nil.
	Plans PlanNotifier
	// ActivePlans guards customer deletion; NoPlans when nil.
	ActivePlans PlanCounter
	// ProviderAllowed says which providers each mode may use; DefaultProviderPolicy
	// when nil.
	ProviderAllowed ProviderPolicy
	// Temporal starts, signals, updates and queries plan and payment workflows. With
	// it, Plans and ActivePlans default to the plans' own hooks; without it the plan
	// and payment routes answer 503.
	Temporal client.Client
	// IdempotencyLease is how long an Idempotency-Key claim outlives its last renewal
	// (a request renews it every quarter lease while it runs); 8 s when zero.
	IdempotencyLease time.Duration
	// PublicURL is the scheme and host customers reach the hosted payment page at
	// (payment_url); when empty, the host the creating request came to.
	PublicURL string
	// PlanCreateWait bounds how long POST /v1/plans waits for the plan's workflow to
	// write its row (no worker polling, a store down); after it the answer is 503 with
	// Retry-After, and the same request with the same Idempotency-Key joins the plan.
	// 30 s when zero.
	PlanCreateWait time.Duration
	// RefundWait bounds how long POST /v1/refunds waits for the provider's answer;
	// after it the refund is answered pending and finishes in its workflow. 20 s when
	// zero.
	RefundWait time.Duration
	// Metrics, when set, counts requests by route template, method and status, and
	// is served at GET /metrics (Prometheus text format).
	Metrics *metrics.Metrics
}

// server implements the operations of openapi.yaml (StrictServerInterface).
type server struct {
	store           billing.Store
	providers       *providers.Registry
	ready           map[string]Checker
	notifier        PlanNotifier
	plans           PlanCounter
	providerAllowed ProviderPolicy
	temporal        client.Client
	publicURL       string
	pages           *pageLimiter
	createWait      time.Duration
	refundWait      time.Duration
}

var _ StrictServerInterface = (*server)(nil)

// New returns the API's HTTP handler. It panics if openapi.yaml, which is embedded,
// does not load: that is a build defect, caught by every test.
func New(d Deps) *echo.Echo {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	s := &server{store: d.Store, providers: d.Providers, ready: d.Ready, notifier: d.Plans, plans: d.ActivePlans,
		providerAllowed: d.ProviderAllowed, temporal: d.Temporal, publicURL: strings.TrimSuffix(d.PublicURL, "/"),
		pages: newPageLimiter(), createWait: d.PlanCreateWait, refundWait: d.RefundWait}
	if s.refundWait <= 0 {
		s.refundWait = 20 * time.Second
	}
	if s.createWait <= 0 {
		s.createWait = 30 * time.Second
	}
	if d.Temporal != nil {
		hooks := planHooks{store: d.Store, temporal: d.Temporal}
		if s.notifier == nil {
			s.notifier = hooks
		}
		if s.plans == nil {
			s.plans = hooks
		}
	}
	if s.notifier == nil {
		s.notifier = NoPlans{}
	}
	if s.plans == nil {
		s.plans = NoPlans{}
	}
	if s.providerAllowed == nil {
		s.providerAllowed = DefaultProviderPolicy
	}
	validator, err := validateRequests(openapiSpec)
	if err != nil {
		panic(err)
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Logger)
	e.Use(middleware.RequestID())
	e.Use(accessLog(d.Logger, d.Metrics))
	e.Use(traceRequests())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			d.Logger.ErrorContext(c.Request().Context(), "panic", "error", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "stack", string(stack))
			return err
		},
	}))
	e.Use(middleware.BodyLimit("1M"))

	// /v1 needs a key (also for unknown /v1 paths, which answer 401 before 404), then a
	// request that matches openapi.yaml, then the Idempotency-Key rules for POSTs.
	v1 := e.Group("/v1", authenticate(d.Store), validator, idempotency(d.Store, d.Logger, d.IdempotencyLease))
	RegisterHandlers(routes{root: e, v1: v1}, NewStrictHandler(s, nil))
	if d.Metrics != nil {
		// Operational like /healthz: no key; restrict it at the proxy if the API is public.
		e.GET("/metrics", echo.WrapHandler(d.Metrics.Handler()))
	}
	s.registerPages(e)
	return e
}

// routes registers the generated handlers: /v1 paths on the authenticated group, the
// operational ones (/healthz, /readyz, /openapi.yaml) on the root.
type routes struct {
	root *echo.Echo
	v1   *echo.Group
}

var _ EchoRouter = routes{}

func (r routes) add(method, path string, h echo.HandlerFunc, m []echo.MiddlewareFunc) *echo.Route {
	if rest, ok := strings.CutPrefix(path, "/v1/"); ok {
		return r.v1.Add(method, "/"+rest, h, m...)
	}
	return r.root.Add(method, path, h, m...)
}

// CONNECT registers a route.
func (r routes) CONNECT(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.add(http.MethodConnect, p, h, m)
}

// DELETE registers a route.
func (r routes) DELETE(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.add(http.MethodDelete, p, h, m)
}

// GET registers a route.
func (r routes) GET(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.add(http.MethodGet, p, h, m)
}

// HEAD registers a route.
func (r routes) HEAD(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.add(http.MethodHead, p, h, m)
}

// OPTIONS registers a route.
func (r routes) OPTIONS(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.add(http.MethodOptions, p, h, m)
}

// PATCH registers a route.
func (r routes) PATCH(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.add(http.MethodPatch, p, h, m)
}

// POST registers a route.
func (r routes) POST(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.add(http.MethodPost, p, h, m)
}

// PUT registers a route.
func (r routes) PUT(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.add(http.MethodPut, p, h, m)
}

// TRACE registers a route.
func (r routes) TRACE(p string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	return r.add(http.MethodTrace, p, h, m)
}

// GetHealth implements GET /healthz.
func (s *server) GetHealth(context.Context, GetHealthRequestObject) (GetHealthResponseObject, error) {
	return GetHealth200JSONResponse{Status: "ok"}, nil
}

// GetOpenAPISpec implements GET /openapi.yaml.
func (s *server) GetOpenAPISpec(context.Context, GetOpenAPISpecRequestObject) (GetOpenAPISpecResponseObject, error) {
	return GetOpenAPISpec200ApplicationyamlResponse{Body: bytes.NewReader(openapiSpec), ContentLength: int64(len(openapiSpec))}, nil
}

// GetReadiness implements GET /readyz: 200 when every dependency answers within two
// seconds, otherwise 503 naming each one that failed.
func (s *server) GetReadiness(ctx context.Context, _ GetReadinessRequestObject) (GetReadinessResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out := Readiness{Status: Ok, Checks: map[string]string{}}
	var failing []string
	for name, check := range s.ready {
		if err := check(ctx); err != nil {
			out.Checks[name] = err.Error()
			failing = append(failing, name)
			continue
		}
		out.Checks[name] = "ok"
	}
	if len(failing) > 0 {
		sort.Strings(failing)
		out.Status, out.Failing = Unavailable, &failing
		return GetReadiness503JSONResponse(out), nil
	}
	return GetReadiness200JSONResponse(out), nil
}

// ListProviders implements GET /v1/providers: only the providers the caller's mode may
// use, so nothing listed is then refused with provider_not_available.
func (s *server) ListProviders(ctx context.Context, _ ListProvidersRequestObject) (ListProvidersResponseObject, error) {
	mode := callerFrom(ctx).Mode
	out := ListProviders200JSONResponse{Object: ProviderListObjectList, Data: []Capability{}}
	for _, c := range s.providers.Capabilities() {
		if !s.providerAllowed(c.Provider, mode) {
			continue
		}
		row := Capability{Provider: c.Provider, Method: c.Method, Recurring: c.Recurring, Refunds: c.Refunds,
			ThreeDSecure: c.ThreeDS, Moto: c.MOTO, HostedPage: c.HostedPage}
		if len(c.Currencies) > 0 {
			row.Currencies = &c.Currencies
		}
		out.Data = append(out.Data, row)
	}
	// The merchant's own accounts, each with its adapter's rows.
	for p := (billing.ListParams{Limit: 100}); ; {
		page, err := s.store.ListProviderAccounts(ctx, callerFrom(ctx), p)
		if err != nil {
			return nil, err
		}
		for _, acc := range page.Items {
			for _, c := range provideraccounts.Capabilities(acc.Provider) {
				row := Capability{Provider: c.Provider, Method: c.Method, Recurring: c.Recurring, Refunds: c.Refunds,
					ThreeDSecure: c.ThreeDS, Moto: c.MOTO, HostedPage: c.HostedPage, ProviderAccount: &acc.ID}
				if len(c.Currencies) > 0 {
					row.Currencies = &c.Currencies
				}
				out.Data = append(out.Data, row)
			}
		}
		if !page.HasMore || len(page.Items) == 0 {
			break
		}
		p.StartingAfter = page.Items[len(page.Items)-1].ID
	}
	return out, nil
}

// authenticate resolves the Bearer API key to the calling merchant and mode.
func authenticate(db billing.Store) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			auth := c.Request().Header.Get(echo.HeaderAuthorization)
			secret, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok || secret == "" {
				return &billing.Error{Kind: billing.KindUnauthenticated, Code: billing.CodeMissingAPIKey,
					Message: "send your secret key as Authorization: Bearer sk_test_…"}
			}
			caller, err := db.Authenticate(c.Request().Context(), secret)
			if err != nil {
				return err
			}
			c.Set("caller", caller)
			ctx := context.WithValue(c.Request().Context(), callerKey{}, caller)
			ctx = context.WithValue(ctx, originKey{}, c.Scheme()+"://"+c.Request().Host)
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// accessLog logs one line per request: method, route, status, latency, request id and
// the caller. Never the query string (it may hold an email) or the body (it may hold a
// card).
func accessLog(logger *slog.Logger, m *metrics.Metrics) echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod: true, LogRoutePath: true, LogStatus: true, LogLatency: true, LogRequestID: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			m.ObserveRequest(v.RoutePath, v.Method, v.Status, v.Latency)
			attrs := []any{"method", v.Method, "route", v.RoutePath, "status", v.Status,
				"latency_ms", float64(v.Latency.Microseconds()) / 1000, "request_id", v.RequestID}
			if caller := callerOf(c); caller.MerchantID != "" {
				attrs = append(attrs, "merchant_id", caller.MerchantID, "mode", caller.Mode)
			}
			logger.InfoContext(c.Request().Context(), "request", attrs...) // with the trace id when tracing
			return nil
		},
	})
}

type callerKey struct{}

// originKey holds the scheme and host a /v1 request came to, which payment_url uses
// when Deps.PublicURL is not set.
type originKey struct{}

// callerOf returns the authenticated caller of a /v1 request.
func callerOf(c echo.Context) billing.Caller {
	caller, _ := c.Get("caller").(billing.Caller)
	return caller
}

// callerFrom returns the authenticated caller from a /v1 request's context, where the
// generated strict handlers find it.
func callerFrom(ctx context.Context) billing.Caller {
	caller, _ := ctx.Value(callerKey{}).(billing.Caller)
	return caller
}

// temporalClient returns the workflow service, or a 503 temporal_unavailable error when
// the engine runs without one.
func (s *server) temporalClient() (client.Client, error) {
	if s.temporal == nil {
		return nil, &billing.Error{Kind: billing.KindUnavailable, Code: billing.CodeTemporalUnavailable, Message: "plans need the workflow service"}
	}
	return s.temporal, nil
}
