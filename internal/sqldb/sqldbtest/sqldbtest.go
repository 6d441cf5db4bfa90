// Package sqldbtest runs a test against every database backend: an
// embedded SQLite file always, and PostgreSQL when XSZZ_TEST_POSTGRES_URL
// names a server. Each run gets a fresh database migrated with every
// part's schema (a temporary file, or a schema of its own on PostgreSQL)
// so tests can run in parallel.
package sqldbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/testenv"
	"github.com/xszz/xszz/migrations"
)

// EnvPostgres names the environment variable with the test server's URL.
const EnvPostgres = testenv.EnvPostgres

// Run calls fn in a subtest per backend ("sqlite", "postgres").
func Run(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		db := OpenPostgres(t)
		fn(t, db)
	})
}

// OpenSQLite returns a migrated SQLite database in a temporary directory.
func OpenSQLite(t testing.TB) *sqldb.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "xszz.db")
	db, err := sqldb.Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), migrations.All()...); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// PostgresURL returns a URL for a fresh schema on the test server, dropped
// when the test ends, or skips the test when no server is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := testenv.Postgres(t)
	ctx := context.Background()
	admin, err := sqldb.Open(ctx, base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres returns a migrated database in a fresh schema, or skips.
func OpenPostgres(t testing.TB) *sqldb.DB {
	t.Helper()
	u := PostgresURL(t)
	db, err := sqldb.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), migrations.All()...); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db
}
