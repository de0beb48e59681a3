package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/workflows"
)

// logRecord is one captured log line with its attributes (the logger's own, such as
// the SDK's WorkflowID, and the call's), values rendered with fmt.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r logRecord) String() string { return fmt.Sprintf("%s %q %v", r.level, r.msg, r.attrs) }

// logCapture records what an SDK logger built by logger writes.
type logCapture struct {
	mu      sync.Mutex
	records []logRecord
}

func (c *logCapture) logger(level slog.Level) sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(&captureHandler{c: c, level: level}))
}

// find returns the records with message msg.
func (c *logCapture) find(msg string) []logRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logRecord
	for _, r := range c.records {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// atLeast returns the records at level or above.
func (c *logCapture) atLeast(level slog.Level) []logRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logRecord
	for _, r := range c.records {
		if r.level >= level {
			out = append(out, r)
		}
	}
	return out
}

// mentioning returns the records whose message or any attribute contains s.
func (c *logCapture) mentioning(s string) []logRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logRecord
	for _, r := range c.records {
		if strings.Contains(r.String(), s) {
			out = append(out, r)
		}
	}
	return out
}

type captureHandler struct {
	c     *logCapture
	level slog.Level
	attrs []slog.Attr
}

func (h *captureHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	add := func(a slog.Attr) bool {
		rec.attrs[a.Key] = fmt.Sprint(a.Value.Resolve().Any())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	h.c.records = append(h.c.records, rec)
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &captureHandler{c: h.c, level: h.level, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *captureHandler) WithGroup(string) slog.Handler { return h }

// faultyLedger fails the calls its hooks say to fail (call counts from 1) and passes
// the rest to the fake ledger.
type faultyLedger struct {
	billing.Ledger
	createPlan, recordPayment func(call int) error

	mu               sync.Mutex
	creates, records int
}

var _ billing.Ledger = (*faultyLedger)(nil)

func (l *faultyLedger) CreatePlan(ctx context.Context, p billing.Plan) (billing.Plan, bool, error) {
	l.mu.Lock()
	l.creates++
	n := l.creates
	l.mu.Unlock()
	if l.createPlan != nil {
		if err := l.createPlan(n); err != nil {
			return billing.Plan{}, false, err
		}
	}
	return l.Ledger.CreatePlan(ctx, p)
}

func (l *faultyLedger) RecordPayment(ctx context.Context, p billing.Payment) (billing.Payment, error) {
	l.mu.Lock()
	l.records++
	n := l.records
	l.mu.Unlock()
	if l.recordPayment != nil {
		if err := l.recordPayment(n); err != nil {
			return billing.Payment{}, err
		}
	}
	return l.Ledger.RecordPayment(ctx, p)
}

// A card declining through dunning is a business outcome: nothing is logged at ERROR
// (the SDK's "Activity error." line of a benign decline is DEBUG), and the workflow
// logs one line per decline with the plan, installment, attempt and codes, and no card
// data.
func TestDeclinesAreLoggedOnceEachAndNeverAtError(t *testing.T) {
	soft := &providers.Error{Class: providers.ClassSoftDecline, Code: billing.CodeInsufficientFunds, DeclineCode: "51",
		Provider: "fake", Message: "declined by the fake provider"}
	hard := &providers.Error{Class: providers.ClassHardDecline, Code: billing.CodeCardExpired, DeclineCode: "54",
		Provider: "fake", Message: "expired card"}
	for _, c := range []struct {
		name      string
		decline   *providers.Error
		attempts  int
		level     slog.Level
		wantState billing.PlanStatus
	}{
		{"soft decline through dunning", soft, 5, slog.LevelInfo, billing.PlanPastDue},
		{"hard decline", hard, 1, slog.LevelWarn, billing.PlanPastDue},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, declineToken("tok_1", c.decline))
			h.pms.Set("pm_card1", activitiestest.Card{Provider: "fake", Token: "tok_1", CustomerRef: "cref_secret"})
			in := input(t, monthly("2027-01-31", 1))
			var st workflows.PlanState
			h.at(utc("2027-02-28T00:00:00Z"), func() { st = h.state() })
			h.cancelAt(utc("2027-03-01T00:00:00Z"))
			h.run(in)
			if st.Status != c.wantState || st.Attempts != c.attempts {
				t.Fatalf("state after dunning %s with %d attempts, want %s with %d", st.Status, st.Attempts, c.wantState, c.attempts)
			}

			if errs := h.logs.atLeast(slog.LevelError); len(errs) != 0 {
				t.Errorf("declines logged at ERROR:\n%v", errs)
			}
			lines := h.logs.find("charge declined")
			if len(lines) != c.attempts {
				t.Fatalf("%d \"charge declined\" lines, want %d (one per decline): %v", len(lines), c.attempts, lines)
			}
			for i, r := range lines {
				want := map[string]string{"plan_id": planID, "installment": "1", "attempt": fmt.Sprint(i + 1),
					"class": string(c.decline.Class), "code": c.decline.Code, "decline_code": c.decline.DeclineCode,
					"provider": "fake"}
				for k, v := range want {
					if r.attrs[k] != v {
						t.Errorf("line %d: %s=%q, want %q (%v)", i+1, k, r.attrs[k], v, r)
					}
				}
				if r.level != c.level {
					t.Errorf("line %d at %s, want %s", i+1, r.level, c.level)
				}
			}
			for _, secret := range []string{"tok_1", "cref_secret"} {
				if leaked := h.logs.mentioning(secret); len(leaked) != 0 {
					t.Errorf("card data %q logged: %v", secret, leaked)
				}
			}
		})
	}
}

// harnessWhoseFirstRecordFails is a harness whose ledger loses the connection on its
// first RecordPayment and takes every later one.
func harnessWhoseFirstRecordFails(t *testing.T) (*harness, *faultyLedger) {
	var ledger *faultyLedger
	h := newHarnessWithLedger(t, activitiestest.Succeed, func(l billing.Ledger) billing.Ledger {
		ledger = &faultyLedger{Ledger: l, recordPayment: func(call int) error {
			if call == 1 {
				return errors.New("write tcp 10.0.0.1:5432: connection reset by peer")
			}
			return nil
		}}
		return ledger
	})
	return h, ledger
}

// A fault is still an ERROR: the store failing to record a charge logs the SDK's
// "Activity error." at ERROR, and the retry then records it once.
func TestAStoreFaultIsStillLoggedAtError(t *testing.T) {
	h, ledger := harnessWhoseFirstRecordFails(t)
	res := h.run(input(t, monthly("2027-01-31", 1)))
	if res.Status != billing.PlanCompleted || res.Paid != 1 {
		t.Fatalf("result %+v, want completed with 1 paid", res)
	}
	errs := h.logs.atLeast(slog.LevelError)
	if len(errs) != 1 || errs[0].msg != "Activity error." || errs[0].attrs["ActivityType"] != "RecordPayment" ||
		!strings.Contains(errs[0].attrs["Error"], "connection reset by peer") {
		t.Errorf("ERROR lines %v, want one \"Activity error.\" of RecordPayment", errs)
	}
	if n := len(h.ledger.Payments()); n != 1 || ledger.records != 2 {
		t.Errorf("%d payments after %d record calls, want 1 after 2", n, ledger.records)
	}
}

// A plan whose row the store can never take fails at once, visibly, with the reason,
// instead of retrying CreatePlan forever; nothing is charged.
func TestAPlanTheStoreCannotTakeFailsAtOnce(t *testing.T) {
	h := newHarness(t, activitiestest.Succeed)
	in := input(t, monthly("2027-01-31", 3))
	in.Reference = "x\u0000y"
	h.env.ExecuteWorkflow(workflows.Plan, in)
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not finish")
	}
	err := h.env.GetWorkflowError()
	appErr := applicationError(err, activities.ErrStoreRejected)
	if appErr == nil || !appErr.NonRetryable() {
		t.Fatalf("workflow error %v, want the non-retryable %s of CreatePlan", err, activities.ErrStoreRejected)
	}
	if msg := err.Error(); !strings.Contains(msg, "create plan row") || !strings.Contains(msg, "reference") ||
		!strings.Contains(msg, billing.CodeInvalidData) {
		t.Errorf("workflow error %q does not say what was refused", msg)
	}
	// CreatePlan is a local activity (plan version 8), which the SDK does not log: the
	// workflow says it, once, at ERROR, with the store's reason.
	if got := h.logs.find("plan row not written; the plan fails"); len(got) != 1 || got[0].level != slog.LevelError ||
		!strings.Contains(got[0].attrs["error"], "reference") {
		t.Errorf("row failures logged %v, want one at ERROR naming the field", got)
	}
	if n := len(h.provider.Calls()); n != 0 {
		t.Errorf("provider called %d times", n)
	}
	if !h.env.Now().Equal(start) {
		t.Errorf("the workflow ended at %s, want at once (%s)", h.env.Now(), start)
	}
}

// A store fault nobody classified is retried, but not forever: after
// activities.LedgerMaxAttempts (about a day) the plan fails with the last error.
func TestLedgerRetriesEndAfterAboutADay(t *testing.T) {
	var ledger *faultyLedger
	h := newHarnessWithLedger(t, activitiestest.Succeed, func(l billing.Ledger) billing.Ledger {
		ledger = &faultyLedger{Ledger: l, createPlan: func(int) error { return errors.New("the database said something new") }}
		return ledger
	})
	h.env.ExecuteWorkflow(workflows.Plan, input(t, monthly("2027-01-31", 3)))
	if !h.env.IsWorkflowCompleted() {
		t.Fatal("workflow did not finish")
	}
	err := h.env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "the database said something new") {
		t.Fatalf("workflow error %v, want CreatePlan's last error", err)
	}
	if ledger.creates != activities.LedgerMaxAttempts {
		t.Errorf("CreatePlan tried %d times, want %d", ledger.creates, activities.LedgerMaxAttempts)
	}
	if elapsed := h.env.Now().Sub(start); elapsed < 23*time.Hour || elapsed > 25*time.Hour {
		t.Errorf("failed after %s, want after about a day", elapsed)
	}
	if n := len(h.provider.Calls()); n != 0 {
		t.Errorf("provider called %d times", n)
	}
}

// applicationError returns the first ApplicationError of type typ in err's chain (the
// workflow's own wrapping is an ApplicationError too).
func applicationError(err error, typ string) *temporal.ApplicationError {
	for err != nil {
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) {
			return nil
		}
		if appErr.Type() == typ {
			return appErr
		}
		err = appErr.Unwrap()
	}
	return nil
}

// A merchant-initiated charge records its own row (plan version 5); when that write
// fails, the charge still succeeds, once, and the workflow records the row itself:
// one row per installment, nothing charged twice, nothing logged at ERROR.
func TestAChargeWhoseOwnRecordFailsIsRecordedByThePlan(t *testing.T) {
	h, ledger := harnessWhoseFirstRecordFails(t)
	in := input(t, monthly("2027-01-31", 2))
	in.InitialNetworkTransactionID = "nti_initial" // merchant-initiated from installment 1
	res := h.run(in)
	if res.Status != billing.PlanCompleted || res.Paid != 2 {
		t.Fatalf("result %+v, want completed with 2 paid", res)
	}
	var rows []string
	for _, p := range h.payments() {
		rows = append(rows, fmt.Sprintf("%d/%d %s", p.installment, p.attempt, p.status))
	}
	if !slices.Equal(rows, []string{"1/1 succeeded", "2/1 succeeded"}) {
		t.Errorf("ledger rows %v, want each installment once, succeeded", rows)
	}
	if ledger.records != 3 {
		t.Errorf("%d record calls, want 3: installment 1's failed one in its charge and the plan's own, installment 2's in its charge", ledger.records)
	}
	if n := len(h.provider.Calls()); n != 2 {
		t.Errorf("provider charged %d times, want 2", n)
	}
	if errs := h.logs.atLeast(slog.LevelError); len(errs) != 0 {
		t.Errorf("ERROR lines %v, want none: the charge succeeded and its row was written", errs)
	}
}

// The created update (sent with the start by POST /v1/plans) answers once the plan's
// row is in the store, with the plan's state; a row the store refuses answers the
// store's reason as an invalid argument instead of leaving the caller to wait.
func TestCreatedUpdateAnswersOnceTheRowIsWritten(t *testing.T) {
	created := func(h *harness, in workflows.PlanInput) (workflows.PlanState, error, bool) {
		var st workflows.PlanState
		var uerr error
		done := false
		h.env.RegisterDelayedCallback(func() {
			h.env.UpdateWorkflow(workflows.UpdateCreated, workflows.UpdateCreated, &testsuite.TestUpdateCallback{
				OnReject: func(err error) { uerr, done = err, true },
				OnAccept: func() {},
				OnComplete: func(v any, err error) {
					if s, ok := v.(workflows.PlanState); ok {
						st = s
					}
					uerr, done = err, true
				},
			})
		}, 0)
		h.env.ExecuteWorkflow(workflows.Plan, in)
		return st, uerr, done
	}

	h := newHarness(t, activitiestest.Succeed)
	st, err, done := created(h, input(t, monthly("2027-01-31", 2)))
	if !done || err != nil || st.Status != billing.PlanActive || st.NextInstallment != 1 {
		t.Fatalf("created = %+v, %v (answered %v); want the active plan's state", st, err, done)
	}
	if _, ok := h.ledger.Plan(planID); !ok {
		t.Fatal("the update answered without the plan's row")
	}

	h = newHarness(t, activitiestest.Succeed)
	in := input(t, monthly("2027-01-31", 2))
	in.Reference = "x\u0000y"
	_, err, done = created(h, in)
	if appErr := applicationError(err, workflows.ErrInvalidArgument); !done || appErr == nil || !strings.Contains(appErr.Message(), "reference") ||
		strings.Contains(appErr.Message(), "identity") {
		t.Fatalf("created on a refused row = %v (answered %v), want the store's refusal as an invalid argument", err, done)
	}
}
