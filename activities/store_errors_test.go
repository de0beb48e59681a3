package activities_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/recurring/recurring/activities"
	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/testdb"
	"github.com/recurring/recurring/store"
)

// ledgerEnv is an activity test environment over a real, migrated store of one
// dialect, with one merchant.
type ledgerEnv struct {
	env      *testsuite.TestActivityEnvironment
	db       *store.DB
	merchant string
}

func forEachLedger(t *testing.T, test func(t *testing.T, l ledgerEnv)) {
	for name, newURL := range testdb.URLs() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(ctx, newURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			m, err := db.CreateMerchant(ctx, "Acme", store.NewSecretKey(billing.ModeTest))
			if err != nil {
				t.Fatal(err)
			}
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			env.RegisterActivity(activities.New(activities.Deps{Ledger: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}))
			test(t, ledgerEnv{env: env, db: db, merchant: m.ID})
		})
	}
}

func (l ledgerEnv) planRequest(id string) activities.CreatePlanRequest {
	return activities.CreatePlanRequest{PlanID: id, MerchantID: l.merchant, Mode: billing.ModeTest, CustomerID: "cus_1",
		PaymentMethodID: "pm_1", Provider: "fake", Currency: "USD", Type: "ecom", Reference: "order-1",
		Status: billing.PlanActive, CreatedAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// storeRejected fails t unless err is the non-retryable store_rejected error whose
// message names what.
func storeRejected(t *testing.T, err error, what string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("error %v is not an ApplicationError", err)
	}
	if appErr.Type() != activities.ErrStoreRejected || !appErr.NonRetryable() {
		t.Errorf("error %v: type %s retryable=%v, want non-retryable %s", err, appErr.Type(), !appErr.NonRetryable(), activities.ErrStoreRejected)
	}
	if !strings.Contains(appErr.Error(), billing.CodeInvalidData) || !strings.Contains(appErr.Error(), what) {
		t.Errorf("error %q does not say %s (%s)", appErr.Error(), billing.CodeInvalidData, what)
	}
}

// A plan the store can never take fails CreatePlan at once, non-retryably, on either
// store: on Postgres a NUL byte is SQLSTATE 22021, a data exception no retry can fix.
func TestCreatePlanWithANULByteFailsNonRetryably(t *testing.T) {
	forEachLedger(t, func(t *testing.T, l ledgerEnv) {
		var a *activities.Activities
		req := l.planRequest("plan_nul")
		req.Reference = "x\u0000y"
		_, err := l.env.ExecuteActivity(a.CreatePlan, req)
		storeRejected(t, err, "reference")
		if _, err := l.db.GetPlan(context.Background(), billing.Caller{MerchantID: l.merchant, Mode: billing.ModeTest}, "plan_nul"); billing.KindOf(err) != billing.KindNotFound {
			t.Errorf("the refused plan was stored: %v", err)
		}
	})
}

// A value a constraint refuses reaches the store and comes back as the store's typed
// invalid_data error: the same non-retryable failure.
func TestCreatePlanRefusedByAConstraintFailsNonRetryably(t *testing.T) {
	forEachLedger(t, func(t *testing.T, l ledgerEnv) {
		var a *activities.Activities
		req := l.planRequest("plan_check")
		req.Type = "telepathy" // CHECK (type IN ('ecom', 'moto'))
		_, err := l.env.ExecuteActivity(a.CreatePlan, req)
		storeRejected(t, err, "create plan")

		if _, err := l.env.ExecuteActivity(a.CreatePlan, l.planRequest("plan_ok")); err != nil {
			t.Errorf("a valid plan: %v", err)
		}
	})
}

// A store that is down is a fault retrying can fix: CreatePlan stays retryable.
func TestCreatePlanOnAStoreThatIsDownIsRetryable(t *testing.T) {
	forEachLedger(t, func(t *testing.T, l ledgerEnv) {
		var a *activities.Activities
		_ = l.db.Close()
		_, err := l.env.ExecuteActivity(a.CreatePlan, l.planRequest("plan_down"))
		if err == nil {
			t.Fatal("CreatePlan on a closed store succeeded")
		}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			t.Errorf("closed store: %v is non-retryable, want retryable", err)
		}
	})
}

// A provider's decline message is recorded whatever bytes it holds: the attempt
// happened, so its row must be written, not refused.
func TestRecordPaymentKeepsAProviderMessageTheStoreCouldNotTake(t *testing.T) {
	forEachLedger(t, func(t *testing.T, l ledgerEnv) {
		var a *activities.Activities
		if _, err := l.env.ExecuteActivity(a.CreatePlan, l.planRequest("plan_msg")); err != nil {
			t.Fatal(err)
		}
		v, err := l.env.ExecuteActivity(a.RecordPayment, activities.RecordPaymentRequest{
			MerchantID: l.merchant, Mode: billing.ModeTest, PlanID: "plan_msg", CustomerID: "cus_1", PaymentMethodID: "pm_1",
			Installment: 1, Attempt: 1, Amount: 1000, Currency: "USD", Status: billing.PaymentFailed,
			PaymentType: billing.PaymentRecurring, IdempotencyKey: "plan_msg/1/1", FailureCode: "do_not_honor",
			FailureClass: "soft_decline", FailureMessage: "declined\u0000 \xff by issuer", AttemptedAt: time.Now(),
		})
		if err != nil {
			t.Fatalf("record payment: %v", err)
		}
		var res activities.RecordPaymentResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		p, err := l.db.GetPayment(context.Background(), billing.Caller{MerchantID: l.merchant, Mode: billing.ModeTest}, res.PaymentID)
		if err != nil {
			t.Fatal(err)
		}
		if p.FailureMessage != "declined\uFFFD \uFFFD by issuer" {
			t.Errorf("failure message stored as %q", p.FailureMessage)
		}
	})
}
