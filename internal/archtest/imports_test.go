package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/recurring/recurring/"

// allowed lists, per package (a trailing /... covers sub-packages), the module's
// packages its production code may import. Dependencies point inward: the domain
// (billing) imports nothing, adapters (store, providers) import the domain, the
// Temporal layers (activities, workflows) import adapters' contracts, and only api,
// worker and cmd put everything together. A new edge must be added here on purpose.
var allowed = map[string][]string{
	"billing":              {},
	"internal/seal":        {},
	"internal/netguard":    {},
	"internal/rest":        {},
	"internal/testdb":      {"billing"},
	"internal/notify":      {"billing"},
	"internal/devserver":   {},
	"internal/archtest":    {},
	"providers/...":        {"billing", "providers", "internal/netguard"},
	"store":                {"billing", "internal/rest", "internal/seal"},
	"webhooks":             {"store"},
	"activities/...":       {"billing", "providers", "store", "webhooks", "internal/netguard", "activities"},
	"workflows":            {"activities", "billing", "providers"},
	"workflows/servertest": {"activities", "billing", "providers", "workflows", "store", "worker", "starter", "internal/devserver"},
	"starter":              {"billing", "workflows"},
	"worker":               {"activities", "billing", "starter", "store", "webhooks", "workflows"},
	"api":                  {"billing", "providers", "providers/simulator", "starter", "store", "webhooks", "workflows", "internal/netguard", "internal/rest"},
	"cmd/...":              nil, // the binary wires everything
}

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Standard   bool
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rulesFor(name string) ([]string, bool) {
	if r, ok := allowed[name]; ok {
		return r, true
	}
	for prefix, r := range allowed {
		if base, ok := strings.CutSuffix(prefix, "/..."); ok && (name == base || strings.HasPrefix(name, base+"/")) {
			return r, true
		}
	}
	return nil, false
}

// TestImportRules: every package's production imports within the module follow
// allowed, and every package is covered by a rule.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 15 {
		t.Fatalf("go list found %d packages; the test would prove nothing", len(pkgs))
	}
	for _, p := range pkgs {
		name := strings.TrimPrefix(p.ImportPath, module)
		rules, ok := rulesFor(name)
		if !ok {
			t.Errorf("%s has no import rule: add it to allowed", name)
			continue
		}
		if strings.HasPrefix(name, "cmd/") {
			continue
		}
		for _, imp := range p.Imports {
			dep, internal := strings.CutPrefix(imp, module)
			if internal && !slices.Contains(rules, dep) {
				t.Errorf("%s imports %s, which its rule does not allow", name, dep)
			}
		}
	}
}

// TestDomainImportsOnlyTheStandardLibrary: billing, and everything it pulls in, is the
// standard library: no SQL, no HTTP framework, no Temporal.
func TestDomainImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "../../billing").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != module+"billing" {
			t.Errorf("billing depends on %s", dep)
		}
	}
}
