package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/recurring/recurring/api"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/internal/tracing"
	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/providers/stripe"
	"github.com/recurring/recurring/store"
)

// Config is what `recurring api`, `worker` and `migrate` read from the environment,
// parsed once here; nothing else reads the environment. The README lists every variable.
type Config struct {
	DatabaseURL       string `env:"DATABASE_URL"`
	HTTPAddr          string `env:"HTTP_ADDR" envDefault:":8080"`
	TemporalAddress   string `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	TemporalNamespace string `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	TemporalTLS       bool   `env:"TEMPORAL_TLS" envDefault:"false"`
	TemporalTLSCA     string `env:"TEMPORAL_TLS_CA"`
	TemporalTLSCert   string `env:"TEMPORAL_TLS_CERT"`
	TemporalTLSKey    string `env:"TEMPORAL_TLS_KEY"`
	TemporalAPIKey    string `env:"TEMPORAL_API_KEY"`
	WorkerPollers     int    `env:"WORKER_POLLERS" envDefault:"16"`
	// WorkflowCacheSize is the worker's sticky cache (workflows kept in memory).
	WorkflowCacheSize int           `env:"WORKFLOW_CACHE_SIZE" envDefault:"2000"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`
	// CodecToken turns on the API's payload codec endpoint (/codec/encode and
	// /codec/decode, Temporal's remote codec contract) for requests bearing it;
	// CodecUIOrigin is the Temporal Web UI's origin, the only one CORS answers.
	CodecToken    string `env:"CODEC_TOKEN"`
	CodecUIOrigin string `env:"CODEC_UI_ORIGIN"`
	// MetricsAddr (host:port) gives the worker a listener for /metrics, /healthz and
	// /readyz; none when empty. The API serves /metrics on HTTP_ADDR.
	MetricsAddr string `env:"METRICS_ADDR"`
	LogLevel    string `env:"LOG_LEVEL" envDefault:"info"`
	ProviderConfig
	// EncryptionKeys seals saved cards' provider tokens: id:hex pairs, the first active.
	EncryptionKeys string `env:"ENCRYPTION_KEYS"`
	// SMTPAddr (host:port) turns on customer emails; notifications are only logged
	// without it.
	SMTPAddr     string `env:"SMTP_ADDR"`
	SMTPFrom     string `env:"SMTP_FROM"`
	SMTPUsername string `env:"SMTP_USERNAME"`
	SMTPPassword string `env:"SMTP_PASSWORD"`
	// PublicURL is the scheme and host customers reach the API at (https://pay.example):
	// the hosted pages' payment_url, and the recovery links the worker puts in webhooks
	// and emails. Without it the API answers with the request's own host and the
	// worker's webhooks and emails carry no link.
	PublicURL string `env:"PUBLIC_URL"`
	// WebhookRetrySchedule overrides the waits between webhook attempts (comma-separated
	// durations), for drills; the default is about 5s,5m,30m,2h,5h,10h,10h.
	WebhookRetrySchedule []time.Duration `env:"WEBHOOK_RETRY_SCHEDULE" envSeparator:","`
}

// ProviderConfig is the part of Config that builds the payment providers. `recurring
// dev`, configured by flags otherwise, reads this part too, so crash drills work there.
type ProviderConfig struct {
	SimulatorVaultKey string `env:"SIMULATOR_VAULT_KEY"`
	// SimulatorAnswerDelay holds simulator answers back after a charge, for crash drills.
	SimulatorAnswerDelay time.Duration `env:"SIMULATOR_ANSWER_DELAY" envDefault:"0s"`
	StripeSecretKey      string        `env:"STRIPE_SECRET_KEY"`
	StripeBaseURL        string        `env:"STRIPE_BASE_URL"`
	// APS_* add Amazon Payment Services with the names of its dashboard. Its
	// production host takes live payments only; any other (the sandbox, a test double)
	// test payments only.
	APSAccessCode         string `env:"APS_ACCESS_CODE"`
	APSMerchantIdentifier string `env:"APS_MERCHANT_IDENTIFIER"`
	APSRequestPhrase      string `env:"APS_REQUEST_PHRASE"`
	APSResponsePhrase     string `env:"APS_RESPONSE_PHRASE"`
	APSSHAType            string `env:"APS_SHA_TYPE" envDefault:"SHA-256"`
	APSBaseURL            string `env:"APS_BASE_URL"`
	// ChargeRateLimits paces the installation's providers: provider=charges per
	// second, comma-separated (simulator=50,stripe=25), shared by every worker on the
	// database. Merchants' provider accounts carry their own max_charges_per_second.
	ChargeRateLimits map[string]int `env:"CHARGE_RATE_LIMITS" envSeparator:"," envKeyValSeparator:"="`
}

// apsConfig is the Amazon Payment Services account the variables give, if any.
func (pc ProviderConfig) apsConfig() (aps.Config, bool) {
	cfg := aps.Config{AccessCode: pc.APSAccessCode, MerchantIdentifier: pc.APSMerchantIdentifier,
		RequestPhrase: pc.APSRequestPhrase, ResponsePhrase: pc.APSResponsePhrase, SHAType: pc.APSSHAType, BaseURL: pc.APSBaseURL}
	return cfg, pc.APSAccessCode != "" || pc.APSMerchantIdentifier != "" || pc.APSRequestPhrase != "" || pc.APSResponsePhrase != ""
}

// parseConfig reads Config from environ, naming the variable in every error.
func parseConfig(environ map[string]string) (Config, error) {
	var cfg Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environ}); err != nil {
		return cfg, renameFields[Config](err)
	}
	if err := cfg.ProviderConfig.validate(); err != nil {
		return cfg, err
	}
	if err := tracing.Check(environ); err != nil {
		return cfg, err
	}
	if cfg.WorkerPollers < 1 {
		return cfg, fmt.Errorf("WORKER_POLLERS must be at least 1, got %d", cfg.WorkerPollers)
	}
	if cfg.WorkflowCacheSize < 1 {
		return cfg, fmt.Errorf("WORKFLOW_CACHE_SIZE must be at least 1, got %d", cfg.WorkflowCacheSize)
	}
	if cfg.CodecToken != "" && len(cfg.CodecToken) < 24 {
		return cfg, errors.New("CODEC_TOKEN must be at least 24 characters (for example from `openssl rand -hex 16`)")
	}
	if cfg.CodecUIOrigin != "" {
		u, err := url.Parse(cfg.CodecUIOrigin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return cfg, fmt.Errorf("CODEC_UI_ORIGIN must be the Web UI's scheme and host such as https://temporal.example, got %q", cfg.CodecUIOrigin)
		}
		if cfg.CodecToken == "" {
			return cfg, errors.New("CODEC_UI_ORIGIN needs CODEC_TOKEN: the codec endpoint is off without it")
		}
	}
	if cfg.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(cfg.MetricsAddr); err != nil || port == "" {
			return cfg, fmt.Errorf("METRICS_ADDR must be host:port (such as :9090), got %q", cfg.MetricsAddr)
		}
	}
	if cfg.ShutdownTimeout <= 0 {
		return cfg, fmt.Errorf("SHUTDOWN_TIMEOUT must be positive, got %s", cfg.ShutdownTimeout)
	}
	if _, err := parseLevel(cfg.LogLevel); err != nil {
		return cfg, err
	}
	if cfg.EncryptionKeys != "" {
		if _, err := seal.Parse(cfg.EncryptionKeys); err != nil {
			return cfg, fmt.Errorf("ENCRYPTION_KEYS: %w", err)
		}
	}
	if cfg.SMTPAddr != "" && cfg.SMTPFrom == "" {
		return cfg, errors.New("SMTP_FROM is required with SMTP_ADDR")
	}
	for _, d := range cfg.WebhookRetrySchedule {
		if d <= 0 {
			return cfg, fmt.Errorf("WEBHOOK_RETRY_SCHEDULE: waits must be positive, got %s", d)
		}
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.Fragment != "" {
			return cfg, fmt.Errorf("PUBLIC_URL must be a scheme and host such as https://pay.example, got %q", cfg.PublicURL)
		}
	}
	if (cfg.TemporalTLSCert == "") != (cfg.TemporalTLSKey == "") {
		return cfg, errors.New("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together")
	}
	return cfg, nil
}

// parseProviderConfig reads only ProviderConfig from environ, for `recurring dev`: the
// variables only api and worker use cannot stop dev from starting.
func parseProviderConfig(environ map[string]string) (ProviderConfig, error) {
	var pc ProviderConfig
	if err := env.ParseWithOptions(&pc, env.Options{Environment: environ}); err != nil {
		return pc, renameFields[ProviderConfig](err)
	}
	return pc, pc.validate()
}

func (pc ProviderConfig) validate() error {
	if pc.SimulatorVaultKey != "" {
		if _, err := decodeVaultKey(pc.SimulatorVaultKey); err != nil {
			return err
		}
	}
	if pc.SimulatorAnswerDelay < 0 {
		return fmt.Errorf("SIMULATOR_ANSWER_DELAY must not be negative, got %s", pc.SimulatorAnswerDelay)
	}
	if cfg, ok := pc.apsConfig(); ok {
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("APS_*: %w", err)
		}
	}
	for name, rate := range pc.ChargeRateLimits {
		if name == "" || rate < 1 || rate > maxChargesPerSecond {
			return fmt.Errorf("CHARGE_RATE_LIMITS: want provider=charges per second (1 to %d) pairs, got %q=%d",
				maxChargesPerSecond, name, rate)
		}
	}
	return nil
}

// maxChargesPerSecond bounds a configured pace: beyond it a lane's slots would be
// finer than the store's microseconds can keep apart usefully.
const maxChargesPerSecond = 10000

// renameFields replaces Go field names in env's parse errors with the variable names
// an operator actually set.
func renameFields[T any](err error) error {
	msg := err.Error()
	for _, f := range reflect.VisibleFields(reflect.TypeFor[T]()) {
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name != "" {
			msg = strings.ReplaceAll(msg, fmt.Sprintf("field %q", f.Name), name)
		}
	}
	return errors.New("invalid environment: " + msg)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", s)
	}
	return l, nil
}

// decodeVaultKey reads SIMULATOR_VAULT_KEY: 32 bytes, hex-encoded.
func decodeVaultKey(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, errors.New("SIMULATOR_VAULT_KEY must be 64 hex digits (32 bytes), e.g. from `openssl rand -hex 32`")
	}
	return b, nil
}

// keyring returns the ENCRYPTION_KEYS keyring, which api and worker cannot run
// without: saved cards' tokens are sealed with it.
func (c Config) keyring() (*seal.Keyring, error) {
	if c.EncryptionKeys == "" {
		return nil, usageError{"ENCRYPTION_KEYS is required: comma-separated id:hex pairs of 32-byte keys, the first " +
			"one active, e.g. ENCRYPTION_KEYS=k1:$(openssl rand -hex 32)"}
	}
	return seal.Parse(c.EncryptionKeys) // validated by parseConfig
}

// providerPolicy decides which providers each mode may use. The simulator is test
// mode only. A Stripe account is a sandbox or real money, which its secret key's prefix
// says (sk_live_/rk_live_ is live; anything else, test keys and stripe-mock, is a
// sandbox), so Stripe serves only the matching mode: test objects never reach a live
// account and live objects never a sandbox.
func providerPolicy(pc ProviderConfig) api.ProviderPolicy {
	stripeLive := strings.HasPrefix(pc.StripeSecretKey, "sk_live_") || strings.HasPrefix(pc.StripeSecretKey, "rk_live_")
	apsLive := aps.IsProduction(pc.APSBaseURL)
	return func(provider string, mode billing.Mode) bool {
		switch provider {
		case stripe.Name:
			return (mode == billing.ModeLive) == stripeLive
		case aps.Name:
			return (mode == billing.ModeLive) == apsLive
		}
		return api.DefaultProviderPolicy(provider, mode)
	}
}

// resealTokens moves every saved card's token to the active ENCRYPTION_KEYS key, so an
// old key can be dropped once `recurring migrate` has run after a rotation.
func resealTokens(ctx context.Context, db *store.DB, cfg Config, stdout io.Writer) error {
	kr, err := cfg.keyring()
	if err != nil {
		return err
	}
	db.Keyring = kr
	total := 0
	for {
		n, err := db.ResealTokens(ctx, 500)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total > 0 {
		fmt.Fprintf(stdout, "resealed %d card token(s) and provider account credential(s) under key %s\n", total, kr.ActiveID())
	}
	return nil
}
