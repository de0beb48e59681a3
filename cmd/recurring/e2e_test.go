package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/recurring/recurring/internal/devserver"
	"github.com/recurring/recurring/internal/payloadcodec"
	"github.com/recurring/recurring/internal/seal"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// buildBinary compiles the real recurring binary once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "recurring-e2e-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "recurring")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// devProcess is a running `recurring dev`.
type devProcess struct {
	cmd            *exec.Cmd
	exited         chan error // receives Wait's result once the process ends
	stdout, stderr *syncBuffer
	apiURL         string
	temporal       string
	uiURL          string
	dataDir        string
}

type devPorts struct{ http, temporal, ui int }

func freePorts(t *testing.T) devPorts {
	t.Helper()
	var p [3]int
	for i := range p {
		port, err := devserver.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		p[i] = port
	}
	return devPorts{p[0], p[1], p[2]}
}

// devCommand is `recurring dev` on dataDir and ports, not yet started; env adds to
// the test's environment.
func devCommand(t *testing.T, dataDir string, ports devPorts, apiKey string, env ...string) *exec.Cmd {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir,
		"--http", "127.0.0.1:"+strconv.Itoa(ports.http),
		"--temporal-port", strconv.Itoa(ports.temporal),
		"--ui-port", strconv.Itoa(ports.ui),
		"--api-key", apiKey)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func startDev(t *testing.T, dataDir string, ports devPorts, apiKey string, env ...string) *devProcess {
	t.Helper()
	d := &devProcess{
		stdout: &syncBuffer{}, stderr: &syncBuffer{},
		apiURL:   "http://127.0.0.1:" + strconv.Itoa(ports.http),
		temporal: "127.0.0.1:" + strconv.Itoa(ports.temporal),
		uiURL:    "http://127.0.0.1:" + strconv.Itoa(ports.ui),
		dataDir:  dataDir,
	}
	d.cmd = devCommand(t, dataDir, ports, apiKey, env...)
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.exited = make(chan error, 1)
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get(d.apiURL + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			// The banner is written before the API serves, but reaches us through a
			// pipe: wait for its last line too.
			if resp.StatusCode == http.StatusOK && strings.Contains(d.stdout.String(), "Try: curl") {
				return d
			}
		}
		select {
		case err := <-d.exited:
			t.Fatalf("recurring dev exited before it was ready (%v)\nstdout:\n%s\nstderr:\n%s", err, d.stdout, d.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("recurring dev not ready after 2 minutes\nstdout:\n%s\nstderr:\n%s", d.stdout, d.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stop sends Ctrl-C and requires a clean exit.
func (d *devProcess) stop(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.exited:
		if err != nil {
			t.Fatalf("recurring dev did not exit cleanly on Ctrl-C: %v\nstderr:\n%s", err, d.stderr)
		}
	case <-time.After(time.Minute):
		_ = d.cmd.Process.Kill()
		t.Fatalf("recurring dev still running a minute after Ctrl-C\nstderr:\n%s", d.stderr)
	}
}

// client dials dev's Temporal server with dev's payload codec (its keys from dev.json),
// as the engine's own processes do: its payloads are encrypted.
func (d *devProcess) client(t *testing.T) client.Client {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(d.dataDir, "dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st devState
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	codec := codecFor(t, st.EncryptionKeys)
	c, err := starter.Dial(context.Background(), starter.Config{HostPort: d.temporal, Namespace: devNamespace,
		DataConverter: codec.DataConverter(), FailureConverter: codec.FailureConverter()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// codecFor is the payload codec over an ENCRYPTION_KEYS spec.
func codecFor(t *testing.T, keys string) *payloadcodec.Codec {
	t.Helper()
	ring, err := seal.Parse(keys)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := payloadcodec.New(ring)
	if err != nil {
		t.Fatal(err)
	}
	return codec
}

func httpStatus(t *testing.T, method, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func startBaseline(t *testing.T, c client.Client, id string, due time.Time) {
	t.Helper()
	_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: starter.TaskQueue},
		workflows.Baseline, workflows.BaselineInput{DueAt: due})
	if err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
}

func baselineResult(t *testing.T, c client.Client, id string) workflows.BaselineResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.BaselineResult
	if err := c.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		t.Fatalf("result of %s: %v", id, err)
	}
	return res
}

// TestDevEndToEnd runs the real binary: it starts on free ports with a fresh data dir,
// runs workflows through the embedded server, stops on Ctrl-C, restarts on the same
// data dir, and finds every workflow and the API key where it left them.
func TestDevEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	dataDir := t.TempDir()
	ports := freePorts(t)
	const key = "sk_test_e2e0123456789abcdefgh"

	d := startDev(t, dataDir, ports, key)
	for _, want := range []string{d.apiURL, d.uiURL, d.temporal, key} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("banner does not print %q:\n%s", want, d.stdout)
		}
	}
	if got := httpStatus(t, http.MethodGet, d.uiURL+"/", ""); got != http.StatusOK {
		t.Errorf("Web UI answered %d, want 200", got)
	}
	if got := httpStatus(t, http.MethodGet, d.apiURL+"/v1/nothing", ""); got != http.StatusUnauthorized {
		t.Errorf("/v1 without a key answered %d, want 401", got)
	}
	c := d.client(t)
	sa, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: devNamespace})
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range workflows.SearchAttributes() {
		if sa.GetCustomAttributes()[name] != typ {
			t.Errorf("search attribute %s = %v, want %v", name, sa.GetCustomAttributes()[name], typ)
		}
	}

	now := time.Now()
	startBaseline(t, c, "e2e-done-before", now)
	before := baselineResult(t, c, "e2e-done-before")
	if before.RanAt.Before(before.DueAt) {
		t.Fatalf("activity ran at %v, before its due time %v", before.RanAt, before.DueAt)
	}
	// Due while the process is down or just after it restarts: only a timer that
	// survived the restart can complete it.
	startBaseline(t, c, "e2e-due-across-restart", time.Now().Add(5*time.Second))
	startBaseline(t, c, "e2e-due-in-an-hour", time.Now().Add(time.Hour))
	d.stop(t)

	d = startDev(t, dataDir, ports, key)
	if got := httpStatus(t, http.MethodGet, d.apiURL+"/v1/nothing", key); got == http.StatusUnauthorized {
		t.Errorf("the API key stopped working across the restart")
	}
	c = d.client(t)
	if again := baselineResult(t, c, "e2e-done-before"); !again.RanAt.Equal(before.RanAt) {
		t.Errorf("completed workflow's result changed across restart: %v, then %v", before.RanAt, again.RanAt)
	}
	across := baselineResult(t, c, "e2e-due-across-restart")
	if across.FiredAt.Before(across.DueAt) {
		t.Errorf("timer fired at %v, before due %v", across.FiredAt, across.DueAt)
	}
	desc, err := c.DescribeWorkflowExecution(context.Background(), "e2e-due-in-an-hour", "")
	if err != nil {
		t.Fatal(err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Errorf("workflow due in an hour is %v after restart, want running", st)
	}
	d.stop(t)
}
