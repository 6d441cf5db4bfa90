package org_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

const header = org.ImportHeader + "\n"

func csvFile(lines ...string) *strings.Reader {
	return strings.NewReader(header + strings.Join(lines, "\n") + "\n")
}

func TestImportReadsBOMAndRowsInAnyOrder(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		// Children before parents, CRLF line ends, a byte-order mark, a
		// quoted name with a comma, padded stages, empty and explicit kind.
		file := "\ufeff" + strings.ReplaceAll(header+strings.Join([]string{
			"2320506001-01,2320506001,初中部,department,320506,,compulsory",
			"2320506001,320506,苏州市吴中区第一中学,school,320506,,compulsory; high_school ;",
			"320506,320500,吴中区学生资助管理中心,county,320506,regular,",
			`320500,320000,"苏州市学生资助管理中心,苏州",city,320500,,`,
			"4132010284,000000,南京大学,school,320100,central-university,undergraduate;master;doctoral",
		}, "\n")+"\n", "\n", "\r\n")
		res, err := f.store.Import(f.ctx, strings.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		if res != (org.ImportResult{Rows: 5, Inserted: 5}) {
			t.Fatalf("result %+v", res)
		}
		for id, want := range map[string]string{
			"2320506001-01": "000000/320000/320500/320506/2320506001/2320506001-01",
			"4132010284":    "000000/4132010284",
		} {
			if got := pathOf(t, f, id); got != want {
				t.Errorf("%s: path %s, want %s", id, got, want)
			}
		}
		school := f.get(t, "2320506001")
		if !slices.Equal(school.Stages, []string{org.StageCompulsory, org.StageHighSchool}) || school.Kind != org.KindRegular ||
			school.Status != org.StatusActive || !slices.Equal(school.Lines, []string{org.LineAid}) {
			t.Errorf("school %+v", school)
		}
		if got := f.get(t, "320500").Name; got != "苏州市学生资助管理中心,苏州" {
			t.Errorf("quoted name %q", got)
		}
		checkTree(t, db)
	})
}

func TestImportIsIdempotent(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		rows := []string{
			"320500,320000,苏州市学生资助管理中心,city,320500,,",
			"320506,320500,吴中区学生资助管理中心,county,320506,,",
			"2320506001,320506,吴中区第一中学,school,320506,,compulsory;high_school",
			"320102,320100,玄武区学生资助管理中心,county,320102,,", // as stored by the fixture
		}
		if _, err := f.store.Import(f.ctx, csvFile(rows...)); err != nil {
			t.Fatal(err)
		}
		before := f.count(t)
		// Status and business lines are not in the file: an admin's
		// changes to them survive re-imports.
		if err := f.store.Update(f.ctx, "2320506001", func(o *org.Org) error {
			o.Status, o.Lines = org.StatusDisabled, []string{org.LineAid, org.LineNutrition}
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		res, err := f.store.Import(f.ctx, csvFile(rows...))
		if err != nil || res != (org.ImportResult{Rows: 4, Unchanged: 4}) {
			t.Fatalf("same file again: %+v, %v", res, err)
		}
		rows[2] = "2320506001,320506,苏州市吴中区第一高级中学,school,320506,,high_school"
		res, err = f.store.Import(f.ctx, csvFile(rows...))
		if err != nil || res != (org.ImportResult{Rows: 4, Updated: 1, Unchanged: 3}) {
			t.Fatalf("one row changed: %+v, %v", res, err)
		}
		if after := f.count(t); after != before {
			t.Fatalf("re-imports changed the number of units: %d → %d", before, after)
		}
		got := f.get(t, "2320506001")
		if got.Name != "苏州市吴中区第一高级中学" || !slices.Equal(got.Stages, []string{org.StageHighSchool}) ||
			got.Status != org.StatusDisabled || len(got.Lines) != 2 {
			t.Fatalf("after update by import: %+v", got)
		}
	})
}

func TestImportRefusesBadRowsAndAppliesNothing(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		before := f.count(t)
		file := csvFile(
			"320500,320000,苏州市学生资助管理中心,city,320500,,",                     // 2 good
			"320505,320500,虎丘区学生资助管理中心,county,320505,,",                   // 3 good
			"320506,320500,吴中区学生资助管理中心,county",                            // 4 too few fields
			"320507,320500,相城区学生资助管理中心,town,320507,,",                     // 5 unknown level
			"320508,320500,姑苏区学生资助管理中心,county,3205,,",                     // 6 short region code
			"2320505001,320505,虎丘区第一中学,school,320505,,compulsory;college", // 7 unknown stage
			"2320505002,999999,无上级学校,school,320505,,",                     // 8 unknown parent
			"320509,2320505004,学校下的区县,county,320509,,",                    // 9 county under a school
			"2320505004,320505,虎丘区第四中学,school,320505,,",                   // 10 good
			"320505,320500,虎丘区重复,county,320505,,",                         // 11 duplicate id
			"d1,d2,甲,department,,,",                                       // 12 department under a department
			"d2,d1,乙,department,,,",                                       // 13 … and the other way round
			"2320505005,320505,\xcb\xd5\xd6\xdd,school,320505,,",          // 14 GBK, not UTF-8
			"320102,2320102001,玄武区,county,320102,,",                       // 15 would move a county under its own school
			`2320505006,320505,bad"quote,school,320505,,`,                 // 16 CSV syntax
		)
		_, err := f.store.Import(f.ctx, file)
		var ie *org.ImportError
		if !errors.As(err, &ie) {
			t.Fatalf("got %v, want *ImportError", err)
		}
		type want struct {
			line int
			rule org.Rule
			in   string
		}
		wants := []want{
			{4, "", "4 fields"},
			{5, org.RuleField, "level"},
			{6, org.RuleField, "region_code"},
			{7, org.RuleField, "college"},
			{8, "", `parent "999999"`},
			{9, org.RuleCountyParent, "county 320509"},
			{11, "", "already on line 3"},
			{12, org.RuleDepartmentParent, ""},
			{13, org.RuleDepartmentParent, ""},
			{14, "", "UTF-8"},
			{15, org.RuleCountyParent, ""},
			{16, "", "quote"},
		}
		if len(ie.Errors) != len(wants) {
			t.Fatalf("%d errors, want %d:\n%v", len(ie.Errors), len(wants), err)
		}
		for i, w := range wants {
			got := ie.Errors[i]
			if got.Line != w.line || got.Rule != w.rule || !strings.Contains(got.Reason, w.in) {
				t.Errorf("error %d: got %+v, want line %d rule %q containing %q", i, got, w.line, w.rule, w.in)
			}
		}
		if after := f.count(t); after != before {
			t.Fatalf("a refused import changed the tree: %d → %d units", before, after)
		}
		if _, err := f.store.Get(f.ctx, "320500"); !errors.Is(err, org.ErrNotFound) {
			t.Fatalf("a good row of a refused import was applied: %v", err)
		}
		checkTree(t, db)

		t.Run("the header is checked", func(t *testing.T) {
			for _, file := range []string{"", "id,parent,name,level,region_code,kind,stages\n", "id,parent_id,name,level,region_code,kind\n"} {
				_, err := f.store.Import(f.ctx, strings.NewReader(file))
				if !errors.As(err, &ie) || ie.Errors[0].Line != 1 {
					t.Errorf("file %q: got %v, want an error on line 1", file, err)
				}
			}
		})
		t.Run("at most 100 errors are listed", func(t *testing.T) {
			var rows []string
			for i := range 150 {
				rows = append(rows, fmt.Sprintf("x%d,320000,坏行,nowhere,,,", i))
			}
			_, err := f.store.Import(f.ctx, csvFile(rows...))
			if !errors.As(err, &ie) || len(ie.Errors) != 100 || !ie.Truncated {
				t.Fatalf("got %d errors (truncated %v), want 100 and truncated", len(ie.Errors), ie.Truncated)
			}
		})
	})
}

func TestImportMovesSubtreesAtomically(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		// 320102 (with its school and department, which are not in the
		// file) moves to 无锡; its school moves to a new county 320104 that
		// the file creates after listing the school.
		moveSchool := "2320102001,320104,玄武区第一小学,school,320102,,compulsory"
		moveCounty := "320102,320200,玄武区学生资助管理中心,county,320102,,"
		newCounty := "320104,320100,秦淮区学生资助管理中心,county,320104,,"

		t.Run("a bad row keeps every unit where it was", func(t *testing.T) {
			_, err := f.store.Import(f.ctx, csvFile(moveSchool, moveCounty, newCounty, "bad,320000,坏行,nowhere,,,"))
			var ie *org.ImportError
			if !errors.As(err, &ie) || len(ie.Errors) != 1 || ie.Errors[0].Line != 5 {
				t.Fatalf("got %v, want one error on line 5", err)
			}
			if got := pathOf(t, f, "2320102001-01"); got != "000000/320000/320100/320102/2320102001/2320102001-01" {
				t.Fatalf("department moved by a refused import: %s", got)
			}
		})

		t.Run("nested moves are applied together", func(t *testing.T) {
			res, err := f.store.Import(f.ctx, csvFile(moveSchool, moveCounty, newCounty))
			if err != nil {
				t.Fatal(err)
			}
			if res != (org.ImportResult{Rows: 3, Inserted: 1, Updated: 2, Moved: 2}) {
				t.Fatalf("result %+v", res)
			}
			for id, want := range map[string]string{
				"320102":        "000000/320000/320200/320102",
				"2320102001":    "000000/320000/320100/320104/2320102001",
				"2320102001-01": "000000/320000/320100/320104/2320102001/2320102001-01",
			} {
				if got := pathOf(t, f, id); got != want {
					t.Errorf("%s: %s, want %s", id, got, want)
				}
			}
			checkTree(t, db)
		})

		t.Run("a move inside a moved subtree", func(t *testing.T) {
			// County 320104 moves to 无锡 while the department below it
			// moves to a new school inside that same county.
			res, err := f.store.Import(f.ctx, csvFile(
				"2320102001-01,2320104002,孝陵卫教学点,department,320102,,",
				"320104,320200,秦淮区学生资助管理中心,county,320104,,",
				"2320104002,320104,秦淮区第二小学,school,320104,,",
			))
			if err != nil {
				t.Fatal(err)
			}
			if res.Moved != 2 {
				t.Fatalf("result %+v", res)
			}
			for id, want := range map[string]string{
				"2320102001":    "000000/320000/320200/320104/2320102001",
				"2320102001-01": "000000/320000/320200/320104/2320104002/2320102001-01",
			} {
				if got := pathOf(t, f, id); got != want {
					t.Errorf("%s: %s, want %s", id, got, want)
				}
			}
			checkTree(t, db)
		})

		t.Run("a cycle through stored units is refused", func(t *testing.T) {
			_, err := f.store.Import(f.ctx, csvFile("320200,2320102001,无锡市,city,320200,,"))
			var ie *org.ImportError
			if !errors.As(err, &ie) || ie.Errors[0].Line != 2 || ie.Errors[0].Rule != org.RuleCityParent {
				t.Fatalf("got %v", err)
			}
		})

		t.Run("a level change that strands stored children is refused", func(t *testing.T) {
			// 2320104002 has the department; as a county it could not.
			_, err := f.store.Import(f.ctx, csvFile("2320104002,320200,秦淮区第二小学,county,320104,,"))
			var ie *org.ImportError
			if !errors.As(err, &ie) || ie.Errors[0].Line != 2 || ie.Errors[0].Rule != org.RuleDepartmentParent ||
				!strings.Contains(ie.Errors[0].Reason, "2320102001-01") {
				t.Fatalf("got %v", err)
			}
			checkTree(t, db)
		})
	})
}
