package activity_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office/activity"
)

// recounted are one unit's counters as the raw rows make them.
type recounted struct {
	activity.Counts
	path, parent string
}

// checkCounters is the proof that the counters of a live activity are
// right: it recounts every one of them from the raw rows — the people and
// their units, the registrations — with nothing of the service's code,
// and fails on any difference, on a negative counter, on a unit with
// more registered than expected or more signed in than registered, on a
// registration whose roster flag or place disagrees with the directory,
// and on a counter row whose place in the tree is not its unit's.
func checkCounters(t *testing.T, db *sqldb.DB, activityID int64) {
	t.Helper()
	ctx := context.Background()
	var orgID, orgPath, kind, target string
	if err := db.QueryRowContext(ctx, `SELECT org_id, org_path, target_kind, target FROM office_activities WHERE id = $1`, activityID).
		Scan(&orgID, &orgPath, &kind, &target); err != nil {
		t.Fatal(err)
	}
	list := strings.Split(target, ",")
	type unit struct{ path, parent, level string }
	units := map[string]unit{}
	scanAll(t, db, `SELECT id, path, COALESCE(parent_id, ''), level FROM office_units`, func(s func(...any)) {
		var id string
		var u unit
		s(&id, &u.path, &u.parent, &u.level)
		units[id] = u
	})
	type person struct {
		active     bool
		org, path  string
		inAudience bool
	}
	people := map[string]person{}
	want := map[string]*recounted{}
	at := func(id string) *recounted {
		if want[id] == nil {
			want[id] = &recounted{}
		}
		return want[id]
	}
	scanAll(t, db, `SELECT id, active, org_id, org_path FROM office_people`, func(s func(...any)) {
		var (
			id     string
			p      person
			active int
		)
		s(&id, &active, &p.org, &p.path)
		p.active = active == 1
		p.inAudience = p.active && strings.HasPrefix(p.path, orgPath) && p.path != orgPath
		switch kind {
		case "units":
			p.inAudience = p.inAudience && slices.Contains(list, p.org)
		case "levels":
			u, ok := units[p.org]
			p.inAudience = p.inAudience && ok && slices.Contains(list, u.level)
		}
		people[id] = p
		if p.inAudience {
			segs := strings.Split(strings.Trim(p.path[len(orgPath)-len(orgID)-1:], "/"), "/")
			for _, u := range segs {
				at(u).Expected++
			}
		}
	})
	// Registrations count along their own path from the holding unit's id
	// down: one written off the roster may name an older tree.
	scanAll(t, db, `SELECT person_id, org_id, org_path, on_roster, CASE WHEN checked_in_at IS NULL THEN 0 ELSE 1 END FROM office_registrations WHERE activity_id = $1`, func(s func(...any)) {
		var (
			id, org, path string
			on, chk       int
		)
		s(&id, &org, &path, &on, &chk)
		p, known := people[id]
		if (on == 1) != (known && p.inAudience) {
			t.Errorf("registration of %s: on_roster=%d, but in the audience: %v", id, on, known && p.inAudience)
		}
		if on == 1 && (org != p.org || path != p.path) {
			t.Errorf("registration of %s on the roster at %s %s, the directory has %s %s", id, org, path, p.org, p.path)
		}
		if u, ok := units[org]; on == 0 && ok && path != u.path {
			t.Errorf("registration of %s off the roster at %s, its unit %s is at %s", id, path, org, u.path)
		}
		// Off the roster, a registration whose unit left the activity's
		// tree is counted nowhere.
		if !strings.HasPrefix(path, orgPath) || path == orgPath {
			if on == 1 {
				t.Errorf("registration of %s on the roster at %s, outside the activity", id, path)
			}
			return
		}
		for _, u := range strings.Split(strings.Trim(path[len(orgPath)-len(orgID)-1:], "/"), "/") {
			c := at(u)
			if on == 1 {
				c.Registered++
				c.CheckedIn += chk
			} else {
				c.OffRegistered++
				c.OffCheckedIn += chk
			}
		}
	}, activityID)
	got := map[string]recounted{}
	scanAll(t, db, `SELECT org_id, path, parent_id, expected, registered, checked_in, off_registered, off_checked_in FROM office_activity_counts WHERE activity_id = $1`,
		func(s func(...any)) {
			var (
				id string
				c  recounted
			)
			s(&id, &c.path, &c.parent, &c.Expected, &c.Registered, &c.CheckedIn, &c.OffRegistered, &c.OffCheckedIn)
			got[id] = c
		}, activityID)
	for id, w := range want {
		if g := got[id]; g.Counts != w.Counts {
			t.Errorf("activity %d, unit %s: counters %+v, recount %+v", activityID, id, g.Counts, w.Counts)
		}
	}
	for id, g := range got {
		c := g.Counts
		if _, ok := want[id]; !ok && c != (activity.Counts{}) {
			t.Errorf("activity %d, unit %s: counters %+v, recount nothing", activityID, id, c)
		}
		if c.Expected < 0 || c.Registered < 0 || c.CheckedIn < 0 || c.OffRegistered < 0 || c.OffCheckedIn < 0 {
			t.Errorf("activity %d, unit %s: negative counter %+v", activityID, id, c)
		}
		if c.Registered > c.Expected || c.CheckedIn > c.Registered || c.OffCheckedIn > c.OffRegistered {
			t.Errorf("activity %d, unit %s: more registered than expected or signed in than registered: %+v", activityID, id, c)
		}
		if u, ok := units[id]; ok && strings.HasPrefix(u.path, orgPath) && (g.path != u.path || (id != orgID && g.parent != u.parent)) {
			t.Errorf("activity %d, unit %s: counters placed at %s under %q, the unit is at %s under %q", activityID, id, g.path, g.parent, u.path, u.parent)
		}
	}
}

// counters returns an activity's stored counter rows, for comparing
// before and after.
func counters(t *testing.T, db *sqldb.DB, activityID int64) map[string]recounted {
	t.Helper()
	out := map[string]recounted{}
	scanAll(t, db, `SELECT org_id, path, parent_id, expected, registered, checked_in, off_registered, off_checked_in FROM office_activity_counts WHERE activity_id = $1`,
		func(s func(...any)) {
			var (
				id string
				c  recounted
			)
			s(&id, &c.path, &c.parent, &c.Expected, &c.Registered, &c.CheckedIn, &c.OffRegistered, &c.OffCheckedIn)
			out[id] = c
		}, activityID)
	return out
}

// scanAll runs q and hands each row to fn, which scans it with s.
func scanAll(t *testing.T, db *sqldb.DB, q string, fn func(s func(...any)), args ...any) {
	t.Helper()
	if len(args) == 0 && strings.Contains(q, "$1") {
		t.Fatal("scanAll: missing argument")
	}
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	for rows.Next() {
		fn(func(dest ...any) {
			if err := rows.Scan(dest...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
