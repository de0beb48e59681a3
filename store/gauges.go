package store

import (
	"context"
	"fmt"
	"time"

	"github.com/recurring/recurring/billing"
)

// InstallmentsWaiting counts active plans whose next charge is due at or before now
// and not yet made: the engine's backlog, every merchant and mode together.
func (db *DB) InstallmentsWaiting(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := db.GetContext(ctx, &n, db.Rebind(`SELECT COUNT(*) FROM plans WHERE status = ? AND next_charge_at IS NOT NULL
		AND next_charge_at <= ?`), billing.PlanActive, now.UTC()); err != nil {
		return 0, fmt.Errorf("count installments waiting: %w", err)
	}
	return n, nil
}

// OutboxBacklog counts events not yet dispatched to webhook delivery and returns when
// the oldest of them was created (zero when there is none).
func (db *DB) OutboxBacklog(ctx context.Context) (int, time.Time, error) {
	var n int
	if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM events WHERE dispatched_at IS NULL`); err != nil {
		return 0, time.Time{}, fmt.Errorf("count undispatched events: %w", err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	var oldest []time.Time // a column, not an aggregate, so both drivers type it
	if err := db.SelectContext(ctx, &oldest, `SELECT created_at FROM events WHERE dispatched_at IS NULL ORDER BY seq LIMIT 1`); err != nil {
		return 0, time.Time{}, fmt.Errorf("oldest undispatched event: %w", err)
	}
	if len(oldest) == 0 {
		return n, time.Time{}, nil // dispatched in between
	}
	return n, oldest[0].UTC(), nil
}
