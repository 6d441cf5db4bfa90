package sqldb_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/migrations"
)

func TestMigrateIsIdempotent(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx, migrations.All()...); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM idp_schema_migrations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("no migration recorded")
		}
	})
}

func TestUniqueViolationIsRecognised(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		q := `INSERT INTO oauth_jtis (jti, expires_at) VALUES ($1, $2)`
		if _, err := db.ExecContext(ctx, q, "a", 1); err != nil {
			t.Fatal(err)
		}
		_, err := db.ExecContext(ctx, q, "a", 1)
		if !sqldb.IsUniqueViolation(err) {
			t.Fatalf("duplicate insert: got %v, want a unique violation", err)
		}
	})
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	if _, err := sqldb.Open(context.Background(), "mysql://x"); err == nil {
		t.Fatal("mysql:// accepted")
	}
}

func TestOpenKeepsOddPaths(t *testing.T) {
	path := t.TempDir() + "/odd#dir?x/xszz.db"
	db, err := sqldb.Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(context.Background(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q: the options after the path were lost", mode)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %s: %v", path, err)
	}
}

// The SQLite file and its -wal and -shm hold personal data: they are
// readable by the service's user only, even under a permissive umask.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "private.db")
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), mode)
		}
	}
}
