// Package starter is how the api and the CLI reach workflows: workflow ids, the task
// queue, and dialing Temporal.
package starter

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"

	"github.com/recurring/recurring/workflows"
)

// TaskQueue is the one task queue the worker polls for workflows and activities.
const TaskQueue = "recurring"

// Config says how to reach Temporal.
type Config struct {
	HostPort  string
	Namespace string
	// TLS turns on TLS; the CA, cert and key files are optional (system roots, no
	// client certificate).
	TLS         bool
	TLSCAFile   string
	TLSCertFile string
	TLSKeyFile  string
	// APIKey authenticates to Temporal Cloud or a cluster that takes API keys; it
	// implies TLS.
	APIKey string
	// Lazy connects on first use instead of at Dial, so a process can start while
	// Temporal is down and report it through /readyz.
	Lazy   bool
	Logger *slog.Logger
	// MetricsHandler receives the SDK's metrics (client and worker); none when nil.
	MetricsHandler client.MetricsHandler
	// DataConverter and FailureConverter encrypt payloads and failure messages (the
	// payload codec); the SDK's defaults when nil.
	DataConverter    converter.DataConverter
	FailureConverter converter.FailureConverter
	// Interceptors (tracing) apply to the client and every worker built on it.
	Interceptors []interceptor.ClientInterceptor
}

// Dial connects to Temporal and checks the connection.
func Dial(ctx context.Context, cfg Config) (client.Client, error) {
	opts := client.Options{HostPort: cfg.HostPort, Namespace: cfg.Namespace, MetricsHandler: cfg.MetricsHandler,
		DataConverter: cfg.DataConverter, FailureConverter: cfg.FailureConverter, Interceptors: cfg.Interceptors}
	if cfg.Logger != nil {
		opts.Logger = sdklog.NewStructuredLogger(cfg.Logger)
	}
	if cfg.TLS || cfg.APIKey != "" {
		tlsConf, err := tlsConfig(cfg)
		if err != nil {
			return nil, err
		}
		opts.ConnectionOptions.TLS = tlsConf
	}
	if cfg.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.APIKey)
	}
	dial := client.DialContext
	if cfg.Lazy {
		dial = func(_ context.Context, o client.Options) (client.Client, error) { return client.NewLazyClient(o) }
	}
	c, err := dial(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s (namespace %s): %w", cfg.HostPort, cfg.Namespace, err)
	}
	return c, nil
}

func tlsConfig(cfg Config) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("read TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA %s holds no PEM certificate", cfg.TLSCAFile)
		}
		conf.RootCAs = pool
	}
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("load TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// EnsureSearchAttributes adds the plan search attributes the namespace lacks. It is
// idempotent, so every `recurring dev` start (and `recurring migrate` against a
// cluster) can call it.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	ops := c.OperatorService()
	have, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range workflows.SearchAttributes() {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}
