//go:build !nodev

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/api"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/devserver"
	"github.com/recurring/recurring/internal/metrics"
	"github.com/recurring/recurring/internal/notify"
	"github.com/recurring/recurring/internal/payloadcodec"
	"github.com/recurring/recurring/internal/provideraccounts"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/internal/tracing"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/worker"
	"github.com/recurring/recurring/workflows"
)

// devNamespace is the namespace `recurring dev` creates and uses.
const devNamespace = "default"

type devFlags struct {
	dataDir      string
	httpAddr     string
	temporalPort int
	uiPort       int
	apiKey       string
	databaseURL  string
	logLevel     string
	// workflowCache and historyCache size the worker's and the embedded server's
	// in-memory caches.
	workflowCache, historyCache int
}

func parseDevFlags(args []string, stderr io.Writer) (devFlags, error) {
	var f devFlags
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.dataDir, "data-dir", "./.recurring", "directory for the Temporal and app SQLite files")
	fs.StringVar(&f.httpAddr, "http", "127.0.0.1:8080", "API listen address")
	fs.IntVar(&f.temporalPort, "temporal-port", 7233, "embedded Temporal frontend port (0 picks a free one)")
	fs.IntVar(&f.uiPort, "ui-port", 8233, "Temporal Web UI port (0 picks a free one)")
	fs.StringVar(&f.apiKey, "api-key", "", "fix the printed test-mode API key (sk_test_…) so scripts can use it")
	fs.StringVar(&f.databaseURL, "database-url", "", "use this Postgres URL for the app store instead of SQLite in the data dir")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.IntVar(&f.workflowCache, "workflow-cache", worker.DefaultCacheSize, "workflows the worker keeps in memory between tasks")
	fs.IntVar(&f.historyCache, "history-cache", devserver.DefaultHistoryCacheSize, "workflows the embedded server's history service keeps in memory")
	if err := fs.Parse(args); err != nil {
		return f, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return f, usageError{fmt.Sprintf("dev takes no arguments, got %q", fs.Args())}
	}
	for name, n := range map[string]int{"--workflow-cache": f.workflowCache, "--history-cache": f.historyCache} {
		if n < 1 {
			return f, usageError{fmt.Sprintf("%s must be at least 1, got %d", name, n)}
		}
	}
	for name, p := range map[string]int{"--temporal-port": f.temporalPort, "--ui-port": f.uiPort} {
		if p < 0 || p > 65535 {
			return f, usageError{fmt.Sprintf("%s must be a port between 0 and 65535, got %d", name, p)}
		}
	}
	if _, _, err := net.SplitHostPort(f.httpAddr); err != nil {
		return f, usageError{fmt.Sprintf("--http must be host:port, got %q", f.httpAddr)}
	}
	if f.apiKey != "" && !validDevKey(f.apiKey) {
		return f, usageError{"--api-key must look like sk_test_ followed by at least 16 letters or digits"}
	}
	if _, err := parseLevel(f.logLevel); err != nil {
		return f, usageError{"--log-level: " + err.Error()}
	}
	return f, nil
}

func validDevKey(k string) bool {
	rest, ok := cutPrefix(k, "sk_test_")
	if !ok || len(rest) < 16 {
		return false
	}
	for _, r := range rest {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) < len(p) || s[:len(p)] != p {
		return s, false
	}
	return s[len(p):], true
}

// runDev runs the embedded Temporal server and Web UI, the worker and the API in one
// process until ctx ends, then stops them in reverse order.
func runDev(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	f, err := parseDevFlags(args, stderr)
	if err != nil {
		return err
	}
	pc, err := parseProviderConfig(env)
	if err != nil {
		return usageError{err.Error()}
	}
	if err := tracing.Check(env); err != nil {
		return usageError{err.Error()}
	}
	logger, err := newLogger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	// Before anything starts goroutines that make HTTP calls (it wraps the default
	// transport).
	tr, err := tracing.Setup(ctx, env, "recurring-dev")
	if err != nil {
		return usageError{err.Error()}
	}
	defer shutdownTracing(tr, logger)
	// Before any database or port: a second dev on this data dir would run a second
	// Temporal server on the same SQLite file.
	lock, err := devserver.LockDataDir(f.dataDir)
	if err != nil {
		return fmt.Errorf("%w: stop that recurring dev, or pass another --data-dir", err)
	}
	defer func() { _ = lock.Unlock() }()
	// Bind the API port before anything slow starts, so a clash fails at once.
	l, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		return fmt.Errorf("--http %s: %w: %v", f.httpAddr, devserver.ErrPortInUse, err)
	}
	defer func() { _ = l.Close() }()

	dbURL := f.databaseURL
	if dbURL == "" {
		file := filepath.Join(f.dataDir, "recurring.db")
		// It holds sealed card tokens and hashed API keys: owner only, like dev.json.
		if err := devserver.MakePrivate(file); err != nil {
			return err
		}
		dbURL = "sqlite:" + file
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	st, err := ensureDevState(ctx, db, f.dataDir, f.apiKey, pc.SimulatorVaultKey, logger)
	if err != nil {
		return err
	}
	if db.Keyring, err = seal.Parse(st.EncryptionKeys); err != nil {
		return fmt.Errorf("dev.json encryption_keys: %w", err)
	}
	codec, err := payloadcodec.New(db.Keyring)
	if err != nil {
		return err
	}
	// The Web UI's codec endpoint has a secret path per run: a loopback connection with
	// the UI's Origin is not enough (a tunnel or port forward also arrives on loopback).
	codecPath := "/codec/" + hex.EncodeToString(randomBytes(16))
	codecURL := "http://" + l.Addr().String() + codecPath
	srv, err := devserver.Start(devserver.Options{
		DataDir: f.dataDir, Port: f.temporalPort, UIPort: f.uiPort,
		Namespace: devNamespace, SearchAttributes: workflows.SearchAttributes(), Logger: logger,
		HistoryCacheSize: f.historyCache, CodecEndpoint: codecURL,
	})
	if err != nil {
		return err
	}
	defer srv.Stop()

	// One registry for the whole process: the API serves it at /metrics.
	m := metrics.New()
	m.WatchStore(db)
	// Payloads are encrypted as in production; the Web UI decodes them through the
	// API's /codec endpoint, which trusts only that UI's origin over loopback.
	c, err := starter.Dial(ctx, starter.Config{HostPort: srv.HostPort, Namespace: devNamespace, Logger: logger, MetricsHandler: m.Temporal(),
		DataConverter: codec.DataConverter(), FailureConverter: codec.FailureConverter(), Interceptors: tr.Interceptors})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := starter.EnsureSearchAttributes(ctx, c, devNamespace); err != nil {
		return err
	}

	key := st.TestKey
	pc.SimulatorVaultKey = st.VaultKey
	reg, err := buildProviders(pc.providers(db))
	if err != nil {
		return err
	}
	if pc.SimulatorAnswerDelay > 0 {
		logger.Info("simulator answers held back after each charge", "SIMULATOR_ANSWER_DELAY", pc.SimulatorAnswerDelay.String())
	}

	// The recovery links in webhooks and emails point at this process's API.
	w := worker.New(c, activities.New(activities.Deps{Providers: reg, Accounts: provideraccounts.Resolver{Keys: db}, PaymentMethods: db, Ledger: db, Refunds: db, Credentials: db, PlanTerms: db, Upcoming: db, Webhooks: db, Sessions: db, Plans: starter.PlanCards{Client: c},
		Notifier: notify.Log{Logger: logger}, PublicURL: "http://" + l.Addr().String(), Pacer: db, Rates: pc.ChargeRateLimits,
		Metrics: m, Logger: logger}), worker.Options{CacheSize: f.workflowCache})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	go (&worker.Dispatcher{Store: db, Temporal: c, Logger: logger, Credentials: db, Cards: db, Notifier: notify.Log{Logger: logger}}).Run(ctx)

	apiURL := "http://" + l.Addr().String()
	fmt.Fprintf(stdout, `recurring dev is running (Ctrl-C stops it; data stays in %s)
  API:       %s
  Web UI:    %s
  Codec:     %s (the Web UI decodes the encrypted workflow payloads here)
  Temporal:  %s (namespace %s)
  API key:   %s   (test mode)
  Store:     %s
Try: curl -H "Authorization: Bearer %s" %s/v1/providers
`, f.dataDir, apiURL, orNone(srv.UIURL), codecBanner(srv.UIURL, codecURL), srv.HostPort, devNamespace, key, db.Dialect, key, apiURL)

	var h http.Handler = api.New(api.Deps{Store: db, Providers: reg, Logger: logger, Ready: readiness(db, c), Temporal: c,
		ProviderAllowed: providerPolicy(pc), Metrics: m})
	if srv.UIURL != "" {
		h = withCodec(h, codecPath+"/", codec.Handler(payloadcodec.HandlerOptions{UIOrigin: srv.UIURL, TrustLoopbackUI: true}))
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- serveHTTP(ctx, l, h, 10*time.Second, logger) }()
	select {
	case err := <-serveErr:
		return err
	case err := <-srv.UIErr():
		return fmt.Errorf("web ui: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	return <-serveErr
}

func orNone(s string) string {
	if s == "" {
		return "(disabled)"
	}
	return s
}

// devState is what dev remembers between starts, in <data-dir>/dev.json (mode 0600):
// the default merchant and its test key, so a restart prints the same key, and the
// simulator's vault key (SIMULATOR_VAULT_KEY) and the store's encryption keys
// (ENCRYPTION_KEYS), so saved cards keep working. Only dev keeps these in the clear,
// and only on the developer's disk.
type devState struct {
	MerchantID     string `json:"merchant_id"`
	TestKey        string `json:"test_key"`
	VaultKey       string `json:"simulator_vault_key"`
	EncryptionKeys string `json:"encryption_keys"`
}

// ensureDevState creates the default merchant on first start and returns what dev
// remembers. A --api-key not yet known is added to the default merchant. A vaultKey
// (SIMULATOR_VAULT_KEY, validated) replaces the remembered one, so dev can charge cards
// that an api process sealed with it in a shared --database-url; it is remembered in
// turn, so the cards saved with it stay chargeable after a restart without it.
func ensureDevState(ctx context.Context, db *store.DB, dataDir, flagKey, vaultKey string, logger *slog.Logger) (devState, error) {
	path := filepath.Join(dataDir, "dev.json")
	var st devState
	raw, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(raw, &st); err != nil {
			return devState{}, fmt.Errorf("read %s: %w", path, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return devState{}, fmt.Errorf("read %s: %w", path, err)
	}
	// The state file may outlive the store (a new --database-url): trust it only if its
	// key still authenticates.
	if st.TestKey != "" {
		if _, err := db.Authenticate(ctx, st.TestKey); err != nil {
			if billing.KindOf(err) != billing.KindUnauthenticated {
				return devState{}, err
			}
			st = devState{VaultKey: st.VaultKey, EncryptionKeys: st.EncryptionKeys}
		}
	}
	if st.MerchantID == "" {
		key := flagKey
		if key == "" {
			key = store.NewSecretKey(billing.ModeTest)
		}
		m, err := db.CreateMerchant(ctx, "Dev merchant", key, store.NewSecretKey(billing.ModeLive))
		if err != nil {
			return devState{}, err
		}
		st = devState{MerchantID: m.ID, TestKey: key, VaultKey: st.VaultKey, EncryptionKeys: st.EncryptionKeys}
	} else if flagKey != "" && flagKey != st.TestKey {
		if _, err := db.Authenticate(ctx, flagKey); err != nil {
			if billing.KindOf(err) != billing.KindUnauthenticated {
				return devState{}, err
			}
			if err := db.AddAPIKey(ctx, st.MerchantID, flagKey); err != nil {
				return devState{}, err
			}
		}
		st.TestKey = flagKey
	}
	if k, err := decodeVaultKey(vaultKey); err == nil {
		vaultKey = hex.EncodeToString(k) // the spelling dev.json uses
	}
	if vaultKey != "" && vaultKey != st.VaultKey {
		if st.VaultKey != "" {
			logger.Warn("SIMULATOR_VAULT_KEY replaces the simulator vault key in dev.json: "+
				"simulator cards saved under the old key can no longer be charged", "dev_json", path)
		}
		st.VaultKey = vaultKey
	}
	if _, err := decodeVaultKey(st.VaultKey); err != nil {
		st.VaultKey = hex.EncodeToString(randomBytes(32))
	}
	if _, err := seal.Parse(st.EncryptionKeys); err != nil {
		st.EncryptionKeys = seal.Generate("dev1")
	}
	raw, _ = json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return devState{}, fmt.Errorf("write %s: %w", path, err)
	}
	return st, nil
}

// codecBanner is the codec endpoint's line in the banner ("none" without a Web UI).
func codecBanner(uiURL, codecURL string) string {
	if uiURL == "" {
		return "none"
	}
	return codecURL
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return b
}

// The embedded server (and so this command) is left out of the production image,
// built with -tags nodev.
func init() {
	commands["dev"] = command{run: runDev, flagArgs: []string{"-h"}, help: `Usage: recurring dev [flags]

Runs everything in one process: an embedded Temporal server and its Web UI, the
worker and the API, keeping state in --data-dir. One recurring dev per data dir: a
second one on the same dir exits at once.

Environment (optional): SIMULATOR_ANSWER_DELAY, SIMULATOR_VAULT_KEY,
STRIPE_SECRET_KEY, STRIPE_BASE_URL (see the README's Configuration section).
`}
}
