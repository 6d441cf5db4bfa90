package activity_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/directory"
)

// gapTree is a city with a county of every gap shape below it:
//
//	K1  two schools, nobody registers          → the county is the gap
//	K2  B1 registers, B2 does not              → only B2
//	K3  everyone registers and signs in        → no gap
//	K4  D1 has nobody (zero expected), D2 registers but nobody signs in
//	K5  people only in a department of E1      → the county is the gap
//	K6  its own two people and a school F1
var gapTree = []struct {
	id, parent, level string
	people            int
}{
	{"M", "", "ministry", 1}, {"P", "M", "province", 1}, {"C", "P", "city", 1},
	{"K1", "C", "county", 0}, {"A1", "K1", "school", 2}, {"A2", "K1", "school", 2},
	{"K2", "C", "county", 0}, {"B1", "K2", "school", 2}, {"B2", "K2", "school", 2},
	{"K3", "C", "county", 1}, {"C1", "K3", "school", 2},
	{"K4", "C", "county", 0}, {"D1", "K4", "school", 0}, {"D2", "K4", "school", 2},
	{"K5", "C", "county", 0}, {"E1", "K5", "school", 0}, {"E1X", "E1", "department", 2},
	{"K6", "C", "county", 2}, {"F1", "K6", "school", 1},
}

type gapWorld struct {
	s      *activity.Service
	units  map[string]directory.Unit
	people []directory.Person
	host   directory.Viewer
}

func buildGapTree(t *testing.T, db *sqldb.DB, now func() time.Time) *gapWorld {
	ctx := context.Background()
	dir := directory.NewStore(db)
	w := &gapWorld{s: &activity.Service{DB: db, Dir: dir, Now: now}, units: map[string]directory.Unit{}}
	for _, g := range gapTree {
		path := "/" + g.id + "/"
		if g.parent != "" {
			path = w.units[g.parent].Path + g.id + "/"
		}
		u := directory.Unit{ID: g.id, ParentID: g.parent, Name: "单位" + g.id, Level: g.level, Path: path, Active: true}
		if err := dir.PutUnit(ctx, u, 1); err != nil {
			t.Fatal(err)
		}
		w.units[g.id] = u
		for i := range g.people {
			p := directory.Person{ID: fmt.Sprintf("%s-%d", g.id, i), Name: fmt.Sprintf("%s的%d号", g.id, i), OrgID: g.id, OrgPath: path, Role: "staff", Active: true}
			if g.id == "C" {
				p.Role = "admin"
				w.host = directory.Viewer{Sub: p.ID, OrgID: "C", Level: "city", Path: path, Roles: []string{"admin"}}
			}
			if err := dir.PutPerson(ctx, p, 1); err != nil {
				t.Fatal(err)
			}
			w.people = append(w.people, p)
		}
	}
	return w
}

func (w *gapWorld) viewer(p directory.Person) directory.Viewer {
	u := w.units[p.OrgID]
	return directory.Viewer{Sub: p.ID, OrgID: u.ID, Level: u.Level, Path: u.Path, Roles: []string{"staff"}}
}

// bruteGaps computes, from the raw rows alone, the topmost units below
// and at root with people expected and none registered (col registered)
// or signed in (checked_in): every unit of the subtree is a gap or not;
// a gap is listed unless its parent (within the subtree) is one.
func bruteGaps(t *testing.T, db *sqldb.DB, w *gapWorld, a *activity.Activity, root string) (reg, chk []string, counts map[string]activity.Counts) {
	t.Helper()
	counts = map[string]activity.Counts{}
	checkCounters(t, db, a.ID)
	target := map[string]bool{}
	for _, id := range append(a.Target.Units, a.Target.Levels...) {
		target[id] = true
	}
	registered := map[string][2]bool{}
	scanAll(t, db, `SELECT person_id, checked_in_at FROM office_registrations WHERE activity_id = $1`, func(s func(...any)) {
		var (
			id  string
			chk *int64
		)
		s(&id, &chk)
		registered[id] = [2]bool{true, chk != nil}
	}, a.ID)
	for _, p := range w.people {
		u := w.units[p.OrgID]
		in := strings.HasPrefix(p.OrgPath, a.OrgPath) && p.OrgPath != a.OrgPath
		switch a.Target.Kind {
		case directory.TargetUnits:
			in = in && target[u.ID]
		case directory.TargetLevels:
			in = in && target[u.Level]
		}
		if !in {
			continue
		}
		for id, v := range w.units {
			if strings.HasPrefix(p.OrgPath, v.Path) && strings.HasPrefix(v.Path, a.OrgPath) {
				c := counts[id]
				c.Expected++
				if registered[p.ID][0] {
					c.Registered++
				}
				if registered[p.ID][1] {
					c.CheckedIn++
				}
				counts[id] = c
			}
		}
	}
	var ids []string
	for id, u := range w.units {
		if strings.HasPrefix(u.Path, w.units[root].Path) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return w.units[ids[i]].Path < w.units[ids[j]].Path })
	gap := func(id string, n func(activity.Counts) int) bool { c := counts[id]; return c.Expected > 0 && n(c) == 0 }
	for _, id := range ids {
		for _, q := range []struct {
			n    func(activity.Counts) int
			dest *[]string
		}{{func(c activity.Counts) int { return c.Registered }, &reg}, {func(c activity.Counts) int { return c.CheckedIn }, &chk}} {
			if gap(id, q.n) && (id == root || !gap(w.units[id].ParentID, q.n)) {
				*q.dest = append(*q.dest, id)
			}
		}
	}
	return reg, chk, counts
}

func unitIDs(us []directory.Unit) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.ID)
	}
	return out
}

// compareReports asks for the report at every unit of the activity and
// compares its figures, its children's and both gap lists with bruteGaps.
func compareReports(t *testing.T, db *sqldb.DB, w *gapWorld, a *activity.Activity, label string) {
	t.Helper()
	for id, u := range w.units {
		if !strings.HasPrefix(u.Path, a.OrgPath) {
			continue
		}
		cov, err := w.s.Coverage(context.Background(), w.host, a.ID, id)
		if err != nil {
			t.Fatalf("%s: report at %s: %v", label, id, err)
		}
		reg, chk, counts := bruteGaps(t, db, w, a, id)
		if got := unitIDs(cov.NoneRegistered); !slices.Equal(got, reg) {
			t.Errorf("%s: at %s nobody registered in %v, brute force %v", label, id, got, reg)
		}
		if got := unitIDs(cov.NoneCheckedIn); !slices.Equal(got, chk) {
			t.Errorf("%s: at %s nobody signed in in %v, brute force %v", label, id, got, chk)
		}
		if cov.Unit.Counts != counts[id] {
			t.Errorf("%s: at %s figures %+v, brute force %+v", label, id, cov.Unit.Counts, counts[id])
		}
		var csv bytes.Buffer
		if err := w.s.WriteCSV(context.Background(), w.host, a.ID, id, &csv); err != nil {
			t.Fatal(err)
		}
		if lines := strings.Count(csv.String(), "\n") - 1; lines != counts[id].Expected {
			t.Errorf("%s: the CSV at %s lists %d people, brute force expects %d", label, id, lines, counts[id].Expected)
		}
		for _, c := range cov.Children {
			if c.Counts != counts[c.Unit.ID] {
				t.Errorf("%s: at %s, child %s: %+v, brute force %+v", label, id, c.Unit.ID, c.Counts, counts[c.Unit.ID])
			}
		}
	}
}

// The gap lists are exactly the topmost gaps, at every unit of the
// tree: for the hand-made shapes, and for random registrations over the
// same tree under each kind of target.
func TestGapListsEqualBruteForce(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
		w := buildGapTree(t, db, c.Now)
		start := c.t.Add(10 * time.Minute)
		a := must(w.s.Create(ctx, w.host, training(start)))
		code := first(must2(w.s.CurrentCode(ctx, w.host, a.ID)))
		for _, id := range []string{"B1-0", "C1-0", "C1-1", "K3-0", "D2-1", "F1-0"} {
			must(w.s.Register(ctx, w.viewer(person(w, id)), a.ID))
		}
		for _, id := range []string{"C1-0", "C1-1", "K3-0"} {
			must(w.s.CheckIn(ctx, w.viewer(person(w, id)), a.ID, code))
		}
		cov := must(w.s.Coverage(ctx, w.host, a.ID, ""))
		// K4 and K6 are not gaps (D2 and F1 registered), nor is D1 (nobody
		// expected there).
		if got, want := unitIDs(cov.NoneRegistered), []string{"K1", "B2", "K5"}; !slices.Equal(got, want) {
			t.Errorf("nobody registered at the city: %v, want %v", got, want)
		}
		if got, want := unitIDs(cov.NoneCheckedIn), []string{"K1", "K2", "K4", "K5", "K6"}; !slices.Equal(got, want) {
			t.Errorf("nobody signed in at the city: %v, want %v", got, want)
		}
		compareReports(t, db, w, a, "shapes")

		targets := []directory.Target{{Kind: directory.TargetSubtree}, {Kind: directory.TargetLevels, Levels: []string{"school"}},
			{Kind: directory.TargetUnits, Units: []string{"A1", "B2", "K6", "E1X"}}}
		for seed := range uint64(18) {
			rng := rand.New(rand.NewPCG(seed, 7))
			act := training(start)
			act.Target = targets[seed%3]
			a := must(w.s.Create(ctx, w.host, act))
			code := first(must2(w.s.CurrentCode(ctx, w.host, a.ID)))
			share := []int{5, 30, 60, 95}[seed%4]
			for _, p := range w.people {
				v := w.viewer(p)
				if !a.Invited(v) || rng.IntN(100) >= share {
					continue
				}
				if rng.IntN(2) == 0 {
					must(w.s.CheckIn(ctx, v, a.ID, code))
				} else {
					must(w.s.Register(ctx, v, a.ID))
				}
			}
			compareReports(t, db, w, a, fmt.Sprintf("seed %d (%s, %d%%)", seed, act.Target.Kind, share))
		}
	})
}

func person(w *gapWorld, id string) directory.Person {
	for _, p := range w.people {
		if p.ID == id {
			return p
		}
	}
	panic("no person " + id)
}
