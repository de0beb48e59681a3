package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/api"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/metrics"
	"github.com/recurring/recurring/internal/payloadcodec"
	"github.com/recurring/recurring/internal/provideraccounts"
	"github.com/recurring/recurring/internal/tracing"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/worker"
)

func (c Config) temporal(logger *slog.Logger) starter.Config {
	return starter.Config{
		HostPort: c.TemporalAddress, Namespace: c.TemporalNamespace,
		TLS: c.TemporalTLS, TLSCAFile: c.TemporalTLSCA, TLSCertFile: c.TemporalTLSCert, TLSKeyFile: c.TemporalTLSKey,
		APIKey: c.TemporalAPIKey, Logger: logger,
	}
}

// loadConfig parses the environment and builds the logger, for the ops subcommands.
func loadConfig(env map[string]string, stderr io.Writer, requireDB bool) (Config, *slog.Logger, error) {
	cfg, err := parseConfig(env)
	if err != nil {
		return cfg, nil, usageError{err.Error()}
	}
	if requireDB && cfg.DatabaseURL == "" {
		return cfg, nil, usageError{"DATABASE_URL is required (for example postgres://user:pass@host:5432/recurring?sslmode=disable)"}
	}
	logger, err := newLogger(stderr, cfg.LogLevel)
	return cfg, logger, err
}

// openCurrentStore opens the store and refuses to run on a schema that `recurring
// migrate` has not brought up to date, rather than failing later on a missing column.
func openCurrentStore(ctx context.Context, url string) (*store.DB, error) {
	db, err := store.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	pending, err := db.Pending(ctx)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	if pending {
		_ = db.Close()
		return nil, errors.New("the database schema is behind this binary: run `recurring migrate` first")
	}
	return db, nil
}

func readiness(db *store.DB, c client.Client) map[string]api.Checker {
	return map[string]api.Checker{
		"store": db.PingContext,
		"temporal": func(ctx context.Context) error {
			_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		},
	}
}

// shutdownTracing flushes the spans still buffered, for up to 5 s.
func shutdownTracing(tr tracing.Tracing, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		logger.Warn("flush traces", "err", err)
	}
}

// withCodec serves the payload codec endpoint under path (ending in "/") and
// everything else from h.
func withCodec(h http.Handler, path string, codec http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(path, codec)
	mux.Handle("/", h)
	return mux
}

// opsHandler is the worker's small HTTP listener: /metrics, /healthz (the process is
// up) and /readyz (each dependency answers within 2 s; 503 naming those that do not).
func opsHandler(m *metrics.Metrics, ready map[string]api.Checker) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]string{}
		status := http.StatusOK
		for name, check := range ready {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			err := check(ctx)
			cancel()
			out[name] = "ok"
			if err != nil {
				out[name], status = "unavailable", http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": map[bool]string{true: "ready", false: "not_ready"}[status == http.StatusOK], "checks": out})
	})
	return mux
}

// serveHTTP serves h on l until ctx ends, then drains in-flight requests for up to
// timeout.
func serveHTTP(ctx context.Context, l net.Listener, h http.Handler, timeout time.Duration, logger *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("draining HTTP requests", "timeout", timeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("drain http server: %w", err)
	}
	return nil
}

func runAPI(ctx context.Context, args []string, env map[string]string, stderr io.Writer) error {
	if err := noArgs("api", args); err != nil {
		return err
	}
	cfg, logger, err := loadConfig(env, stderr, true)
	if err != nil {
		return err
	}
	keyring, err := cfg.keyring()
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	defer func() { _ = l.Close() }()
	db, err := openCurrentStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	db.Keyring = keyring
	tr, err := tracing.Setup(ctx, env, "recurring-api")
	if err != nil {
		return usageError{err.Error()}
	}
	defer shutdownTracing(tr, logger)
	m := metrics.New()
	m.WatchStore(db)
	codec, err := payloadcodec.New(keyring)
	if err != nil {
		return err
	}
	// Lazy: the API starts even while Temporal is down, and /readyz says so.
	tc := cfg.temporal(logger)
	tc.Interceptors = tr.Interceptors
	tc.Lazy, tc.MetricsHandler = true, m.Temporal()
	tc.DataConverter, tc.FailureConverter = codec.DataConverter(), codec.FailureConverter()
	c, err := starter.Dial(ctx, tc)
	if err != nil {
		return err
	}
	defer c.Close()
	reg, err := buildProviders(cfg.providers(db))
	if err != nil {
		return err
	}
	logger.Info("api listening", "addr", l.Addr().String())
	var h http.Handler = api.New(api.Deps{Store: db, Providers: reg, Logger: logger, Ready: readiness(db, c), Temporal: c,
		ProviderAllowed: providerPolicy(cfg.ProviderConfig), PublicURL: cfg.PublicURL, Metrics: m})
	if cfg.CodecToken != "" {
		logger.Info("payload codec endpoint on", "path", "/codec/", "ui_origin", cfg.CodecUIOrigin)
		h = withCodec(h, "/codec/", codec.Handler(payloadcodec.HandlerOptions{Token: cfg.CodecToken, UIOrigin: cfg.CodecUIOrigin}))
	}
	return serveHTTP(ctx, l, h, cfg.ShutdownTimeout, logger)
}

func runWorker(ctx context.Context, args []string, env map[string]string, stderr io.Writer) error {
	if err := noArgs("worker", args); err != nil {
		return err
	}
	cfg, logger, err := loadConfig(env, stderr, true)
	if err != nil {
		return err
	}
	db, err := openCurrentStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	// The worker unseals saved cards' tokens to charge them.
	if db.Keyring, err = cfg.keyring(); err != nil {
		return err
	}
	var ml net.Listener
	if cfg.MetricsAddr != "" {
		if ml, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("METRICS_ADDR %s: %w", cfg.MetricsAddr, err)
		}
		defer func() { _ = ml.Close() }()
	}
	tr, err := tracing.Setup(ctx, env, "recurring-worker")
	if err != nil {
		return usageError{err.Error()}
	}
	defer shutdownTracing(tr, logger)
	m := metrics.New()
	m.WatchStore(db)
	codec, err := payloadcodec.New(db.Keyring)
	if err != nil {
		return err
	}
	tc := cfg.temporal(logger)
	tc.MetricsHandler, tc.Interceptors = m.Temporal(), tr.Interceptors
	tc.DataConverter, tc.FailureConverter = codec.DataConverter(), codec.FailureConverter()
	c, err := starter.Dial(ctx, tc)
	if err != nil {
		return err
	}
	defer c.Close()
	reg, err := buildProviders(cfg.providers(db))
	if err != nil {
		return err
	}
	if ml != nil {
		logger.Info("worker metrics listening", "addr", ml.Addr().String())
		go func() {
			if err := serveHTTP(ctx, ml, opsHandler(m, readiness(db, c)), cfg.ShutdownTimeout, logger); err != nil {
				logger.Error("worker metrics listener stopped", "err", err)
			}
		}()
	}
	w := worker.New(c, activities.New(activities.Deps{Providers: reg, Accounts: provideraccounts.Resolver{Keys: db}, PaymentMethods: db, Ledger: db, Refunds: db, Credentials: db, PlanTerms: db, Upcoming: db, Webhooks: db, Sessions: db, Plans: starter.PlanCards{Client: c},
		Notifier: notifier(cfg, db, logger), PublicURL: cfg.PublicURL, Pacer: db, Rates: cfg.ChargeRateLimits, Metrics: m, Logger: logger}),
		worker.Options{Pollers: cfg.WorkerPollers, StopTimeout: cfg.ShutdownTimeout, CacheSize: cfg.WorkflowCacheSize})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	go (&worker.Dispatcher{Store: db, Temporal: c, Logger: logger, Schedule: cfg.WebhookRetrySchedule, Credentials: db,
		Cards: db, Notifier: notifier(cfg, db, logger)}).Run(ctx)
	logger.Info("worker polling", "task_queue", starter.TaskQueue, "namespace", cfg.TemporalNamespace)
	<-ctx.Done()
	logger.Info("worker stopping: finishing in-flight activities", "timeout", cfg.ShutdownTimeout.String())
	w.Stop()
	return nil
}

func runMigrate(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	searchAttrs := fs.Bool("search-attributes", false, "also register the plan search attributes on TEMPORAL_NAMESPACE at TEMPORAL_ADDRESS")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if err := noArgs("migrate", fs.Args()); err != nil {
		return err
	}
	cfg, logger, err := loadConfig(env, stderr, true)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	n, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migration(s) to the %s store\n", n, db.Dialect)
	if cfg.EncryptionKeys != "" {
		if err := resealTokens(ctx, db, cfg, stdout); err != nil {
			return err
		}
	}
	if *searchAttrs {
		c, err := starter.Dial(ctx, cfg.temporal(logger))
		if err != nil {
			return err
		}
		defer c.Close()
		if err := starter.EnsureSearchAttributes(ctx, c, cfg.TemporalNamespace); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "search attributes registered on namespace %s\n", cfg.TemporalNamespace)
	}
	return nil
}

func runMerchant(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return usageError{"usage: recurring merchant create --name NAME"}
	}
	fs := flag.NewFlagSet("merchant create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the merchant's name (required)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if *name == "" {
		return usageError{"--name is required"}
	}
	cfg, _, err := loadConfig(env, stderr, true)
	if err != nil {
		return err
	}
	db, err := openCurrentStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	testKey, liveKey := store.NewSecretKey(billing.ModeTest), store.NewSecretKey(billing.ModeLive)
	m, err := db.CreateMerchant(ctx, *name, testKey, liveKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merchant %s (%s)\ntest key: %s\nlive key: %s\nThe keys are stored hashed and cannot be shown again.\n", m.ID, m.Name, testKey, liveKey)
	return nil
}
