package org_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// unitKinds are the nine kinds of unit, each a level and a kind.
var unitKinds = []struct {
	name         string
	level, kind  string
	refusedBy    org.Rule // the rule that refuses a wrong parent
	parentInTree string   // a fixture unit of this kind, used as parent
}{
	{"ministry", org.LevelMinistry, org.KindRegular, org.RuleRoot, org.RootID},
	{"province", org.LevelProvince, org.KindRegular, org.RuleProvinceParent, "320000"},
	{"corps", org.LevelProvince, org.KindCorps, org.RuleProvinceParent, "660000"},
	{"planned-city", org.LevelCity, org.KindPlannedCity, org.RulePlannedCityParent, "210200"},
	{"city", org.LevelCity, org.KindRegular, org.RuleCityParent, "320100"},
	{"county", org.LevelCounty, org.KindRegular, org.RuleCountyParent, "320102"},
	{"school", org.LevelSchool, org.KindRegular, org.RuleSchoolParent, "2320102001"},
	{"central-university", org.LevelSchool, org.KindCentralUniversity, org.RuleCentralUniversityParent, "4111010001"},
	{"department", org.LevelDepartment, org.KindRegular, org.RuleDepartmentParent, "2320102001-01"},
}

// allowedUnder is the specification of the tree: which units a unit may
// sit under. Every pair not listed is refused.
var allowedUnder = map[string][]string{
	"ministry":           {"(root)"},
	"province":           {"ministry"},
	"corps":              {"ministry"},
	"planned-city":       {"ministry"},
	"city":               {"province", "corps"},
	"county":             {"province", "corps", "planned-city", "city"},
	"school":             {"province", "corps", "planned-city", "city", "county"},
	"central-university": {"ministry"},
	"department":         {"school", "central-university"},
}

func TestLevelRules(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		parents := append([]string{"(root)"}, func() (names []string) {
			for _, u := range unitKinds {
				names = append(names, u.name)
			}
			return
		}()...)
		n := 0
		for _, child := range unitKinds {
			for _, parentName := range parents {
				n++
				allowed := contains(allowedUnder[child.name], parentName)
				o := org.Org{ID: fmt.Sprintf("t%03d", n), Name: "测试单位", Level: child.level, Kind: child.kind}
				if parentName != "(root)" {
					for _, u := range unitKinds {
						if u.name == parentName {
							o.ParentID = u.parentInTree
						}
					}
				}
				if child.level == org.LevelMinistry {
					o.ID = org.RootID
				}
				t.Run(child.name+" under "+parentName, func(t *testing.T) {
					_, err := f.store.Create(f.ctx, o)
					var rerr *org.RuleError
					switch {
					case allowed && child.level == org.LevelMinistry:
						// The rules accept the root; the store already has it.
						if !errors.Is(err, sqldb.ErrConflict) {
							t.Fatalf("second root: got %v, want ErrConflict", err)
						}
					case allowed:
						if err != nil {
							t.Fatalf("refused: %v", err)
						}
					case !errors.As(err, &rerr):
						t.Fatalf("got %v, want a *RuleError %s", err, child.refusedBy)
					case rerr.Rule != child.refusedBy || rerr.Chinese == "" || !errors.Is(err, org.ErrRule):
						t.Fatalf("got rule %q (%q), want %s with a Chinese message", rerr.Rule, rerr.Chinese, child.refusedBy)
					}
				})
			}
		}
		checkTree(t, db)
	})
}

func TestKindsBelongToOneLevel(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		tests := []struct {
			name          string
			o             org.Org
			wantRule      org.Rule
			wantInMessage string
		}{
			{"planned city as province", org.Org{ID: "t1", ParentID: org.RootID, Level: org.LevelProvince, Kind: org.KindPlannedCity}, org.RuleKindLevel, ""},
			{"corps as city", org.Org{ID: "t2", ParentID: org.RootID, Level: org.LevelCity, Kind: org.KindCorps}, org.RuleKindLevel, ""},
			{"central university as department", org.Org{ID: "t3", ParentID: "4111010001", Level: org.LevelDepartment, Kind: org.KindCentralUniversity}, org.RuleKindLevel, ""},
			{"province with the root's id", org.Org{ID: org.RootID, ParentID: org.RootID, Level: org.LevelProvince}, org.RuleRoot, ""},
			{"second ministry", org.Org{ID: "100000", Level: org.LevelMinistry}, org.RuleRoot, ""},
			{"unknown level", org.Org{ID: "t4", ParentID: org.RootID, Level: "village"}, org.RuleField, "level"},
			{"unknown kind", org.Org{ID: "t5", ParentID: org.RootID, Level: org.LevelProvince, Kind: "special"}, org.RuleField, "kind"},
			{"unknown stage", org.Org{ID: "t6", ParentID: "320102", Level: org.LevelSchool, Stages: []string{"college"}}, org.RuleField, "stages"},
			{"unknown line", org.Org{ID: "t7", ParentID: "320102", Level: org.LevelSchool, Lines: []string{"sports"}}, org.RuleField, "lines"},
			{"short region code", org.Org{ID: "t8", ParentID: "320102", Level: org.LevelSchool, RegionCode: "3201"}, org.RuleField, "region_code"},
			{"slash in id", org.Org{ID: "32/01", ParentID: "320102", Level: org.LevelSchool}, org.RuleField, "id"},
			{"empty id", org.Org{ID: "", ParentID: "320102", Level: org.LevelSchool}, org.RuleField, "id"},
			{"bad status", org.Org{ID: "t9", ParentID: "320102", Level: org.LevelSchool, Status: "closed"}, org.RuleField, "status"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.o.Name == "" {
					tt.o.Name = "测试单位"
				}
				_, err := f.store.Create(f.ctx, tt.o)
				var rerr *org.RuleError
				if !errors.As(err, &rerr) || rerr.Rule != tt.wantRule {
					t.Fatalf("got %v, want rule %s", err, tt.wantRule)
				}
			})
		}
		t.Run("unknown parent", func(t *testing.T) {
			_, err := f.store.Create(f.ctx, org.Org{ID: "t10", ParentID: "999999", Name: "x", Level: org.LevelCity})
			if !errors.Is(err, org.ErrNotFound) || !errors.Is(err, sqldb.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
		t.Run("defaults", func(t *testing.T) {
			o := f.create(t, org.Org{ID: "2320102002", ParentID: "320102", Name: "玄武区第二小学", Level: org.LevelSchool})
			got := f.get(t, o.ID)
			if got.Kind != org.KindRegular || got.Status != org.StatusActive || len(got.Lines) != 1 || got.Lines[0] != org.LineAid {
				t.Fatalf("defaults: got kind %q status %q lines %v", got.Kind, got.Status, got.Lines)
			}
			if pathOf(t, f, o.ID) != "000000/320000/320100/320102/2320102002" || got.Depth != 4 {
				t.Fatalf("path %v depth %d", got.Path, got.Depth)
			}
		})
	})
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
