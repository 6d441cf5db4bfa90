package office_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office/complaint"
	"github.com/xszz/xszz/office/consultation"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
	"github.com/xszz/xszz/office/submission"
	"github.com/xszz/xszz/office/workflow"
)

// benchItems per module, all in one province.
const benchItems = 200_000

// fill writes n items into table in one statement: filers spread over the
// province's units below it, each held by its parent, states cycling.
func fill(b *testing.B, db *sqldb.DB, tr *officetest.Tree, table, extraCols, extraVals string, states []string, now time.Time) {
	b.Helper()
	filers := []string{"110100", "110101", "S01", "S01D1", "110200", "S02"}
	caseOf := func(f func(u directory.Unit) string) string {
		s := "CASE n.i % 6"
		for k, id := range filers {
			s += fmt.Sprintf(" WHEN %d THEN '%s'", k, f(tr.Units[id]))
		}
		return s + " END"
	}
	parent := func(u directory.Unit) directory.Unit { return tr.Units[u.ParentID] }
	stateCase := "CASE n.i % " + fmt.Sprint(len(states))
	for k, st := range states {
		stateCase += fmt.Sprintf(" WHEN %d THEN '%s'", k, st)
	}
	stateCase += " END"
	q := fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
INSERT INTO %s (state, title, from_org_id, from_org_path, from_org_name, author_id, author_name, to_org_id, to_org_path, to_org_name, to_parent_id, created_at, updated_at, due_at%s)
SELECT %s, '关于国家助学金发放的事项 ' || n.i, %s, %s, '单位', 'p-' || (%s) || '-staff', '某某', %s, %s, '上级', %s, %d + n.i, %d + n.i, %d + n.i%s FROM n`,
		benchItems, table, extraCols, stateCase,
		caseOf(func(u directory.Unit) string { return u.ID }), caseOf(func(u directory.Unit) string { return u.Path }),
		caseOf(func(u directory.Unit) string { return u.ID }),
		caseOf(func(u directory.Unit) string { return parent(u).ID }), caseOf(func(u directory.Unit) string { return parent(u).Path }),
		caseOf(func(u directory.Unit) string { return parent(u).ParentID }),
		now.Unix()-benchItems, now.Unix()-benchItems, now.Unix()-benchItems/2, extraVals)
	if _, err := db.ExecContext(context.Background(), q); err != nil {
		b.Fatalf("fill %s: %v", table, err)
	}
	if _, err := db.ExecContext(context.Background(), "ANALYZE"); err != nil {
		b.Fatalf("analyze: %v", err)
	}
}

// BenchmarkWorkflowLists: with 200,000 items per module in one province,
// every list and the inbox counts; p95 is reported per operation.
func BenchmarkWorkflowLists(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var db *sqldb.DB
			if backend == "sqlite" {
				db = sqldbtest.OpenSQLite(b)
			} else {
				db = sqldbtest.OpenPostgres(b)
			}
			tr := officetest.Build(b, db)
			now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			dir := directory.NewStore(db)
			subs := &submission.Service{DB: db, Dir: dir, Now: clock}
			cons := &consultation.Service{DB: db, Dir: dir, Now: clock}
			comps := &complaint.Service{DB: db, Dir: dir, Now: clock}
			fill(b, db, tr, "office_submissions", ", body_html, published_org_id", ", '<p>正文</p>', CASE WHEN n.i % 4 = 2 THEN '110101' ELSE '' END",
				[]string{"reviewing", "returned", "published", "rejected"}, now)
			fill(b, db, tr, "office_consultations", ", body, answer, answer_org_id, public, quiet_since",
				", '问题说明 ' || n.i, '答复 ' || n.i, '110101', n.i % 2, n.i", []string{"open", "asked_back", "answered", "closed"}, now)
			fill(b, db, tr, "office_complaints", ", body", ", '投诉内容'", []string{"submitted", "accepted", "in_progress", "replied", "closed", "rejected"}, now)
			// Only the states a unit must act in have deadlines, as in service.
			for _, q := range []string{`UPDATE office_submissions SET due_at = NULL`, `UPDATE office_consultations SET due_at = NULL`,
				`UPDATE office_complaints SET due_at = NULL WHERE state NOT IN ('submitted', 'accepted', 'in_progress')`, `ANALYZE`} {
				if _, err := db.ExecContext(context.Background(), q); err != nil {
					b.Fatal(err)
				}
			}
			prov, county, school := tr.Admin("110000"), tr.Admin("110101"), tr.Staff("S01")
			ctx := context.Background()
			day := now.AddDate(0, 0, -1)
			ops := []struct {
				name string
				fn   func() error
			}{
				{"submissions/province-subtree", func() error { return second(subs.List(ctx, prov, workflow.Query{Box: workflow.BoxSubtree})) }},
				{"submissions/province-subtree-state-date", func() error {
					return second(subs.List(ctx, prov, workflow.Query{Box: workflow.BoxSubtree, States: []string{"returned"}, From: &day}))
				}},
				{"submissions/county-handling", func() error {
					return second(subs.List(ctx, county, workflow.Query{Box: workflow.BoxHandling, States: []string{"reviewing"}}))
				}},
				{"submissions/school-mine", func() error { return second(subs.List(ctx, school, workflow.Query{Box: workflow.BoxMine})) }},
				{"submissions/published", func() error { return second(subs.PublishedFor(ctx, school, 0, 0)) }},
				{"consultations/province-subtree", func() error { return second(cons.List(ctx, prov, workflow.Query{Box: workflow.BoxSubtree})) }},
				{"consultations/county-handling", func() error { return second(cons.List(ctx, county, workflow.Query{Box: workflow.BoxHandling})) }},
				{"consultations/search-国家助学金", func() error { return second(cons.Search(ctx, school, "国家助学金", 0, 0)) }},
				{"consultations/search-助学", func() error { return second(cons.Search(ctx, school, "助学", 0, 0)) }},
				{"consultations/search-rare", func() error { return second(cons.Search(ctx, school, "事项 12345", 0, 0)) }},
				{"complaints/province-subtree", func() error {
					return second(comps.List(ctx, prov, workflow.Query{Box: workflow.BoxSubtree, OrgID: "S01"}))
				}},
				{"complaints/city-overdue", func() error {
					return second(comps.List(ctx, tr.Admin("110100"), workflow.Query{Box: workflow.BoxOverdue}))
				}},
				{"inbox/submission-counts", func() error { _, _, err := subs.Pending(ctx, county); return err }},
				{"inbox/consultation-counts", func() error { _, _, err := cons.Pending(ctx, county); return err }},
				{"inbox/complaint-counts", func() error { _, _, _, err := comps.Pending(ctx, county); return err }},
				{"inbox/county-counts", func() error {
					if _, _, err := subs.Pending(ctx, county); err != nil {
						return err
					}
					if _, _, err := cons.Pending(ctx, county); err != nil {
						return err
					}
					_, _, _, err := comps.Pending(ctx, county)
					return err
				}},
			}
			for _, op := range ops {
				b.Run(op.name, func(b *testing.B) {
					var ds []time.Duration
					for b.Loop() {
						t0 := time.Now()
						if err := op.fn(); err != nil {
							b.Fatal(err)
						}
						ds = append(ds, time.Since(t0))
					}
					slices.Sort(ds)
					b.ReportMetric(float64(ds[len(ds)*95/100].Microseconds())/1000, "p95-ms")
				})
			}
		})
	}
}
