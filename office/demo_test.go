package office_test

import (
	"context"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office"
)

// The demo seed leaves a notice forwarded level by level down to the demo
// school, and an activity the school is invited to; twice is once.
func TestSeedDemo(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		people := []office.DemoPerson{
			{Sub: "p1", Name: "部管理员", Phone: "+8613800000001", OrgID: "000000", OrgName: "全国学生资助管理中心", OrgLevel: "ministry", OrgPath: []string{"000000"}, Role: "admin"},
			{Sub: "p2", Name: "省管理员", Phone: "+8613800000002", OrgID: "320000", OrgName: "江苏省学生资助管理中心", OrgLevel: "province", OrgPath: []string{"000000", "320000"}, Role: "admin"},
			{Sub: "p3", Name: "市管理员", Phone: "+8613800000003", OrgID: "320100", OrgName: "南京市学生资助管理中心", OrgLevel: "city", OrgPath: []string{"000000", "320000", "320100"}, Role: "admin"},
			{Sub: "p4", Name: "县管理员", Phone: "+8613800000004", OrgID: "320102", OrgName: "玄武区学生资助管理中心", OrgLevel: "county", OrgPath: []string{"000000", "320000", "320100", "320102"}, Role: "admin"},
			{Sub: "p5", Name: "学校老师", Phone: "+8613800000005", OrgID: "3201020001", OrgName: "南京市第九中学", OrgLevel: "school", OrgPath: []string{"000000", "320000", "320100", "320102", "3201020001"}, Role: "staff"},
		}
		now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		for range 2 {
			if err := office.SeedDemo(ctx, db, people, now); err != nil {
				t.Fatal(err)
			}
		}
		var dispatches, receipts, activities int
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_notices`).Scan(&dispatches)
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_receipts WHERE person_id = 'p5'`).Scan(&receipts)
		db.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_activities WHERE org_id = '320102'`).Scan(&activities)
		// Publication + province, city and county forwards, and a second notice.
		if dispatches != 5 || receipts != 2 || activities != 1 {
			t.Errorf("dispatches %d, school receipts %d, county activities %d; want 5, 2, 1", dispatches, receipts, activities)
		}
		var chain string
		db.QueryRowContext(ctx, `SELECT chain FROM office_receipts WHERE person_id = 'p5' AND root_id = (SELECT MIN(id) FROM office_notices)`).Scan(&chain)
		if len(chain) < len("/1/2/3/4/") {
			t.Errorf("the school's copy came by chain %q, want four dispatches", chain)
		}
	})
}
