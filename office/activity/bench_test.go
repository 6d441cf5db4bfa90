package activity_test

import (
	"context"
	"database/sql"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// p95 runs fn b.N times and reports the 95th percentile in milliseconds.
func p95(b *testing.B, fn func() error) {
	b.Helper()
	var d []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t0))
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)*95/100].Microseconds())/1000, "p95-ms")
}

// registerNationally registers people of a national activity straight in
// the tables, as if they had registered one by one: nobody in the second
// province, nobody in every seventh county, elsewhere 40% registered and
// 60% of those signed in. The counters are set to the fold of those rows.
func registerNationally(b testing.TB, db *sqldb.DB, a *activity.Activity, now time.Time) (registered int) {
	b.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT id, org_id, org_path FROM office_people WHERE active = 1 AND org_path <> $1 ORDER BY id`, a.OrgPath)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var regs [][]any
	reg, chk := map[string]int{}, map[string]int{}
	for rows.Next() {
		var id, org, path string
		if err := rows.Scan(&id, &org, &path); err != nil {
			b.Fatal(err)
		}
		ids := directory.PathIDs(path)
		if len(ids) > 1 && ids[1] == "120000" {
			continue
		}
		if len(ids) > 3 && ids[3][5] == '7' {
			continue // every eighth county: nobody registered
		}
		if rng.IntN(10) >= 4 {
			continue
		}
		var at any
		if rng.IntN(10) < 6 {
			at = now.Unix()
			for _, u := range ids {
				chk[u]++
			}
		}
		for _, u := range ids {
			reg[u]++
		}
		regs = append(regs, []any{a.ID, id, org, path, now.Unix(), at})
	}
	rows.Close()
	var counts [][]any
	for u, n := range reg {
		counts = append(counts, []any{a.ID, u, n, chk[u]})
	}
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		if err := officetest.InsertRows(ctx, tx, `office_registrations (activity_id, person_id, org_id, org_path, registered_at, checked_in_at)`, ``, ``, regs); err != nil {
			return err
		}
		return officetest.InsertRows(ctx, tx, `office_activity_counts (activity_id, org_id, registered, checked_in)`, ``,
			`ON CONFLICT (activity_id, org_id) DO UPDATE SET registered = excluded.registered, checked_in = excluded.checked_in`, counts)
	})
	if err != nil {
		b.Fatal(err)
	}
	return len(regs)
}

// BenchmarkCoverageNational: a training the ministry holds for the whole
// country (by default 100,000 units and 300,000 people; set
// XSZZ_BENCH_NATIONAL_UNITS and _PEOPLE for another size), with a gap at
// a province, at every eighth county and at many schools: the coverage
// report and the CSV at the ministry, a province and a county.
func BenchmarkCoverageNational(b *testing.B) {
	for _, be := range []string{"sqlite", "postgres"} {
		b.Run(be, func(b *testing.B) {
			var db *sqldb.DB
			if be == "sqlite" {
				db = sqldbtest.OpenSQLite(b)
			} else {
				db = sqldbtest.OpenPostgres(b)
			}
			ctx := context.Background()
			t0 := time.Now()
			n := officetest.BuildNational(b, db, officetest.NationalOptions{
				Units: envInt("XSZZ_BENCH_NATIONAL_UNITS", 100_000), People: envInt("XSZZ_BENCH_NATIONAL_PEOPLE", 300_000), Seed: 1})
			b.Logf("%s: %d units %v, %d people in %s", be, n.Units, n.Levels, n.People, time.Since(t0).Round(time.Millisecond))
			now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			s := &activity.Service{DB: db, Dir: directory.NewStore(db), Now: func() time.Time { return now }}
			t0 = time.Now()
			a, err := s.Create(ctx, n.Ministry, training(now.Add(24*time.Hour)))
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: national activity created in %s", be, time.Since(t0).Round(time.Millisecond))
			regs := registerNationally(b, db, a, now)
			if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
				b.Fatal(err)
			}
			cov, err := s.Coverage(ctx, n.Ministry, a.ID, "")
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %d registered; at the ministry %+v, %d/%d units listed with nobody registered/signed in", be, regs, cov.Unit.Counts, len(cov.NoneRegistered), len(cov.NoneCheckedIn))
			for _, at := range []struct{ name, org string }{{"ministry", ""}, {"province", n.Province.OrgID}, {"county", n.County.OrgID}} {
				b.Run("report-"+at.name, func(b *testing.B) {
					p95(b, func() error { _, err := s.Coverage(ctx, n.Ministry, a.ID, at.org); return err })
				})
				b.Run("csv-"+at.name, func(b *testing.B) {
					p95(b, func() error { return s.WriteCSV(ctx, n.Ministry, a.ID, at.org, io.Discard) })
				})
			}
		})
	}
}
