package directory_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
)

// world is officetest's tree with a common surname spread over it: 王 in
// most units (inactive ones too, and in Tianjin, outside Beijing), a
// school named 王庄小学 whose other people a search for 王 finds by the
// unit, 120 more schools named 王家村… (a third of them empty), and one
// 王 whose number is searched for too.
type world struct {
	tr    *officetest.Tree
	dir   *directory.Store
	phone string // the number of p-wang-phone, as typed
}

const wangSchool = "W01"

func newWorld(t *testing.T, db *sqldb.DB) world {
	t.Helper()
	ctx := context.Background()
	tr := officetest.Build(t, db)
	dir := directory.NewStore(db)
	county := tr.Units["110101"]
	w := directory.Unit{ID: wangSchool, ParentID: county.ID, Name: "王庄小学", Level: "school", Path: county.Path + wangSchool + "/", Kind: "regular", Active: true}
	if err := dir.PutUnit(ctx, w, 1); err != nil {
		t.Fatal(err)
	}
	tr.Units[w.ID] = w
	put := func(id, name, orgID, ph string, active bool) {
		t.Helper()
		p := directory.Person{ID: id, Name: name, Phone: ph, OrgID: orgID, OrgPath: tr.Units[orgID].Path, Role: "staff", Active: active}
		if err := dir.PutPerson(ctx, p, 1); err != nil {
			t.Fatal(err)
		}
	}
	units := []string{"110000", "120000", "110100", "110200", "110101", "110102", "S01", "S02", "S01D1", "S01D2", wangSchool}
	for i := range 40 {
		// Names repeat (王芳 ×5 …), so the id decides between them.
		put(fmt.Sprintf("p-wang-%02d", i), "王"+[]string{"芳", "伟", "静", "磊", "敏", "强", "洋", "艳"}[i%8], units[i%len(units)], fmt.Sprintf("+86139000%05d", i), i%9 != 4)
	}
	for i := range 7 {
		put(fmt.Sprintf("p-li-%02d", i), "李老师", wangSchool, fmt.Sprintf("+86137000%05d", i), true)
	}
	put("p-wang-phone", "王电话", wangSchool, "+8613912345678", true)
	// Someone whose name is the number typed: found by it once.
	put("p-num-name", "139 1234 5678（备用）", "S02", "+8613912345678", true)
	// More units named 王… than a search takes at a time, some empty.
	other := tr.Units["110102"]
	for i := range 120 {
		u := directory.Unit{ID: fmt.Sprintf("V%03d", i), ParentID: other.ID, Name: fmt.Sprintf("王家村第%d小学", i), Level: "school", Kind: "regular", Active: true}
		u.Path = other.Path + u.ID + "/"
		if err := dir.PutUnit(ctx, u, 1); err != nil {
			t.Fatal(err)
		}
		tr.Units[u.ID] = u
		for j := range i % 3 {
			put(fmt.Sprintf("p-zhao-%03d-%d", i, j), "赵老师", u.ID, "", true)
		}
	}
	return world{tr: tr, dir: dir, phone: "139 1234 5678"}
}

// person is a row of the directory as the test's own model sees it.
type person struct {
	id, name, phone, org, path string
	active                     bool
}

// model reads every person and unit straight from the tables.
func model(t *testing.T, db *sqldb.DB) ([]person, map[string]directory.Unit) {
	t.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT id, name, phone, org_id, org_path, active FROM office_people`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ps []person
	for rows.Next() {
		var (
			p      person
			active int
		)
		if err := rows.Scan(&p.id, &p.name, &p.phone, &p.org, &p.path, &active); err != nil {
			t.Fatal(err)
		}
		p.active = active == 1
		ps = append(ps, p)
	}
	urows, err := db.QueryContext(ctx, `SELECT id, name, path FROM office_units`)
	if err != nil {
		t.Fatal(err)
	}
	defer urows.Close()
	units := map[string]directory.Unit{}
	for urows.Next() {
		var u directory.Unit
		if err := urows.Scan(&u.ID, &u.Name, &u.Path); err != nil {
			t.Fatal(err)
		}
		units[u.ID] = u
	}
	return ps, units
}

// want is the documented answer to q, in order, computed from the model:
// a list by (unit path, id); a search by number (by id), then by name
// prefix (by name, id), then by unit name (by unit path, id), each
// person once and in the first phase that finds them.
func want(ps []person, units map[string]directory.Unit, q directory.PersonQuery) []string {
	in := func(p person) bool {
		return p.active && strings.HasPrefix(p.path, q.Under) && (q.OrgID == "" || p.org == q.OrgID)
	}
	type hit struct {
		phase int
		key   string
		id    string
	}
	var hits []hit
	text := strings.TrimSpace(q.Text)
	ph, phErr := phone.Normalize(text)
	for _, p := range ps {
		if !in(p) {
			continue
		}
		u := units[p.org]
		switch {
		case text == "":
			hits = append(hits, hit{0, p.path, p.id})
		case phErr == nil && p.phone == ph:
			hits = append(hits, hit{0, "", p.id})
		case strings.HasPrefix(p.name, text):
			hits = append(hits, hit{1, p.name, p.id})
		case strings.Contains(u.Name, text) && strings.HasPrefix(u.Path, q.Under):
			hits = append(hits, hit{2, u.Path, p.id})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.phase, b.phase), strings.Compare(a.key, b.key), strings.Compare(a.id, b.id))
	})
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.id
	}
	return out
}

// walk pages through q, limit at a time, calling between(page) after each
// page but the last; it fails on a page that is short before the end,
// over-full, or empty yet not the first.
func walk(t *testing.T, dir *directory.Store, q directory.PersonQuery, between func(page int, at directory.Position)) []string {
	t.Helper()
	var ids []string
	for page := 1; ; page++ {
		ps, next, err := dir.People(context.Background(), q)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if len(ps) > q.Limit || (next != nil && len(ps) != q.Limit) || (page > 1 && len(ps) == 0) {
			t.Fatalf("page %d holds %d people (limit %d, next %v)", page, len(ps), q.Limit, next)
		}
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		if next == nil {
			return ids
		}
		if page > 500 {
			t.Fatal("no end after 500 pages")
		}
		if between != nil {
			between(page, *next)
		}
		q.After = next
	}
}

// Every page size walks the same people in the same order as one big
// page: no one twice, no one left out, the last page says it is the last.
func TestPeoplePagesCoverEveryMatchOnce(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		w := newWorld(t, db)
		ps, units := model(t, db)
		beijing := w.tr.Units["110000"].Path
		queries := []struct {
			name string
			q    directory.PersonQuery
			min  int // at least this many matches, so the case means something
		}{
			{"the province's list", directory.PersonQuery{Under: beijing}, 50},
			{"one unit's list", directory.PersonQuery{Under: beijing, OrgID: wangSchool}, 10},
			{"a common surname", directory.PersonQuery{Under: beijing, Text: "王"}, 150},
			{"a common surname in one unit", directory.PersonQuery{Under: beijing, Text: "王", OrgID: wangSchool}, 10},
			{"a full name", directory.PersonQuery{Under: beijing, Text: "王芳"}, 4},
			{"a number", directory.PersonQuery{Under: beijing, Text: w.phone}, 1},
			{"a unit name", directory.PersonQuery{Under: beijing, Text: "甲一"}, 10},
			{"a school's list", directory.PersonQuery{Under: w.tr.Units["S01"].Path}, 6},
			{"nothing", directory.PersonQuery{Under: beijing, Text: "%"}, 0},
		}
		for _, c := range queries {
			expect := want(ps, units, c.q)
			if len(expect) < c.min {
				t.Fatalf("%s: the fixture has %d matches, want at least %d", c.name, len(expect), c.min)
			}
			for _, limit := range []int{1, 2, 3, 7, len(expect), len(expect) + 1, directory.MaxPage} {
				if limit < 1 {
					continue
				}
				q := c.q
				q.Limit = limit
				if got := walk(t, w.dir, q, nil); !slices.Equal(got, expect) {
					t.Errorf("%s in pages of %d:\n got %v\nwant %v", c.name, limit, got, expect)
				}
			}
		}
	})
}

// People added between pages, before and after where the walk stands,
// neither repeat nor push out anyone: everyone there at the start is
// seen exactly once, and no one is seen twice.
func TestPeoplePagesHoldStillUnderInserts(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		beijing := w.tr.Units["110000"].Path
		for n, c := range []struct {
			name string
			q    directory.PersonQuery
		}{
			{"list", directory.PersonQuery{Under: beijing, Limit: 4}},
			{"surname", directory.PersonQuery{Under: beijing, Text: "王", Limit: 4}},
			{"surname in a unit", directory.PersonQuery{Under: beijing, Text: "王", OrgID: wangSchool, Limit: 6}},
		} {
			q := c.q
			t.Run(c.name, func(t *testing.T) {
				ps, units := model(t, db)
				before := want(ps, units, q)
				added := 0
				got := walk(t, w.dir, q, func(page int, at directory.Position) {
					// Some sorting first (by name, unit or id: each id
					// below the last page's), one sorting last.
					for _, p := range []struct{ id, name, org string }{
						{fmt.Sprintf("p-0-%d-%03d", n, 999-page), "王一", wangSchool},
						{fmt.Sprintf("p-z-%d-%03d", n, page), "王龘", "S01D2"},
						{fmt.Sprintf("p-0-li-%d-%03d", n, 999-page), "李新", wangSchool},
					} {
						added++
						if err := w.dir.PutPerson(ctx, directory.Person{ID: p.id, Name: p.name, OrgID: p.org, OrgPath: w.tr.Units[p.org].Path, Role: "staff", Active: true}, 2); err != nil {
							t.Fatal(err)
						}
					}
				})
				seen := map[string]int{}
				for _, id := range got {
					seen[id]++
					if seen[id] > 1 {
						t.Errorf("%s seen twice", id)
					}
				}
				for _, id := range before {
					if seen[id] != 1 {
						t.Errorf("%s, there from the start, seen %d times", id, seen[id])
					}
				}
				if added == 0 || len(got) == len(before) {
					t.Errorf("the walk saw %d people after %d inserts: none of the later ones sorting after it", len(got), added)
				}
			})
		}
	})
}

// A position only says where to go on: whatever it says, a page holds
// only the subtree asked for; one that belongs to no place in the
// query's order is refused.
func TestPeoplePositionsStayInTheSubtree(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		w := newWorld(t, db)
		ps, units := model(t, db)
		school := w.tr.Units["S01"].Path
		sibling := w.tr.Units["S02"].Path
		for _, c := range []struct {
			name string
			q    directory.PersonQuery
		}{
			{"list from the start of everything", directory.PersonQuery{Under: school, After: &directory.Position{}}},
			{"list from a sibling's people", directory.PersonQuery{Under: school, After: &directory.Position{Key: sibling}}},
			{"list from above the subtree", directory.PersonQuery{Under: school, After: &directory.Position{Key: "/000000/", ID: "p"}}},
			{"name search from before every name", directory.PersonQuery{Under: school, Text: "王", After: &directory.Position{Phase: directory.PhaseName}}},
			{"unit search from a sibling unit", directory.PersonQuery{Under: school, Text: "中学", After: &directory.Position{Phase: directory.PhaseUnit, Key: "/"}}},
			{"number search from the first id", directory.PersonQuery{Under: school, Text: "13800000001", After: &directory.Position{Phase: directory.PhasePhone}}},
		} {
			q := c.q
			q.Limit = 3
			ids := walk(t, w.dir, q, nil)
			for _, id := range ids {
				i := slices.IndexFunc(ps, func(p person) bool { return p.id == id })
				if !strings.HasPrefix(ps[i].path, school) {
					t.Errorf("%s: %s of %s, outside the school", c.name, id, ps[i].path)
				}
			}
			q.After = nil
			if all := want(ps, units, q); len(ids) > len(all) {
				t.Errorf("%s: %d people, more than the %d of the whole query", c.name, len(ids), len(all))
			}
		}
		for _, c := range []struct {
			name string
			q    directory.PersonQuery
		}{
			{"a search's position in a list", directory.PersonQuery{Under: school, After: &directory.Position{Phase: directory.PhaseName, Key: "王"}}},
			{"an unknown phase", directory.PersonQuery{Under: school, Text: "王", After: &directory.Position{Phase: "everyone"}}},
			{"a list's position in a search", directory.PersonQuery{Under: school, Text: "王", After: &directory.Position{Key: school}}},
		} {
			if _, _, err := w.dir.People(context.Background(), c.q); !errors.Is(err, directory.ErrBadPosition) {
				t.Errorf("%s: %v, want ErrBadPosition", c.name, err)
			}
		}
	})
}

// Units answers in the order asked, leaves out ids it does not know, and
// reads past one query's batch of ids.
func TestUnitsInTheOrderAsked(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		w := newWorld(t, db)
		ctx := context.Background()
		var ids, want []string
		for range 130 { // 130 × 5 ids: more than one batch of 500
			ids = append(ids, "S02", "nope", "110000", wangSchool, "S01")
			want = append(want, "S02", "110000", wangSchool, "S01")
		}
		units, err := w.dir.Units(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range units {
			got = append(got, u.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %d units starting %v, want %d starting %v", len(got), got[:min(8, len(got))], len(want), want[:8])
		}
		if units[0].Name != w.tr.Units["S02"].Name || units[0].Path != w.tr.Units["S02"].Path {
			t.Fatalf("S02 read as %+v", units[0])
		}
		if none, err := w.dir.Units(ctx, nil); err != nil || len(none) != 0 {
			t.Fatalf("no ids: %v, %v", none, err)
		}
	})
}
