package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

var tree = region.MustLoad()

// csvOf writes a header and lines; line(i) is the i-th data line, on line
// i+2 of the file.
func csvOf(head string, n int, line func(i int) string) []byte {
	var b bytes.Buffer
	b.WriteString(head + "\n")
	for i := range n {
		b.WriteString(line(i) + "\n")
	}
	return b.Bytes()
}

func count(t *testing.T, db *sqldb.DB, query string) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(context.Background(), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// The checks hold across batches: a repeat names the first line even
// when a batch or more lies between them, a row stored before is "already
// imported", the errors come in line order, the first 20 listed and all
// counted, and a file refused after batches were written leaves nothing.
// Importing the same kind twice (on SQLite, on the same connection) finds
// nothing left over from the last import.
func TestChecksHoldAcrossBatches(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		imp := func(name string, data []byte) (Result, error) {
			t.Helper()
			return File(ctx, db, tree, Bytes(name, data), nil)
		}
		if _, err := imp("schools.csv", []byte("school_code,region_code,name\nU1,510104,锦江某大学\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := imp("students.csv", []byte("anon_id,region_code,school_code,stage\nOLD-1,510104,U1,bachelor\n")); err != nil {
			t.Fatal(err)
		}
		n := 2*batchLines + 100
		far, stored, noSchool := batchLines+20, 2*batchLines+30, 2*batchLines+40
		studentLine := func(i int) string {
			switch i {
			case far:
				return "S-3,510104,U1,bachelor" // the pseudonym of data line 3, on line 5
			case stored:
				return "OLD-1,510104,U1,bachelor"
			case noSchool:
				return fmt.Sprintf("S-%d,510104,U9,bachelor", i)
			}
			return fmt.Sprintf("S-%d,510104,U1,bachelor", i)
		}
		_, err := imp("students.csv", csvOf("anon_id,region_code,school_code,stage", n, studentLine))
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Fatalf("students with a repeat: %v", err)
		}
		want := []string{
			fmt.Sprintf(`line %d, anon_id: repeats line 5`, far+2),
			fmt.Sprintf(`line %d, anon_id: "OLD-1" is already imported`, stored+2),
			fmt.Sprintf(`line %d, school_code: "U9" is no school imported before (import the schools file first)`, noSchool+2),
		}
		var got []string
		for _, l := range fe.Lines {
			got = append(got, l.String())
		}
		if !slices.Equal(got, want) || fe.Bad != 3 {
			t.Errorf("errors %q (%d bad), want %q", got, fe.Bad, want)
		}
		if c := count(t, db, `SELECT COUNT(*) FROM cockpit_students`); c != 1 {
			t.Errorf("a refused file left %d students, want the 1 stored before", c)
		}

		res, err := imp("students.csv", csvOf("anon_id,region_code,school_code,stage", n, func(i int) string { return fmt.Sprintf("S-%d,510104,U1,bachelor", i) }))
		if err != nil || res.Rows != int64(n) {
			t.Fatalf("the file put right: %+v, %v", res, err)
		}
		if c := count(t, db, `SELECT MAX(id) FROM cockpit_students`); c != int64(n)+1 {
			t.Errorf("ids end at %d, want %d", c, n+1)
		}

		// Identifications: one per student and year, across batches too;
		// 30 unknown students, the first 20 listed.
		identLine := func(i int) string {
			switch {
			case i == far:
				return "S-0,2025,1,"
			case i >= 2*batchLines && i < 2*batchLines+30:
				return fmt.Sprintf("X-%d,2025,1,", i)
			}
			return fmt.Sprintf("S-%d,2025,2,低保", i)
		}
		_, err = imp("ident.csv", csvOf("anon_id,year,level,categories", n, identLine))
		if !errors.As(err, &fe) {
			t.Fatalf("identifications with a repeat: %v", err)
		}
		if fe.Bad != 31 || len(fe.Lines) != 20 || fe.Lines[0].String() != fmt.Sprintf("line %d, anon_id: repeats line 2", far+2) ||
			fe.Lines[1].Line != 2*batchLines+2 || fe.Lines[19].Line != 2*batchLines+20 {
			t.Errorf("identifications: %d bad, listed %v", fe.Bad, fe.Lines)
		}
		if !strings.Contains(err.Error(), "… and 11 more") {
			t.Errorf("the error does not count the lines not listed:\n%v", err)
		}
		res, err = imp("ident.csv", csvOf("anon_id,year,level,categories", n, func(i int) string { return fmt.Sprintf("S-%d,2025,2,低保", i) }))
		if err != nil || res.Rows != int64(n) {
			t.Fatalf("identifications put right: %+v, %v", res, err)
		}
		_, err = imp("ident.csv", []byte("anon_id,year,level,categories\nS-7,2024,3,\nS-7,2025,3,\n"))
		if err == nil || !strings.Contains(err.Error(), "line 3, year: the student's identification for 2025 is already imported") || strings.Contains(err.Error(), "line 2") {
			t.Errorf("an identification stored before: %v", err)
		}
	})
}

// Every kind whose lines may not repeat names the first line of a repeat
// a batch or two away: when the repeat is the file's first bad line, and
// when a bad line of another kind came before it.
func TestRepeatsAcrossBatches(t *testing.T) {
	leaves := tree.Leaves(tree.Root)
	n := 2*batchLines + 10
	cases := []struct {
		kind, head, want string
		line             func(i int) string
	}{
		{"schools", "school_code,region_code,name", "school_code: repeats line 2",
			func(i int) string { return fmt.Sprintf("C%d,510104,某校", i) }},
		{"students", "anon_id,region_code,school_code,stage", "anon_id: repeats line 2",
			func(i int) string { return fmt.Sprintf("S-%d,510104,U1,bachelor", i) }},
		{"enrolment", "region_code,year,stage,students", "repeats line 2",
			func(i int) string {
				return fmt.Sprintf("%s,%d,primary,100", leaves[i%len(leaves)].Code, 2000+i/len(leaves))
			}},
		{"allocations", "allocation_id,region_code,year,segment,programme,source,amount,allocated_on,due_on", "allocation_id: repeats line 2",
			func(i int) string {
				return fmt.Sprintf("%d,510104,2025,higher,he_grant,central,100000,2025-09-01,2025-11-30", 1000+i)
			}},
	}
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if _, err := File(ctx, db, tree, Bytes("schools.csv", []byte("school_code,region_code,name\nU1,510104,锦江某大学\n")), nil); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			for _, v := range []struct {
				name      string
				bad, far  int // a line of one field (-1: none), the repeat of data line 0
				wantLines int
			}{
				{"the repeat first", -1, batchLines + 5, 1},
				{"a bad line first", batchLines + 3, 2*batchLines + 5, 2},
			} {
				data := csvOf(c.head, n, func(i int) string {
					switch i {
					case v.bad:
						return "x"
					case v.far:
						i = 0
					}
					return c.line(i)
				})
				_, err := File(ctx, db, tree, Bytes(c.kind+".csv", data), nil)
				var fe *FileError
				want := fmt.Sprintf("line %d, %s", v.far+2, c.want)
				if c.kind == "enrolment" {
					want = fmt.Sprintf("line %d: %s", v.far+2, c.want)
				}
				if !errors.As(err, &fe) || fe.Bad != v.wantLines || fe.Lines[len(fe.Lines)-1].String() != want {
					t.Errorf("%s, %s: %v, want %d bad lines, the last %q", c.kind, v.name, err, v.wantLines, want)
				}
			}
		}
	})
}
