package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/recurring/recurring/billing"
)

// cursor returns the seq of the StartingAfter object of table, scoped to the caller, or
// 0 without a cursor. An id the caller cannot see is an invalid cursor, not a 404 of
// the list.
func (db *DB) cursor(ctx context.Context, table string, caller billing.Caller, id string) (int64, error) {
	if id == "" {
		return 0, nil
	}
	var seq int64
	err := db.GetContext(ctx, &seq, db.Rebind(`SELECT seq FROM `+table+` WHERE id = ? AND merchant_id = ? AND mode = ?`),
		id, caller.MerchantID, caller.Mode)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, billing.Invalid("starting_after", billing.CodeResourceMissing, "starting_after names no object in this list: %q", id)
	}
	if err != nil {
		return 0, fmt.Errorf("read list cursor: %w", err)
	}
	return seq, nil
}

// page trims a limit+1 query result to limit items and says whether more remain.
func page[T any](rows []T, limit int) billing.Page[T] {
	if rows == nil {
		rows = []T{}
	}
	if len(rows) > limit {
		return billing.Page[T]{Items: rows[:limit], HasMore: true}
	}
	return billing.Page[T]{Items: rows}
}

// notFound is the error for an id that does not exist for the caller: missing, another
// merchant's, or the other mode's all look the same.
func notFound(what, id string) error {
	return &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Param: "id",
		Message: fmt.Sprintf("no such %s: %q", what, id)}
}

// forUpdate locks selected rows for the transaction on Postgres; SQLite transactions
// already hold the database's write lock (BEGIN IMMEDIATE).
func (db *DB) forUpdate() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}
