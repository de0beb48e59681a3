package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recurring/recurring/store"
)

// TestCrashedRequestFreesItsKeyWithinSeconds: `recurring dev` is SIGKILLed while a keyed
// POST /v1/payments is in flight (the simulator has taken the charge and holds its
// answer back). After a restart, the client's retries with the same key get through
// within seconds of the kill (the dead claim's lease is 8 s), not minutes, and the
// payment is charged exactly once. Before the lease, the key stayed in use for 2
// minutes.
func TestCrashedRequestFreesItsKeyWithinSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	dataDir := t.TempDir()
	ports := freePorts(t)
	const key = "sk_test_crashkey0123456789abcdef"
	d := startDev(t, dataDir, ports, key, "SIMULATOR_ANSWER_DELAY=10m")

	var cus struct{ ID string }
	call(t, d.apiURL, key, http.MethodPost, "/v1/customers", `{"email": "crash@example.com"}`, &cus)
	var pm struct{ ID string }
	call(t, d.apiURL, key, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods",
		`{"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035}}`, &pm)
	body := fmt.Sprintf(`{"customer": %q, "payment_method": %q, "amount": 700, "currency": "USD"}`, cus.ID, pm.ID)

	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dataDir, "recurring.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()

	go func() { _, _, _ = keyedPost(d.apiURL, key, "pay-crash-1", body) }() // never answered: the process dies
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := db.CountSimulatorCharges(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no charge reached the simulator within a minute\n%s", d.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	killed := time.Now()

	d = startDev(t, dataDir, ports, key)
	restarted := time.Since(killed)
	var status int
	var answer []byte
	inUse := 0
	var sent time.Time
	for {
		sent = time.Now()
		status, answer, err = keyedPost(d.apiURL, key, "pay-crash-1", body)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusConflict || !strings.Contains(string(answer), "idempotency_key_in_use") {
			break
		}
		inUse++
		if time.Since(killed) > 2*time.Minute {
			t.Fatalf("the key is still in use %s after the crash", time.Since(killed))
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The retry that got through may itself wait: it joins the payment workflow, whose
	// charge attempt died with the worker and is retried after its activity timeout.
	through := sent.Sub(killed)
	t.Logf("restart took %s; the retry sent %s after the kill got through (answered after %s), after %d answers of 409 in use",
		restarted, through, time.Since(sent), inUse)
	if status != http.StatusCreated {
		t.Fatalf("retry after the crash: %d %s", status, answer)
	}
	var pay struct{ Status string }
	if err := json.Unmarshal(answer, &pay); err != nil || pay.Status != "succeeded" {
		t.Errorf("the payment after the crash: %s", answer)
	}
	// The lease is 8 s: well within 8 s of the restart (which may itself take a while
	// on a loaded machine) the key is free.
	if through > restarted+10*time.Second {
		t.Errorf("the key was in use until %s after the kill, %s after the restart; want within the 8 s lease", through, through-restarted)
	}
	if n, err := db.CountSimulatorCharges(context.Background()); err != nil || n != 1 {
		t.Errorf("simulator charges after the crash and the retry: %d, %v; want 1", n, err)
	}
	d.stop(t)
}

// keyedPost sends a JSON POST with an Idempotency-Key and returns the status and body.
func keyedPost(base, key, idemKey, body string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/payments", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idemKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}
