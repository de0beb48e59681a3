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
	"billing":                     {},
	"internal/seal":               {},
	"internal/netguard":           {},
	"internal/rest":               {"billing"},
	"internal/testdb":             {"billing"},
	"internal/notify":             {"billing"},
	"internal/devserver":          {},
	"internal/metrics":            {},
	"internal/payloadcodec":       {"internal/seal"},
	"internal/tracing":            {},
	"internal/archtest":           {},
	"providers/...":               {"billing", "providers", "internal/netguard"},
	"providers/aps/apstest":       {"providers", "providers/aps"},  // the double signs as the adapter does
	"providers/axerve/axervetest": {"billing", "providers/axerve"}, // the double shares the adapter's currency table
	"store":                       {"billing", "internal/rest", "internal/seal"},
	"store/storetest":             {"billing"},
	"webhooks":                    {"billing"},
	"activities":                  {"billing", "providers", "webhooks", "internal/netguard", "internal/metrics"},
	"activities/activitiestest":   {"activities", "billing", "providers", "internal/rest"},
	"workflows":                   {"activities", "billing", "providers"},
	"workflows/servertest":        {"activities", "billing", "providers", "workflows", "store", "worker", "starter", "internal/devserver"},
	"starter":                     {"activities", "billing", "workflows"},
	"worker":                      {"activities", "billing", "starter", "webhooks", "workflows"},
	"api":                         {"billing", "providers", "providers/simulator", "starter", "webhooks", "workflows", "internal/netguard", "internal/rest", "internal/provideraccounts", "internal/metrics"},
	"internal/provideraccounts":   {"billing", "providers", "providers/aps", "providers/axerve", "providers/stripe"},
	"cmd/...":                     nil, // the binary wires everything
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

// infrastructure are the import paths (and their sub-packages) of what talks to a
// database or serves HTTP: none of it belongs in the domain or the workflows.
var infrastructure = []string{
	"database/sql", "github.com/jmoiron/sqlx", "github.com/lib/pq", "github.com/pressly/goose",
	"modernc.org/sqlite", "github.com/labstack/echo", "github.com/mattn/go-sqlite3",
	"github.com/jackc/pgx", module + "store", module + "api",
}

// viaTemporalSDK reports whether every importer of dep in deps is outside the module
// and outside infrastructure, i.e. dep arrives only through the Temporal SDK's own
// dependencies (google/uuid implements database/sql/driver's Valuer).
func viaTemporalSDK(dep string, deps []pkg) bool {
	for _, p := range deps {
		if !slices.Contains(p.Imports, dep) {
			continue
		}
		if strings.HasPrefix(p.ImportPath, module) || p.ImportPath == "database/sql" {
			return false
		}
	}
	return true
}

// TestWorkflowsLinkNoInfrastructure: the workflows (and the activities and domain they
// import) link no database/sql, no SQL driver, no goose, no sqlx and no Echo. A
// workflow cannot reach the database but through an activity, and a worker can be
// built without the store's code in its workflow package.
func TestWorkflowsLinkNoInfrastructure(t *testing.T) {
	for _, target := range []string{"workflows", "activities", "billing", "webhooks"} {
		out, err := exec.Command("go", "list", "-deps", "-json", "../../"+target).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		var deps []pkg
		dec := json.NewDecoder(strings.NewReader(string(out)))
		for {
			var p pkg
			if err := dec.Decode(&p); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			deps = append(deps, p)
		}
		if len(deps) < 5 {
			t.Fatalf("%s: go list found %d dependencies; the test would prove nothing", target, len(deps))
		}
		for _, d := range deps {
			for _, bad := range infrastructure {
				if d.ImportPath != bad && !strings.HasPrefix(d.ImportPath, bad+"/") {
					continue
				}
				// database/sql/driver is only an interface package; the SDK's uuid brings it.
				if d.ImportPath == "database/sql/driver" && viaTemporalSDK(d.ImportPath, deps) {
					continue
				}
				t.Errorf("%s links %s", target, d.ImportPath)
			}
		}
	}
}
