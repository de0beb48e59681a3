package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/activities/activitiestest"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/providers"
	"github.com/recurring/recurring/providers/simulator"
)

type fixture struct {
	env    *testsuite.TestActivityEnvironment
	sim    *simulator.Simulator
	pms    *activitiestest.PaymentMethods
	ledger *activitiestest.Ledger
	fake   *activitiestest.Provider
}

// newFixture saves one simulator card per test number as pm_<number> and registers
// the activities over the simulator, a scripted fake provider and in-memory stores.
func newFixture(t *testing.T, numbers ...string) *fixture {
	t.Helper()
	sim, err := simulator.New(simulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sim: sim, ledger: activitiestest.NewLedger(), fake: &activitiestest.Provider{ProviderName: "fake"},
		pms: activitiestest.NewPaymentMethods(map[string]activitiestest.Card{"pm_fake": {Provider: "fake", Token: "tok"}})}
	for _, n := range numbers {
		saved, err := sim.SaveCard(context.Background(), providers.SaveCardRequest{CustomerID: "cus_1",
			Card: providers.Card{Number: n, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123"}})
		if err != nil {
			t.Fatal(err)
		}
		f.pms.Set("pm_"+n, activitiestest.Card{Provider: sim.Name(), Token: saved.Token, CustomerRef: saved.CustomerRef})
	}
	var suite testsuite.WorkflowTestSuite
	f.env = suite.NewTestActivityEnvironment()
	f.env.RegisterActivity(activities.New(activities.Deps{
		Providers: activitiestest.Providers{sim.Name(): sim, "fake": f.fake}, PaymentMethods: f.pms, Ledger: f.ledger,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}))
	return f
}

func chargeReq(pm, key string) activities.ChargeRequest {
	return activities.ChargeRequest{MerchantID: "mer_1", Mode: billing.ModeTest, PaymentMethodID: pm, Amount: 1000, Currency: "USD",
		IdempotencyKey: key, Initiator: providers.InitiatorMerchant, At: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (f *fixture) charge(req activities.ChargeRequest) (activities.ChargeResult, error) {
	var a *activities.Activities
	v, err := f.env.ExecuteActivity(a.Charge, req)
	if err != nil {
		return activities.ChargeResult{}, err
	}
	var res activities.ChargeResult
	return res, v.Get(&res)
}

// failure returns the charge failure and whether it is non-retryable.
func failure(t *testing.T, err error) (activities.ChargeFailure, *temporal.ApplicationError) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("error %v is not an ApplicationError", err)
	}
	f, _ := activities.ChargeFailureOf(err)
	return f, appErr
}

func TestChargeClassifiesOutcomes(t *testing.T) {
	f := newFixture(t, "4242424242424242", "4000000000009995", "4000000000000069", "4000002500003155")
	res, err := f.charge(chargeReq("pm_4242424242424242", "plan_1/1/1"))
	if err != nil || res.Status != providers.ChargeSucceeded || res.Provider != "simulator" || res.ChargeID == "" {
		t.Fatalf("charge = %+v, %v", res, err)
	}
	if n := len(f.sim.Charges()); n != 1 {
		t.Fatalf("simulator charged %d times", n)
	}
	for pm, want := range map[string]struct{ typ, code string }{
		"pm_4000000000009995": {activities.ErrSoftDecline, billing.CodeInsufficientFunds},
		"pm_4000000000000069": {activities.ErrHardDecline, billing.CodeCardExpired},
		"pm_4000002500003155": {activities.ErrAuthenticationRequired, billing.CodeAuthenticationRequired},
	} {
		_, err := f.charge(chargeReq(pm, "k_"+pm))
		fl, appErr := failure(t, err)
		if appErr.Type() != want.typ || !appErr.NonRetryable() || fl.Code != want.code || fl.Provider != "simulator" {
			t.Errorf("%s: %v (failure %+v), want non-retryable %s/%s", pm, err, fl, want.typ, want.code)
		}
	}
}

func TestChargeTransientIsRetryableWithTheSameKey(t *testing.T) {
	f := newFixture(t, "4000000000000119")
	req := chargeReq("pm_4000000000000119", "plan_1/1/1")
	_, err := f.charge(req)
	fl, appErr := failure(t, err)
	if appErr.Type() != activities.ErrTransient || appErr.NonRetryable() || fl.Code != billing.CodeProcessingError {
		t.Fatalf("first call: %v, want a retryable transient failure", err)
	}
	if _, err := f.charge(req); err != nil {
		t.Fatalf("retry with the same key: %v", err)
	}
	if n := len(f.sim.Charges()); n != 1 {
		t.Errorf("simulator charged %d times, want 1", n)
	}
}

func TestChargeRateLimitCarriesNextRetryDelay(t *testing.T) {
	f := newFixture(t)
	f.fake.Respond = func(activitiestest.Call) (providers.ChargeResult, error) {
		return providers.ChargeResult{}, &providers.Error{Class: providers.ClassTransient, Code: billing.CodeRateLimited, RetryAfter: 42 * time.Second}
	}
	_, err := f.charge(chargeReq("pm_fake", "k"))
	_, appErr := failure(t, err)
	if appErr.NonRetryable() || appErr.NextRetryDelay() != 42*time.Second {
		t.Errorf("rate limit: retryable=%v next delay %s, want retryable after 42s", !appErr.NonRetryable(), appErr.NextRetryDelay())
	}
}

func TestChargeMerchantInitiatedFallsBackToTheStoredNetworkID(t *testing.T) {
	f := newFixture(t)
	f.pms.Set("pm_fake", activitiestest.Card{Provider: "fake", Token: "tok", CustomerRef: "cref", NetworkTransactionID: "nti_stored"})
	req := chargeReq("pm_fake", "plan_1/2/1")
	req.NetworkTransactionID = "nti_plan"
	if _, err := f.charge(req); err != nil {
		t.Fatal(err)
	}
	if _, err := f.charge(chargeReq("pm_fake", "plan_1/3/1")); err != nil {
		t.Fatal(err)
	}
	cit := chargeReq("pm_fake", "payment_1")
	cit.Initiator = providers.InitiatorCustomer
	if _, err := f.charge(cit); err != nil {
		t.Fatal(err)
	}
	calls := f.fake.Calls()
	if calls[0].NetworkTransactionID != "nti_plan" || calls[1].NetworkTransactionID != "nti_stored" || calls[2].NetworkTransactionID != "" {
		t.Errorf("network ids sent: %q %q %q, want the plan's, the card's, none for a CIT",
			calls[0].NetworkTransactionID, calls[1].NetworkTransactionID, calls[2].NetworkTransactionID)
	}
	if c := calls[0]; c.Token != "tok" || c.CustomerRef != "cref" || c.IdempotencyKey != "plan_1/2/1" ||
		c.Initiator != providers.InitiatorMerchant || c.Amount != 1000 || c.Currency != "USD" {
		t.Errorf("provider got %+v", c.ChargeRequest)
	}
}

func TestChargeRefusesUnavailableCardsWithoutCallingTheProvider(t *testing.T) {
	f := newFixture(t)
	f.pms.Set("pm_blocked", activitiestest.Card{Provider: "fake", Token: "t", Blocked: true})
	f.pms.Set("pm_detached", activitiestest.Card{Provider: "fake", Token: "t", Detached: true})
	for pm, want := range map[string]struct{ blocked, detached bool }{
		"pm_blocked": {true, false}, "pm_detached": {false, true}, "pm_missing": {false, true},
	} {
		_, err := f.charge(chargeReq(pm, "k"))
		fl, appErr := failure(t, err)
		if appErr.Type() != activities.ErrPaymentMethodUnavailable || !appErr.NonRetryable() || fl.Blocked != want.blocked || fl.Detached != want.detached {
			t.Errorf("%s: %v (%+v)", pm, err, fl)
		}
	}
	if n := len(f.fake.Calls()); n != 0 {
		t.Errorf("provider called %d times", n)
	}
}

func TestChargeEnforcesTheAttemptLimitAcrossPlans(t *testing.T) {
	f := newFixture(t)
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	plan := "plan_other"
	for i := range 15 {
		f.ledger.AddPayment(billing.Payment{MerchantID: "mer_1", PlanID: &plan, PaymentMethodID: "pm_fake", Installment: 1,
			Attempt: i + 1, Status: billing.PaymentFailed, FailureClass: "soft_decline", IdempotencyKey: "x" + string(rune('a'+i)),
			AttemptedAt: at.Add(-time.Duration(i+1) * time.Hour)})
	}
	_, err := f.charge(chargeReq("pm_fake", "k"))
	fl, appErr := failure(t, err)
	if appErr.Type() != activities.ErrAttemptLimit || !appErr.NonRetryable() || !fl.Until.Equal(at.Add(-15*time.Hour).Add(30*24*time.Hour)) {
		t.Errorf("over the limit: %v (until %s)", err, fl.Until)
	}
	if n := len(f.fake.Calls()); n != 0 {
		t.Errorf("provider called %d times", n)
	}
}

func TestRecordPaymentIsIdempotentAndUpdatesThePlan(t *testing.T) {
	f := newFixture(t)
	var a *activities.Activities
	if _, err := f.env.ExecuteActivity(a.CreatePlan, activities.CreatePlanRequest{PlanID: "plan_1", MerchantID: "mer_1",
		Mode: billing.ModeTest, Status: billing.PlanActive}); err != nil {
		t.Fatal(err)
	}
	req := activities.RecordPaymentRequest{MerchantID: "mer_1", Mode: billing.ModeTest, PlanID: "plan_1", Installment: 1,
		Attempt: 1, Amount: 1000, Currency: "USD", Status: billing.PaymentSucceeded, PaymentType: billing.PaymentRecurring,
		IdempotencyKey: "plan_1/1/1", AttemptedAt: time.Now(),
		Plan: &activities.UpdatePlanRequest{PlanID: "plan_1", MerchantID: "mer_1", Mode: billing.ModeTest, Seq: 1,
			Status: billing.PlanCompleted, EventType: billing.EventPlanCompleted, EventData: map[string]any{"plan_id": "plan_1"}}}
	for range 2 { // an activity retry records again
		if _, err := f.env.ExecuteActivity(a.RecordPayment, req); err != nil {
			t.Fatal(err)
		}
	}
	if p := f.ledger.Payments(); len(p) != 1 || !p[0].IsRecurring || p[0].PaymentType != "recurring" {
		t.Errorf("payments %+v, want one recurring row", p)
	}
	if got := f.ledger.EventTypes(); !slices.Equal(got, []string{billing.EventPlanCreated, billing.EventPaymentSucceeded, billing.EventPlanCompleted}) {
		t.Errorf("events %v", got)
	}
	if row, _ := f.ledger.Plan("plan_1"); row.Status != "completed" || row.StateSeq != 1 {
		t.Errorf("plan row %+v", row)
	}
	// plan.completed shows the plan as recorded (the store renders it, whatever data
	// the workflow sent), with what it collected.
	var data struct {
		Object struct {
			ID     string `json:"id"`
			Status string `json:"status"`
			Paid   int    `json:"paid"`
		} `json:"object"`
	}
	if err := json.Unmarshal(f.ledger.Events()[2].Data, &data); err != nil || data.Object.ID != "plan_1" ||
		data.Object.Status != "completed" || data.Object.Paid != 1 {
		t.Errorf("plan.completed data %s, %v", f.ledger.Events()[2].Data, err)
	}
}

func TestChargeFailureOf(t *testing.T) {
	f, final := activities.ChargeFailureOf(temporal.NewTimeoutError(0, nil))
	if final || f.Type != activities.ErrTransient || f.Code != billing.CodeTimeout {
		t.Errorf("timeout: %+v final=%v, want an unknown outcome", f, final)
	}
	f, final = activities.ChargeFailureOf(errors.New("boom"))
	if final || f.Type != activities.ErrTransient {
		t.Errorf("plain error: %+v final=%v", f, final)
	}
}

// TestChargeResolvesAnUnknownOutcomeBeforeSending: when an earlier attempt's outcome is
// unknown, the provider is asked first. A charge it found is the answer and nothing is
// sent; a decline it found is the decline; a lookup that failed sends nothing and is
// retried; only "no such charge" sends the charge, under the same key. A first attempt
// asks nothing.
func TestChargeResolvesAnUnknownOutcomeBeforeSending(t *testing.T) {
	f := newFixture(t)
	req := chargeReq("pm_fake", "plan_1/2/1")
	if _, err := f.charge(req); err != nil {
		t.Fatal(err)
	}
	if n := len(f.fake.Lookups()); n != 0 {
		t.Fatalf("a first attempt made %d lookups, want none", n)
	}

	req.Resolve = true
	f.fake.Find = func(r providers.ChargeRequest) (providers.ChargeResult, error) {
		return providers.ChargeResult{ID: "ch_found", Status: providers.ChargeSucceeded, NetworkTransactionID: "nti_found"}, nil
	}
	res, err := f.charge(req)
	if err != nil || res.ChargeID != "ch_found" || res.Provider != "fake" || res.NetworkTransactionID != "nti_found" {
		t.Fatalf("found charge: %+v, %v; want ch_found", res, err)
	}
	if n := len(f.fake.Calls()); n != 1 {
		t.Fatalf("%d charges sent, want only the first (the found one is the answer)", n)
	}

	f.fake.Find = func(providers.ChargeRequest) (providers.ChargeResult, error) {
		e, _ := providers.AsError(activitiestest.Decline(providers.ClassSoftDecline, billing.CodeInsufficientFunds))
		return providers.ChargeResult{}, providers.Found(e)
	}
	_, err = f.charge(req)
	if fl, appErr := failure(t, err); !appErr.NonRetryable() || fl.Code != billing.CodeInsufficientFunds {
		t.Errorf("found decline: %v, want the non-retryable decline", err)
	}

	// A lookup that failed, even with what reads like a final error (a 4xx on the
	// lookup call), is not the charge's outcome: retryable, nothing recorded or sent.
	f.fake.Find = func(providers.ChargeRequest) (providers.ChargeResult, error) {
		return providers.ChargeResult{}, activitiestest.Decline(providers.ClassInvalidRequest, billing.CodeResourceMissing)
	}
	_, err = f.charge(req)
	if _, appErr := failure(t, err); appErr.NonRetryable() {
		t.Errorf("a lookup that failed with a final-looking error: %v, want a retryable failure", err)
	}

	f.fake.Find = func(providers.ChargeRequest) (providers.ChargeResult, error) {
		return providers.ChargeResult{}, providers.TransportError("fake", context.DeadlineExceeded)
	}
	_, err = f.charge(req)
	if _, appErr := failure(t, err); appErr.NonRetryable() {
		t.Errorf("failed lookup: %v, want a retryable failure", err)
	}
	if n := len(f.fake.Calls()); n != 1 {
		t.Fatalf("%d charges sent after a decline was found and lookups failed, want 1", n)
	}

	f.fake.Find = nil // no such charge
	if _, err := f.charge(req); err != nil {
		t.Fatal(err)
	}
	calls := f.fake.Calls()
	if len(calls) != 2 || calls[1].IdempotencyKey != req.IdempotencyKey {
		t.Fatalf("calls %+v: want the charge sent again under %s", calls, req.IdempotencyKey)
	}
	if got := f.fake.Lookups(); len(got) != 5 || got[4] != req.IdempotencyKey {
		t.Errorf("lookups = %v, want 5 under %s", got, req.IdempotencyKey)
	}
}

// fakeAccounts builds the fake provider for any account of merchant mer_1.
type fakeAccounts struct{ p providers.Provider }

func (f fakeAccounts) ForAccount(_ context.Context, merchantID, accountID string) (providers.Provider, error) {
	if merchantID != "mer_1" || accountID != "pa_1" {
		return nil, errors.New("no such account")
	}
	return f.p, nil
}

// TestCardsInAProviderAccountGoThroughIt: a card saved in a merchant's provider account
// is charged and 3-D Secure-authenticated through the account's adapter, never through
// the installation's provider of the same name.
func TestCardsInAProviderAccountGoThroughIt(t *testing.T) {
	account := &activitiestest.Provider{ProviderName: "fake"}
	installation := &activitiestest.Provider{ProviderName: "fake"}
	pms := activitiestest.NewPaymentMethods(map[string]activitiestest.Card{
		"pm_acc": {Provider: "fake", Token: "tok_acc", ProviderAccount: "pa_1"}})
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(activities.New(activities.Deps{Providers: activitiestest.Providers{"fake": installation},
		Accounts: fakeAccounts{account}, PaymentMethods: pms, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
	var a *activities.Activities
	if _, err := env.ExecuteActivity(a.Charge, chargeReq("pm_acc", "plan_acc/1/1")); err != nil {
		t.Fatal(err)
	}
	if _, err := env.ExecuteActivity(a.BeginAuthentication, activities.AuthenticateRequest{MerchantID: "mer_1", PaymentMethodID: "pm_acc",
		Amount: 1000, Currency: "USD", IdempotencyKey: "pay_acc/3ds"}); err != nil {
		t.Fatal(err)
	}
	if n := len(account.Calls()); n != 1 || len(installation.Calls()) != 0 {
		t.Errorf("account charges %d, installation charges %d; want 1 and 0", n, len(installation.Calls()))
	}
	if n := account.Authentications(); n != 1 || installation.Authentications() != 0 {
		t.Errorf("account authentications %d, installation %d; want 1 and 0", n, installation.Authentications())
	}
}

// TestARetryFindsTheChargeBeforeTheCardState: an attempt whose outcome was lost (Resolve,
// as a retry is) on a card blocked since is looked up first: the charge the earlier try
// made is the result (and its row is written when the workflow asked), not "the card
// is unavailable"; a key the provider never saw still answers with the card's state.
func TestARetryFindsTheChargeBeforeTheCardState(t *testing.T) {
	f := newFixture(t)
	f.fake.Find = func(req providers.ChargeRequest) (providers.ChargeResult, error) {
		if req.IdempotencyKey == "plan_x/2/1" {
			return providers.ChargeResult{ID: "ch_found", Status: providers.ChargeSucceeded, Amount: req.Amount, Currency: req.Currency}, nil
		}
		return providers.ChargeResult{}, providers.ErrNoSuchCharge
	}
	f.pms.Set("pm_fake", activitiestest.Card{Provider: "fake", Blocked: true})
	req := chargeReq("pm_fake", "plan_x/2/1")
	req.Resolve = true
	req.Record = &activities.RecordPaymentRequest{MerchantID: "mer_1", Mode: billing.ModeTest, PlanID: "plan_x", CustomerID: "cus_1",
		PaymentMethodID: "pm_fake", Installment: 2, Attempt: 1, Amount: 1000, Currency: "USD", PaymentType: billing.PaymentRecurring,
		IdempotencyKey: "plan_x/2/1"}
	res, err := f.charge(req)
	if err != nil || res.ChargeID != "ch_found" || !res.Recorded {
		t.Fatalf("retry on a card blocked since = %+v, %v; want the charge found and recorded", res, err)
	}
	if rows := f.ledger.Payments(); len(rows) != 1 || rows[0].Status != billing.PaymentSucceeded || rows[0].ProviderChargeID != "ch_found" {
		t.Fatalf("ledger %+v, want the found charge succeeded", rows)
	}
	other := chargeReq("pm_fake", "plan_x/3/1")
	other.Resolve = true
	if _, err := f.charge(other); err == nil || !strings.Contains(err.Error(), string(billing.CodePaymentMethodBlocked)) {
		t.Fatalf("a key never charged on a blocked card = %v, want the card's state", err)
	}
	if n := len(f.fake.Calls()); n != 0 {
		t.Errorf("%d charges sent, want none", n)
	}
}
