package dash_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xszz/xszz/cockpit/dash"
	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/cockpit/warning"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

var tree = region.MustLoad()

func generated(t *testing.T, db *sqldb.DB) *dash.Queries {
	t.Helper()
	if _, err := gen.Run(context.Background(), db, tree, gen.Options{Records: 40000, Seed: 11, AsOf: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return &dash.Queries{DB: db, Tree: tree}
}

// Every region of every level carries exactly the sum of the raw facts of
// the leaves below it.
func TestRollupsEqualRawTotalsAtEveryLevel(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		generated(t, db)
		ctx := context.Background()
		raw := func(q string) map[string][2]int64 {
			out := map[string][2]int64{}
			rows, err := db.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var c string
				var a, b int64
				if err := rows.Scan(&c, &a, &b); err != nil {
					t.Fatal(err)
				}
				out[c] = [2]int64{a, b}
			}
			return out
		}
		checks := []struct{ name, raw, rollup string }{
			{"aid", `SELECT region_code, COUNT(*), SUM(amount) FROM cockpit_aid_records GROUP BY region_code`,
				`SELECT region_code, SUM(records), SUM(amount) FROM cockpit_rollup_aid GROUP BY region_code`},
			{"identified", `SELECT s.region_code, COUNT(*), SUM(i.level) FROM cockpit_identifications i JOIN cockpit_students s ON s.id = i.student_id GROUP BY s.region_code`,
				`SELECT region_code, SUM(identified), SUM(level1 + 2*level2 + 3*level3) FROM cockpit_rollup_students GROUP BY region_code`},
			{"enrolled", `SELECT region_code, SUM(students), COUNT(*) * 0 FROM cockpit_enrolment GROUP BY region_code`,
				`SELECT region_code, SUM(enrolled), COUNT(*) * 0 FROM cockpit_rollup_students GROUP BY region_code`},
			{"funds", `SELECT a.region_code, SUM(a.amount), (SELECT COALESCE(SUM(d.amount), 0) FROM cockpit_disbursements d JOIN cockpit_allocations b ON b.id = d.allocation_id WHERE b.region_code = a.region_code) FROM cockpit_allocations a GROUP BY a.region_code`,
				`SELECT region_code, SUM(allocated), SUM(disbursed) FROM cockpit_rollup_funds GROUP BY region_code`},
		}
		for _, c := range checks {
			leaf, roll := raw(c.raw), raw(c.rollup)
			checked := map[region.Level]int{}
			for _, n := range tree.All() {
				var want [2]int64
				for _, l := range tree.Leaves(n) {
					v := leaf[l.Code]
					want[0] += v[0]
					want[1] += v[1]
				}
				if roll[n.Code] != want {
					t.Errorf("%s: %s %s: rollup %v, raw %v", c.name, n.Code, n.Name, roll[n.Code], want)
				}
				checked[n.Level]++
			}
			if roll[region.NationCode][0] == 0 || checked[region.County] < 2000 {
				t.Errorf("%s: nothing checked (%v)", c.name, checked)
			}
		}
	})
}

// The matrix: each level's viewer against their own region, their parent,
// a sibling and a child.
func TestScopeMatrix(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		q := generated(t, db)
		ctx := context.Background()
		cases := []struct {
			viewer                      string
			own, parent, sibling, child string
		}{
			{region.NationCode, region.NationCode, "", "", "510000"},
			{"510000", "510000", region.NationCode, "520000", "510100"},
			{"510100", "510100", "510000", "510300", "510104"},
			{"510104", "510104", "510100", "510105", ""},
			{"210200", "210200", "210000", "210100", "210202"}, // 计划单列市
			{"110101", "110101", "110000", "110102", ""},       // municipality district
		}
		for _, c := range cases {
			v := dash.Viewer{Region: tree.Get(c.viewer)}
			for _, target := range []struct {
				code string
				ok   bool
			}{{c.own, true}, {c.parent, false}, {c.sibling, false}, {c.child, true}} {
				if target.code == "" {
					continue
				}
				for _, name := range []string{"overview", "needy", "aided", "funds", "warnings"} {
					d, err := q.Get(ctx, v, name, dash.Request{Region: target.code})
					if target.ok {
						if err != nil {
							t.Fatalf("%s sees %s/%s: %v", c.viewer, target.code, name, err)
						}
						for _, ch := range d.Charts {
							for _, r := range ch.Regions {
								if !tree.Within(tree.Get(r), v.Region) {
									t.Errorf("%s: %s/%s ranks %s", c.viewer, target.code, name, r)
								}
							}
							for _, id := range ch.Warnings {
								x, err := warning.Load(ctx, db, id)
								if err != nil || !tree.Within(tree.Get(x.Region), v.Region) {
									t.Errorf("%s: warning %d of %s is outside (%v)", c.viewer, id, x.Region, err)
								}
							}
						}
						continue
					}
					if !errors.Is(err, dash.ErrOutOfScope) {
						t.Errorf("%s asks %s/%s: err %v, want out of scope", c.viewer, target.code, name, err)
					}
				}
			}
		}
		// A neighbour's warning records read as absent.
		var id int64
		if err := db.QueryRowContext(ctx, `SELECT id FROM cockpit_warnings WHERE region_code = '510105' LIMIT 1`).Scan(&id); err == nil {
			_, _, err := q.WarningRecords(ctx, dash.Viewer{Region: tree.Get("510104")}, id, 10)
			if !errors.Is(err, sqldb.ErrNotFound) {
				t.Errorf("neighbour's warning: %v", err)
			}
		}
	})
}

// Every rule fires on the generated set, and each warning's drill returns
// as many subjects as the warning counts.
func TestEveryWarningRuleFiresAndDrills(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		q := generated(t, db)
		ctx := context.Background()
		nation := dash.Viewer{Region: tree.Root}
		for _, r := range warning.Rules {
			rows, err := db.QueryContext(ctx, `SELECT id FROM cockpit_warnings WHERE rule = $1 ORDER BY id LIMIT 5`, r.Code)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			rows.Close()
			if len(ids) == 0 {
				t.Errorf("rule %s never fired", r.Code)
				continue
			}
			for _, id := range ids {
				x, recs, err := q.WarningRecords(ctx, nation, id, 100000)
				if err != nil {
					t.Fatalf("%s %d: %v", r.Code, id, err)
				}
				subjects := map[string]bool{}
				for _, rec := range recs {
					subjects[rec.Subject] = true
				}
				want := x.Subjects
				if r.Code == warning.YearOnYearJump {
					if int64(len(recs)) != want {
						t.Errorf("%s %d: %d records, warning counts %d", r.Code, id, len(recs), want)
					}
					continue
				}
				if int64(len(subjects)) != want {
					t.Errorf("%s %d (%s): %d subjects drilled, warning counts %d", r.Code, id, x.Region, len(subjects), want)
				}
			}
		}
		d, err := q.Get(ctx, nation, "warnings", dash.Request{})
		if err != nil {
			t.Fatal(err)
		}
		if d.KPIs[0].Value == 0 || len(d.Chart("list").Rows) == 0 {
			t.Errorf("warnings dashboard empty: %+v", d.KPIs)
		}
	})
}
