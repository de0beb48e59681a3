package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SimulatorJournal keeps the simulator provider's answers per idempotency key in the
// store, so a worker restarted after a crash replays a charge instead of repeating it.
// It satisfies simulator.Journal.
type SimulatorJournal struct{ db *DB }

// SimulatorJournal returns the journal backed by db.
func (db *DB) SimulatorJournal() *SimulatorJournal { return &SimulatorJournal{db: db} }

// LookupCharge returns the record stored under key, if any.
func (j *SimulatorJournal) LookupCharge(ctx context.Context, key string) ([]byte, bool, error) {
	var rec string
	err := j.db.GetContext(ctx, &rec, j.db.Rebind(`SELECT record FROM simulator_journal WHERE idempotency_key = ?`), key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("look up simulator journal: %w", err)
	}
	return []byte(rec), true, nil
}

// SaveCharge stores record under key unless the key has one, and returns the record the
// key holds afterwards.
func (j *SimulatorJournal) SaveCharge(ctx context.Context, key string, record []byte) ([]byte, error) {
	if _, err := j.db.ExecContext(ctx, j.db.Rebind(`INSERT INTO simulator_journal (idempotency_key, record, created_at)
		VALUES (?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`), key, string(record), time.Now().UTC()); err != nil {
		return nil, fmt.Errorf("save simulator journal: %w", err)
	}
	stored, ok, err := j.LookupCharge(ctx, key)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("save simulator journal: record for %q vanished", key)
	}
	return stored, nil
}

// CountSimulatorCharges returns how many journaled answers were successful charges;
// end-to-end tests count real charges with it across worker restarts.
func (db *DB) CountSimulatorCharges(ctx context.Context) (int, error) {
	var n int
	err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM simulator_journal WHERE record NOT LIKE '%"error":%'`)
	if err != nil {
		return 0, fmt.Errorf("count simulator charges: %w", err)
	}
	return n, nil
}
