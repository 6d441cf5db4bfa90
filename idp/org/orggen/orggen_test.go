package orggen_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/org/orggen"
)

func TestRowsAreExactUniqueAndDeterministic(t *testing.T) {
	for _, n := range []int{orggen.MinRows, 50_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rows, err := orggen.Rows(orggen.Options{Rows: n, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != n {
				t.Fatalf("%d rows, want %d", len(rows), n)
			}
			seen := map[string]bool{}
			levels := map[string]int{}
			for _, r := range rows {
				if seen[r.ID] {
					t.Fatalf("id %s twice", r.ID)
				}
				seen[r.ID] = true
				levels[r.Level]++
				if r.Level == org.LevelSchool && r.Kind == org.KindRegular && len(r.ID) != 10 {
					t.Fatalf("school id %s is not a 10-digit code", r.ID)
				}
			}
			for _, r := range rows {
				if r.ParentID != "" && !seen[r.ParentID] {
					t.Fatalf("%s: parent %s not in the file", r.ID, r.ParentID)
				}
			}
			for _, l := range org.Levels {
				if levels[l] == 0 {
					t.Fatalf("no unit of level %s: %v", l, levels)
				}
			}
		})
	}
	t.Run("same seed, same file", func(t *testing.T) {
		var a, b bytes.Buffer
		if err := orggen.Generate(&a, orggen.Options{Rows: 10_000, Seed: 9, Shuffle: true}); err != nil {
			t.Fatal(err)
		}
		if err := orggen.Generate(&b, orggen.Options{Rows: 10_000, Seed: 9, Shuffle: true}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatal("two files from one seed differ")
		}
	})
	if _, err := orggen.Rows(orggen.Options{Rows: 100}); err == nil {
		t.Fatal("a 100-row file cannot hold the administrative units; want an error")
	}
}
