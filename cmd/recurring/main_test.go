package main

import (
	"bytes"
	"context"
	"net"
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
