package main

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/recurring/recurring/internal/metrics"
	"github.com/recurring/recurring/internal/seal"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		Profiles []string `yaml:"profiles"`
	} `yaml:"services"`
}

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose composeFile
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return compose, string(raw)
}

// requiredSecrets may never have a default in docker-compose.yml: compose refuses to
// start without them (${VAR:?…}).
var requiredSecrets = map[string]string{
	"ENCRYPTION_KEYS":     seal.Generate("k1"),
	"SIMULATOR_VAULT_KEY": strings.Repeat("ab", 32),
	"CODEC_TOKEN":         strings.Repeat("c", 32),
}

// docker-compose.yml cannot run here (no Docker engine), so this keeps it honest: every
// variable it gives api, worker and migrate is one the binary reads, together they form
// a configuration the binary accepts, and the secrets are required, never defaulted.
func TestComposeMatchesConfig(t *testing.T) {
	compose, raw := readCompose(t)
	known := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Config]()) { // embedded ProviderConfig too
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			known[name] = true
		}
	}
	// ${VAR:-default} → default, as compose resolves it when VAR is unset; ${VAR:?msg}
	// → the value an operator must export (a test value here).
	withDefault := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)
	required := regexp.MustCompile(`\$\{([A-Z_]+):\?[^}]*\}`)
	for _, svc := range []string{"api", "worker", "migrate"} {
		s, ok := compose.Services[svc]
		if !ok {
			t.Fatalf("docker-compose.yml has no %s service", svc)
		}
		if len(s.Command) == 0 || s.Command[0] != svc {
			t.Errorf("%s service runs %v, want `recurring %s`", svc, s.Command, svc)
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			if !known[k] {
				t.Errorf("%s service sets %s, which recurring does not read", svc, k)
			}
			if _, secret := requiredSecrets[k]; secret && !required.MatchString(v) {
				t.Errorf("%s service's %s is %q: a secret must be required (${%s:?…}), never defaulted", svc, k, v, k)
			}
			v = withDefault.ReplaceAllString(v, "$1")
			v = required.ReplaceAllStringFunc(v, func(m string) string { return requiredSecrets[required.FindStringSubmatch(m)[1]] })
			env[k] = v
		}
		if _, err := parseConfig(env); err != nil {
			t.Errorf("%s service's environment is rejected: %v", svc, err)
		}
		for _, must := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS", "ENCRYPTION_KEYS"} {
			if env[must] == "" {
				t.Errorf("%s service does not set %s", svc, must)
			}
		}
	}
	if strings.Contains(raw, "auto-setup") && strings.Contains(raw, "image: temporalio/auto-setup") {
		t.Error("docker-compose.yml uses the discontinued temporalio/auto-setup image")
	}
}

// TestComposeVersionsAndHealth: the Temporal server, admin tools and Web UI images are
// the versions the code is tested against (go.mod's server and ui-server, which dev
// embeds); every long-running service has a healthcheck, the distroless ones through
// `recurring probe`; the observability services sit behind a profile.
func TestComposeVersionsAndHealth(t *testing.T) {
	compose, _ := readCompose(t)
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	versionOf := func(path string) string {
		for _, line := range strings.Split(string(mod), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == path {
				return strings.TrimPrefix(f[1], "v")
			}
		}
		t.Fatalf("go.mod does not require %s", path)
		return ""
	}
	server, ui := versionOf("go.temporal.io/server"), versionOf("github.com/temporalio/ui-server/v2")
	want := map[string]string{"temporal": "temporalio/server:" + server, "temporal-schema": "temporalio/admin-tools:" + server,
		"temporal-namespace": "temporalio/admin-tools:" + server, "temporal-ui": "temporalio/ui:" + ui}
	for svc, image := range want {
		if got := compose.Services[svc].Image; got != image {
			t.Errorf("%s image %q, want %q", svc, got, image)
		}
	}
	oneShot := map[string]bool{"temporal-schema": true, "temporal-namespace": true, "migrate": true}
	for name, s := range compose.Services {
		if oneShot[name] {
			continue
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", name)
			continue
		}
		if s.Build != nil && !(len(s.Healthcheck.Test) >= 3 && s.Healthcheck.Test[1] == "/usr/local/bin/recurring" && s.Healthcheck.Test[2] == "probe") {
			t.Errorf("service %s (distroless) checks health with %v, want recurring probe", name, s.Healthcheck.Test)
		}
	}
	for _, name := range []string{"prometheus", "grafana"} {
		if s, ok := compose.Services[name]; !ok || len(s.Profiles) == 0 {
			t.Errorf("service %s is missing or not behind a profile", name)
		}
	}
	dockerignore, err := os.ReadFile("../../.dockerignore")
	if err != nil || !strings.Contains(string(dockerignore), ".git\n") || !strings.Contains(string(dockerignore), ".recurring") {
		t.Errorf(".dockerignore must leave out .git and data dirs: %q, %v", dockerignore, err)
	}
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil || !strings.Contains(string(dockerfile), "-tags nodev") {
		t.Errorf("the Dockerfile does not build the production binary (-tags nodev): %v", err)
	}
}

// metricNames are the metric names a PromQL expression uses: the engine's, the SDK's,
// the runtime's, and Prometheus's own up.
var metricName = regexp.MustCompile(`\b(recurring_[a-z_]+|temporal_[a-z_]+|go_[a-z_]+|process_[a-z_]+|up)\b`)

// TestDeployFilesNameExportedMetrics: the Prometheus config, the alert rules and the
// Grafana dashboard parse, and every metric they name is one the code exports: the
// engine's (internal/metrics), the Temporal SDK's through our handler (its timers as
// _seconds histograms), the Go runtime's and the process's.
func TestDeployFilesNameExportedMetrics(t *testing.T) {
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "../../deploy/prometheus/prometheus.yml", &prom)
	jobs := map[string]bool{}
	for _, s := range prom.ScrapeConfigs {
		jobs[s.JobName] = true
	}
	if !jobs["api"] || !jobs["worker"] || len(prom.RuleFiles) == 0 {
		t.Errorf("prometheus.yml scrapes %v with rules %v; want api and worker and the alert rules", jobs, prom.RuleFiles)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "../../deploy/prometheus/alerts.yml", &rules)
	var exprs []string
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			exprs = append(exprs, r.Expr)
		}
	}
	for _, must := range []string{"RecurringWorkerDown", "RecurringChargesFailing", "RecurringChargeLagRising", "RecurringOutboxStuck"} {
		if !alerts[must] {
			t.Errorf("alerts.yml has no %s", must)
		}
	}
	raw, err := os.ReadFile("../../deploy/grafana/dashboards/recurring.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("dashboard: %v (uid %q, %d panels)", err, dash.UID, len(dash.Panels))
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}

	exported := exportedMetricNames(t)
	used := 0
	for _, e := range exprs {
		for _, name := range metricName.FindAllString(e, -1) {
			used++
			if !exported[name] {
				t.Errorf("%q names %s, which the code does not export", e, name)
			}
		}
	}
	if used < 20 {
		t.Errorf("only %d metric references found: the parser is not reading the files", used)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// exportedMetricNames is every series name a recurring process can serve: the engine's
// metrics with their histogram series, the SDK's metric names (from the SDK's source of
// the version go.mod pins; timers become _seconds histograms in our handler), and what
// a fresh registry's Go and process collectors serve; plus Prometheus's up.
func exportedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{"up": true}
	histogram := func(name string) {
		for _, s := range []string{"_bucket", "_sum", "_count"} {
			out[name+s] = true
		}
	}
	for name, typ := range metrics.Exported {
		out[name] = true
		if typ == "histogram" {
			histogram(name)
		}
	}
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "go.temporal.io/sdk").Output()
	if err != nil {
		t.Fatalf("go list the SDK: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "internal", "common", "metrics", "constants.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`TemporalMetricsPrefix \+ "([a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		name := "temporal_" + m[1]
		out[name] = true // a counter or gauge
		if strings.HasSuffix(name, "_latency") {
			out[name+"_seconds"] = true
			histogram(name + "_seconds")
		}
	}
	if !out["temporal_workflow_task_schedule_to_start_latency_seconds_bucket"] {
		t.Fatal("the SDK's metric names were not read")
	}
	rec := httptest.NewRecorder()
	metrics.New().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		out[name] = true
	}
	return out
}
