package servertest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/temporalproto"

	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/starter"
	"github.com/recurring/recurring/workflows"
)

// capture is a slog handler that keeps every record at INFO and above, with the
// logger's attributes, rendered as text.
type capture struct {
	mu      *sync.Mutex
	records *[]captured
	attrs   []slog.Attr
}

type captured struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (c captured) String() string { return fmt.Sprintf("%s %q %v", c.level, c.msg, c.attrs) }

func newCapture() *capture { return &capture{mu: &sync.Mutex{}, records: &[]captured{}} }

func (h *capture) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *capture) Handle(_ context.Context, r slog.Record) error {
	rec := captured{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	add := func(a slog.Attr) bool { rec.attrs[a.Key] = fmt.Sprint(a.Value.Resolve().Any()); return true }
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, rec)
	return nil
}

func (h *capture) WithAttrs(as []slog.Attr) slog.Handler {
	return &capture{mu: h.mu, records: h.records, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *capture) WithGroup(string) slog.Handler { return h }

func (h *capture) all() []captured {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]captured(nil), *h.records...)
}

// TestDeclinesOnRealServer runs a plan whose card declines through its dunning on the
// embedded server, with the worker logging through the SDK's structured logger as in
// production: no line at ERROR, and one INFO line per decline from the workflow with
// the plan, installment, attempt and code. With -record its history is written to
// workflows/testdata/plan_declines.json (declines as benign activity failures).
func TestDeclinesOnRealServer(t *testing.T) {
	logs := newCapture()
	e := startLogging(t, func(c activitiestest.Call) (providers.ChargeResult, error) {
		return providers.ChargeResult{}, &providers.Error{Class: providers.ClassSoftDecline, Code: billing.CodeInsufficientFunds,
			DeclineCode: "51", Provider: "fake", Message: "declined by the fake provider"}
	}, slog.New(logs))
	ctx := context.Background()
	n, every, amount := 1, 1, int64(1000)
	tt, err := billing.Schedule{
		Frequency: billing.FrequencySeconds, FrequencyDuration: &every, RecurringAmount: &amount, Installments: &n,
		StartDate: time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339),
	}.Resolve(billing.ModeTest, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	second := billing.Duration(time.Second)
	dunning, err := billing.DunningPolicy{Retries: []billing.Duration{second, second}, Outcome: billing.OutcomeCanceled}.Resolve(billing.ModeTest)
	if err != nil {
		t.Fatal(err)
	}
	in := workflows.PlanInput{
		PlanID: "plan_declines", MerchantID: e.merchant, Mode: billing.ModeTest, CustomerID: "cus_1",
		PaymentMethodID: "pm_card1", Provider: "fake", Currency: "USD", Type: "ecom", Timetable: tt, Dunning: dunning,
		InitialNetworkTransactionID: "nti_initial",
	}
	run, err := starter.StartPlan(ctx, e.c, in)
	if err != nil {
		t.Fatal(err)
	}
	getCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var res workflows.PlanResult
	if err := e.c.GetWorkflow(getCtx, in.PlanID, run.GetRunID()).Get(getCtx, &res); err != nil {
		t.Fatalf("plan result: %v", err)
	}
	if res.Status != billing.PlanCanceled || res.Paid != 0 {
		t.Fatalf("result %+v, want canceled after dunning, nothing paid", res)
	}

	var declines []captured
	for _, r := range logs.all() {
		if r.level >= slog.LevelError {
			t.Errorf("logged at ERROR: %v", r)
		}
		if r.msg == "charge declined" {
			declines = append(declines, r)
		}
		if strings.Contains(r.String(), "tok_1") {
			t.Errorf("card token logged: %v", r)
		}
	}
	if len(declines) != 3 {
		t.Fatalf("%d \"charge declined\" lines, want 3 (the attempt and two dunning retries): %v", len(declines), declines)
	}
	for i, r := range declines {
		want := map[string]string{"plan_id": in.PlanID, "installment": "1", "attempt": fmt.Sprint(i + 1),
			"code": billing.CodeInsufficientFunds, "decline_code": "51", "WorkflowID": in.PlanID}
		for k, v := range want {
			if r.attrs[k] != v {
				t.Errorf("decline %d: %s=%q, want %q (%v)", i+1, k, r.attrs[k], v, r)
			}
		}
		if r.level != slog.LevelInfo {
			t.Errorf("decline %d at %s, want INFO", i+1, r.level)
		}
	}

	if *record {
		histories := runHistories(t, e.c, in.PlanID, run.GetRunID())
		if len(histories) != 1 {
			t.Fatalf("%d runs, want 1", len(histories))
		}
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(histories[0])
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join("..", "testdata", "plan_declines.json")
		if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %s (%d events)", name, len(histories[0].Events))
	}
}
