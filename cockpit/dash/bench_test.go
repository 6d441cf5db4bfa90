package dash_test

import (
	"context"
	"os"
	"testing"

	"github.com/xszz/xszz/cockpit/dash"
	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// BenchmarkDashboards times every dashboard for a ministry and a county
// viewer. XSZZ_COCKPIT_BENCH_DB names a database already filled by
// `xszz cockpit gen` (the large runs in the README); otherwise a small set
// is generated on SQLite.
func BenchmarkDashboards(b *testing.B) {
	ctx := context.Background()
	var db *sqldb.DB
	if u := os.Getenv("XSZZ_COCKPIT_BENCH_DB"); u != "" {
		var err error
		if db, err = sqldb.Open(ctx, u); err != nil {
			b.Fatal(err)
		}
		defer db.Close()
	} else {
		db = sqldbtest.OpenSQLite(b)
		if _, err := gen.Run(ctx, db, tree, gen.Options{Records: 20000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	q := &dash.Queries{DB: db, Tree: tree}
	for _, v := range []struct{ name, code string }{{"ministry", "000000"}, {"county", "510104"}} {
		viewer := dash.Viewer{Region: tree.Get(v.code)}
		for _, d := range dash.Names {
			b.Run(v.name+"/"+d.Code, func(b *testing.B) {
				for b.Loop() {
					if _, err := q.Get(ctx, viewer, d.Code, dash.Request{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
