package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func runForTest(t *testing.T, args []string, env map[string]string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, env, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no command", nil, nil, "Usage:"},
		{"unknown command", []string{"serve"}, nil, `unknown command "serve"`},
		{"unknown dev flag", []string{"dev", "--colour"}, nil, "flag provided but not defined: -colour"},
		{"bad port", []string{"dev", "--temporal-port", "70000"}, nil, "--temporal-port must be a port"},
		{"bad http address", []string{"dev", "--http", "8080"}, nil, "--http must be host:port"},
		{"bad api key", []string{"dev", "--api-key", "hunter2"}, nil, "--api-key must look like sk_test_"},
		{"stray argument", []string{"dev", "now"}, nil, "dev takes no arguments"},
		{"no workflow cache", []string{"dev", "--workflow-cache", "0"}, nil, "--workflow-cache must be at least 1"},
		{"no history cache", []string{"dev", "--history-cache", "-5"}, nil, "--history-cache must be at least 1"},
		{"zero workflow cache", []string{"worker"}, map[string]string{"DATABASE_URL": "sqlite:x.db", "WORKFLOW_CACHE_SIZE": "0"}, "WORKFLOW_CACHE_SIZE must be at least 1"},
		{"api without database", []string{"api"}, map[string]string{}, "DATABASE_URL is required"},
		{"bad bool", []string{"worker"}, map[string]string{"DATABASE_URL": "sqlite:x.db", "TEMPORAL_TLS": "maybe"}, "TEMPORAL_TLS"},
		{"bad int", []string{"worker"}, map[string]string{"DATABASE_URL": "sqlite:x.db", "WORKER_POLLERS": "many"}, "WORKER_POLLERS"},
		{"zero pollers", []string{"worker"}, map[string]string{"DATABASE_URL": "sqlite:x.db", "WORKER_POLLERS": "0"}, "WORKER_POLLERS must be at least 1"},
		{"bad duration", []string{"api"}, map[string]string{"DATABASE_URL": "sqlite:x.db", "SHUTDOWN_TIMEOUT": "soon"}, "SHUTDOWN_TIMEOUT"},
		{"bad log level", []string{"migrate"}, map[string]string{"DATABASE_URL": "sqlite:x.db", "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"half a client cert", []string{"worker"}, map[string]string{"DATABASE_URL": "sqlite:x.db", "TEMPORAL_TLS_CERT": "c.pem"}, "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY"},
		{"merchant without name", []string{"merchant", "create"}, nil, "--name is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runForTest(t, tc.args, tc.env)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not name %q", stderr, tc.want)
			}
		})
	}
}

// A port someone else holds fails at once with the port named, before the embedded
// server starts.
func TestDevPortInUse(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Close() }()
	port := held.Addr().(*net.TCPAddr).Port
	addr := held.Addr().String()

	for name, args := range map[string][]string{
		"http":     {"--http", addr},
		"temporal": {"--http", "127.0.0.1:0", "--temporal-port", itoa(port)},
		"ui":       {"--http", "127.0.0.1:0", "--temporal-port", "0", "--ui-port", itoa(port)},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runForTest(t, append([]string{"dev", "--data-dir", t.TempDir()}, args...), nil)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if !strings.Contains(stderr, "port already in use") || !strings.Contains(stderr, itoa(port)) {
				t.Errorf("stderr %q does not say port %d is in use", stderr, port)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestProbe: the healthcheck command's exit status follows the answer.
func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"probe", srv.URL + "/readyz"}, 0},
		{[]string{"probe", srv.URL + "/other"}, 1},
		{[]string{"probe", "http://127.0.0.1:1/readyz"}, 1},
		{[]string{"probe"}, 2},
		{[]string{"probe", "not a url"}, 2},
	} {
		if code, _, _ := runForTest(t, c.args, nil); code != c.code {
			t.Errorf("%v exits %d, want %d", c.args, code, c.code)
		}
	}
}

// TestVersion: `recurring version` names the Temporal SDK, server and UI the binary was
// built with, at the versions go.mod requires; extra arguments are a usage error.
func TestVersion(t *testing.T) {
	code, stdout, stderr := runForTest(t, []string{"version"}, nil)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"go.temporal.io/sdk", "go.temporal.io/server", "github.com/temporalio/ui-server/v2"} {
		want := ""
		for _, line := range strings.Split(string(mod), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == path {
				want = f[1]
			}
		}
		if want == "" || !strings.Contains(stdout, path+" "+want) {
			t.Errorf("version output does not name %s %s:\n%s", path, want, stdout)
		}
	}
	if !strings.HasPrefix(stdout, "recurring ") || !strings.Contains(stdout, "commit ") {
		t.Errorf("version output:\n%s", stdout)
	}
	if code, _, _ := runForTest(t, []string{"version", "extra"}, nil); code != 2 {
		t.Errorf("version with an argument exits %d, want 2", code)
	}
}

// `recurring <cmd> --help` and -h print the command's usage and flags on stdout and
// exit 0, for every command, without doing anything else.
func TestHelp(t *testing.T) {
	// A flag each command's help must show, so the flags come from its own flag set.
	flagOf := map[string]string{
		"dev": "-data-dir", "api": "", "worker": "", "migrate": "-search-attributes",
		"merchant": "-name", "bench": "-workflows", "webhook": "-secret", "version": "", "probe": "",
	}
	if len(flagOf) != len(commands) {
		t.Fatalf("the test knows %d commands, main has %d: add the new one", len(flagOf), len(commands))
	}
	for name := range commands {
		wantFlag, ok := flagOf[name]
		if !ok {
			t.Errorf("no help expectations for command %q", name)
			continue
		}
		sub := map[string][]string{"merchant": {"create"}, "webhook": {"listen"}}[name]
		for _, args := range [][]string{
			append(append([]string{name}, sub...), "--help"),
			append(append([]string{name}, sub...), "-h"),
			{name, "-help"},
			{"help", name},
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				dataDir := filepath.Join(t.TempDir(), "data")
				if name == "dev" || name == "bench" {
					args = append(slices.Clone(args), "--data-dir", dataDir)
				}
				code, stdout, stderr := runForTest(t, args, map[string]string{"DATABASE_URL": "sqlite:" + dataDir + ".db"})
				if code != 0 || stderr != "" {
					t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, stderr)
				}
				if !strings.HasPrefix(stdout, "Usage: recurring "+name) {
					t.Errorf("stdout does not start with the usage line:\n%s", stdout)
				}
				if wantFlag != "" && !(strings.Contains(stdout, "Flags:\n") && strings.Contains(stdout, wantFlag)) {
					t.Errorf("stdout does not list the flag %s:\n%s", wantFlag, stdout)
				}
				if strings.Contains(stdout, "Usage of ") {
					t.Errorf("stdout repeats flag's own usage line:\n%s", stdout)
				}
				if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("help created %s (%v)", dataDir, err)
				}
				if _, err := os.Stat(dataDir + ".db"); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("help created %s.db (%v)", dataDir, err)
				}
			})
		}
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, stdout, stderr := runForTest(t, args, nil)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "recurring dev [flags]") {
			t.Errorf("recurring %s: exit %d, stdout %q, stderr %q", args[0], code, stdout, stderr)
		}
	}
	// A value that merely contains -h is not a request for help.
	if wantsHelp([]string{"--name", "-hx"}) || wantsHelp([]string{"--", "-h"}) || !wantsHelp([]string{"--help=true"}) {
		t.Error("wantsHelp misreads -hx, -- -h or --help=true")
	}
}

// dev reads the simulator settings and rejects a bad one with status 2, naming the
// variable, before it touches its data dir.
func TestDevRejectsBadProviderEnv(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"SIMULATOR_ANSWER_DELAY":                      {"SIMULATOR_ANSWER_DELAY": "soon"},
		"SIMULATOR_ANSWER_DELAY must not be negative": {"SIMULATOR_ANSWER_DELAY": "-1s"},
		"SIMULATOR_VAULT_KEY must be 64 hex digits":   {"SIMULATOR_VAULT_KEY": "abc"},
	} {
		t.Run(name, func(t *testing.T) {
			dataDir := filepath.Join(t.TempDir(), "data")
			code, _, stderr := runForTest(t, []string{"dev", "--data-dir", dataDir, "--http", "127.0.0.1:0"}, env)
			if code != 2 || !strings.Contains(stderr, name) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %q", code, stderr, name)
			}
			if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("dev created its data dir before rejecting the environment (%v)", err)
			}
		})
	}
}

// TestProductionBuildHasNoDevServer: the Dockerfile's build (-tags nodev) links neither
// the embedded Temporal server nor the Web UI, refuses `dev`, and still runs the ops
// commands.
func TestProductionBuildHasNoDevServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "recurring")
	if out, err := exec.Command("go", "build", "-tags", "nodev", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nodev: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, mod := range []string{"go.temporal.io/server", "github.com/temporalio/ui-server"} {
		if strings.Contains(string(out), mod) {
			t.Errorf("the production binary links %s", mod)
		}
	}
	if err := exec.Command(bin, "dev").Run(); err == nil {
		t.Error("the production binary runs `dev`")
	}
	ver, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.Contains(string(ver), "go.temporal.io/sdk v") || !strings.Contains(string(ver), "go.temporal.io/server not linked") {
		t.Errorf("version = %s, %v", ver, err)
	}
	if err := exec.Command(bin, "api", "--help").Run(); err != nil {
		t.Errorf("api --help: %v", err)
	}
}
