package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lib/pq"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/testdb"
	"github.com/recurring/recurring/store"
)

// invalidData fails t unless err is the store's typed refusal of a value: KindInvalid
// with billing.CodeInvalidData, the driver's error kept underneath.
func invalidData(t *testing.T, what string, err error) {
	t.Helper()
	var be *billing.Error
	if !errors.As(err, &be) || be.Kind != billing.KindInvalid || be.Code != billing.CodeInvalidData {
		t.Fatalf("%s: err %v (%T), want a KindInvalid %s billing error", what, err, err, billing.CodeInvalidData)
	}
	if be.Err == nil {
		t.Errorf("%s: the driver's error is not kept underneath", what)
	}
}

// A NUL byte makes Postgres answer 22021 (invalid byte sequence for UTF8), which
// retrying can never fix: the store says so with a typed error instead of a bare pq
// error that activities would retry forever.
func TestPostgresRefusesANULByteAsInvalidData(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, testdb.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	p := testPlan(newMerchant(t, db), "plan_nul")
	p.Reference = "x\u0000y"
	_, _, err = db.CreatePlan(ctx, p)
	invalidData(t, "create plan with a NUL byte", err)
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "22021" {
		t.Errorf("underlying error %v, want pq 22021", err)
	}
	if _, err := db.GetPlan(ctx, billing.Caller{MerchantID: p.MerchantID, Mode: p.Mode}, p.ID); billing.KindOf(err) != billing.KindNotFound {
		t.Errorf("the refused plan was stored: %v", err)
	}
}

// A CHECK constraint refuses a value on both dialects (23514 on Postgres,
// SQLITE_CONSTRAINT_CHECK on SQLite): the same typed error.
func TestCheckViolationIsInvalidData(t *testing.T) {
	forEachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		p := testPlan(newMerchant(t, db), "plan_check")
		p.Type = "telepathy" // CHECK (type IN ('ecom', 'moto'))
		_, _, err := db.CreatePlan(ctx, p)
		invalidData(t, "create plan of an unknown type", err)

		p.Type, p.Mode = "ecom", "staging" // CHECK (mode IN ('test', 'live'))
		_, _, err = db.CreatePlan(ctx, p)
		invalidData(t, "create plan in an unknown mode", err)

		// A unique violation is still a conflict, not invalid data.
		ok := testPlan(p.MerchantID, "plan_ok")
		if _, _, err := db.CreatePlan(ctx, ok); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.CreatePlan(ctx, testPlan(newMerchant(t, db), "plan_ok")); billing.KindOf(err) != billing.KindConflict {
			t.Errorf("plan id of another merchant: %v, want conflict", err)
		}
	})
}
