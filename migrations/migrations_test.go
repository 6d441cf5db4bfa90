package migrations_test

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/migrations"
)

// openBare returns an empty database of each backend, not migrated.
func openBare(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqldb.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "old.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := sqldb.Open(context.Background(), sqldbtest.PostgresURL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
}

// migrateAsBefore applies the IdP's files the way the single-service
// layout did: one shared schema_migrations record for every file.
func migrateAsBefore(t *testing.T, db *sqldb.DB) {
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(migrations.IdP.Files, string(db.Dialect)+"/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("list idp migrations: %v (%d files)", err, len(names))
	}
	sort.Strings(names)
	for _, name := range names {
		body, err := fs.ReadFile(migrations.IdP.Files, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("apply %s: %v", name, err)
		}
		base := strings.TrimSuffix(filepath.Base(name), ".sql")
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, 1)`, base); err != nil {
			t.Fatal(err)
		}
	}
}

func TestADatabaseOfTheSingleServiceLayoutUpgradesWithNoDataLost(t *testing.T) {
	openBare(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		migrateAsBefore(t, db)
		if _, err := db.ExecContext(ctx, `INSERT INTO accounts (id, phone, name, status, role, created_at, updated_at)
			VALUES ('a1', '13800138000', '张三', 'active', 'admin', 1, 1)`); err != nil {
			t.Fatal(err)
		}

		if err := db.Migrate(ctx, migrations.All()...); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		if err := db.Migrate(ctx, migrations.All()...); err != nil {
			t.Fatalf("second run after the upgrade: %v", err)
		}

		var name string
		if err := db.QueryRowContext(ctx, `SELECT name FROM accounts WHERE id = 'a1'`).Scan(&name); err != nil || name != "张三" {
			t.Fatalf("account after upgrade: %q, %v", name, err)
		}
		var adopted int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM idp_schema_migrations WHERE applied_at = 1`).Scan(&adopted); err != nil {
			t.Fatal(err)
		}
		names, _ := fs.Glob(migrations.IdP.Files, string(db.Dialect)+"/*.sql")
		if adopted != len(names) {
			t.Fatalf("adopted %d of %d old records", adopted, len(names))
		}
		var legacy int
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&legacy)
		if err == nil {
			t.Fatalf("the old shared record is still there with %d rows; want it dropped once adopted", legacy)
		}
	})
}

func TestEachPartMigratesAloneOnItsOwnDatabase(t *testing.T) {
	for _, s := range migrations.All() {
		t.Run(s.Name, func(t *testing.T) {
			openBare(t, func(t *testing.T, db *sqldb.DB) {
				ctx := context.Background()
				if err := db.Migrate(ctx, s); err != nil {
					t.Fatalf("migrate %s alone: %v", s.Name, err)
				}
				var n int
				if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+s.Name+`_schema_migrations`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				files, _ := fs.Glob(s.Files, string(db.Dialect)+"/*.sql")
				if n != len(files) {
					t.Fatalf("%s recorded %d of %d files", s.Name, n, len(files))
				}
			})
		})
	}
}

func TestEveryMigrationExistsInBothDialects(t *testing.T) {
	for _, s := range migrations.All() {
		lite, _ := fs.Glob(s.Files, "sqlite/*.sql")
		pg, _ := fs.Glob(s.Files, "postgres/*.sql")
		base := func(names []string) []string {
			out := make([]string, len(names))
			for i, n := range names {
				out[i] = filepath.Base(n)
			}
			return out
		}
		if strings.Join(base(lite), ",") != strings.Join(base(pg), ",") {
			t.Errorf("%s: sqlite has %v, postgres has %v", s.Name, base(lite), base(pg))
		}
	}
}

// idpBefore is the IdP's schema as released before the named file.
func idpBefore(t *testing.T, first string) sqldb.Schema {
	t.Helper()
	old := fstest.MapFS{}
	for _, dialect := range []string{"sqlite", "postgres"} {
		names, err := fs.Glob(migrations.IdP.Files, dialect+"/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if filepath.Base(name) >= first {
				continue
			}
			body, err := fs.ReadFile(migrations.IdP.Files, name)
			if err != nil {
				t.Fatal(err)
			}
			old[name] = &fstest.MapFile{Data: body}
		}
	}
	s := migrations.IdP
	s.Files = old
	return s
}

// Accounts written while phones were plaintext survive 0223 (SQLite
// rebuilds the table) with every column, and are sealed by the Go half of
// the migration; the plaintext is gone afterwards.
func TestPlaintextPhonesUpgradeToSealed(t *testing.T) {
	openBare(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx, idpBefore(t, "0223")); err != nil {
			t.Fatalf("schema before 0223: %v", err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO accounts (id, phone, name, status, org_id, role, activated_at, created_at, updated_at, disabled_by)
			VALUES ('a1', '+8613800138000', '张三', 'disabled', '320000', 'admin', 5, 1, 2, '/000000/'),
			       ('a2', '+8613800138001', '李四', 'active', NULL, 'staff', NULL, 3, 4, '')`); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, migrations.All()...); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		accs := account.NewStore(db, time.Now)
		if n, err := accs.SealPlaintextPhones(ctx); err != nil || n != 2 {
			t.Fatalf("sealed %d, %v; want 2", n, err)
		}
		got, err := accs.ByPhone(ctx, "+8613800138000")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "a1" || got.Name != "张三" || got.Status != "disabled" || got.OrgID != "320000" || got.Role != "admin" ||
			got.ActivatedAt == nil || got.ActivatedAt.Unix() != 5 || got.CreatedAt.Unix() != 1 || got.UpdatedAt.Unix() != 2 || got.DisabledBy != "/000000/" {
			t.Fatalf("account after upgrade: %+v", got)
		}
		var plain int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE phone IS NOT NULL`).Scan(&plain); err != nil || plain != 0 {
			t.Fatalf("%d plaintext phones left (%v)", plain, err)
		}
		if _, err := accs.Create(ctx, account.Account{Phone: "+8613800138001", Name: "重复"}); !errors.Is(err, account.ErrPhoneTaken) {
			t.Fatalf("upgraded number taken again: %v", err)
		}
	})
}
