package office_test

import (
	"context"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office"
)

// The demo seed leaves the school's submissions, consultations and
// complaints in several states, handled by the county; twice is once.
func TestSeedDemoWorkflows(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		people := []office.DemoPerson{
			{Sub: "p2", Name: "省管理员", OrgID: "320000", OrgName: "江苏省学生资助管理中心", OrgLevel: "province", OrgPath: []string{"000000", "320000"}, Role: "admin"},
			{Sub: "p4", Name: "县管理员", OrgID: "320102", OrgName: "玄武区学生资助管理中心", OrgLevel: "county", OrgPath: []string{"000000", "320000", "320100", "320102"}, Role: "admin"},
			{Sub: "p5", Name: "学校老师", OrgID: "3201020001", OrgName: "南京市第九中学", OrgLevel: "school", OrgPath: []string{"000000", "320000", "320100", "320102", "3201020001"}, Role: "staff"},
		}
		now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		for range 2 {
			if err := office.SeedDemo(ctx, db, people, now); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_submissions`).Scan(&n); err != nil || n != 3 {
			t.Fatalf("%d submissions after seeding twice, want 3 (%v)", n, err)
		}
		for _, c := range []struct {
			table string
			want  string
		}{
			{"office_submissions", "published,returned,reviewing"},
			{"office_consultations", "answered,open"},
			{"office_complaints", "in_progress,submitted"},
		} {
			rows, err := db.QueryContext(ctx, `SELECT DISTINCT state FROM `+c.table+` WHERE author_id = 'p5' AND to_org_id = '320102' ORDER BY state`)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for rows.Next() {
				var s string
				rows.Scan(&s)
				if got != "" {
					got += ","
				}
				got += s
			}
			rows.Close()
			if got != c.want {
				t.Errorf("%s: states %q, want %q", c.table, got, c.want)
			}
		}
	})
}
