package activity_test

import (
	"context"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/migrations"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
)

// officeBefore is the office's schema as released before the named file.
func officeBefore(t *testing.T, first string) sqldb.Schema {
	t.Helper()
	old := fstest.MapFS{}
	for _, dialect := range []string{"sqlite", "postgres"} {
		names, err := fs.Glob(migrations.Office.Files, dialect+"/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if path.Base(name) >= first {
				continue
			}
			b, err := fs.ReadFile(migrations.Office.Files, name)
			if err != nil {
				t.Fatal(err)
			}
			old[name] = &fstest.MapFile{Data: b}
		}
	}
	return sqldb.Schema{Name: "office", Files: old}
}

// An activity created before the counters followed the roster comes
// through the upgrade with its figures and its tree, and keeps the
// snapshot of its creation: the sync leaves it alone, anyone invited
// counts as registered, and its report says what its figures are.
func TestActivitiesFromBeforeTheUpgradeKeepTheirSnapshot(t *testing.T) {
	for _, be := range []string{"sqlite", "postgres"} {
		t.Run(be, func(t *testing.T) {
			ctx := context.Background()
			url := "sqlite://" + filepath.Join(t.TempDir(), "old.db")
			if be == "postgres" {
				url = sqldbtest.PostgresURL(t)
			}
			db, err := sqldb.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx, officeBefore(t, "0140")); err != nil {
				t.Fatal(err)
			}
			tr := officetest.Build(t, db)
			start := time.Date(2026, 3, 3, 8, 0, 0, 0, time.UTC)
			if _, err := db.ExecContext(ctx, `INSERT INTO office_activities (id, org_id, org_path, org_name, author_id, title, kind, place, starts_at, ends_at,
  reg_opens, reg_closes, signin_opens, signin_closes, target_kind, target, secret, created_at)
VALUES (7, '110101', $1, '县', 'a', '旧培训', 'training', '会议室', $2, $3, $4, $2, $4, $3, 'subtree', '', '00', $4)`,
				tr.Units["110101"].Path, start.Unix(), start.Add(2*time.Hour).Unix(), start.Add(-48*time.Hour).Unix()); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				org                string
				expected, reg, chk int
			}{{"110101", 8, 1, 0}, {"S01", 6, 1, 0}, {"S01D1", 2, 1, 0}, {"S01D2", 2, 0, 0}, {"S02", 2, 0, 0}} {
				if _, err := db.ExecContext(ctx, `INSERT INTO office_activity_counts (activity_id, org_id, expected, registered, checked_in) VALUES (7, $1, $2, $3, $4)`,
					c.org, c.expected, c.reg, c.chk); err != nil {
					t.Fatal(err)
				}
			}
			d1 := tr.Staff("S01D1")
			if _, err := db.ExecContext(ctx, `INSERT INTO office_registrations (activity_id, person_id, org_id, org_path, registered_at) VALUES (7, $1, 'S01D1', $2, 1)`, d1.Sub, d1.Path); err != nil {
				t.Fatal(err)
			}

			if err := db.Migrate(ctx, migrations.Office); err != nil {
				t.Fatalf("upgrade: %v", err)
			}
			clk := &clock{t: start.Add(-time.Hour)}
			dir := directory.NewStore(db)
			s := &activity.Service{DB: db, Dir: dir, Now: clk.Now}
			county := tr.Admin("110101")
			cov := must(s.Coverage(ctx, county, 7, ""))
			if cov.Roster != activity.RosterCreation || cov.Unit.Counts != (activity.Counts{Expected: 8, Registered: 1}) ||
				len(cov.Children) != 2 || !slices.Equal(unitIDs(cov.NoneRegistered), []string{"S01D2", "S02"}) {
				t.Fatalf("report after the upgrade: %s %+v, children %+v, gaps %+v", cov.Roster, cov.Unit.Counts, cov.Children, cov.NoneRegistered)
			}
			before := counters(t, db, 7)
			if before["S01D2"].path != tr.Units["S01D2"].Path || before["S01D2"].parent != "S01" {
				t.Errorf("counter rows placed at %+v", before["S01D2"])
			}
			gone := tr.Staff("S02")
			p := must(dir.Person(ctx, gone.Sub))
			p.Active = false
			if err := dir.ApplyPeople(ctx, s, []directory.Person{p, {ID: "p-new", Name: "新人", OrgID: "S02", OrgPath: tr.Units["S02"].Path, Role: "staff", Active: true}}, clk.t.Unix()); err != nil {
				t.Fatal(err)
			}
			if got := counters(t, db, 7); !maps.Equal(got, before) {
				t.Errorf("the sync moved the counters of an activity from before:\n%v\nwere\n%v", got, before)
			}
			// Someone the directory does not know counts as registered,
			// as before.
			must(s.Register(ctx, directory.Viewer{Sub: "p-unknown", OrgID: "S02", Level: "school", Path: tr.Units["S02"].Path, Roles: []string{"staff"}}, 7))
			if got := must(s.Coverage(ctx, county, 7, "S02")).Unit.Counts; got != (activity.Counts{Expected: 2, Registered: 1}) {
				t.Errorf("S02 after a registration: %+v", got)
			}
		})
	}
}
