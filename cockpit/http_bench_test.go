package cockpit

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/sdk"
)

// BenchmarkDashboardAPI answers every dashboard over HTTP (routing, scope,
// the rollup queries, JSON) for a ministry and a county viewer and reports
// the 50th and 95th percentile latency. The bearer token check is the
// test's seam: the SDK guard's cost is measured in sdk/. Set
// XSZZ_COCKPIT_BENCH_DB to a database filled by `xszz cockpit gen` (the
// README's 10 M run); otherwise a small set is generated on SQLite.
func BenchmarkDashboardAPI(b *testing.B) {
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
		if _, err := Generate(ctx, db, gen.Options{Records: 20000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	s, err := New(Config{URL: "http://cockpit.test", Issuer: "http://idp.test", ClientID: "cockpit"}, Deps{DB: db})
	if err != nil {
		b.Fatal(err)
	}
	s.auth = tokens{
		"ministry": account(sdk.LevelMinistry, "000000", Grant),
		"county":   account(sdk.LevelCounty, "510104", Grant),
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for _, viewer := range []string{"ministry", "county"} {
		for _, name := range []string{"overview", "needy", "aided", "funds", "warnings"} {
			b.Run(viewer+"/"+name, func(b *testing.B) {
				req, _ := http.NewRequest("GET", srv.URL+"/api/v1/dashboards/"+name, nil)
				req.Header.Set("Authorization", "Bearer "+viewer)
				var took []time.Duration
				for b.Loop() {
					start := time.Now()
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, res.Body); err != nil {
						b.Fatal(err)
					}
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Fatalf("%s: %d", name, res.StatusCode)
					}
					took = append(took, time.Since(start))
				}
				slices.Sort(took)
				b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
			})
		}
	}
}
