package org_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/org/orggen"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// TestSubtreeQueriesUseTheIndex imports a generated 30,000-unit tree in
// shuffled order and asks each database how it runs the subtree queries.
//
// On PostgreSQL this uses a realistically shaped table after ANALYZE, not
// enable_seqscan = off: Jiangsu is about 3% of the rows, the same share it
// has of the 600,000-unit national tree, so the planner's choice here is
// the one it makes in production. SQLite's planner does not need table
// statistics to pick the index for a range on an indexed column.
func TestSubtreeQueriesUseTheIndex(t *testing.T) {
	var file bytes.Buffer
	if err := orggen.Generate(&file, orggen.Options{Rows: 30_000, Seed: 7, Shuffle: true}); err != nil {
		t.Fatal(err)
	}
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		res, err := f.store.Import(f.ctx, bytes.NewReader(file.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != 30_000 || res.Inserted+res.Updated+res.Unchanged != 30_000 {
			t.Fatalf("generated file: %+v", res)
		}
		checkTree(t, db)
		jiangsu, err := f.store.CountSubtree(f.ctx, "320000")
		if err != nil || jiangsu < 300 || jiangsu > 3000 {
			t.Fatalf("Jiangsu has %d units (%v): not a realistic share of 30,000", jiangsu, err)
		}

		explain := `EXPLAIN QUERY PLAN `
		if db.Dialect == sqldb.Postgres {
			if _, err := db.ExecContext(f.ctx, `ANALYZE orgs`); err != nil {
				t.Fatal(err)
			}
			explain = `EXPLAIN `
		}
		for _, q := range []struct {
			name, query string
			args        []any
			index       string
		}{
			{"subtree page", org.SubtreeQuery, []any{"/000000/320000/", "/000000/3200000", 100}, "orgs_path"},
			{"subtree count", org.CountQuery, []any{"/000000/320000/", "/000000/3200000"}, "orgs_path"},
			{"within (path of one unit)", org.PathQuery, []any{"2320102001"}, ""},
		} {
			t.Run(q.name, func(t *testing.T) {
				rows, err := db.QueryContext(f.ctx, explain+q.query, q.args...)
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
					plan = append(plan, toString(vals[len(vals)-1]))
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				text := strings.Join(plan, "\n")
				t.Logf("plan:\n%s", text)
				// SQLite: "SEARCH orgs USING [COVERING] INDEX orgs_path (path>? AND path<?)"
				// or the primary key's autoindex; PostgreSQL: "Index [Only]
				// Scan using orgs_path" or "Bitmap Index Scan on orgs_path".
				usesIndex := strings.Contains(text, "Index") || strings.Contains(text, "INDEX")
				if !usesIndex || strings.Contains(text, "Seq Scan") || strings.Contains(text, "SCAN orgs") ||
					(q.index != "" && !strings.Contains(text, q.index)) {
					t.Fatalf("query does not use the index %s:\n%s", q.index, text)
				}
			})
		}
	})
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	default:
		return ""
	}
}
