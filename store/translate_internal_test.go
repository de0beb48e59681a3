package store

import (
	"context"
	"errors"
	"testing"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/testdb"
)

// TestTranslateDriverErrors runs statements that fail in the database itself and checks
// how translate classifies each driver error: values the database refuses are
// invalid data (never retried by activities), duplicates are conflicts, and anything
// else (a missing table here; a database that is down in production) stays an
// internal error, which activities retry.
func TestTranslateDriverErrors(t *testing.T) {
	cases := []struct {
		name     string
		stmt     map[Dialect]string
		args     []any
		kind     billing.Kind
		wantCode string
	}{
		{name: "not null", kind: billing.KindInvalid, wantCode: billing.CodeInvalidData, stmt: map[Dialect]string{
			Postgres: `INSERT INTO merchants (id, name, created_at) VALUES ('mer_x', NULL, now())`,
			SQLite:   `INSERT INTO merchants (id, name, created_at) VALUES ('mer_x', NULL, CURRENT_TIMESTAMP)`,
		}},
		{name: "check", kind: billing.KindInvalid, wantCode: billing.CodeInvalidData, stmt: map[Dialect]string{
			Postgres: `INSERT INTO api_keys (id, merchant_id, mode, key_hash, key_hint, created_at) VALUES ('key_x', 'mer_1', 'staging', 'h', 'k', now())`,
			SQLite:   `INSERT INTO api_keys (id, merchant_id, mode, key_hash, key_hint, created_at) VALUES ('key_x', 'mer_1', 'staging', 'h', 'k', CURRENT_TIMESTAMP)`,
		}},
		{name: "invalid text representation", kind: billing.KindInvalid, wantCode: billing.CodeInvalidData, stmt: map[Dialect]string{
			Postgres: `SELECT CAST('abc' AS integer)`,             // 22P02
			SQLite:   `SELECT CAST(zeroblob(2000000000) AS TEXT)`, // SQLITE_TOOBIG
		}},
		{name: "NUL byte", kind: billing.KindInvalid, wantCode: billing.CodeInvalidData, args: []any{"x\u0000y"}, stmt: map[Dialect]string{
			Postgres: `SELECT CAST($1 AS TEXT)`, // 22021; SQLite keeps NULs (activities refuse them first)
		}},
		{name: "duplicate", kind: billing.KindConflict, wantCode: "resource_exists", stmt: map[Dialect]string{
			Postgres: `INSERT INTO merchants (id, name, created_at) VALUES ('mer_1', 'again', now())`,
			SQLite:   `INSERT INTO merchants (id, name, created_at) VALUES ('mer_1', 'again', CURRENT_TIMESTAMP)`,
		}},
		{name: "other", kind: billing.KindInternal, stmt: map[Dialect]string{
			Postgres: `SELECT * FROM no_such_table`,
			SQLite:   `SELECT * FROM no_such_table`,
		}},
	}
	for name, newURL := range testdb.URLs() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(ctx, newURL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO merchants (id, name, created_at) VALUES ('mer_1', 'Acme', ?)`), db.now()); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				stmt, ok := c.stmt[db.Dialect]
				if !ok {
					continue
				}
				_, raw := db.ExecContext(ctx, stmt, c.args...)
				if raw == nil {
					t.Errorf("%s: %q succeeded, want a driver error", c.name, stmt)
					continue
				}
				err := translate(raw, "test")
				if got := billing.KindOf(err); got != c.kind {
					t.Errorf("%s: translate(%v) is %s, want %s", c.name, raw, got, c.kind)
				}
				var be *billing.Error
				if c.wantCode != "" && (!errors.As(err, &be) || be.Code != c.wantCode) {
					t.Errorf("%s: translate(%v) = %v, want code %s", c.name, raw, err, c.wantCode)
				}
				if !errors.Is(err, raw) {
					t.Errorf("%s: the driver error is lost", c.name)
				}
			}
		})
	}
}
