package workflows_test

import (
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/workflows"
)

const planID = "plan_test1"

// start is the test clock's start; plans begin after it.
var start = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// harness is one time-skipping test environment running the plan workflow with the
// real activities over fakes.
type harness struct {
	t        *testing.T
	env      *testsuite.TestWorkflowEnvironment
	ledger   *activitiestest.Ledger
	pms      *activitiestest.PaymentMethods
	notifier *activitiestest.Notifier
	provider *activitiestest.Provider
	acts     *activities.Activities
	// logs holds what the SDK and the workflow logged at INFO and above.
	logs *logCapture

	mu      sync.Mutex
	upserts []saUpsert
}

type saUpsert struct {
	at    time.Time
	attrs temporal.SearchAttributes
}

func quietLogger() sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func newHarness(t *testing.T, respond func(activitiestest.Call) (providers.ChargeResult, error)) *harness {
	t.Helper()
	return newHarnessWithLedger(t, respond, nil)
}

// newHarnessWithLedger is newHarness with the activities' ledger wrapped by wrap (nil:
// the fake ledger itself), for tests of a failing store.
func newHarnessWithLedger(t *testing.T, respond func(activitiestest.Call) (providers.ChargeResult, error),
	wrap func(billing.Ledger) billing.Ledger) *harness {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	logs := &logCapture{}
	suite.SetLogger(logs.logger(slog.LevelInfo))
	h := &harness{
		t:        t,
		env:      suite.NewTestWorkflowEnvironment(),
		logs:     logs,
		ledger:   activitiestest.NewLedger(),
		notifier: &activitiestest.Notifier{},
		provider: &activitiestest.Provider{ProviderName: "fake", Respond: respond},
		pms: activitiestest.NewPaymentMethods(map[string]activitiestest.Card{
			"pm_card1": {Provider: "fake", Token: "tok_1", CustomerRef: "cref"},
			"pm_card2": {Provider: "fake", Token: "tok_2", CustomerRef: "cref"},
		}),
	}
	h.env.SetStartTime(start)
	h.env.SetTestTimeout(5 * time.Minute)
	h.env.RegisterWorkflow(workflows.Plan)
	var ledger billing.Ledger = h.ledger
	if wrap != nil {
		ledger = wrap(ledger)
	}
	h.acts = activities.New(activities.Deps{
		Providers: activitiestest.Providers{"fake": h.provider}, PaymentMethods: h.pms,
		Ledger: ledger, PlanTerms: h.ledger, Upcoming: h.ledger, Notifier: h.notifier, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	h.env.RegisterActivity(h.acts)
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.upserts = append(h.upserts, saUpsert{at: h.env.Now(), attrs: args.Get(0).(temporal.SearchAttributes)})
	}).Return(nil).Maybe()
	return h
}

// input returns a plan on pm_card1 with the given schedule and the default dunning.
func input(t *testing.T, s billing.Schedule) workflows.PlanInput {
	t.Helper()
	tt, err := s.Resolve(billing.ModeTest, start)
	if err != nil {
		t.Fatalf("resolve schedule: %v", err)
	}
	dunning, err := billing.DunningPolicy{}.Resolve(billing.ModeTest)
	if err != nil {
		t.Fatal(err)
	}
	return workflows.PlanInput{
		PlanID: planID, MerchantID: "mer_1", Mode: billing.ModeTest, CustomerID: "cus_1",
		PaymentMethodID: "pm_card1", Provider: "fake", Currency: "USD", Type: "ecom",
		Timetable: tt, Dunning: dunning,
	}
}

func monthly(startDate string, n int) billing.Schedule {
	amount := int64(1000)
	s := billing.Schedule{Frequency: billing.FrequencyMonths, StartDate: startDate, RecurringAmount: &amount}
	if n > 0 {
		s.Installments = &n
	}
	return s
}

// at calls f at start+d of the test clock.
func (h *harness) at(when time.Time, f func()) {
	h.t.Helper()
	d := when.Sub(start)
	if d < 0 {
		h.t.Fatalf("callback at %s is before the start", when)
	}
	h.env.RegisterDelayedCallback(f, d)
}

// run executes the plan workflow to its end.
func (h *harness) run(in workflows.PlanInput) workflows.PlanResult {
	h.t.Helper()
	h.env.ExecuteWorkflow(workflows.Plan, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
	var res workflows.PlanResult
	if err := h.env.GetWorkflowResult(&res); err != nil {
		h.t.Fatal(err)
	}
	return res
}

// state queries the plan's state.
func (h *harness) state() workflows.PlanState {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(workflows.QueryState)
	if err != nil {
		h.t.Fatalf("query state: %v", err)
	}
	var st workflows.PlanState
	if err := v.Get(&st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

// updateResult is what an update came back with.
type updateResult struct {
	state    workflows.PlanState
	rejected error
	err      error
}

// update sends an update now and returns a function that reports its outcome.
func (h *harness) update(name string, arg any) func() updateResult {
	var res updateResult
	done := false
	h.env.UpdateWorkflow(name, name+h.env.Now().String(), &testsuite.TestUpdateCallback{
		OnReject: func(err error) { res.rejected, done = err, true },
		OnAccept: func() {},
		OnComplete: func(v any, err error) {
			if st, ok := v.(workflows.PlanState); ok {
				res.state = st
			}
			res.err, done = err, true
		},
	}, arg)
	return func() updateResult {
		h.t.Helper()
		if !done {
			h.t.Fatalf("update %s did not finish", name)
		}
		return res
	}
}

// cancelAt cancels the plan at when, ending a test whose plan would wait forever.
func (h *harness) cancelAt(when time.Time) {
	h.at(when, func() { h.env.SignalWorkflow(workflows.SignalCancel, workflows.CancelRequest{Reason: "test over"}) })
}

// payment is the part of a ledger row tests compare.
type payment struct {
	installment, attempt int
	status               string
	at                   time.Time
	amount               int64
	pm                   string
}

func (h *harness) payments() []payment {
	var out []payment
	for _, p := range h.ledger.Payments() {
		out = append(out, payment{p.Installment, p.Attempt, string(p.Status), p.AttemptedAt, p.Amount, p.PaymentMethodID})
	}
	return out
}

func (h *harness) wantPayments(want []payment) {
	h.t.Helper()
	got := h.payments()
	if !slices.Equal(got, want) {
		h.t.Errorf("payments:\n got  %v\n want %v", got, want)
	}
}

// wantEvents checks the events the workflows name (payments and plan outcomes), in
// order. plan.created and plan.updated are the ledger's own announcements of every
// create and status change, which the contract suite (store/storetest) covers.
func (h *harness) wantEvents(want ...string) {
	h.t.Helper()
	got := slices.DeleteFunc(h.ledger.EventTypes(), func(typ string) bool {
		return typ == billing.EventPlanCreated || typ == billing.EventPlanUpdated
	})
	if !slices.Equal(got, want) {
		h.t.Errorf("events:\n got  %v\n want %v", got, want)
	}
}

// searchAttributes replays the captured upserts up to when and returns the values.
func (h *harness) searchAttributes(when time.Time) map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]any{}
	for _, u := range h.upserts {
		if u.at.After(when) {
			break
		}
		visible := u.attrs.GetUntypedValues()
		for k, v := range visible {
			out[k.GetName()] = v
		}
		// GetUntypedValues hides unset keys; the workflow only ever unsets
		// NextChargeAt, so an upsert holding more keys than it shows unset that one.
		if reflect.ValueOf(u.attrs).FieldByName("untypedValue").Len() > len(visible) {
			if _, set := visible[workflows.NextChargeAtKey]; !set {
				delete(out, workflows.NextChargeAtKey.GetName())
			}
		}
	}
	return out
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// declineToken answers with err for charges on token and succeeds otherwise.
func declineToken(token string, err error) func(activitiestest.Call) (providers.ChargeResult, error) {
	return func(c activitiestest.Call) (providers.ChargeResult, error) {
		if c.Token == token {
			return providers.ChargeResult{}, err
		}
		return activitiestest.Succeed(c)
	}
}

// parentPlan runs the plan as a child workflow with the plan's id, so the test
// environment follows it across continue-as-new (it reruns children that continue as
// new) and signals and updates reach whichever run is current.
func parentPlan(ctx workflow.Context, in workflows.PlanInput) (workflows.PlanResult, error) {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: in.PlanID})
	var res workflows.PlanResult
	err := workflow.ExecuteChildWorkflow(cctx, workflows.Plan, in).Get(ctx, &res)
	return res, err
}

func storeCard(token string, blocked bool) activitiestest.Card {
	return activitiestest.Card{Provider: "fake", Token: token, Blocked: blocked}
}

// storePayment is a failed attempt another plan made on pm_card1.
func storePayment(plan string, attempt int, at time.Time) billing.Payment {
	return billing.Payment{
		MerchantID: "mer_1", Mode: billing.ModeTest, PlanID: &plan, CustomerID: "cus_2", PaymentMethodID: "pm_card1",
		Installment: 1, Attempt: attempt, Amount: 1000, Currency: "USD", Status: billing.PaymentFailed,
		FailureClass: "soft_decline", IdempotencyKey: fmt.Sprintf("%s/1/%d", plan, attempt), AttemptedAt: at,
	}
}
