package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/migrations"
)

func openFile(t *testing.T, path string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Writers from two handles on one file, some in read-modify-write
// transactions and some autocommit, all succeed and none is lost: they
// queue on the write gate instead of failing or sleeping on SQLITE_BUSY.
func TestSQLiteWritersQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	a, b := openFile(t, path), openFile(t, path)
	ctx := context.Background()
	if err := a.Migrate(ctx, migrations.All()...); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ExecContext(ctx, `INSERT INTO oauth_jtis (jti, expires_at) VALUES ('counter', 0)`); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- db.InTx(ctx, func(tx *sql.Tx) error {
				var v int64
				if err := tx.QueryRowContext(ctx, `SELECT expires_at FROM oauth_jtis WHERE jti = 'counter'`).Scan(&v); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `UPDATE oauth_jtis SET expires_at = $1 WHERE jti = 'counter'`, v+1)
				return err
			})
		}()
		go func() {
			defer wg.Done()
			_, err := db.ExecContext(ctx, `INSERT INTO oauth_jtis (jti, expires_at) VALUES ($1, 1)`, fmt.Sprint("j", i))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("writer: %v", err)
		}
	}
	var v, rows int64
	if err := b.QueryRowContext(ctx, `SELECT expires_at FROM oauth_jtis WHERE jti = 'counter'`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRowContext(ctx, `SELECT COUNT(*) FROM oauth_jtis`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if v != n || rows != n+1 {
		t.Errorf("counter %d and %d rows, want %d and %d", v, rows, n, n+1)
	}
}

// A writer waiting behind an open transaction gives up when its context
// ends; readers are not held up at all.
func TestSQLiteWaitingWriterHonoursContext(t *testing.T) {
	db := openFile(t, filepath.Join(t.TempDir(), "x.db"))
	ctx := context.Background()
	if err := db.Migrate(ctx, migrations.All()...); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM oauth_jtis`).Scan(&n); err != nil {
		t.Fatalf("read beside an open write transaction: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = db.ExecContext(wctx, `INSERT INTO oauth_jtis (jti, expires_at) VALUES ('x', 1)`)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write behind an open transaction: got %v, want the context's deadline", err)
	}
}
