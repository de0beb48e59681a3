package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ReserveChargeSlot takes the next send slot of lane (a provider account, or an
// installation provider) for a charge at one every interval, shared by every worker
// on the database: the slot is the lane's next free instant or now, whichever is
// later, and the lane's next free instant moves one interval past it. With within > 0
// nothing is taken when the slot would be more than within after now: ok is false and
// slot is when the lane is next free. The instants are the callers' clocks (workers
// keep theirs in sync, as Temporal needs anyway).
func (db *DB) ReserveChargeSlot(ctx context.Context, lane string, interval, within time.Duration, now time.Time) (slot time.Time, ok bool, err error) {
	if interval <= 0 {
		return time.Time{}, false, fmt.Errorf("reserve charge slot: interval must be positive, got %s", interval)
	}
	// The step rounds up: rate slots never fit in less than a second.
	nowUS, step := now.UnixMicro(), int64((interval+time.Microsecond-1)/time.Microsecond)
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO charge_pacing (lane, next_us) VALUES (?, ?)
		ON CONFLICT (lane) DO NOTHING`), lane, nowUS); err != nil {
		return time.Time{}, false, fmt.Errorf("reserve charge slot: %w", err)
	}
	// One statement: concurrent reservations on either dialect each move the row on
	// from what the other left (Postgres row lock, SQLite's single writer).
	limit := int64(1) << 62
	if within > 0 {
		limit = nowUS + within.Microseconds()
	}
	var next int64
	err = db.GetContext(ctx, &next, db.Rebind(`UPDATE charge_pacing
		SET next_us = (CASE WHEN next_us > ? THEN next_us ELSE ? END) + ?
		WHERE lane = ? AND (CASE WHEN next_us > ? THEN next_us ELSE ? END) <= ?
		RETURNING next_us`), nowUS, nowUS, step, lane, nowUS, nowUS, limit)
	if err == nil {
		return time.UnixMicro(next - step).UTC(), true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, fmt.Errorf("reserve charge slot: %w", err)
	}
	if err := db.GetContext(ctx, &next, db.Rebind(`SELECT next_us FROM charge_pacing WHERE lane = ?`), lane); err != nil {
		return time.Time{}, false, fmt.Errorf("reserve charge slot: %w", err)
	}
	return time.UnixMicro(next).UTC(), false, nil
}
