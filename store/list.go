package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/recurring/recurring/billing"
)

// Page sizes of every list.
const (
	DefaultListLimit = 10
	MaxListLimit     = 100
)

// ListParams pages through a list, newest first.
type ListParams struct {
	// Limit is 1..MaxListLimit; 0 means DefaultListLimit.
	Limit int
	// StartingAfter is the id of the last object of the previous page.
	StartingAfter string
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	// HasMore reports whether objects remain after the last item.
	HasMore bool
}

func (p ListParams) limit() (int, error) {
	switch {
	case p.Limit == 0:
		return DefaultListLimit, nil
	case p.Limit < 1 || p.Limit > MaxListLimit:
		return 0, billing.Invalid("limit", billing.CodeInvalidValue, "limit must be between 1 and %d", MaxListLimit)
	}
	return p.Limit, nil
}

// cursor returns the seq of the StartingAfter object of table, scoped to the caller, or
// 0 without a cursor. An id the caller cannot see is an invalid cursor, not a 404 of
// the list.
func (db *DB) cursor(ctx context.Context, table string, caller Caller, id string) (int64, error) {
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
func page[T any](rows []T, limit int) Page[T] {
	if rows == nil {
		rows = []T{}
	}
	if len(rows) > limit {
		return Page[T]{Items: rows[:limit], HasMore: true}
	}
	return Page[T]{Items: rows}
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
