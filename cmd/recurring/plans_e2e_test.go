package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/store"
	"github.com/recurring/recurring/workflows"
)

// call sends one API request and decodes the JSON answer into out (when not nil).
func call(t *testing.T, base, key, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s = %d: %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

type e2ePlan struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	Paid          int    `json:"paid"`
	PaymentMethod string `json:"payment_method"`
}

type e2ePayments struct {
	Data []struct {
		Status      string `json:"status"`
		Installment int    `json:"installment"`
		PaymentType string `json:"payment_type"`
		IsRecurring bool   `json:"is_recurring"`
	} `json:"data"`
}

// newPlan creates a customer, saves a simulator card and starts a test-mode plan of
// three installments two seconds apart.
func newPlan(t *testing.T, base, key string) e2ePlan {
	t.Helper()
	var cus, pm struct{ ID string }
	call(t, base, key, http.MethodPost, "/v1/customers", `{"email": "e2e@example.com"}`, &cus)
	call(t, base, key, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods",
		`{"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}}`, &pm)
	var p e2ePlan
	call(t, base, key, http.MethodPost, "/v1/plans", fmt.Sprintf(`{"customer": %q, "payment_method": %q, "currency": "USD",
		"schedule": {"frequency": "seconds", "frequency_duration": 2, "recurring_amount": 1250, "installments": 3}}`, cus.ID, pm.ID), &p)
	return p
}

func waitCompleted(t *testing.T, base, key, id string, within time.Duration) e2ePlan {
	t.Helper()
	deadline := time.Now().Add(within)
	var p e2ePlan
	for time.Now().Before(deadline) {
		call(t, base, key, http.MethodGet, "/v1/plans/"+id, "", &p)
		if p.Status == "completed" {
			return p
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("plan %s not completed after %s: %+v", id, within, p)
	return p
}

func checkThreePayments(t *testing.T, base, key, id string) {
	t.Helper()
	var pays e2ePayments
	call(t, base, key, http.MethodGet, "/v1/plans/"+id+"/payments", "", &pays)
	seen := map[int]bool{}
	for _, p := range pays.Data {
		if p.Status != "succeeded" || !p.IsRecurring || seen[p.Installment] {
			t.Errorf("payment %+v: want one succeeded recurring attempt per installment", p)
		}
		seen[p.Installment] = true
	}
	if len(pays.Data) != 3 {
		t.Errorf("%d payment attempts, want exactly 3: %+v", len(pays.Data), pays.Data)
	}
}

// TestDevPlanEndToEnd: through the real binary, a test-mode plan every 2 seconds with 3
// installments gives exactly 3 succeeded payments and a plan.completed event.
func TestDevPlanEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	dataDir := t.TempDir()
	const key = "sk_test_e2eplans0123456789abcdef"
	d := startDev(t, dataDir, freePorts(t), key)
	p := newPlan(t, d.apiURL, key)
	done := waitCompleted(t, d.apiURL, key, p.ID, 2*time.Minute)
	if done.Paid != 3 {
		t.Errorf("completed plan paid %d installments, want 3", done.Paid)
	}
	checkThreePayments(t, d.apiURL, key, p.ID)

	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dataDir, "recurring.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if n, err := db.CountSimulatorCharges(context.Background()); err != nil || n != 3 {
		t.Errorf("the simulator journaled %d charges (%v), want 3", n, err)
	}
	var events []struct{ Type string }
	if err := db.SelectContext(context.Background(), &events,
		db.Rebind(`SELECT type FROM events WHERE data LIKE ?`), "%"+p.ID+"%"); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range events {
		count[e.Type]++
	}
	if count["plan.completed"] != 1 || count["payment.succeeded"] != 3 {
		t.Errorf("events for the plan: %v, want plan.completed once and payment.succeeded three times", count)
	}
	// dev serves one registry for the whole process at the API's /metrics: the three
	// charges and their lags, the SDK's activity metrics, the API's requests.
	scrape := get(t, d.apiURL+"/metrics")
	for _, want := range []string{
		`recurring_charges_total{decline_code="",outcome="succeeded",provider="simulator"} 3`,
		"recurring_charge_lag_seconds_count 3",
		`temporal_activity_execution_latency_seconds_count{activity_type="Charge"`,
		`recurring_http_requests_total{method="POST",route="/v1/plans",status="201"} 1`,
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("dev /metrics has no %q", want)
		}
	}
	if strings.Contains(scrape, p.ID) {
		t.Error("dev /metrics names the plan")
	}

	// Detaching the card reaches the simulator: the dispatcher starts its
	// RemoveCredential workflow from the store's outbox, the simulator removes the
	// card, and the outbox forgets the sealed token.
	if code := call(t, d.apiURL, key, http.MethodPost, "/v1/payment-methods/"+done.PaymentMethod+"/detach", "", nil); code != http.StatusOK {
		t.Fatalf("detach the plan's card %q: %d", done.PaymentMethod, code)
	}
	c := d.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var outcome string
	for {
		err := c.GetWorkflow(ctx, workflows.RemoveCredentialID(done.PaymentMethod), "").Get(ctx, &outcome)
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond) // the dispatcher has not started it yet
	}
	if outcome != billing.CredentialRemoved {
		t.Errorf("removal of the detached card at the simulator ended %q, want %q", outcome, billing.CredentialRemoved)
	}
	var row struct {
		Outcome   string `db:"outcome"`
		TokenGone bool   `db:"token_gone"`
	}
	if err := db.GetContext(context.Background(), &row, db.Rebind(`SELECT outcome, token IS NULL AS token_gone
		FROM credential_removals WHERE payment_method_id = ?`), done.PaymentMethod); err != nil ||
		row.Outcome != billing.CredentialRemoved || !row.TokenGone {
		t.Errorf("the outbox row of the detached card: %+v, %v; want removed, its token dropped", row, err)
	}
	d.stop(t)
}

// TestWorkerKilledMidCharge: the worker process is SIGKILLed after the simulator took a
// charge but before the worker heard the answer. Restarted, the worker retries the
// activity with the same idempotency key, and the simulator replays its answer: the
// plan still ends with exactly 3 charges.
func TestWorkerKilledMidCharge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	st := startOpsStack(t, "crash")
	base, key, db := st.base, st.key, st.db
	worker := startOps(t, st.with("SIMULATOR_ANSWER_DELAY=3s"), "worker")

	p := newPlan(t, base, key)
	// Kill the worker the moment the first charge is committed at the simulator: its
	// answer is still held back by SIMULATOR_ANSWER_DELAY.
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := db.CountSimulatorCharges(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no charge reached the simulator within a minute\n%s", worker.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := worker.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-worker.exited
	var pays e2ePayments
	call(t, base, key, http.MethodGet, "/v1/plans/"+p.ID+"/payments", "", &pays)
	if len(pays.Data) != 0 {
		t.Fatalf("the killed worker recorded %d payments; the kill came too late to test the window", len(pays.Data))
	}

	restarted := startOps(t, st.env, "worker")
	defer restarted.terminate(t)
	// The charge activity's attempt times out (one minute) before Temporal retries it.
	done := waitCompleted(t, base, key, p.ID, 4*time.Minute)
	if done.Paid != 3 {
		t.Errorf("plan paid %d installments, want 3", done.Paid)
	}
	checkThreePayments(t, base, key, p.ID)
	if n, err := db.CountSimulatorCharges(context.Background()); err != nil || n != 3 {
		t.Errorf("the simulator charged %d times (%v), want exactly 3", n, err)
	}
}
