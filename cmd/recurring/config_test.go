package main

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/providers/aps"
	"github.com/recurring/recurring/store"
)

func TestEncryptionKeysConfig(t *testing.T) {
	secret := strings.Repeat("ab", 31)
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"api without keys":    {[]string{"api"}, map[string]string{"DATABASE_URL": "sqlite:x.db"}, "ENCRYPTION_KEYS is required"},
		"worker without keys": {[]string{"worker"}, map[string]string{"DATABASE_URL": "sqlite:" + t.TempDir() + "/x.db"}, "ENCRYPTION_KEYS is required"},
		"short key":           {[]string{"api"}, map[string]string{"DATABASE_URL": "sqlite:x.db", "ENCRYPTION_KEYS": "k1:" + secret}, "ENCRYPTION_KEYS"},
		"no id":               {[]string{"migrate"}, map[string]string{"DATABASE_URL": "sqlite:x.db", "ENCRYPTION_KEYS": secret + "cd"}, "ENCRYPTION_KEYS"},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "worker without keys" {
				// The worker opens the store first; give it a migrated one.
				db, err := store.Open(t.Context(), tc.env["DATABASE_URL"])
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Migrate(t.Context()); err != nil {
					t.Fatal(err)
				}
				_ = db.Close()
			}
			code, _, stderr := runForTest(t, tc.args, tc.env)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %q", code, stderr, tc.want)
			}
			if strings.Contains(stderr, secret) {
				t.Errorf("the error shows the key: %s", stderr)
			}
		})
	}
	cfg, err := parseConfig(map[string]string{"ENCRYPTION_KEYS": seal.Generate("new") + "," + seal.Generate("old")})
	if err != nil {
		t.Fatal(err)
	}
	kr, err := cfg.keyring()
	if err != nil || kr.ActiveID() != "new" {
		t.Fatalf("keyring %v, %v; want new active", kr, err)
	}
}

func TestProviderPolicy(t *testing.T) {
	for _, tc := range []struct {
		stripeKey, provider string
		mode                billing.Mode
		want                bool
	}{
		{"", "simulator", billing.ModeTest, true},
		{"", "simulator", billing.ModeLive, false},
		{"sk_test_abc", "stripe", billing.ModeTest, true},
		{"sk_test_abc", "stripe", billing.ModeLive, false},
		{"sk_live_abc", "stripe", billing.ModeLive, true},
		{"sk_live_abc", "stripe", billing.ModeTest, false},
		{"rk_live_abc", "stripe", billing.ModeLive, true},
		{"sk_live_abc", "simulator", billing.ModeLive, false},
	} {
		if got := providerPolicy(ProviderConfig{StripeSecretKey: tc.stripeKey})(tc.provider, tc.mode); got != tc.want {
			t.Errorf("stripe key %q: %s in %s mode = %v, want %v", tc.stripeKey, tc.provider, tc.mode, got, tc.want)
		}
	}
	// Amazon Payment Services: the production host is live, the sandbox (or a test
	// double) test.
	for _, tc := range []struct {
		base string
		mode billing.Mode
		want bool
	}{
		{"", billing.ModeLive, true}, {"", billing.ModeTest, false},
		{aps.SandboxURL, billing.ModeTest, true}, {aps.SandboxURL, billing.ModeLive, false},
		{"http://127.0.0.1:9999", billing.ModeTest, true}, {"http://127.0.0.1:9999", billing.ModeLive, false},
	} {
		if got := providerPolicy(ProviderConfig{APSBaseURL: tc.base})(aps.Name, tc.mode); got != tc.want {
			t.Errorf("APS_BASE_URL %q in %s mode = %v, want %v", tc.base, tc.mode, got, tc.want)
		}
	}
}

// TestAPSVariables: the APS_* variables add Amazon Payment Services; a partial or bad
// set is refused at start, naming the variables, without echoing a phrase.
func TestAPSVariables(t *testing.T) {
	full := map[string]string{"APS_ACCESS_CODE": "ac", "APS_MERCHANT_IDENTIFIER": "mid", "APS_REQUEST_PHRASE": "secret-req",
		"APS_RESPONSE_PHRASE": "secret-resp", "APS_BASE_URL": aps.SandboxURL}
	cfg, err := parseConfig(full)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := buildProviders(cfg.ProviderConfig.providers(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get(aps.Name); err != nil {
		t.Errorf("APS is not registered: %v", err)
	}
	for k, v := range map[string]string{"APS_RESPONSE_PHRASE": "", "APS_SHA_TYPE": "MD5", "APS_BASE_URL": "ftp://x"} {
		bad := maps.Clone(full)
		bad[k] = v
		_, err := parseConfig(bad)
		if err == nil || !strings.Contains(err.Error(), "APS_") || strings.Contains(err.Error(), "secret-") {
			t.Errorf("%s=%q: %v, want an APS_* error without the phrases", k, v, err)
		}
	}
}

// Rotation end to end: after a new key is put first, `recurring migrate` re-encrypts
// the old rows, and the old key can then be dropped.
func TestMigrateResealsTokensAfterRotation(t *testing.T) {
	url := "sqlite:" + t.TempDir() + "/r.db"
	oldSpec, newSpec := seal.Generate("old"), seal.Generate("new")
	db, err := store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db.Keyring, _ = seal.Parse(oldSpec)
	m, err := db.CreateMerchant(t.Context(), "M")
	if err != nil {
		t.Fatal(err)
	}
	caller := billing.Caller{MerchantID: m.ID, Mode: billing.ModeTest}
	cus, err := db.CreateCustomer(t.Context(), caller, billing.NewCustomer{Email: "a@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	pm, err := db.CreatePaymentMethod(t.Context(), caller, billing.NewPaymentMethod{CustomerID: cus.ID, Provider: "simulator",
		Token: "tok_1", Card: billing.CardDetails{Brand: "visa", Last4: "4242", ExpMonth: 1, ExpYear: 2040}})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	code, stdout, stderr := runForTest(t, []string{"migrate"}, map[string]string{"DATABASE_URL": url, "ENCRYPTION_KEYS": newSpec + "," + oldSpec})
	if code != 0 || !strings.Contains(stdout, "resealed 1 card token(s) and provider account credential(s) under key new") {
		t.Fatalf("migrate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	db, err = store.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	db.Keyring, _ = seal.Parse(newSpec)
	if cred, err := db.ChargeableCard(t.Context(), caller.MerchantID, pm.ID); err != nil || cred.Token != "tok_1" {
		t.Fatalf("with only the new key: %v", err)
	}
}

// dev reads only the provider settings: a variable only api or worker use cannot stop
// it, and the simulator settings reach the providers as api and worker get them.
func TestProviderConfigForDev(t *testing.T) {
	pc, err := parseProviderConfig(map[string]string{
		"SIMULATOR_ANSWER_DELAY": "2s", "WORKER_POLLERS": "many", "STRIPE_SECRET_KEY": "sk_test_x",
	})
	if err != nil {
		t.Fatal(err)
	}
	if pc.SimulatorAnswerDelay != 2*time.Second || pc.StripeSecretKey != "sk_test_x" {
		t.Errorf("provider config %+v", pc)
	}
	if _, err := parseProviderConfig(map[string]string{"SIMULATOR_ANSWER_DELAY": "soon"}); err == nil ||
		!strings.Contains(err.Error(), "SIMULATOR_ANSWER_DELAY") || strings.Contains(err.Error(), "SimulatorAnswerDelay") {
		t.Errorf("a bad delay: %v; want the variable named", err)
	}
	cfg, err := parseConfig(map[string]string{"SIMULATOR_ANSWER_DELAY": "3s"})
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.providers(&store.DB{}); s.simulatorAnswerDelay != 3*time.Second {
		t.Errorf("api/worker settings carry delay %s, want 3s", s.simulatorAnswerDelay)
	}
}

// TestPublicURLConfig: PUBLIC_URL takes a scheme and host only, and names itself when
// it is anything else.
func TestPublicURLConfig(t *testing.T) {
	for _, ok := range []string{"https://pay.example", "http://127.0.0.1:8080", "https://pay.example/"} {
		cfg, err := parseConfig(map[string]string{"PUBLIC_URL": ok})
		if err != nil || cfg.PublicURL != ok {
			t.Errorf("PUBLIC_URL=%s: %+v, %v", ok, cfg.PublicURL, err)
		}
	}
	for _, bad := range []string{"pay.example", "ftp://pay.example", "https://pay.example/shop", "https://", "https://pay.example/?a=1"} {
		if _, err := parseConfig(map[string]string{"PUBLIC_URL": bad}); err == nil || !strings.Contains(err.Error(), "PUBLIC_URL") {
			t.Errorf("PUBLIC_URL=%s: %v, want an error naming PUBLIC_URL", bad, err)
		}
	}
}

// TestChargeRateLimitsConfig: CHARGE_RATE_LIMITS paces installation providers by name
// (api, worker and dev read it); anything but provider=positive integer pairs names
// the variable.
func TestChargeRateLimitsConfig(t *testing.T) {
	pc, err := parseProviderConfig(map[string]string{"CHARGE_RATE_LIMITS": "simulator=50,stripe=25"})
	if err != nil || pc.ChargeRateLimits["simulator"] != 50 || pc.ChargeRateLimits["stripe"] != 25 || len(pc.ChargeRateLimits) != 2 {
		t.Fatalf("CHARGE_RATE_LIMITS = %v, %v", pc.ChargeRateLimits, err)
	}
	if cfg, err := parseConfig(map[string]string{"CHARGE_RATE_LIMITS": "stripe=5"}); err != nil || cfg.ChargeRateLimits["stripe"] != 5 {
		t.Fatalf("worker config: %v, %v", cfg.ChargeRateLimits, err)
	}
	for _, bad := range []string{"stripe", "stripe=0", "stripe=-1", "stripe=fast", "=5", "stripe=2.5", "stripe=10001"} {
		if _, err := parseProviderConfig(map[string]string{"CHARGE_RATE_LIMITS": bad}); err == nil ||
			!strings.Contains(err.Error(), "CHARGE_RATE_LIMITS") {
			t.Errorf("CHARGE_RATE_LIMITS=%s: %v, want an error naming the variable", bad, err)
		}
	}
}

// TestMetricsAddrConfig: METRICS_ADDR takes host:port; anything else names it.
func TestMetricsAddrConfig(t *testing.T) {
	for _, ok := range []string{":9090", "127.0.0.1:9464", "[::1]:9090"} {
		if cfg, err := parseConfig(map[string]string{"METRICS_ADDR": ok}); err != nil || cfg.MetricsAddr != ok {
			t.Errorf("METRICS_ADDR=%s: %q, %v", ok, cfg.MetricsAddr, err)
		}
	}
	for _, bad := range []string{"9090", "localhost", "http://x:9090", "x:"} {
		if _, err := parseConfig(map[string]string{"METRICS_ADDR": bad}); err == nil || !strings.Contains(err.Error(), "METRICS_ADDR") {
			t.Errorf("METRICS_ADDR=%s: %v, want an error naming METRICS_ADDR", bad, err)
		}
	}
}

// TestOTLPEndpointConfig: the standard OTLP endpoint variables take a URL or host:port;
// anything else stops api and worker at start, naming the variable.
func TestOTLPEndpointConfig(t *testing.T) {
	for _, ok := range []string{"http://otel-collector:4317", "https://otel.example:4317", "https://otel.example"} {
		if _, err := parseConfig(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": ok}); err != nil {
			t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT=%s: %v", ok, err)
		}
	}
	for _, c := range []struct{ name, bad string }{
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://x:1"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector:4317"}, // TLS or not would be left to another variable
		{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:abc"},
	} {
		if _, err := parseConfig(map[string]string{c.name: c.bad}); err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s=%s: %v, want an error naming it", c.name, c.bad, err)
		}
	}
}
