package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is what `recurring api`, `worker` and `migrate` read from the environment,
// parsed once here; nothing else reads the environment. The README lists every variable.
type Config struct {
	DatabaseURL       string        `env:"DATABASE_URL"`
	HTTPAddr          string        `env:"HTTP_ADDR" envDefault:":8080"`
	TemporalAddress   string        `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	TemporalNamespace string        `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	TemporalTLS       bool          `env:"TEMPORAL_TLS" envDefault:"false"`
	TemporalTLSCA     string        `env:"TEMPORAL_TLS_CA"`
	TemporalTLSCert   string        `env:"TEMPORAL_TLS_CERT"`
	TemporalTLSKey    string        `env:"TEMPORAL_TLS_KEY"`
	TemporalAPIKey    string        `env:"TEMPORAL_API_KEY"`
	WorkerPollers     int           `env:"WORKER_POLLERS" envDefault:"16"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`
	LogLevel          string        `env:"LOG_LEVEL" envDefault:"info"`
	SimulatorVaultKey string        `env:"SIMULATOR_VAULT_KEY"`
	StripeSecretKey   string        `env:"STRIPE_SECRET_KEY"`
	StripeBaseURL     string        `env:"STRIPE_BASE_URL"`
}

// parseConfig reads Config from environ, naming the variable in every error.
func parseConfig(environ map[string]string) (Config, error) {
	var cfg Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environ}); err != nil {
		return cfg, renameFields(err)
	}
	if cfg.WorkerPollers < 1 {
		return cfg, fmt.Errorf("WORKER_POLLERS must be at least 1, got %d", cfg.WorkerPollers)
	}
	if cfg.ShutdownTimeout <= 0 {
		return cfg, fmt.Errorf("SHUTDOWN_TIMEOUT must be positive, got %s", cfg.ShutdownTimeout)
	}
	if _, err := parseLevel(cfg.LogLevel); err != nil {
		return cfg, err
	}
	if cfg.SimulatorVaultKey != "" {
		if _, err := decodeVaultKey(cfg.SimulatorVaultKey); err != nil {
			return cfg, err
		}
	}
	if (cfg.TemporalTLSCert == "") != (cfg.TemporalTLSKey == "") {
		return cfg, errors.New("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY must be set together")
	}
	return cfg, nil
}

// renameFields replaces Go field names in env's parse errors with the variable names
// an operator actually set.
func renameFields(err error) error {
	msg := err.Error()
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		msg = strings.ReplaceAll(msg, fmt.Sprintf("field %q", f.Name), name)
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
