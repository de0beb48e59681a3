package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/store"
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

// TestDevHonoursAnswerDelay: dev reads SIMULATOR_ANSWER_DELAY, so a crash drill has its
// window there too: the simulator has journaled the charge while the payment request
// is still waiting for the answer, and the request takes at least the delay.
func TestDevHonoursAnswerDelay(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	const delay = 4 * time.Second
	dataDir := t.TempDir()
	const key = "sk_test_delay0123456789abcdefgh"
	d := startDev(t, dataDir, freePorts(t), key, "SIMULATOR_ANSWER_DELAY="+delay.String())

	var cus struct{ ID string }
	call(t, d.apiURL, key, http.MethodPost, "/v1/customers", `{"email": "delay@example.com"}`, &cus)
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dataDir, "recurring.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()

	type answer struct {
		status  string
		elapsed time.Duration
	}
	answered := make(chan answer, 1)
	start := time.Now()
	go func() {
		// call's t.Fatal must run on the test goroutine: report through the channel.
		req, _ := http.NewRequest(http.MethodPost, d.apiURL+"/v1/payments", strings.NewReader(fmt.Sprintf(
			`{"customer": %q, "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035}, "amount": 700, "currency": "USD"}`, cus.ID)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{status: err.Error(), elapsed: time.Since(start)}
			return
		}
		_ = resp.Body.Close()
		answered <- answer{status: resp.Status, elapsed: time.Since(start)}
	}()

	deadline := time.Now().Add(time.Minute)
	for {
		n, err := db.CountSimulatorCharges(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n >= 1 {
			break
		}
		select {
		case a := <-answered:
			t.Fatalf("the payment was answered (%s after %s) before the simulator journaled a charge", a.status, a.elapsed)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no charge reached the simulator within a minute\n%s", d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case a := <-answered:
		t.Fatalf("the payment was answered (%s after %s) as soon as it was charged: SIMULATOR_ANSWER_DELAY=%s ignored", a.status, a.elapsed, delay)
	default:
	}
	select {
	case a := <-answered:
		if a.status != "201 Created" {
			t.Fatalf("payment answered %s", a.status)
		}
		if a.elapsed < delay {
			t.Errorf("payment answered after %s, before SIMULATOR_ANSWER_DELAY=%s", a.elapsed, delay)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the payment was not answered within a minute of its charge\n%s", d.stderr)
	}
	d.stop(t)
}
