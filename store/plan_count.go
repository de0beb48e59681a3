package store

import (
	"context"
	"fmt"

	"github.com/recurring/recurring/billing"
)

// CountUnfinishedPlans returns how many of the caller's plans for customerID are not
// completed, canceled or failed: the plans that keep a customer from being deleted.
func (db *DB) CountUnfinishedPlans(ctx context.Context, caller billing.Caller, customerID string) (int, error) {
	var n int
	err := db.GetContext(ctx, &n, db.Rebind(`SELECT COUNT(*) FROM plans
		WHERE merchant_id = ? AND mode = ? AND customer_id = ? AND status NOT IN (?, ?, ?)`),
		caller.MerchantID, caller.Mode, customerID,
		string(billing.PlanCompleted), string(billing.PlanCanceled), string(billing.PlanFailed))
	if err != nil {
		return 0, fmt.Errorf("count unfinished plans: %w", err)
	}
	return n, nil
}
