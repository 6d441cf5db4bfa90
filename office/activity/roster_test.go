package activity_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
)

// world is the officetest tree with an activity service that follows the
// roster, and the sync's two ways in (ApplyPeople, ApplyUnits).
type world struct {
	t   *testing.T
	ctx context.Context
	db  *sqldb.DB
	tr  *officetest.Tree
	dir *directory.Store
	s   *activity.Service
	c   *clock
}

func newWorld(t *testing.T, db *sqldb.DB) *world {
	w := &world{t: t, ctx: context.Background(), db: db, tr: officetest.Build(t, db), dir: directory.NewStore(db), c: &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}}
	w.s = &activity.Service{DB: db, Dir: w.dir, Now: w.c.Now}
	return w
}

func (w *world) person(id string) directory.Person {
	w.t.Helper()
	p, err := w.dir.Person(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) unit(id string) directory.Unit {
	w.t.Helper()
	u, err := w.dir.Unit(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

// at returns p placed in unit id as the directory has it now.
func (w *world) at(p directory.Person, id string) directory.Person {
	u := w.unit(id)
	p.OrgID, p.OrgPath = u.ID, u.Path
	return p
}

// sync applies one batch of people as the sync does.
func (w *world) sync(people ...directory.Person) {
	w.t.Helper()
	if err := w.dir.ApplyPeople(w.ctx, w.s, people, w.c.t.Unix()); err != nil {
		w.t.Fatal(err)
	}
}

// token is the viewer a person's token would make now.
func (w *world) token(p directory.Person) directory.Viewer {
	u := w.unit(p.OrgID)
	return directory.Viewer{Sub: p.ID, Name: p.Name, OrgID: u.ID, OrgName: u.Name, Level: u.Level, Path: u.Path, Roles: []string{p.Role}}
}

func (w *world) report(v directory.Viewer, a *activity.Activity, org string) *activity.Coverage {
	w.t.Helper()
	cov, err := w.s.Coverage(w.ctx, v, a.ID, org)
	if err != nil {
		w.t.Fatal(err)
	}
	return cov
}

// Counters follow the roster through every kind of change the sync
// brings — someone new, someone disabled and back, moved between units,
// out of the audience, a unit moving with its people, a unit changing
// level, the holding unit itself moving — and after each one they equal a
// recount from the raw rows, for a subtree, a chosen-units and a
// chosen-levels activity. An ended activity keeps its final figures.
func TestCountersFollowTheRoster(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		w := newWorld(t, db)
		county, city := w.tr.Admin("110101"), w.tr.Admin("110100")
		start := w.c.t.Add(10 * time.Minute)
		long := training(start)
		long.EndsAt = start.Add(72 * time.Hour)
		long.RegCloses = long.EndsAt
		a := must(w.s.Create(w.ctx, county, long))
		bAct := long
		bAct.Target = directory.Target{Kind: directory.TargetUnits, Units: []string{"S02"}}
		b := must(w.s.Create(w.ctx, city, bAct))
		cAct := long
		cAct.Target = directory.Target{Kind: directory.TargetLevels, Levels: []string{"school"}}
		c := must(w.s.Create(w.ctx, city, cAct))
		ended := must(w.s.Create(w.ctx, county, training(start)))
		live := []*activity.Activity{a, b, c}

		s02, d1, s01 := w.tr.Staff("S02"), w.tr.Staff("S01D1"), w.tr.Staff("S01")
		code := func(act *activity.Activity) string {
			return first(must2(w.s.CurrentCode(w.ctx, w.tr.Admin(act.OrgID), act.ID)))
		}
		for _, r := range []struct {
			who directory.Viewer
			act *activity.Activity
			in  bool
		}{{s02, a, true}, {s02, b, false}, {s02, c, false}, {d1, a, false}, {s01, a, false}, {s01, c, true}, {s02, ended, true}, {s01, ended, false}} {
			if r.in {
				must(w.s.CheckIn(w.ctx, r.who, r.act.ID, code(r.act)))
			} else {
				must(w.s.Register(w.ctx, r.who, r.act.ID))
			}
		}
		final := counters(t, db, ended.ID)
		w.c.t = start.Add(3 * time.Hour) // the short training has ended

		type figures struct {
			org  string
			want activity.Counts
		}
		steps := []struct {
			name   string
			change func()
			// figures at the holding unit (or below) of a, b, c
			a, b, c []figures
		}{
			{"at the start", func() {}, []figures{{"110101", activity.Counts{Expected: 8, Registered: 3, CheckedIn: 1}}},
				[]figures{{"110100", activity.Counts{Expected: 2, Registered: 1}}}, []figures{{"110100", activity.Counts{Expected: 4, Registered: 2, CheckedIn: 1}}}},
			{"someone new at S02", func() {
				w.sync(directory.Person{ID: "p-new", Name: "新同事", OrgID: "S02", OrgPath: w.unit("S02").Path, Role: "staff", Active: true})
			}, []figures{{"110101", activity.Counts{Expected: 9, Registered: 3, CheckedIn: 1}}, {"S02", activity.Counts{Expected: 3, Registered: 1, CheckedIn: 1}}},
				[]figures{{"110100", activity.Counts{Expected: 3, Registered: 1}}}, []figures{{"110100", activity.Counts{Expected: 5, Registered: 2, CheckedIn: 1}}}},
			{"someone registered before the sync knew them", func() {
				late := directory.Person{ID: "p-late", Name: "迟到者", OrgID: "S01", OrgPath: w.unit("S01").Path, Role: "staff", Active: true}
				must(w.s.Register(w.ctx, w.token(late), a.ID))
				cov := w.report(county, a, "S01")
				if cov.Unit.OffRegistered != 1 || len(cov.OffRoster) != 1 || cov.OffRoster[0].ID != "p-late" {
					t.Errorf("registered before the sync: %+v, off the roster %+v", cov.Unit.Counts, cov.OffRoster)
				}
				w.sync(late)
			}, []figures{{"110101", activity.Counts{Expected: 10, Registered: 4, CheckedIn: 1}}, {"S01", activity.Counts{Expected: 7, Registered: 3}}},
				nil, []figures{{"110100", activity.Counts{Expected: 6, Registered: 2, CheckedIn: 1}}}},
			{"a registered, signed-in person is disabled", func() {
				p := w.person(s02.Sub)
				p.Active = false
				w.sync(p)
				cov := w.report(county, a, "S02")
				if len(cov.OffRoster) != 1 || cov.OffRoster[0].ID != s02.Sub || !cov.OffRoster[0].CheckedIn {
					t.Errorf("S02's people off the roster: %+v", cov.OffRoster)
				}
			}, []figures{{"110101", activity.Counts{Expected: 9, Registered: 3, OffRegistered: 1, OffCheckedIn: 1}}, {"S02", activity.Counts{Expected: 2, OffRegistered: 1, OffCheckedIn: 1}}},
				[]figures{{"110100", activity.Counts{Expected: 2, OffRegistered: 1}}}, []figures{{"110100", activity.Counts{Expected: 5, Registered: 1, CheckedIn: 1, OffRegistered: 1}}}},
			{"and enabled again", func() {
				p := w.person(s02.Sub)
				p.Active = true
				w.sync(p)
			}, []figures{{"110101", activity.Counts{Expected: 10, Registered: 4, CheckedIn: 1}}},
				[]figures{{"110100", activity.Counts{Expected: 3, Registered: 1}}}, []figures{{"110100", activity.Counts{Expected: 6, Registered: 2, CheckedIn: 1}}}},
			{"moves from S02 to a department of S01", func() {
				w.sync(w.at(w.person(s02.Sub), "S01D1"))
			}, []figures{{"110101", activity.Counts{Expected: 10, Registered: 4, CheckedIn: 1}}, {"S02", activity.Counts{Expected: 2}}, {"S01D1", activity.Counts{Expected: 3, Registered: 2, CheckedIn: 1}}},
				[]figures{{"110100", activity.Counts{Expected: 2, OffRegistered: 1}}}, []figures{{"110100", activity.Counts{Expected: 5, Registered: 1, CheckedIn: 1, OffRegistered: 1}}}},
			{"moves out of the county", func() {
				w.sync(w.at(w.person(s02.Sub), "110102"))
			}, []figures{{"110101", activity.Counts{Expected: 9, Registered: 3, OffRegistered: 1, OffCheckedIn: 1}}, {"S01D1", activity.Counts{Expected: 2, Registered: 1, OffRegistered: 1, OffCheckedIn: 1}}},
				[]figures{{"110100", activity.Counts{Expected: 2, OffRegistered: 1}}}, nil},
			{"a school moves to the other county with its people", func() {
				u := w.unit("S02")
				u.ParentID, u.Path = "110102", w.unit("110102").Path+"S02/"
				if err := w.dir.ApplyUnits(w.ctx, w.s, []directory.Unit{u}, w.c.t.Unix()); err != nil {
					t.Fatal(err)
				}
			}, []figures{{"110101", activity.Counts{Expected: 7, Registered: 3, OffRegistered: 1, OffCheckedIn: 1}}},
				[]figures{{"110100", activity.Counts{Expected: 2, OffRegistered: 1}}, {"110101", activity.Counts{}}, {"110102", activity.Counts{Expected: 2, OffRegistered: 1}}, {"S02", activity.Counts{Expected: 2, OffRegistered: 1}}},
				[]figures{{"110100", activity.Counts{Expected: 5, Registered: 1, CheckedIn: 1, OffRegistered: 1}}, {"110102", activity.Counts{Expected: 2, OffRegistered: 1}}}},
			{"a department becomes a school", func() {
				u := w.unit("S01D1")
				u.Level = "school"
				if err := w.dir.ApplyUnits(w.ctx, w.s, []directory.Unit{u}, w.c.t.Unix()); err != nil {
					t.Fatal(err)
				}
			}, nil, nil, []figures{{"110100", activity.Counts{Expected: 7, Registered: 1, CheckedIn: 1, OffRegistered: 1}}}},
			{"the holding county moves to another city", func() {
				u := w.unit("110101")
				u.ParentID, u.Path = "110200", w.unit("110200").Path+"110101/"
				if err := w.dir.ApplyUnits(w.ctx, w.s, []directory.Unit{u}, w.c.t.Unix()); err != nil {
					t.Fatal(err)
				}
				county = w.token(w.person(county.Sub))
				if got := w.unit("S01D2").Path; got != "/000000/110000/110200/110101/S01/S01D2/" {
					t.Errorf("the office moved the subtree to %s", got)
				}
			}, []figures{{"110101", activity.Counts{Expected: 7, Registered: 3, OffRegistered: 1, OffCheckedIn: 1}}},
				[]figures{{"110100", activity.Counts{Expected: 2, OffRegistered: 1}}},
				[]figures{{"110100", activity.Counts{Expected: 2, OffRegistered: 1}}}},
		}
		for _, st := range steps {
			st.change()
			for i, want := range [][]figures{st.a, st.b, st.c} {
				checkCounters(t, db, live[i].ID)
				for _, f := range want {
					holder := county
					if i > 0 {
						holder = city
					}
					if got := w.report(holder, live[i], f.org); got.Unit.Counts != f.want || got.Roster != activity.RosterLive {
						t.Errorf("%s: activity %c at %s: %+v (%s), want %+v", st.name, 'a'+i, f.org, got.Unit.Counts, got.Roster, f.want)
					}
				}
			}
			if got := counters(t, db, ended.ID); !maps.Equal(got, final) {
				t.Errorf("%s: the ended activity's figures changed:\n%v\nwere\n%v", st.name, got, final)
			}
		}
		// After its move the county's training still reaches its people.
		s01 = w.token(w.person(w.tr.Admin("S01").Sub))
		must(w.s.Register(w.ctx, s01, a.ID))
		checkCounters(t, db, a.ID)
		if cov := w.report(county, ended, ""); cov.Roster != activity.RosterFinal {
			t.Errorf("ended activity's report says %q", cov.Roster)
		}
	})
}

func first[A, B any](a A, _ B) A { return a }

// A batch of the sync and what follows from it commit together or not at
// all: when the counters cannot follow — here a counter would go below
// zero, which the table's CHECK refuses on both backends — nobody of the
// batch changes and the counters stay as they were.
func TestASyncBatchIsAllOrNothing(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		w := newWorld(t, db)
		a := must(w.s.Create(w.ctx, w.tr.Admin("110101"), training(w.c.t.Add(time.Hour))))
		// Break the counters as a bug would: S02 says nobody is expected.
		if _, err := db.ExecContext(w.ctx, `UPDATE office_activity_counts SET expected = 0 WHERE activity_id = $1 AND org_id = 'S02'`, a.ID); err != nil {
			t.Fatal(err)
		}
		before := counters(t, db, a.ID)
		gone := w.person(w.tr.Staff("S02").Sub)
		gone.Active = false
		fresh := directory.Person{ID: "p-fresh", Name: "新人", OrgID: "S01", OrgPath: w.unit("S01").Path, Role: "staff", Active: true}
		err := w.dir.ApplyPeople(w.ctx, w.s, []directory.Person{fresh, gone}, w.c.t.Unix())
		if err == nil {
			t.Fatal("a batch that would take a counter below zero was applied")
		}
		if p := w.person(gone.ID); !p.Active {
			t.Error("the disabled person of the failed batch is written")
		}
		if _, err := w.dir.Person(w.ctx, fresh.ID); !errors.Is(err, directory.ErrNotFound) {
			t.Errorf("the new person of the failed batch is written: %v", err)
		}
		if got := counters(t, db, a.ID); !maps.Equal(got, before) {
			t.Errorf("counters after the failed batch:\n%v\nwere\n%v", got, before)
		}
	})
}

// Registrations and sign-ins racing sync batches that add, move, disable
// and re-enable the same people: on PostgreSQL, with every writer in its
// own transaction at once, the counters still equal a recount, and no
// writer deadlocks or fails.
func TestSyncRacingRegistrations(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		w := newWorld(t, db)
		units := []string{"S01", "S02", "S01D1", "S01D2", "110102"}
		var people []directory.Person
		for i := range 40 {
			u := w.unit(units[i%4])
			people = append(people, directory.Person{ID: fmt.Sprintf("p-race-%02d", i), Name: fmt.Sprintf("赛跑者%02d", i), OrgID: u.ID, OrgPath: u.Path, Role: "staff", Active: true})
		}
		w.sync(people[:30]...) // the last ten come with the racing batches
		start := w.c.t.Add(10 * time.Minute)
		a := must(w.s.Create(w.ctx, w.tr.Admin("110101"), training(start)))
		code := first(must2(w.s.CurrentCode(w.ctx, w.tr.Admin("110101"), a.ID)))
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i, p := range people {
			v := w.token(p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := w.s.Register(w.ctx, v, a.ID); err != nil {
					errs <- fmt.Errorf("register %s: %w", v.Sub, err)
				}
				if i%2 == 0 {
					if _, err := w.s.CheckIn(w.ctx, v, a.ID, code); err != nil {
						errs <- fmt.Errorf("check in %s: %w", v.Sub, err)
					}
				}
			}()
		}
		for b := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var batch []directory.Person
				for k := range 10 {
					p := people[(b*7+k*3)%len(people)]
					u := w.tr.Units[units[(b+k)%len(units)]]
					p.OrgID, p.OrgPath, p.Active = u.ID, u.Path, (b+k)%3 != 0
					batch = append(batch, p)
				}
				if err := w.dir.ApplyPeople(w.ctx, w.s, batch, w.c.t.Unix()); err != nil {
					errs <- fmt.Errorf("batch %d: %w", b, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		checkCounters(t, db, a.ID)
	})
}
