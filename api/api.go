// Package api is the engine's HTTP API: Echo routes, authentication, and the one table
// that maps application errors to HTTP statuses.
package api

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/store"
)

//go:embed openapi.yaml
var openapiSpec []byte

// Checker reports whether a dependency is reachable.
type Checker func(ctx context.Context) error

// Deps are what the API needs.
type Deps struct {
	Store     *store.DB
	Providers *providers.Registry
	Logger    *slog.Logger
	// Ready names each dependency /readyz checks, for example "store" and "temporal".
	Ready map[string]Checker
}

// New returns the API's HTTP handler.
func New(d Deps) *echo.Echo {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Logger)
	e.Use(middleware.RequestID())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			d.Logger.Error("panic", "error", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "stack", string(stack))
			return err
		},
	}))
	e.Use(middleware.BodyLimit("1M"))

	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", readyz(d.Ready))
	e.GET("/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", openapiSpec)
	})

	v1 := e.Group("/v1", authenticate(d.Store))
	v1.GET("/providers", func(c echo.Context) error {
		return c.JSON(http.StatusOK, list(d.Providers.Capabilities()))
	})
	return e
}

// readyz answers 200 when every dependency answers within two seconds, otherwise 503
// naming each one that failed.
func readyz(checks map[string]Checker) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		status := map[string]string{}
		var failing []string
		for name, check := range checks {
			if err := check(ctx); err != nil {
				status[name] = err.Error()
				failing = append(failing, name)
				continue
			}
			status[name] = "ok"
		}
		if len(failing) > 0 {
			return c.JSON(http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failing": failing, "checks": status})
		}
		return c.JSON(http.StatusOK, map[string]any{"status": "ok", "checks": status})
	}
}

// authenticate resolves the Bearer API key to the calling merchant and mode.
func authenticate(db *store.DB) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			auth := c.Request().Header.Get(echo.HeaderAuthorization)
			secret, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok || secret == "" {
				return &billing.Error{Kind: billing.KindUnauthenticated, Code: "missing_api_key",
					Message: "send your secret key as Authorization: Bearer sk_test_…"}
			}
			caller, err := db.Authenticate(c.Request().Context(), secret)
			if err != nil {
				return err
			}
			c.Set("caller", caller)
			return next(c)
		}
	}
}

// listBody is how every list endpoint answers.
type listBody[T any] struct {
	Object string `json:"object"`
	Data   []T    `json:"data"`
}

func list[T any](items []T) listBody[T] {
	if items == nil {
		items = []T{}
	}
	return listBody[T]{Object: "list", Data: items}
}

// callerOf returns the authenticated caller of a /v1 request.
func callerOf(c echo.Context) store.Caller {
	caller, _ := c.Get("caller").(store.Caller)
	return caller
}
