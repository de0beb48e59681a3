package api_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// openapi.yaml is the source of truth: the committed openapi.gen.go must be what
// `go generate ./api` makes of it today.
func TestGeneratedCodeMatchesSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("runs oapi-codegen")
	}
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "openapi.gen.go")
	cfg = regexp.MustCompile(`(?m)^output: .*$`).ReplaceAll(cfg, []byte("output: "+out))
	cfgPath := filepath.Join(t.TempDir(), "oapi-codegen.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("go", "tool", "oapi-codegen", "-config", cfgPath, "openapi.yaml").CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("openapi.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("openapi.gen.go is stale: run `go generate ./api` after changing openapi.yaml")
	}
}
