package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/devserver"
	"github.com/recurring/recurring/internal/testdb"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/workflows"
)

// opsProcess is a running `recurring api` or `recurring worker`.
type opsProcess struct {
	cmd    *exec.Cmd
	exited chan error
	stderr *syncBuffer
}

func startOps(t *testing.T, env []string, args ...string) *opsProcess {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := &opsProcess{cmd: exec.Command(bin, args...), exited: make(chan error, 1), stderr: &syncBuffer{}}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	return p
}

// terminate sends SIGTERM and requires exit status 0.
func (p *opsProcess) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Fatalf("%v did not exit 0 on SIGTERM: %v\n%s", p.cmd.Args[1:], err, p.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%v still running a minute after SIGTERM\n%s", p.cmd.Args[1:], p.stderr)
	}
}

func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	last := 0
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			last = resp.StatusCode
			_ = resp.Body.Close()
			if last == want {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s answered %d, want %d", url, last, want)
}

// TestOpsProcesses runs what ops deploy — migrate, api and worker as separate processes
// configured only by environment variables — against a Temporal server and Postgres,
// and checks readiness, that the worker runs workflows, and clean SIGTERM exits.
func TestOpsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	dbURL := testdb.PostgresURL(t)
	srv, err := devserver.Start(devserver.Options{DataDir: t.TempDir(), UIPort: -1, Namespace: "ops", SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.Stop()
		}
	}()
	httpPort, err := devserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"DATABASE_URL=" + dbURL, "TEMPORAL_ADDRESS=" + srv.HostPort, "TEMPORAL_NAMESPACE=ops",
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(httpPort), "SHUTDOWN_TIMEOUT=5s", "LOG_LEVEL=warn",
		"ENCRYPTION_KEYS=k1:" + strings.Repeat("ab", 32),
	}

	// Before migrate, api refuses to start rather than fail later.
	early := startOps(t, env, "api")
	select {
	case err := <-early.exited:
		if err == nil || !strings.Contains(early.stderr.String(), "recurring migrate") {
			t.Fatalf("api on an unmigrated database: %v\n%s", err, early.stderr)
		}
	case <-time.After(time.Minute):
		t.Fatal("api started on an unmigrated database")
	}

	migrate := startOps(t, env, "migrate", "--search-attributes")
	if err := <-migrate.exited; err != nil {
		t.Fatalf("migrate: %v\n%s", err, migrate.stderr)
	}

	apiProc := startOps(t, env, "api")
	metricsPort, err := devserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	workerMetrics := "http://127.0.0.1:" + strconv.Itoa(metricsPort)
	workerProc := startOps(t, append(env, "METRICS_ADDR=127.0.0.1:"+strconv.Itoa(metricsPort)), "worker")
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	waitStatus(t, base+"/readyz", http.StatusOK)
	waitStatus(t, workerMetrics+"/healthz", http.StatusOK)
	waitStatus(t, workerMetrics+"/readyz", http.StatusOK)

	codec := codecFor(t, "k1:"+strings.Repeat("ab", 32))
	c, err := starter.Dial(context.Background(), starter.Config{HostPort: srv.HostPort, Namespace: "ops",
		DataConverter: codec.DataConverter(), FailureConverter: codec.FailureConverter()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	startBaseline(t, c, "ops-baseline", time.Now())
	if res := baselineResult(t, c, "ops-baseline"); res.RanAt.IsZero() {
		t.Fatal("the worker process did not run the workflow's activity")
	}
	// The worker's own listener serves the SDK's metrics of what it just ran, and the
	// store gauges; the API serves its requests (the /readyz polls above).
	// The SDK counts the workflow's completion after the server has it, which is when
	// the client sees the result: poll a moment for it.
	wants := []string{`temporal_activity_execution_latency_seconds_count{activity_type="Noop"`,
		`temporal_workflow_completed{`, "recurring_installments_waiting 0", "recurring_outbox_backlog 0", "go_goroutines"}
	var workerScrape string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		workerScrape = get(t, workerMetrics+"/metrics")
		missing := slices.DeleteFunc(slices.Clone(wants), func(w string) bool { return strings.Contains(workerScrape, w) })
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("worker /metrics has no %q", missing)
			break
		}
	}
	if apiScrape := get(t, base+"/metrics"); !strings.Contains(apiScrape, `recurring_http_requests_total{method="GET",route="/readyz",status="200"}`) {
		t.Errorf("api /metrics does not count its /readyz requests:\n%.2000s", apiScrape)
	}
	workerProc.terminate(t)

	// With Temporal gone the API stays up and says what is missing.
	c.Close()
	srv.Stop()
	stopped = true
	waitStatus(t, base+"/readyz", http.StatusServiceUnavailable)
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), `"failing":["temporal"]`) {
		t.Errorf("/readyz with Temporal down = %s, want temporal named as failing", body)
	}
	apiProc.terminate(t)
}

// get returns url's body, requiring 200.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, body)
	}
	return string(body)
}

// opsStack is what ops run, started for a test: an embedded Temporal server, a
// migrated Postgres store with one merchant, and `recurring api` serving on base. The
// test starts its own workers with env (plus any extra variables).
type opsStack struct {
	base string
	key  string // the merchant's test key
	env  []string
	db   *store.DB
}

func startOpsStack(t *testing.T, namespace string) opsStack {
	t.Helper()
	dbURL := testdb.PostgresURL(t)
	srv, err := devserver.Start(devserver.Options{DataDir: t.TempDir(), UIPort: -1, Namespace: namespace, SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	httpPort, err := devserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	st := opsStack{base: "http://127.0.0.1:" + strconv.Itoa(httpPort), key: store.NewSecretKey(billing.ModeTest)}
	st.env = []string{
		"DATABASE_URL=" + dbURL, "TEMPORAL_ADDRESS=" + srv.HostPort, "TEMPORAL_NAMESPACE=" + namespace,
		"HTTP_ADDR=127.0.0.1:" + strconv.Itoa(httpPort), "LOG_LEVEL=warn",
		"ENCRYPTION_KEYS=k1:" + strings.Repeat("cd", 32), "SIMULATOR_VAULT_KEY=" + strings.Repeat("ef", 32),
	}
	if err := <-startOps(t, st.env, "migrate").exited; err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if st.db, err = store.Open(context.Background(), dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.db.Close() })
	if _, err := st.db.CreateMerchant(context.Background(), "Ops", st.key); err != nil {
		t.Fatal(err)
	}
	apiProc := startOps(t, st.env, "api")
	t.Cleanup(func() { apiProc.terminate(t) })
	waitStatus(t, st.base+"/readyz", http.StatusOK)
	return st
}

// with returns the stack's environment plus extra variables.
func (st opsStack) with(extra ...string) []string {
	return append(st.env[:len(st.env):len(st.env)], extra...)
}
