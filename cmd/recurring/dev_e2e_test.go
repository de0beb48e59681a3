package main

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDevDataDir: through the real binary, a fresh data dir's files are the owner's
// only, and a second `recurring dev` on the dir exits at once, naming the dir and the
// first one's pid, while the first keeps serving.
func TestDevDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	dataDir := t.TempDir()
	ports := freePorts(t)
	const key = "sk_test_datadir0123456789abcdef"
	first := startDev(t, dataDir, ports, key)

	t.Run("files are 0600", func(t *testing.T) {
		for _, name := range []string{"recurring.db", "temporal.db", "temporal.log", "dev.json", "dev.lock"} {
			requireMode(t, filepath.Join(dataDir, name), 0o600)
		}
		// SQLite's side files take the main file's mode; both databases run in WAL mode.
		for _, side := range []string{"recurring.db-wal", "recurring.db-shm", "temporal.db-wal", "temporal.db-shm"} {
			if _, err := os.Stat(filepath.Join(dataDir, side)); err == nil {
				requireMode(t, filepath.Join(dataDir, side), 0o600)
			}
		}
	})

	t.Run("a second dev exits at once", func(t *testing.T) {
		// The same ports too: a lock taken after binding them would fail on a port
		// instead, naming neither the dir nor the pid.
		second := devCommand(t, dataDir, ports, key)
		var stderr syncBuffer
		second.Stderr = &stderr
		start := time.Now()
		if err := second.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- second.Wait() }()
		var err error
		select {
		case err = <-exited:
		case <-time.After(30 * time.Second):
			_ = second.Process.Kill()
			t.Fatalf("the second dev still runs after 30s\nstderr:\n%s", &stderr)
		}
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Fatalf("the second dev exited with %v, want a non-zero status\nstderr:\n%s", err, &stderr)
		}
		pid := "pid " + strconv.Itoa(first.cmd.Process.Pid)
		if msg := stderr.String(); !strings.Contains(msg, dataDir) || !strings.Contains(msg, pid) {
			t.Errorf("stderr %q does not name the data dir %s and %s", msg, dataDir, pid)
		}
		t.Logf("the second dev exited after %s: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(stderr.String()))
		if got := httpStatus(t, http.MethodGet, first.apiURL+"/healthz", ""); got != http.StatusOK {
			t.Errorf("the first dev's /healthz answered %d after the second one tried, want 200", got)
		}
		select {
		case err := <-first.exited:
			t.Fatalf("the first dev exited (%v)\nstderr:\n%s", err, first.stderr)
		default:
		}
	})
	first.stop(t)
}

func requireMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %#o, want %#o", filepath.Base(path), got, want)
	}
}
