package console_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// BenchmarkConsoleSearch100k times the console's account pages, end to
// end (session, admin check, query, rendering), for a province admin over
// a subtree of 100,000 accounts in 104 units, on SQLite and (with
// XSZZ_TEST_POSTGRES_URL) PostgreSQL:
//
//	go test ./idp/console -run '^$' -bench ConsoleSearch100k -benchtime 20x
func BenchmarkConsoleSearch100k(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchSearch(b, sqldbtest.OpenSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchSearch(b, sqldbtest.OpenPostgres(b)) })
}

func benchSearch(b *testing.B, db *sqldb.DB) {
	v := newEnvB(b, db)
	adm := v.signIn("adminJS")
	for _, c := range []struct{ name, path string }{
		{"first page", "/admin/accounts"},
		{"deep page", "/admin/accounts?after=" + "bench0050000"},
		{"under a county", "/admin/accounts?under=320507"},
		{"by phone", "/admin/accounts?q=13912345678"},
		{"by rare name", "/admin/accounts?q=" + url.QueryEscape("批量99999")},
		{"by unit id", "/admin/accounts?q=320507"},
		{"pending queue", "/admin/pending"},
		{"province tree", "/admin/orgs/320000"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if rec := adm.get(c.path); rec.Code != http.StatusOK {
					b.Fatalf("%s: %d", c.path, rec.Code)
				}
			}
		})
	}
}

// newEnvB builds the test environment and fills Jiangsu with 13 cities of
// 8 counties each and 100,000 accounts spread over the counties.
func newEnvB(b *testing.B, db *sqldb.DB) *env {
	b.Helper()
	v := newEnv(b, db)
	ctx := context.Background()
	var csv strings.Builder
	csv.WriteString("id,parent_id,name,level,region_code,kind,stages\n")
	var counties []string
	for c := 3; c <= 15; c++ {
		city := fmt.Sprintf("32%02d00", c)
		fmt.Fprintf(&csv, "%s,320000,第%d市,city,%s,,\n", city, c, city)
		for k := 1; k <= 8; k++ {
			county := fmt.Sprintf("32%02d%02d", c, k)
			fmt.Fprintf(&csv, "%s,%s,第%d市第%d县,county,%s,,\n", county, city, c, k, county)
			counties = append(counties, county)
		}
	}
	orgs := v.orgs
	if _, err := orgs.Import(ctx, strings.NewReader(csv.String())); err != nil {
		b.Fatalf("import units: %v", err)
	}
	const total, batch = 100_000, 500
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		for i := 0; i < total; i += batch {
			var sb strings.Builder
			args := make([]any, 0, batch*5)
			sb.WriteString("INSERT INTO accounts (id, phone, name, status, org_id, role, created_at, updated_at) VALUES ")
			for j := i; j < i+batch; j++ {
				if j > i {
					sb.WriteString(",")
				}
				n := len(args)
				fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, 'staff', 1700000000, 1700000000)", n+1, n+2, n+3, n+4, n+5)
				status := "active"
				if j%1000 == 0 {
					status = "pending"
				}
				args = append(args, fmt.Sprintf("bench%07d", j), fmt.Sprintf("+86139%08d", j), fmt.Sprintf("批量%05d", j), status, counties[j%len(counties)])
			}
			if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("insert accounts: %v", err)
	}
	// Inserted the old way; sealed as a deployment's start would, so
	// searches by number go through the blind index.
	if _, err := v.accounts.SealPlaintextPhones(ctx); err != nil {
		b.Fatalf("seal phones: %v", err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
		b.Fatalf("analyze: %v", err)
	}
	return v
}
