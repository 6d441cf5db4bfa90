package gen_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

var asOf = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func TestGenerateIsDeterministicAndCoversEveryRegion(t *testing.T) {
	tree := region.MustLoad()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		st, err := gen.Run(ctx, db, tree, gen.Options{Records: 60000, Seed: 7, AsOf: asOf, Progress: os.Stderr})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", st)
		if st.Records < 60000 {
			t.Errorf("records %d", st.Records)
		}
		var leaves int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT region_code) FROM cockpit_aid_records`).Scan(&leaves); err != nil {
			t.Fatal(err)
		}
		if want := len(tree.Leaves(tree.Root)); leaves != want {
			t.Errorf("regions with records: %d, want every leaf (%d)", leaves, want)
		}
		var sum1, sum2 int64
		if err := db.QueryRowContext(ctx, `SELECT SUM(amount) FROM cockpit_aid_records`).Scan(&sum1); err != nil {
			t.Fatal(err)
		}
		if _, err := gen.Run(ctx, db, tree, gen.Options{Records: 60000, Seed: 7, AsOf: asOf}); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT SUM(amount) FROM cockpit_aid_records`).Scan(&sum2); err != nil {
			t.Fatal(err)
		}
		if sum1 != sum2 {
			t.Errorf("same seed, different data: %d vs %d", sum1, sum2)
		}
	})
}
