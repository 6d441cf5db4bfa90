package activity_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
)

// TestCoverageQueriesUseTheIndexes asks each database how it runs the
// report's queries for a national activity held by the ministry over a
// generated country of ~9,000 units and 30,000 people, with statistics
// (ANALYZE) as in service: the gap lists hop along their partial indexes,
// the children and the off-roster list read their unit's rows only.
func TestCoverageQueriesUseTheIndexes(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		n := officetest.BuildNational(t, db, officetest.NationalOptions{Units: 10_000, People: 30_000, Seed: 2})
		now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		s := &activity.Service{DB: db, Dir: directory.NewStore(db), Now: func() time.Time { return now }}
		a := must(s.Create(ctx, n.Ministry, training(now.Add(24*time.Hour))))
		registerNationally(t, db, a, now)
		if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
			t.Fatal(err)
		}
		explain := `EXPLAIN QUERY PLAN `
		if db.Dialect == sqldb.Postgres {
			// Only a plan that ran shows the subplan of the recursive
			// step; the queries only read.
			explain = `EXPLAIN (ANALYZE, VERBOSE) `
		}
		lo, hi := directory.Range(n.Ministry.Path)
		for _, q := range []struct {
			name, query string
			args        []any
			index       string
			uses        int // how many times the plan reads the index
		}{
			// The first gap, then every hop.
			{"nobody registered", strings.ReplaceAll(activity.GapQuery, "$col", "registered"), []any{a.ID, lo, hi, activity.MaxListed}, "office_activity_counts_unregistered", 2},
			{"nobody signed in", strings.ReplaceAll(activity.GapQuery, "$col", "checked_in"), []any{a.ID, lo, hi, activity.MaxListed}, "office_activity_counts_absent", 2},
			{"children", activity.ChildrenQuery, []any{a.ID, n.Ministry.OrgID}, "office_activity_counts_parent", 1},
			{"off the roster", activity.OffRosterQuery, []any{a.ID, n.County.OrgID, activity.MaxListed}, "office_registrations_", 1},
		} {
			t.Run(q.name, func(t *testing.T) {
				rows, err := db.QueryContext(ctx, explain+q.query, q.args...)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var plan []string
				cols, _ := rows.Columns()
				for rows.Next() {
					vals := make([]any, len(cols))
					ptrs := make([]any, len(cols))
					for i := range vals {
						ptrs[i] = &vals[i]
					}
					if err := rows.Scan(ptrs...); err != nil {
						t.Fatal(err)
					}
					switch v := vals[len(vals)-1].(type) {
					case string:
						plan = append(plan, v)
					case []byte:
						plan = append(plan, string(v))
					}
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				text := strings.Join(plan, "\n")
				t.Logf("plan:\n%s", text)
				// SQLite: "SEARCH c USING [COVERING] INDEX …"; a "SCAN c"
				// would read every counter of the activity. PostgreSQL:
				// "Index [Only] Scan using …", never a Seq Scan.
				if strings.Count(text, q.index) < q.uses || strings.Contains(text, "Seq Scan") || strings.Contains(text, "SCAN c") ||
					strings.Contains(text, "SCAN office_activity_counts") || strings.Contains(text, "SCAN r") {
					t.Fatalf("the query does not run on the index %s:\n%s", q.index, text)
				}
			})
		}
	})
}
