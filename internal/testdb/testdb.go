// Package testdb gives tests a fresh, empty database of each dialect. Postgres comes
// from TEST_DATABASE_URL (a server tests may create databases on); without it Postgres
// tests skip, except under CI=true, where a missing database is a failure.
package testdb

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq" // the Postgres driver the store uses

	"github.com/recurring/recurring/billing"
)

// SQLiteURL returns the URL of a new SQLite file in a temp dir.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
}

// PostgresURL creates a new database on the TEST_DATABASE_URL server, drops it when the
// test ends, and returns its URL.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TEST_DATABASE_URL is not set, and CI=true requires the Postgres tests to run")
		}
		t.Skip("TEST_DATABASE_URL is not set: skipping the Postgres half of this test (set it to e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatalf("open TEST_DATABASE_URL: %v", err)
	}
	defer func() { _ = admin.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := "recurring_test_" + strings.ReplaceAll(billing.RandomToken(8), "=", "")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database on TEST_DATABASE_URL: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("postgres", base)
		if err != nil {
			return
		}
		defer func() { _ = admin.Close() }()
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// URLs returns one fresh database per dialect, by dialect name, for contract suites
// that run against both.
func URLs() map[string]func(testing.TB) string {
	return map[string]func(testing.TB) string{"sqlite": SQLiteURL, "postgres": PostgresURL}
}
