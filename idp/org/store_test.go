package org_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/divisions"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

func TestSeed(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db) // seeds once
		provs, err := divisions.Provinces()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.Update(f.ctx, "320000", func(o *org.Org) error { o.Name = "江苏省教育厅学生资助中心"; return nil }); err != nil {
			t.Fatal(err)
		}
		if err := f.store.Seed(f.ctx); err != nil {
			t.Fatalf("second seed: %v", err)
		}
		top, err := f.store.Children(f.ctx, org.RootID)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, o := range top {
			count[o.Level+"/"+o.Kind]++
		}
		// 37 province-level units from provinces.csv plus the fixture's
		// central university.
		want := map[string]int{"province/regular": 31, "province/corps": 1, "city/planned-city": 5, "school/central-university": 1}
		if fmt.Sprint(count) != fmt.Sprint(want) || len(provs) != 37 {
			t.Fatalf("under the root: %v (provinces.csv has %d rows), want %v", count, len(provs), want)
		}
		root := f.get(t, org.RootID)
		if root.Name != "全国学生资助管理中心" || root.Level != org.LevelMinistry || root.ParentID != "" || root.Depth != 0 {
			t.Fatalf("root: %+v", root)
		}
		for _, tt := range []struct{ id, name, level, kind string }{
			{"320000", "江苏省教育厅学生资助中心", org.LevelProvince, org.KindRegular}, // the rename survives a re-seed
			{"210200", "大连市学生资助管理中心", org.LevelCity, org.KindPlannedCity},
			{"440300", "深圳市学生资助管理中心", org.LevelCity, org.KindPlannedCity},
			{"660000", "新疆生产建设兵团学生资助管理中心", org.LevelProvince, org.KindCorps},
			{"650000", "新疆维吾尔自治区学生资助管理中心", org.LevelProvince, org.KindRegular},
		} {
			o := f.get(t, tt.id)
			if o.Name != tt.name || o.Level != tt.level || o.Kind != tt.kind || o.ParentID != org.RootID || o.RegionCode != tt.id {
				t.Errorf("%s: got %+v, want %s %s %s under the root", tt.id, o, tt.name, tt.level, tt.kind)
			}
		}
		if n := f.count(t); n != 1+37+6 {
			t.Fatalf("%d units after two seeds, want %d", n, 1+37+6)
		}
		checkTree(t, db)
	})
}

func TestMove(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		t.Run("rewrites the whole subtree", func(t *testing.T) {
			if err := f.store.Move(f.ctx, "320102", "320200"); err != nil {
				t.Fatal(err)
			}
			for id, want := range map[string]string{
				"320102":        "000000/320000/320200/320102",
				"2320102001":    "000000/320000/320200/320102/2320102001",
				"2320102001-01": "000000/320000/320200/320102/2320102001/2320102001-01",
			} {
				if got := pathOf(t, f, id); got != want {
					t.Errorf("%s: path %s, want %s", id, got, want)
				}
			}
			if o := f.get(t, "320102"); o.ParentID != "320200" {
				t.Errorf("parent %s, want 320200", o.ParentID)
			}
			if n, _ := f.store.CountSubtree(f.ctx, "320100"); n != 1 {
				t.Errorf("320100 keeps %d units, want itself only", n)
			}
			checkTree(t, db)
		})
		t.Run("a county can move up to a province, changing depths", func(t *testing.T) {
			if err := f.store.Move(f.ctx, "320102", "320000"); err != nil {
				t.Fatal(err)
			}
			if d := f.get(t, "2320102001-01").Depth; d != 4 {
				t.Errorf("department depth %d, want 4", d)
			}
			checkTree(t, db)
		})
		refusals := []struct {
			name, id, parent string
			want             error
			rule             org.Rule
		}{
			{"under itself", "320000", "320000", org.ErrRule, org.RuleCycle},
			{"under its descendant", "320000", "2320102001", org.ErrRule, org.RuleCycle},
			{"a county under a school", "320102", "4111010001", org.ErrRule, org.RuleCountyParent},
			{"a school under the ministry", "2320102001", org.RootID, org.ErrRule, org.RuleSchoolParent},
			{"the root", org.RootID, "320000", org.ErrRule, org.RuleRoot},
			{"under an unknown unit", "320102", "999999", org.ErrNotFound, ""},
			{"an unknown unit", "999999", "320000", org.ErrNotFound, ""},
		}
		for _, tt := range refusals {
			t.Run("refuses "+tt.name, func(t *testing.T) {
				before := pathOf(t, f, "2320102001-01")
				err := f.store.Move(f.ctx, tt.id, tt.parent)
				var rerr *org.RuleError
				if !errors.Is(err, tt.want) || (tt.rule != "" && (!errors.As(err, &rerr) || rerr.Rule != tt.rule)) {
					t.Fatalf("got %v, want %v %s", err, tt.want, tt.rule)
				}
				if after := pathOf(t, f, "2320102001-01"); after != before {
					t.Fatalf("refused move changed a path: %s → %s", before, after)
				}
			})
		}
		checkTree(t, db)
	})
}

func TestUpdate(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		err := f.store.Update(f.ctx, "2320102001", func(o *org.Org) error {
			o.Name = "南京市玄武区第一中心小学"
			o.Stages = []string{org.StagePreschool, org.StageCompulsory}
			o.Lines = []string{org.LineAid, org.LineNutrition}
			o.Status = org.StatusDisabled
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got := f.get(t, "2320102001")
		if got.Name != "南京市玄武区第一中心小学" || !slices.Equal(got.Stages, []string{org.StagePreschool, org.StageCompulsory}) ||
			!slices.Equal(got.Lines, []string{org.LineAid, org.LineNutrition}) || got.Status != org.StatusDisabled {
			t.Fatalf("after update: %+v", got)
		}

		f.create(t, org.Org{ID: "2320200001", ParentID: "320200", Name: "无锡市第一中学", Level: org.LevelSchool})
		f.create(t, org.Org{ID: "2320200001-01", ParentID: "2320200001", Name: "初中部", Level: org.LevelDepartment})
		refusals := []struct {
			name string
			id   string
			edit func(*org.Org)
			rule org.Rule
		}{
			{"changing the id", "320102", func(o *org.Org) { o.ID = "320103" }, org.RuleImmutable},
			{"changing the parent (that is a move)", "320102", func(o *org.Org) { o.ParentID = "320200" }, org.RuleImmutable},
			{"a school becoming a county under a county", "2320102001", func(o *org.Org) { o.Level = org.LevelCounty }, org.RuleCountyParent},
			{"a school with departments becoming a county", "2320200001", func(o *org.Org) { o.Level = org.LevelCounty }, org.RuleDepartmentParent},
			{"a county becoming a department", "320102", func(o *org.Org) { o.Level = org.LevelDepartment }, org.RuleDepartmentParent},
			{"a regular school becoming a central university", "2320102001", func(o *org.Org) { o.Kind = org.KindCentralUniversity }, org.RuleCentralUniversityParent},
			{"an empty name", "320102", func(o *org.Org) { o.Name = " " }, org.RuleField},
			{"an unknown status", "320102", func(o *org.Org) { o.Status = "closed" }, org.RuleField},
		}
		for _, tt := range refusals {
			t.Run("refuses "+tt.name, func(t *testing.T) {
				before := f.get(t, tt.id)
				err := f.store.Update(f.ctx, tt.id, func(o *org.Org) error { tt.edit(o); return nil })
				var rerr *org.RuleError
				if !errors.As(err, &rerr) || rerr.Rule != tt.rule {
					t.Fatalf("got %v, want rule %s", err, tt.rule)
				}
				if after := f.get(t, tt.id); fmt.Sprint(after) != fmt.Sprint(before) {
					t.Fatalf("refused update changed %+v → %+v", before, after)
				}
			})
		}
		t.Run("a leaf school may become a county", func(t *testing.T) {
			f.create(t, org.Org{ID: "320199", ParentID: "320100", Name: "江北新区", Level: org.LevelSchool})
			if err := f.store.Update(f.ctx, "320199", func(o *org.Org) error { o.Level = org.LevelCounty; return nil }); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("an error from the edit is returned and nothing changes", func(t *testing.T) {
			boom := errors.New("boom")
			err := f.store.Update(f.ctx, "320102", func(o *org.Org) error { o.Name = "x"; return boom })
			if !errors.Is(err, boom) || f.get(t, "320102").Name == "x" {
				t.Fatalf("got %v", err)
			}
		})
		t.Run("an unknown unit", func(t *testing.T) {
			err := f.store.Update(f.ctx, "999999", func(*org.Org) error { return nil })
			if !errors.Is(err, org.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestSubtreeQueries(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		// A second county with 25 schools, and a look-alike id outside
		// the subtree: 3201020 starts like 320102 but is not under it.
		f.create(t, org.Org{ID: "320104", ParentID: "320100", Name: "秦淮区学生资助管理中心", Level: org.LevelCounty, RegionCode: "320104"})
		for i := 1; i <= 25; i++ {
			f.create(t, org.Org{ID: fmt.Sprintf("2320104%03d", i), ParentID: "320104", Name: fmt.Sprintf("秦淮区第%d小学", i), Level: org.LevelSchool, RegionCode: "320104"})
		}
		f.create(t, org.Org{ID: "3201020", ParentID: "320200", Name: "无锡100%学校_测试", Level: org.LevelSchool, RegionCode: "320200"})

		t.Run("within", func(t *testing.T) {
			for _, tt := range []struct {
				ancestor, id string
				want         bool
			}{
				{"320102", "320102", true},
				{"320102", "2320102001-01", true},
				{org.RootID, "2320102001-01", true},
				{"320000", "2320104025", true},
				{"320102", "2320104001", false}, // a sibling county's school
				{"320102", "320100", false},     // above
				{"320102", "3201020", false},    // id shares a prefix, not a path
				{"2320102001-01", "320102", false},
				{"330000", "2320102001", false},
				{"999999", "2320102001", false},
				{"", "2320102001", false},
			} {
				got, err := f.store.Within(f.ctx, tt.ancestor, tt.id)
				if err != nil || got != tt.want {
					t.Errorf("Within(%s, %s) = %v, %v; want %v", tt.ancestor, tt.id, got, err, tt.want)
				}
			}
			if _, err := f.store.Within(f.ctx, org.RootID, "999999"); !errors.Is(err, org.ErrNotFound) {
				t.Errorf("unknown id: got %v, want ErrNotFound", err)
			}
		})

		t.Run("count", func(t *testing.T) {
			for id, want := range map[string]int{"320102": 3, "320104": 26, "320100": 30, "2320102001-01": 1, "330000": 1} {
				if got, err := f.store.CountSubtree(f.ctx, id); err != nil || got != want {
					t.Errorf("CountSubtree(%s) = %d, %v; want %d", id, got, err, want)
				}
			}
			if _, err := f.store.CountSubtree(f.ctx, "999999"); !errors.Is(err, org.ErrNotFound) {
				t.Errorf("unknown id: got %v", err)
			}
		})

		t.Run("pages cover the subtree once, parents first", func(t *testing.T) {
			var all []string
			after := ""
			for page := 0; ; page++ {
				got, err := f.store.Subtree(f.ctx, "320000", 7, after)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 {
					break
				}
				if len(got) > 7 || page > 10 {
					t.Fatalf("page %d has %d units", page, len(got))
				}
				for _, o := range got {
					all = append(all, o.ID)
				}
				after = got[len(got)-1].ID
			}
			if n, _ := f.store.CountSubtree(f.ctx, "320000"); len(all) != n {
				t.Fatalf("pages list %d units, the subtree has %d", len(all), n)
			}
			seen := map[string]bool{}
			for _, id := range all {
				o := f.get(t, id)
				if seen[id] || (id != "320000" && !seen[o.ParentID]) {
					t.Fatalf("%s listed twice or before its parent %s: %v", id, o.ParentID, all)
				}
				seen[id] = true
			}
			if all[0] != "320000" {
				t.Fatalf("first unit %s, want the subtree's root", all[0])
			}
			if _, err := f.store.Subtree(f.ctx, "320102", 10, "2320104001"); !errors.Is(err, org.ErrNotFound) {
				t.Fatalf("cursor outside the subtree: got %v", err)
			}
		})

		t.Run("children", func(t *testing.T) {
			got, err := f.store.Children(f.ctx, "320100")
			if err != nil {
				t.Fatal(err)
			}
			if ids := idsOf(got); !slices.Equal(ids, []string{"320102", "320104"}) {
				t.Fatalf("children %v", ids)
			}
			if got, err := f.store.Children(f.ctx, "2320102001-01"); err != nil || len(got) != 0 {
				t.Fatalf("leaf: %v, %v", got, err)
			}
			if _, err := f.store.Children(f.ctx, "999999"); !errors.Is(err, org.ErrNotFound) {
				t.Fatalf("unknown: %v", err)
			}
		})

		t.Run("search", func(t *testing.T) {
			for _, tt := range []struct {
				under, query string
				want         []string
			}{
				{"320100", "秦淮区第2", []string{"2320104002", "2320104020", "2320104021", "2320104022", "2320104023", "2320104024", "2320104025"}},
				{"320000", "玄武", []string{"320102", "2320102001"}},
				{"330000", "玄武", nil},                                                // not under Zhejiang
				{"320000", "2320102", []string{"2320102001", "2320102001-01"}},       // id prefix
				{"320000", "320104", []string{"320104", "2320104001", "2320104002"}}, // region code, shallow first
				{"320000", "100%", []string{"3201020"}},                              // % is literal
				{"320000", "_测", []string{"3201020"}},                                // _ is literal
				{"320000", "%", []string{"3201020"}},
			} {
				got, err := f.store.Search(f.ctx, tt.under, tt.query, 3)
				if err != nil {
					t.Fatal(err)
				}
				want := tt.want
				if len(want) > 3 {
					want = want[:3]
				}
				if ids := idsOf(got); !slices.Equal(ids, want) {
					t.Errorf("Search(%s, %q) = %v, want %v", tt.under, tt.query, ids, want)
				}
			}
		})
	})
}

func TestClaim(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		c, err := f.store.Claim(f.ctx, "320102")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(c)
		want := `{"id":"320102","name":"玄武区学生资助管理中心","level":"county","region_code":"320102","path":["000000","320000","320100","320102"],"kind":"regular"}`
		if string(b) != want {
			t.Fatalf("claim\n got %s\nwant %s", b, want)
		}
		if c, _ := f.store.Claim(f.ctx, org.RootID); !slices.Equal(c.Path, []string{org.RootID}) {
			t.Fatalf("root path %v", c.Path)
		}
		if c, _ := f.store.Claim(f.ctx, "210200"); c.Kind != org.KindPlannedCity || !slices.Equal(c.Path, []string{org.RootID, "210200"}) {
			t.Fatalf("planned city claim %+v", c)
		}

		t.Run("this process's changes show at once", func(t *testing.T) {
			if err := f.store.Update(f.ctx, "320102", func(o *org.Org) error { o.Name = "玄武区教育局资助中心"; return nil }); err != nil {
				t.Fatal(err)
			}
			if c, _ := f.store.Claim(f.ctx, "320102"); c.Name != "玄武区教育局资助中心" {
				t.Fatalf("after update: %+v", c)
			}
			if _, err := f.store.Claim(f.ctx, "2320102001"); err != nil { // cache a descendant
				t.Fatal(err)
			}
			if err := f.store.Move(f.ctx, "320102", "320200"); err != nil {
				t.Fatal(err)
			}
			if c, _ := f.store.Claim(f.ctx, "2320102001"); !slices.Equal(c.Path, []string{"000000", "320000", "320200", "320102", "2320102001"}) {
				t.Fatalf("after move: %v", c.Path)
			}
		})

		t.Run("another process's changes show within the TTL", func(t *testing.T) {
			other := org.NewStore(db)
			if _, err := f.store.Claim(f.ctx, "320200"); err != nil {
				t.Fatal(err)
			}
			if err := other.Update(f.ctx, "320200", func(o *org.Org) error { o.Name = "无锡市资助中心"; return nil }); err != nil {
				t.Fatal(err)
			}
			if c, _ := f.store.Claim(f.ctx, "320200"); c.Name == "无锡市资助中心" {
				t.Fatalf("served from the database, not the cache")
			}
			f.clock.Advance(time.Minute)
			if c, _ := f.store.Claim(f.ctx, "320200"); c.Name != "无锡市资助中心" {
				t.Fatalf("stale after the TTL: %+v", c)
			}
		})

		t.Run("a caller cannot change the cached claim", func(t *testing.T) {
			c, _ := f.store.Claim(f.ctx, "320000")
			c.Path[0] = "hacked"
			if c, _ := f.store.Claim(f.ctx, "320000"); c.Path[0] != org.RootID {
				t.Fatalf("cache shared its slice: %v", c.Path)
			}
		})

		t.Run("concurrent readers see the writer's last name", func(t *testing.T) {
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for range 50 {
						if _, err := f.store.Claim(f.ctx, "320000"); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			for i := range 10 {
				if err := f.store.Update(f.ctx, "320000", func(o *org.Org) error { o.Name = fmt.Sprintf("江苏%d", i); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			if c, _ := f.store.Claim(f.ctx, "320000"); c.Name != "江苏9" {
				t.Fatalf("after the writes: %q", c.Name)
			}
		})

		if _, err := f.store.Claim(f.ctx, "999999"); !errors.Is(err, org.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})
}

func idsOf(orgs []org.Org) []string {
	var ids []string
	for _, o := range orgs {
		ids = append(ids, o.ID)
	}
	return ids
}
