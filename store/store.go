// Package store keeps the engine's own records (merchants, API keys, customers, payment
// methods, plans, payments, idempotency records, webhook endpoints and events) in
// Postgres or SQLite through one sqlx code base. Driver errors are translated here, at
// the boundary, into billing errors.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/recurring/recurring/billing"
	"github.com/recurring/recurring/internal/seal"
)

// Dialect names a supported SQL database.
type Dialect string

// Supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

//go:embed migrations
var migrations embed.FS

func init() {
	// modernc's driver registers as "sqlite", which sqlx does not know the bind type of.
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
}

// DB is an open store.
type DB struct {
	*sqlx.DB
	Dialect Dialect
	// Keyring seals provider card tokens and keys idempotency fingerprints. Set it once,
	// right after Open; payment method and idempotency methods fail without it.
	Keyring *seal.Keyring
	// Now is the clock, for tests; time.Now when nil.
	Now func() time.Time
}

// now returns the current time in UTC at the microsecond precision Postgres keeps, so a
// value read back equals the one written on both dialects.
func (db *DB) now() time.Time {
	t := time.Now()
	if db.Now != nil {
		t = db.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

func (db *DB) keyring() (*seal.Keyring, error) {
	if db.Keyring == nil {
		return nil, errors.New("store has no keyring: set ENCRYPTION_KEYS")
	}
	return db.Keyring, nil
}

// Open connects to the database named by rawURL: a postgres:// or postgresql:// URL for
// Postgres, or sqlite:PATH (also sqlite://PATH, file:PATH) for SQLite. It does not
// migrate; call Migrate or check Pending.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	dialect, dsn, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	driver := "postgres"
	if dialect == SQLite {
		driver = "sqlite"
	}
	db, err := sqlx.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", dialect, err)
	}
	if dialect == SQLite {
		// WAL lets readers run beside the one writer; a few connections are enough
		// and keep writers from queueing behind busy_timeout for long.
		db.SetMaxOpenConns(4)
	} else {
		db.SetMaxOpenConns(20)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to %s store: %w", dialect, err)
	}
	return &DB{DB: db, Dialect: dialect}, nil
}

func parseURL(rawURL string) (Dialect, string, error) {
	switch {
	case rawURL == "":
		return "", "", errors.New("database URL is empty")
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if _, err := url.Parse(rawURL); err != nil {
			return "", "", fmt.Errorf("database URL is not a valid postgres URL: %w", err)
		}
		return Postgres, rawURL, nil
	}
	path := rawURL
	for _, p := range []string{"sqlite://", "sqlite:", "file:"} {
		if strings.HasPrefix(path, p) {
			path = strings.TrimPrefix(path, p)
			break
		}
	}
	if path == rawURL && strings.Contains(rawURL, "://") {
		return "", "", fmt.Errorf("database URL scheme not supported (want postgres:// or sqlite:): %q", redactURL(rawURL))
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		return "", "", errors.New("sqlite database URL has no file path")
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	// BEGIN IMMEDIATE takes the write lock up front, so two writers never deadlock
	// upgrading read locks; they wait on busy_timeout instead.
	q.Set("_txlock", "immediate")
	return SQLite, "file:" + path + "?" + q.Encode(), nil
}

// redactURL drops the password from a URL so it can be shown in an error.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

func (db *DB) migrationProvider() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+string(db.Dialect))
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", db.Dialect, err)
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
		// An advisory lock keeps two processes (api and worker starting together)
		// from applying the same migration at once.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.DB.DB, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending embedded migration and returns how many ran.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	p, err := db.migrationProvider()
	if err != nil {
		return 0, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("apply migrations: %w", err)
	}
	return len(res), nil
}

// Pending reports whether embedded migrations remain to be applied, so processes that
// do not migrate themselves can refuse to run against an old schema.
func (db *DB) Pending(ctx context.Context) (bool, error) {
	p, err := db.migrationProvider()
	if err != nil {
		return false, err
	}
	ok, err := p.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("check migrations: %w", err)
	}
	return ok, nil
}

// translate turns driver errors into billing errors at the store boundary and wraps
// everything else with what was being done.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &billing.Error{Kind: billing.KindNotFound, Code: billing.CodeResourceMissing, Message: what + ": not found", Err: err}
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch {
		case pqErr.Code == pqerror.UniqueViolation:
			return &billing.Error{Kind: billing.KindConflict, Code: billing.CodeResourceExists, Message: what + ": already exists", Err: err}
		case pqErr.Code.Class() == pqerror.ClassDataException, pqErr.Code == pqerror.NotNullViolation,
			pqErr.Code == pqerror.CheckViolation:
			return invalidData(err, what)
		}
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &billing.Error{Kind: billing.KindConflict, Code: billing.CodeResourceExists, Message: what + ": already exists", Err: err}
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_DATATYPE,
			sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG:
			return invalidData(err, what)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// invalidData is the error of a write refused for its values. The driver's message
// (pq's leaves out the failing row's detail) stays in Err for operators.
func invalidData(err error, what string) error {
	return &billing.Error{Kind: billing.KindInvalid, Code: billing.CodeInvalidData,
		Message: what + ": the database refused a value", Err: err}
}

// jsonText is how a billing.JSONDoc is written: as text (a JSON column on Postgres,
// TEXT on SQLite), or NULL when empty. Reading one back goes through JSONDoc.Scan.
func jsonText(doc billing.JSONDoc) any {
	if len(doc) == 0 {
		return nil
	}
	return string(doc)
}

// DB is the engine's store: every service the domain declares.
var _ billing.Store = (*DB)(nil)
