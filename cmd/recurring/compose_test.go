package main

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// docker-compose.yml cannot run here (no Docker engine), so this keeps it honest: every
// variable it gives api, worker and migrate is one the binary reads, and together they
// form a configuration the binary accepts.
func TestComposeMatchesConfig(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	known := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Config]()) { // embedded ProviderConfig too
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			known[name] = true
		}
	}
	// ${VAR:-default} → default, as compose resolves it when VAR is unset.
	subst := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)
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
			env[k] = subst.ReplaceAllString(v, "$1")
		}
		if _, err := parseConfig(env); err != nil {
			t.Errorf("%s service's environment is rejected: %v", svc, err)
		}
		for _, must := range []string{"DATABASE_URL", "TEMPORAL_ADDRESS"} {
			if env[must] == "" {
				t.Errorf("%s service does not set %s", svc, must)
			}
		}
	}
}
