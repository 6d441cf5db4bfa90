// Package officetest builds a small org tree with people for the office's
// tests: two of every level below the ministry, along one branch, so every
// viewer has a parent, a sibling and a child.
package officetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office/directory"
)

// Tree is the fixture.
type Tree struct {
	Units map[string]directory.Unit
	// People by "<unit id>/admin" and "<unit id>/staff".
	People map[string]directory.Viewer
	// Branch is one unit per level, top down; Sibling the other unit of
	// the same level under the same parent (none for the ministry).
	Branch, Sibling []string
}

var spec = []struct{ id, parent, name, level string }{
	{"000000", "", "全国学生资助管理中心", "ministry"},
	{"110000", "000000", "北京市学生资助管理中心", "province"},
	{"120000", "000000", "天津市学生资助管理中心", "province"},
	{"110100", "110000", "甲市资助中心", "city"},
	{"110200", "110000", "乙市资助中心", "city"},
	{"110101", "110100", "甲一县资助中心", "county"},
	{"110102", "110100", "甲二县资助中心", "county"},
	{"S01", "110101", "甲一中学", "school"},
	{"S02", "110101", "甲二中学", "school"},
	{"S01D1", "S01", "甲一中学初中部", "department"},
	{"S01D2", "S01", "甲一中学高中部", "department"},
}

// Build writes the tree and its people: an admin and a staff member per
// unit, with phones +86138000NNNNN.
func Build(t testing.TB, db *sqldb.DB) *Tree {
	t.Helper()
	ctx := context.Background()
	st := directory.NewStore(db)
	tr := &Tree{Units: map[string]directory.Unit{}, People: map[string]directory.Viewer{}}
	n := 0
	for _, s := range spec {
		path := "/" + s.id + "/"
		if s.parent != "" {
			path = tr.Units[s.parent].Path + s.id + "/"
		}
		u := directory.Unit{ID: s.id, ParentID: s.parent, Name: s.name, Level: s.level, Path: path, Kind: "regular", Active: true}
		if err := st.PutUnit(ctx, u, 1); err != nil {
			t.Fatal(err)
		}
		tr.Units[s.id] = u
		for _, role := range []string{"admin", "staff"} {
			n++
			p := directory.Person{ID: "p-" + s.id + "-" + role, Name: s.name[:6] + role, Phone: fmt.Sprintf("+86138000%05d", n), OrgID: s.id, OrgPath: path, Role: role, Active: true}
			if err := st.PutPerson(ctx, p, 1); err != nil {
				t.Fatal(err)
			}
			tr.People[s.id+"/"+role] = directory.Viewer{Sub: p.ID, Name: p.Name, OrgID: s.id, OrgName: s.name, Level: s.level, Path: path, Roles: []string{role}}
		}
	}
	if err := st.RecomputeSizes(ctx); err != nil {
		t.Fatal(err)
	}
	tr.Branch = []string{"000000", "110000", "110100", "110101", "S01", "S01D1"}
	tr.Sibling = []string{"", "120000", "110200", "110102", "S02", "S01D2"}
	return tr
}

// Admin and Staff return the people of a unit.
func (t *Tree) Admin(unit string) directory.Viewer { return t.People[unit+"/admin"] }
func (t *Tree) Staff(unit string) directory.Viewer { return t.People[unit+"/staff"] }
