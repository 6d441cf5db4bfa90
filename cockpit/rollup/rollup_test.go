package rollup_test

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/cockpit/rollup"
	"github.com/xszz/xszz/cockpit/warning"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

var (
	tree = region.MustLoad()
	asOf = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
)

func exec(t *testing.T, db *sqldb.DB, queries ...string) {
	t.Helper()
	for _, q := range queries {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func refresh(t *testing.T, db *sqldb.DB, day time.Time) {
	t.Helper()
	if _, err := rollup.Refresh(context.Background(), db, tree, day); err != nil {
		t.Fatal(err)
	}
}

// warningIDs returns the stored warnings' ids by finding.
func warningIDs(t *testing.T, db *sqldb.DB) map[string]int64 {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT id, rule, severity, region_code, year, segment, programme FROM cockpit_warnings`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var x warning.Warning
		if err := rows.Scan(&x.ID, &x.Rule, &x.Severity, &x.Region, &x.Year, &x.Segment, &x.Programme); err != nil {
			t.Fatal(err)
		}
		out[x.Finding()] = x.ID
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

const (
	needy510104 = "needy_not_aided|510104|2025|higher|3|"
	needy510105 = "needy_not_aided|510105|2025|higher|1|"
	disb510104  = "disbursement|510104|2025|higher|3|"
)

// A warning's id belongs to its finding: the same finding keeps it at
// every refresh, a finding that no longer holds leaves it resolved (and
// taken), a new finding gets an id never given out, and a finding that
// holds again takes its old id back.
func TestWarningIDsStayWithTheirFinding(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		exec(t, db,
			`INSERT INTO cockpit_schools (id, code, region_code, name) VALUES (1, 'U1', '510104', '锦江某大学'), (2, 'U2', '510105', '青羊某大学')`,
			`INSERT INTO cockpit_students (id, anon_id, region_code, school_id, stage) VALUES (1, 'A-1', '510104', 1, 'bachelor'), (2, 'A-2', '510105', 2, 'bachelor')`,
			// 特别困难, no aid: needy_not_aided, high.
			`INSERT INTO cockpit_identifications (student_id, year, level, categories) VALUES (1, 2025, 1, 0)`,
			// 40 % paid when due: disbursement, high.
			`INSERT INTO cockpit_allocations (id, region_code, year, segment, programme, source, amount, allocated_on, due_on)
				VALUES (900001, '510104', 2025, 'higher', 'he_grant', 'central', 100000, '2025-09-01', '2025-11-30')`,
			`INSERT INTO cockpit_disbursements (id, allocation_id, amount, paid_on) VALUES (1, 900001, 40000, '2025-10-01')`,
		)
		refresh(t, db, asOf)
		first := warningIDs(t, db)
		if len(first) != 2 || first[needy510104] == 0 || first[disb510104] == 0 {
			t.Fatalf("fixture's warnings: %v", first)
		}
		refresh(t, db, asOf)
		if again := warningIDs(t, db); !maps.Equal(again, first) {
			t.Errorf("refreshed on the same facts: %v, before %v", again, first)
		}
		// The ids come from the findings, not from the refreshes before.
		exec(t, db, `DELETE FROM cockpit_warnings`)
		refresh(t, db, asOf)
		if fresh := warningIDs(t, db); !maps.Equal(fresh, first) {
			t.Errorf("refreshed from no warnings: %v, before %v", fresh, first)
		}

		// The rest is paid on time: that warning is resolved. A second
		// student needs aid: a new warning.
		exec(t, db,
			`INSERT INTO cockpit_disbursements (id, allocation_id, amount, paid_on) VALUES (2, 900001, 60000, '2025-11-01')`,
			`INSERT INTO cockpit_identifications (student_id, year, level, categories) VALUES (2, 2025, 3, 0)`,
		)
		later := asOf.AddDate(0, 0, 7)
		refresh(t, db, later)
		second := warningIDs(t, db)
		if len(second) != 2 || second[needy510104] != first[needy510104] {
			t.Errorf("after the change: %v; the kept warning had %d", second, first[needy510104])
		}
		added := second[needy510105]
		if added == 0 || added == first[needy510104] || added == first[disb510104] {
			t.Errorf("the new warning's id %d (before: %v)", added, first)
		}
		gone := first[disb510104]
		x, err := warning.Load(ctx, db, gone)
		if !errors.Is(err, warning.ErrResolved) || x.Rule != warning.Disbursement || x.Region != "510104" || x.ResolvedOn != "2026-01-22" {
			t.Errorf("the resolved warning %d: %+v, %v", gone, x, err)
		}
		if _, err := warning.Load(ctx, db, gone+1); !errors.Is(err, sqldb.ErrNotFound) {
			t.Errorf("an id never given out: %v", err)
		}

		// Unpaid again: the same finding, its old id.
		exec(t, db, `DELETE FROM cockpit_disbursements WHERE id = 2`)
		refresh(t, db, later.AddDate(0, 0, 7))
		if third := warningIDs(t, db); len(third) != 3 || third[disb510104] != gone || third[needy510105] != added || third[needy510104] != first[needy510104] {
			t.Errorf("holding again: %v; before %v and %v", third, first, second)
		}
		if _, err := warning.Load(ctx, db, gone); err != nil {
			t.Errorf("the warning holding again: %v", err)
		}
	})
}

// A database whose warnings were numbered by an earlier version keeps
// those numbers for the findings that still hold: links made before the
// upgrade still work.
func TestNumberedWarningsKeepTheirIDs(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		if _, err := gen.Run(context.Background(), db, tree, gen.Options{Records: 5000, Seed: 5, AsOf: asOf}); err != nil {
			t.Fatal(err)
		}
		// Number them 1, 2, 3… as the old refresh did.
		ids := warningIDs(t, db)
		numbered := map[string]int64{}
		n := int64(0)
		for f, id := range ids {
			n++
			numbered[f] = n
			exec(t, db, `UPDATE cockpit_warnings SET id = `+itoa(-n)+` WHERE id = `+itoa(id))
		}
		exec(t, db, `UPDATE cockpit_warnings SET id = -id`)
		refresh(t, db, asOf)
		if got := warningIDs(t, db); !maps.Equal(got, numbered) {
			t.Errorf("after the upgrade %d warnings changed id", len(numbered)-countSame(got, numbered))
		}
	})
}

func countSame(a, b map[string]int64) int {
	n := 0
	for k, v := range a {
		if b[k] == v {
			n++
		}
	}
	return n
}

// A refresh that fails leaves the last one's warnings and resolved
// warnings as they were. On PostgreSQL refreshes at once all succeed,
// one after the other, and agree on the ids (SQLite lets one writer in
// at a time anyway, and one that waits too long gives up unchanged).
func TestRefreshIsAllOrNothingAndSerialised(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if _, err := gen.Run(ctx, db, tree, gen.Options{Records: 8000, Seed: 9, AsOf: asOf}); err != nil {
			t.Fatal(err)
		}
		// Without 2025's identifications, 2025's needy_not_aided warnings
		// are resolved (and aid_to_non_needy ones raised).
		exec(t, db, `DELETE FROM cockpit_identifications WHERE year = 2025`)
		refresh(t, db, asOf)
		before := warningIDs(t, db)
		resolved := count(t, db, `SELECT COUNT(*) FROM cockpit_warnings_resolved`)
		if len(before) == 0 || resolved == 0 {
			t.Fatalf("fixture: %d warnings, %d resolved", len(before), resolved)
		}

		// The refresh's last row is refused when it is written, after
		// the warnings were replaced.
		if db.Dialect == sqldb.Postgres {
			exec(t, db, `CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql`,
				`CREATE TRIGGER refuse BEFORE INSERT ON cockpit_refresh FOR EACH ROW EXECUTE FUNCTION refuse()`)
		} else {
			exec(t, db, `CREATE TRIGGER refuse BEFORE INSERT ON cockpit_refresh BEGIN SELECT RAISE(ABORT, 'refused'); END`)
		}
		if _, err := rollup.Refresh(ctx, db, tree, asOf); err == nil {
			t.Fatal("the refresh succeeded despite the trigger")
		}
		if got := warningIDs(t, db); !maps.Equal(got, before) {
			t.Errorf("a failed refresh changed the warnings: %d of %d kept", countSame(got, before), len(before))
		}
		if got := count(t, db, `SELECT COUNT(*) FROM cockpit_warnings_resolved`); got != resolved {
			t.Errorf("a failed refresh left %d resolved warnings, before %d", got, resolved)
		}
		exec(t, db, `DROP TRIGGER refuse`+map[bool]string{true: ` ON cockpit_refresh`}[db.Dialect == sqldb.Postgres])

		if db.Dialect != sqldb.Postgres {
			return
		}
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = rollup.Refresh(ctx, db, tree, asOf)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("refresh %d of three at once: %v", i, err)
			}
		}
		if got := warningIDs(t, db); !maps.Equal(got, before) {
			t.Errorf("after three refreshes at once %d of %d warnings kept their id", countSame(got, before), len(before))
		}
		if got := count(t, db, `SELECT COUNT(*) FROM cockpit_warnings_resolved`); got != resolved {
			t.Errorf("after three refreshes at once %d resolved warnings, before %d", got, resolved)
		}
	})
}

func count(t *testing.T, db *sqldb.DB, query string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
