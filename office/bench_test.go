package office_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/contacts"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/notice"
)

// benchWorld is one province of generated units and people, with notices
// to all of them: by default 100,000 accounts and 10 notices, so
// 1,000,000 receipts (XSZZ_BENCH_PEOPLE scales it down for a quick run).
type benchWorld struct {
	prov, county directory.Viewer
	person       directory.Viewer
	notices      []int64
	activity     int64
}

func benchPeople() int {
	if v, err := strconv.Atoi(os.Getenv("XSZZ_BENCH_PEOPLE")); err == nil && v > 0 {
		return v
	}
	return 100_000
}

// buildBenchWorld: a province of 13 cities × 8 counties × 20 schools
// (2,080 schools), people spread evenly, an admin per unit.
func buildBenchWorld(b *testing.B, db *sqldb.DB, people, notices int) benchWorld {
	ctx := context.Background()
	type unit struct{ id, parent, level, path string }
	units := []unit{{"000000", "", "ministry", "/000000/"}, {"320000", "000000", "province", "/000000/320000/"}}
	var schools []unit
	for c := range 13 {
		city := unit{fmt.Sprintf("32%02d00", c+1), "320000", "city", ""}
		city.path = "/000000/320000/" + city.id + "/"
		units = append(units, city)
		for k := range 8 {
			county := unit{fmt.Sprintf("32%02d%02d", c+1, k+1), city.id, "county", ""}
			county.path = city.path + county.id + "/"
			units = append(units, county)
			for s := range 20 {
				school := unit{fmt.Sprintf("%s%04d", county.id, s+1), county.id, "school", ""}
				school.path = county.path + school.id + "/"
				units = append(units, school)
				schools = append(schools, school)
			}
		}
	}
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		for _, u := range units {
			var parent any
			if u.parent != "" {
				parent = u.parent
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO office_units (id, parent_id, name, level, path, region_code, kind, active, modified) VALUES ($1, $2, $3, $4, $5, '', 'regular', 1, 1)`,
				u.id, parent, "单位"+u.id, u.level, u.path); err != nil {
				return err
			}
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO office_people (id, name, phone, org_id, org_path, role, active, show_phone, modified, name_key) VALUES ($1, $2, $3, $4, $5, $6, 1, 0, 1, $2)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range people {
			var u unit
			role := "staff"
			switch {
			case i < len(units)-1:
				u, role = units[i+1], "admin" // one admin per unit below the ministry
			default:
				u = schools[i%len(schools)]
			}
			if _, err := stmt.ExecContext(ctx, fmt.Sprintf("p%07d", i), fmt.Sprintf("人员%07d", i), fmt.Sprintf("+86138%08d", i), u.id, u.path, role); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	dir := directory.NewStore(db)
	if err := dir.RecomputeSizes(ctx); err != nil {
		b.Fatal(err)
	}
	w := benchWorld{
		prov:   directory.Viewer{Sub: "p0000000", OrgID: "320000", OrgName: "江苏省", Level: "province", Path: "/000000/320000/", Roles: []string{"admin"}},
		county: directory.Viewer{Sub: "p0000002", OrgID: "320101", OrgName: "县", Level: "county", Path: "/000000/320000/320100/320101/", Roles: []string{"admin"}},
	}
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	ns := &notice.Service{DB: db, Dir: dir, Now: func() time.Time { return now }}
	for i := range notices {
		n, err := ns.Publish(ctx, w.prov, notice.Draft{Title: fmt.Sprintf("基准通知 %d", i)})
		if err != nil {
			b.Fatal(err)
		}
		w.notices = append(w.notices, n.ID)
	}
	// A third of the recipients read each notice.
	for _, id := range w.notices {
		if _, err := db.ExecContext(ctx, `UPDATE office_receipts SET read_at = 1 WHERE root_id = $1 AND person_id < 'p0033333'`, id); err != nil {
			b.Fatal(err)
		}
	}
	as := &activity.Service{DB: db, Dir: dir, Now: func() time.Time { return now }}
	a, err := as.Create(ctx, w.prov, activity.Activity{Title: "基准培训", Place: "会议室", StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour),
		RegOpens: now.Add(-time.Hour), RegCloses: now.Add(time.Hour), SigninOpens: now.Add(-time.Hour), SigninCloses: now.Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	w.activity = a.ID
	// Planner statistics, as autovacuum (PostgreSQL) or a periodic
	// ANALYZE (SQLite) keep them in service; right after a bulk load they
	// are missing and every plan is a guess.
	if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	w.person = directory.Viewer{Sub: fmt.Sprintf("p%07d", people-1), OrgID: schools[(people-1)%len(schools)].id, Level: "school", Path: schools[(people-1)%len(schools)].path, Roles: []string{"staff"}}
	return w
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

// BenchmarkOfficeAtScale: the province's read-status roll-up and the
// paginated lists over 1,000,000 receipts and 100,000 accounts.
func BenchmarkOfficeAtScale(b *testing.B) {
	for _, be := range []string{"sqlite", "postgres"} {
		b.Run(be, func(b *testing.B) {
			var db *sqldb.DB
			if be == "sqlite" {
				db = sqldbtest.OpenSQLite(b)
			} else {
				db = sqldbtest.OpenPostgres(b)
			}
			people := benchPeople()
			t0 := time.Now()
			w := buildBenchWorld(b, db, people, 10)
			b.Logf("%s: generated %d people, %d receipts in %s", be, people, people*10-10, time.Since(t0).Round(time.Second))
			ctx := context.Background()
			dir := directory.NewStore(db)
			ns := &notice.Service{DB: db, Dir: dir, Now: time.Now}
			as := &activity.Service{DB: db, Dir: dir, Now: time.Now}
			cs := &contacts.Service{Dir: dir, Now: time.Now}
			b.Run("rollup-province", func(b *testing.B) {
				p95(b, func() error { _, err := ns.Receipts(ctx, w.prov, w.notices[0], ""); return err })
			})
			b.Run("rollup-county", func(b *testing.B) {
				p95(b, func() error { _, err := ns.Receipts(ctx, w.prov, w.notices[0], "320101"); return err })
			})
			b.Run("rollup-school-drilldown", func(b *testing.B) {
				p95(b, func() error { _, err := ns.Receipts(ctx, w.prov, w.notices[0], "3201010001"); return err })
			})
			b.Run("list-notices", func(b *testing.B) {
				p95(b, func() error { _, err := ns.List(ctx, w.person, 0, 20); return err })
			})
			mid, err := dir.Person(ctx, fmt.Sprintf("p%07d", people/2))
			if err != nil {
				b.Fatal(err)
			}
			b.Run("list-contacts-province", func(b *testing.B) {
				p95(b, func() error {
					_, _, err := cs.List(ctx, w.prov, contacts.Query{After: &directory.Position{Key: mid.OrgPath, ID: mid.ID}, Limit: 50})
					return err
				})
			})
			b.Run("search-contacts-province", func(b *testing.B) {
				p95(b, func() error {
					_, _, err := cs.List(ctx, w.prov, contacts.Query{Text: "人员00999", Limit: 50})
					return err
				})
			})
			// Everyone's name starts with 人员: a surname the whole
			// province shares, paged half way through.
			b.Run("search-contacts-province-surname-deep-page", func(b *testing.B) {
				p95(b, func() error {
					_, _, err := cs.List(ctx, w.prov, contacts.Query{Text: "人员", After: &directory.Position{Phase: directory.PhaseName, Key: mid.Name, ID: mid.ID}, Limit: 50})
					return err
				})
			})
			b.Run("search-contacts-school-surname", func(b *testing.B) {
				p95(b, func() error {
					_, _, err := cs.List(ctx, w.person, contacts.Query{Text: "人员", Limit: 50})
					return err
				})
			})
			b.Run("list-activities", func(b *testing.B) {
				p95(b, func() error { _, err := as.List(ctx, w.person, 0, 20); return err })
			})
			b.Run("coverage-province", func(b *testing.B) {
				p95(b, func() error { _, err := as.Coverage(ctx, w.prov, w.activity, ""); return err })
			})
		})
	}
}
