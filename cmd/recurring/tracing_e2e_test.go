package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// otlpCollector is a fake OpenTelemetry collector: an OTLP/gRPC TraceService that keeps
// the spans it receives (the protocol the exporter speaks, so the real exporter is
// what is tested).
type otlpCollector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string][]string // trace id → span names
}

func (c *otlpCollector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				id := hex.EncodeToString(s.GetTraceId())
				c.spans[id] = append(c.spans[id], s.GetName())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (c *otlpCollector) trace(id string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.spans[id])
}

// TestDevTracesARequestIntoTheCharge: with OTEL_EXPORTER_OTLP_ENDPOINT set, a plan
// created with a W3C traceparent is one trace from the API request through the
// Temporal client into the plan workflow and its Charge activity, exported over
// OTLP/gRPC; the request's log line names the trace id. A malformed endpoint stops dev
// at start, naming the variable.
func TestDevTracesARequestIntoTheCharge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &otlpCollector{spans: map[string][]string{}}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, col)
	go func() { _ = srv.Serve(l) }()
	defer srv.Stop()

	const key = "sk_test_e2etrace0123456789abcdef"
	d := startDev(t, t.TempDir(), freePorts(t), key, "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+l.Addr().String())
	var cus, pm struct{ ID string }
	call(t, d.apiURL, key, http.MethodPost, "/v1/customers", `{"email": "trace@example.com"}`, &cus)
	call(t, d.apiURL, key, http.MethodPost, "/v1/customers/"+cus.ID+"/payment-methods",
		`{"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2035, "cvc": "123"}}`, &pm)
	traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, d.apiURL+"/v1/plans", strings.NewReader(fmt.Sprintf(`{"customer": %q,
		"payment_method": %q, "currency": "USD", "schedule": {"frequency": "seconds", "frequency_duration": 1,
		"recurring_amount": 900, "installments": 1}}`, cus.ID, pm.ID)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p e2ePlan
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create plan = %d, %v", resp.StatusCode, err)
	}
	_ = resp.Body.Close()
	waitCompleted(t, d.apiURL, key, p.ID, 2*time.Minute)

	want := []string{"POST /v1/plans", "RunWorkflow:Plan", "StartActivity:Charge", "RunActivity:Charge"}
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		got = col.trace(traceID)
		missing := false
		for _, w := range want {
			missing = missing || !slices.Contains(got, w)
		}
		if !missing {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("trace %s has no %q span; it has %v", traceID, w, got)
		}
	}
	if !strings.Contains(d.stderr.String(), `"trace_id":"`+traceID+`"`) {
		t.Error("the request's log line does not name its trace id")
	}
	d.stop(t)

	bad := devCommand(t, t.TempDir(), freePorts(t), key, "OTEL_EXPORTER_OTLP_ENDPOINT=not a url")
	out, err := bad.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "OTEL_EXPORTER_OTLP_ENDPOINT") {
		t.Errorf("dev with a malformed endpoint: %v\n%s", err, out)
	}
}
