// Package rollup rebuilds the tables the dashboards read: the facts
// grouped once per leaf region in SQL, then added up into every ancestor
// (city, province, nation) in Go, so a dashboard reads a few rows by key
// and never scans a raw record. The warnings are detected in the same
// transaction, so rollups and warnings always describe the same facts.
package rollup

import (
	"context"
	"fmt"
	"time"

	"github.com/xszz/xszz/cockpit/catalog"
	"github.com/xszz/xszz/cockpit/load"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/cockpit/warning"
	"github.com/xszz/xszz/internal/sqldb"
)

var (
	aidTable        = load.Table{Name: "cockpit_rollup_aid", Columns: []string{"region_code", "year", "segment", "stage", "programme", "source", "records", "amount"}}
	studentsTable   = load.Table{Name: "cockpit_rollup_students", Columns: []string{"region_code", "year", "segment", "stage", "enrolled", "identified", "level1", "level2", "level3", "aided", "aided_identified"}}
	categoriesTable = load.Table{Name: "cockpit_rollup_categories", Columns: []string{"region_code", "year", "segment", "category", "students"}}
	fundsTable      = load.Table{Name: "cockpit_rollup_funds", Columns: []string{"region_code", "year", "segment", "programme", "source", "allocations", "allocated", "disbursed", "late_count", "late_amount"}}
	warnRollTable   = load.Table{Name: "cockpit_rollup_warnings", Columns: []string{"region_code", "year", "segment", "rule", "severity", "warnings", "subjects"}}
	refreshTable    = load.Table{Name: "cockpit_refresh", Columns: []string{"id", "refreshed_at", "as_of", "records"}}
)

// Result reports a refresh.
type Result struct {
	Records  int64
	Rows     int64
	Warnings int
	Took     time.Duration
}

type aidKey struct {
	region         string
	year           int
	segment, stage string
	prog, source   string
}

type stuKey struct {
	region         string
	year           int
	segment, stage string
}

type catKey struct {
	region, segment, category string
	year                      int
}

type fundKey struct {
	region                string
	year                  int
	segment, prog, source string
}

type warnKey struct {
	region        string
	year          int
	segment, rule string
	severity      int
}

func segmentOf(stage string) (string, error) {
	s, ok := catalog.StageOf(stage)
	if !ok {
		return "", fmt.Errorf("unknown stage %q", stage)
	}
	return string(s.Segment), nil
}

// Refresh rebuilds every rollup and the warnings from the facts, judging
// lateness as of asOf, in one transaction: readers see the old rollups
// until it commits.
func Refresh(ctx context.Context, db *sqldb.DB, tree *region.Tree, asOf time.Time) (Result, error) {
	start := time.Now()
	var res Result
	err := load.Run(ctx, db, func(w *load.Writer) error {
		if db.Dialect == sqldb.Postgres {
			// One refresh at a time, the next starting from what the last
			// committed: two at once would each delete the rows they see
			// and insert the same keys, and would not agree on which
			// warnings were resolved. Readers take no conflicting lock.
			// (SQLite serialises writers by itself.)
			if err := w.Exec("LOCK TABLE " + refreshTable.Name + " IN EXCLUSIVE MODE"); err != nil {
				return err
			}
		}
		for _, t := range []load.Table{aidTable, studentsTable, categoriesTable, fundsTable, warnRollTable, refreshTable} {
			if err := w.Exec("DELETE FROM " + t.Name); err != nil {
				return err
			}
		}
		path := func(code string) ([]*region.Node, error) {
			n := tree.Get(code)
			if n == nil || !n.Leaf() {
				return nil, fmt.Errorf("rollup: region %q is not a leaf of the reporting tree", code)
			}
			return n.Path(), nil
		}

		aid := map[aidKey][2]int64{}
		leafAid := map[warning.Key][2]int64{}
		err := w.Query(`SELECT region_code, year, stage, programme, source, COUNT(*), SUM(amount)
			FROM cockpit_aid_records GROUP BY region_code, year, stage, programme, source`, nil, func(scan func(...any) error) error {
			var k aidKey
			var n, amt int64
			if err := scan(&k.region, &k.year, &k.stage, &k.prog, &k.source, &n, &amt); err != nil {
				return err
			}
			seg, err := segmentOf(k.stage)
			if err != nil {
				return err
			}
			k.segment = seg
			p, err := path(k.region)
			if err != nil {
				return err
			}
			res.Records += n
			lk := warning.Key{Region: k.region, Year: k.year, Segment: seg, Programme: k.prog}
			v := leafAid[lk]
			leafAid[lk] = [2]int64{v[0] + amt, v[1] + n}
			for _, node := range p {
				k.region = node.Code
				v := aid[k]
				aid[k] = [2]int64{v[0] + n, v[1] + amt}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("rollup aid: %w", err)
		}
		for k, v := range aid {
			if err := w.Add(aidTable, k.region, k.year, k.segment, k.stage, k.prog, k.source, v[0], v[1]); err != nil {
				return err
			}
		}
		res.Rows += int64(len(aid))

		stu := map[stuKey]*[7]int64{} // enrolled, identified, l1, l2, l3, aided, aided_identified
		at := func(code string, year int, stage string, fn func(v *[7]int64)) error {
			seg, err := segmentOf(stage)
			if err != nil {
				return err
			}
			p, err := path(code)
			if err != nil {
				return err
			}
			for _, node := range p {
				k := stuKey{node.Code, year, seg, stage}
				v := stu[k]
				if v == nil {
					v = new([7]int64)
					stu[k] = v
				}
				fn(v)
			}
			return nil
		}
		err = w.Query(`SELECT region_code, year, stage, SUM(students) FROM cockpit_enrolment GROUP BY region_code, year, stage`, nil, func(scan func(...any) error) error {
			var code, stage string
			var year int
			var n int64
			if err := scan(&code, &year, &stage, &n); err != nil {
				return err
			}
			return at(code, year, stage, func(v *[7]int64) { v[0] += n })
		})
		if err != nil {
			return fmt.Errorf("rollup enrolment: %w", err)
		}
		notAided := map[warning.Key]int64{}
		need := "("
		for i, c := range catalog.NeedProgrammes() {
			if i > 0 {
				need += ","
			}
			need += "'" + c + "'"
		}
		need += ")"
		err = w.Query(`SELECT s.region_code, i.year, s.stage, i.level, COUNT(*),
				SUM(CASE WHEN EXISTS (SELECT 1 FROM cockpit_aid_records a WHERE a.student_id = i.student_id AND a.year = i.year AND a.programme IN `+need+`) THEN 1 ELSE 0 END)
			FROM cockpit_identifications i JOIN cockpit_students s ON s.id = i.student_id
			GROUP BY s.region_code, i.year, s.stage, i.level`, nil, func(scan func(...any) error) error {
			var code, stage string
			var year, level int
			var n, aided int64
			if err := scan(&code, &year, &stage, &level, &n, &aided); err != nil {
				return err
			}
			if level < 1 || level > 3 {
				return fmt.Errorf("identification level %d", level)
			}
			seg, err := segmentOf(stage)
			if err != nil {
				return err
			}
			notAided[warning.Key{Region: code, Year: year, Segment: seg, Severity: level}] += n - aided
			return at(code, year, stage, func(v *[7]int64) { v[1] += n; v[1+level] += n; v[6] += aided })
		})
		if err != nil {
			return fmt.Errorf("rollup identifications: %w", err)
		}
		err = w.Query(`SELECT region_code, year, stage, COUNT(DISTINCT student_id) FROM cockpit_aid_records GROUP BY region_code, year, stage`, nil, func(scan func(...any) error) error {
			var code, stage string
			var year int
			var n int64
			if err := scan(&code, &year, &stage, &n); err != nil {
				return err
			}
			return at(code, year, stage, func(v *[7]int64) { v[5] += n })
		})
		if err != nil {
			return fmt.Errorf("rollup aided students: %w", err)
		}
		for k, v := range stu {
			if err := w.Add(studentsTable, k.region, k.year, k.segment, k.stage, v[0], v[1], v[2], v[3], v[4], v[5], v[6]); err != nil {
				return err
			}
		}
		res.Rows += int64(len(stu))

		sel := ""
		for _, c := range catalog.Categories {
			sel += fmt.Sprintf(", SUM(CASE WHEN (i.categories & %d) <> 0 THEN 1 ELSE 0 END)", c.Bit)
		}
		cats := map[catKey]int64{}
		err = w.Query(`SELECT s.region_code, i.year, s.stage`+sel+`
			FROM cockpit_identifications i JOIN cockpit_students s ON s.id = i.student_id
			GROUP BY s.region_code, i.year, s.stage`, nil, func(scan func(...any) error) error {
			var code, stage string
			var year int
			counts := make([]int64, len(catalog.Categories))
			dest := []any{&code, &year, &stage}
			for i := range counts {
				dest = append(dest, &counts[i])
			}
			if err := scan(dest...); err != nil {
				return err
			}
			seg, err := segmentOf(stage)
			if err != nil {
				return err
			}
			p, err := path(code)
			if err != nil {
				return err
			}
			for i, c := range catalog.Categories {
				if counts[i] == 0 {
					continue
				}
				for _, node := range p {
					cats[catKey{node.Code, seg, c.Code, year}] += counts[i]
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("rollup categories: %w", err)
		}
		for k, n := range cats {
			if err := w.Add(categoriesTable, k.region, k.year, k.segment, k.category, n); err != nil {
				return err
			}
		}
		res.Rows += int64(len(cats))

		funds := map[fundKey]*[5]int64{}
		err = w.Query(`SELECT a.region_code, a.year, a.segment, a.programme, a.source, COUNT(*), SUM(a.amount),
				SUM(COALESCE(d.paid, 0)), SUM(CASE WHEN COALESCE(d.late, 0) > 0 THEN 1 ELSE 0 END), SUM(COALESCE(d.late, 0))
			FROM cockpit_allocations a
			LEFT JOIN (SELECT x.allocation_id, SUM(x.amount) AS paid, SUM(CASE WHEN x.paid_on > y.due_on THEN x.amount ELSE 0 END) AS late
				FROM cockpit_disbursements x JOIN cockpit_allocations y ON y.id = x.allocation_id GROUP BY x.allocation_id) d
			ON d.allocation_id = a.id
			GROUP BY a.region_code, a.year, a.segment, a.programme, a.source`, nil, func(scan func(...any) error) error {
			var k fundKey
			var v [5]int64
			if err := scan(&k.region, &k.year, &k.segment, &k.prog, &k.source, &v[0], &v[1], &v[2], &v[3], &v[4]); err != nil {
				return err
			}
			p, err := path(k.region)
			if err != nil {
				return err
			}
			for _, node := range p {
				k.region = node.Code
				t := funds[k]
				if t == nil {
					t = new([5]int64)
					funds[k] = t
				}
				for i := range v {
					t[i] += v[i]
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("rollup funds: %w", err)
		}
		for k, v := range funds {
			if err := w.Add(fundsTable, k.region, k.year, k.segment, k.prog, k.source, v[0], v[1], v[2], v[3], v[4]); err != nil {
				return err
			}
		}
		res.Rows += int64(len(funds))

		// The rollups above are queued, not yet written; the warning
		// queries read only facts, so order does not matter.
		warns, err := warning.Detect(w, warning.Inputs{Tree: tree, AsOf: asOf, NotAided: notAided, LeafAid: leafAid})
		if err != nil {
			return err
		}
		if err := warning.Replace(w, warns, asOf); err != nil {
			return err
		}
		wr := map[warnKey]*[2]int64{}
		for _, x := range warns {
			p, err := path(x.Region)
			if err != nil {
				return err
			}
			for _, node := range p {
				k := warnKey{node.Code, x.Year, x.Segment, x.Rule, x.Severity}
				v := wr[k]
				if v == nil {
					v = new([2]int64)
					wr[k] = v
				}
				v[0]++
				v[1] += x.Subjects
			}
		}
		for k, v := range wr {
			if err := w.Add(warnRollTable, k.region, k.year, k.segment, k.rule, k.severity, v[0], v[1]); err != nil {
				return err
			}
		}
		res.Warnings = len(warns)
		return w.Add(refreshTable, 1, time.Now().Unix(), asOf.Format("2006-01-02"), res.Records)
	})
	if err != nil {
		return res, fmt.Errorf("refresh rollups: %w", err)
	}
	// Fresh statistics, or SQLite (which keeps none until asked) reads a
	// county's warnings through the year index: 100 ms instead of 1 ms at
	// 10 M records. The tables are small; both dialects know ANALYZE.
	for _, t := range []string{"cockpit_warnings", warnRollTable.Name} {
		if _, err := db.ExecContext(ctx, "ANALYZE "+t); err != nil {
			return res, fmt.Errorf("analyze %s: %w", t, err)
		}
	}
	res.Took = time.Since(start)
	return res, nil
}
