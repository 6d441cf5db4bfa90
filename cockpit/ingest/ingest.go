// Package ingest reads real data into the cockpit's fact tables from CSV
// files (xszz cockpit import): one kind of fact per file, recognised by
// its header, every line checked against the reporting tree and the
// catalogue, each file written whole or not at all. The columns are
// documented in docs/cockpit.md ("Importing real data").
package ingest

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xszz/xszz/cockpit/catalog"
	"github.com/xszz/xszz/cockpit/facts"
	"github.com/xszz/xszz/cockpit/load"
	"github.com/xszz/xszz/cockpit/progress"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/internal/sqldb"
)

// Kind is one kind of file: its columns, in the order the docs list them
// (a file may order them as it likes).
type Kind struct {
	Name    string
	Columns []string
	table   load.Table
}

// Kinds are the files the import reads, in the order they depend on each
// other: schools before students, students before their identifications
// and aid, allocations before disbursements.
var Kinds = []Kind{
	{"schools", []string{"school_code", "region_code", "name"}, facts.Schools},
	{"students", []string{"anon_id", "region_code", "school_code", "stage"}, facts.Students},
	{"identifications", []string{"anon_id", "year", "level", "categories"}, facts.Identifications},
	{"aid_records", []string{"anon_id", "year", "programme", "source", "amount", "paid_on"}, facts.AidRecords},
	{"enrolment", []string{"region_code", "year", "stage", "students"}, facts.Enrolment},
	{"allocations", []string{"allocation_id", "region_code", "year", "segment", "programme", "source", "amount", "allocated_on", "due_on"}, facts.Allocations},
	{"disbursements", []string{"allocation_id", "amount", "paid_on"}, facts.Disbursements},
}

// maxReported is how many bad lines an error lists; the count says the rest.
const maxReported = 20

// LineError is one refused line.
type LineError struct {
	Line   int
	Column string // "" when the whole line is at fault
	Msg    string
}

func (e LineError) String() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("line %d, %s: %s", e.Line, e.Column, e.Msg)
}

// FileError says why a file was refused; nothing of it was written.
type FileError struct {
	File  string
	Lines []LineError // the first maxReported
	Bad   int         // lines refused in all
	Cause error       // a failure that is not one line's (the database's)
}

func (e *FileError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: nothing imported", e.File)
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	if e.Bad > 0 {
		fmt.Fprintf(&b, ": %d bad lines", e.Bad)
		for _, l := range e.Lines {
			b.WriteString("\n  " + l.String())
		}
		if e.Bad > len(e.Lines) {
			fmt.Fprintf(&b, "\n  … and %d more", e.Bad-len(e.Lines))
		}
	}
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Cause }

// Result is what a file added.
type Result struct {
	Kind string
	Rows int64
}

// File imports one CSV file (UTF-8, a header line, comma-separated; a
// BOM is skipped). All its rows are written in one transaction, or none
// when any line is bad. progress receives a bar (or a final line).
func File(ctx context.Context, db *sqldb.DB, tree *region.Tree, name string, data []byte, out io.Writer) (Result, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return Result{}, &FileError{File: name, Cause: fmt.Errorf("no header line: %w", err)}
	}
	kind, cols, lerr := recognise(head)
	if lerr != nil {
		return Result{}, &FileError{File: name, Lines: []LineError{*lerr}, Bad: 1}
	}
	fe := &FileError{File: name}
	bar := progress.New(out, max(int64(bytes.Count(data, []byte("\n")))-1, 0), kind.Name+" rows")
	var rows int64
	err = load.Run(ctx, db, func(w *load.Writer) error {
		im, err := newImporter(ctx, w, db.Dialect, tree, kind)
		if err != nil {
			return err
		}
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				line := 0
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					line = pe.StartLine
				}
				// After a quoting error the reader cannot tell where the
				// next line starts: report it and stop there.
				fe.add(LineError{Line: line, Msg: "not valid CSV: " + csvReason(err)})
				break
			}
			line, _ := r.FieldPos(0)
			bar.Add(1)
			if len(rec) != len(head) {
				fe.add(LineError{Line: line, Msg: fmt.Sprintf("%d fields, the header has %d", len(rec), len(head))})
				continue
			}
			f := fields{rec: rec, cols: cols, line: line}
			vals, ok := im.row(&f)
			for _, e := range f.errs {
				fe.add(e)
			}
			if !ok || fe.Bad > 0 {
				continue // keep checking, stop writing: the file is refused
			}
			if err := w.Add(kind.table, vals...); err != nil {
				return err
			}
			rows++
		}
		if fe.Bad > 0 {
			return fe
		}
		return nil
	})
	bar.Done()
	if fe.Bad > 0 {
		return Result{Kind: kind.Name}, fe
	}
	if err != nil {
		return Result{Kind: kind.Name}, &FileError{File: name, Cause: err}
	}
	return Result{Kind: kind.Name, Rows: rows}, nil
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (e *FileError) add(l LineError) {
	e.Bad++
	if len(e.Lines) < maxReported {
		e.Lines = append(e.Lines, l)
	}
}

// KindOf returns the kind of file data's header names.
func KindOf(data []byte) (Kind, error) {
	head, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))).Read()
	if err != nil {
		return Kind{}, fmt.Errorf("no header line: %w", err)
	}
	k, _, lerr := recognise(head)
	if lerr != nil {
		return Kind{}, errors.New(lerr.String())
	}
	return k, nil
}

// Order returns a kind's place in Kinds: files are imported in this order.
func Order(k Kind) int {
	return slices.IndexFunc(Kinds, func(x Kind) bool { return x.Name == k.Name })
}

// recognise finds the kind whose columns the header names, in any order.
func recognise(head []string) (Kind, map[string]int, *LineError) {
	cols := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := cols[h]; dup {
			return Kind{}, nil, &LineError{Line: 1, Column: h, Msg: "column named twice"}
		}
		cols[h] = i
	}
	for _, k := range Kinds {
		if len(k.Columns) != len(cols) {
			continue
		}
		all := true
		for _, c := range k.Columns {
			if _, ok := cols[c]; !ok {
				all = false
				break
			}
		}
		if all {
			return k, cols, nil
		}
	}
	var want []string
	for _, k := range Kinds {
		want = append(want, k.Name+" ("+strings.Join(k.Columns, ",")+")")
	}
	return Kind{}, nil, &LineError{Line: 1, Msg: "the header matches no kind of file; expected one of: " + strings.Join(want, "; ")}
}

// fields reads one line's values by column name and collects its errors.
type fields struct {
	rec  []string
	cols map[string]int
	line int
	errs []LineError
}

func (f *fields) str(col string) string { return strings.TrimSpace(f.rec[f.cols[col]]) }

func (f *fields) fail(col, format string, args ...any) {
	f.errs = append(f.errs, LineError{Line: f.line, Column: col, Msg: fmt.Sprintf(format, args...)})
}

func (f *fields) text(col string, max int) string {
	s := f.str(col)
	switch {
	case s == "":
		f.fail(col, "empty")
	case len(s) > max:
		f.fail(col, "longer than %d bytes", max)
	}
	return s
}

func (f *fields) int(col string, min, max int64) int64 {
	s := f.str(col)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < min || n > max {
		f.fail(col, "%q is not a whole number from %d to %d", s, min, max)
	}
	return n
}

// yuan reads an amount in 元: whole yuan, or with fen ("1500.00"), which
// must then be whole (the facts keep yuan).
func (f *fields) yuan(col string) int64 {
	s := f.str(col)
	whole, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || n <= 0 || n > 1e12 || strings.Trim(frac, "0") != "" {
		f.fail(col, "%q is not an amount of whole yuan above 0", s)
	}
	return n
}

func (f *fields) year(col string) int {
	return int(f.int(col, 2000, 2100))
}

func (f *fields) date(col string) string {
	s := f.str(col)
	if _, err := time.Parse("2006-01-02", s); err != nil {
		f.fail(col, "%q is not a date like 2025-09-30", s)
	}
	return s
}

func (f *fields) leaf(tree *region.Tree, col string) string {
	s := f.str(col)
	n := tree.Get(s)
	switch {
	case n == nil:
		f.fail(col, "%q is no region of the reporting tree", s)
	case !n.Leaf():
		f.fail(col, "%q (%s) is not a county-level region: facts belong to counties", s, n.Name)
	}
	return s
}

func (f *fields) stage(col string) string {
	s := f.str(col)
	for _, st := range catalog.Stages {
		if s == st.Code || s == st.Name {
			return st.Code
		}
	}
	f.fail(col, "%q is no stage (%s)", s, stageList())
	return ""
}

func stageList() string {
	var out []string
	for _, st := range catalog.Stages {
		out = append(out, st.Code)
	}
	return strings.Join(out, ", ")
}

func (f *fields) programme(col string) *catalog.Programme {
	s := f.str(col)
	for i, p := range catalog.Programmes {
		if s == p.Code || s == p.Name {
			return &catalog.Programmes[i]
		}
	}
	f.fail(col, "%q is no programme of aid_programs.md", s)
	return nil
}

func (f *fields) source(col string) string {
	s := f.str(col)
	for _, x := range catalog.Sources {
		if s == x.Code || s == x.Name {
			return x.Code
		}
	}
	f.fail(col, "%q is no funding source", s)
	return ""
}

func (f *fields) segment(col string) string {
	s := f.str(col)
	for _, sg := range catalog.Segments {
		if s == string(sg) || s == catalog.SegmentName[sg] {
			return string(sg)
		}
	}
	f.fail(col, "%q is no segment (basic, vocational, higher)", s)
	return ""
}

func (f *fields) level(col string) int {
	s := f.str(col)
	for _, l := range catalog.Levels {
		if s == strconv.Itoa(l.Level) || s == l.Name {
			return l.Level
		}
	}
	f.fail(col, "%q is no difficulty level (1 特别困难, 2 比较困难, 3 一般困难)", s)
	return 0
}

type student struct {
	id            int64
	region, stage string
}

// importer turns lines of one kind into rows, with what it must know
// of the rows already stored: ids to continue from, the keys a line
// refers to or must not repeat.
type importer struct {
	tree *region.Tree
	kind Kind
	next int64

	schools  map[string]int64   // school code → id
	students map[string]student // anon id → student
	allocs   map[int64]bool     // allocation ids
	seen     map[string]int     // this file's keys → first line
	idents   map[[2]int64]bool  // (student, year) stored
	enrolled map[string]bool    // region|year|stage stored
}

func newImporter(ctx context.Context, w *load.Writer, dialect sqldb.Dialect, tree *region.Tree, k Kind) (*importer, error) {
	im := &importer{tree: tree, kind: k, seen: map[string]int{}}
	if dialect == sqldb.Postgres {
		// Ids continue from the largest stored: no other import may take
		// them meanwhile (SQLite serialises writers by itself).
		if err := w.Exec("LOCK TABLE " + k.table.Name + " IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return nil, err
		}
	}
	if slices.Contains(k.table.Columns, "id") && k.Name != "allocations" {
		if err := w.Query("SELECT COALESCE(MAX(id), 0) FROM "+k.table.Name, nil, func(scan func(...any) error) error { return scan(&im.next) }); err != nil {
			return nil, err
		}
	}
	q := func(query string, fn func(scan func(...any) error) error) error { return w.Query(query, nil, fn) }
	var err error
	switch k.Name {
	case "schools", "students":
		im.schools = map[string]int64{}
		err = q("SELECT code, id FROM cockpit_schools", func(scan func(...any) error) error {
			var c string
			var id int64
			if err := scan(&c, &id); err != nil {
				return err
			}
			im.schools[c] = id
			return nil
		})
	case "disbursements", "allocations":
		im.allocs = map[int64]bool{}
		err = q("SELECT id FROM cockpit_allocations", func(scan func(...any) error) error {
			var id int64
			if err := scan(&id); err != nil {
				return err
			}
			im.allocs[id] = true
			return nil
		})
	case "enrolment":
		im.enrolled = map[string]bool{}
		err = q("SELECT region_code, year, stage FROM cockpit_enrolment", func(scan func(...any) error) error {
			var r, s string
			var y int
			if err := scan(&r, &y, &s); err != nil {
				return err
			}
			im.enrolled[fmt.Sprintf("%s|%d|%s", r, y, s)] = true
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("read stored %s: %w", k.Name, err)
	}
	if k.Name == "students" || k.Name == "identifications" || k.Name == "aid_records" {
		im.students = map[string]student{}
		err = q("SELECT anon_id, id, region_code, stage FROM cockpit_students", func(scan func(...any) error) error {
			var a string
			var s student
			if err := scan(&a, &s.id, &s.region, &s.stage); err != nil {
				return err
			}
			im.students[a] = s
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read stored students: %w", err)
		}
	}
	if k.Name == "identifications" {
		im.idents = map[[2]int64]bool{}
		err = q("SELECT student_id, year FROM cockpit_identifications", func(scan func(...any) error) error {
			var k [2]int64
			if err := scan(&k[0], &k[1]); err != nil {
				return err
			}
			im.idents[k] = true
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read stored identifications: %w", err)
		}
	}
	return im, nil
}

// once reports whether key is new in this file, else records the error.
func (im *importer) once(f *fields, col, key string) bool {
	if first, dup := im.seen[key]; dup {
		f.fail(col, "repeats line %d", first)
		return false
	}
	im.seen[key] = f.line
	return true
}

func (im *importer) student(f *fields) (student, bool) {
	a := f.text("anon_id", 64)
	s, ok := im.students[a]
	if !ok && a != "" {
		f.fail("anon_id", "%q is no student imported before (import the students file first)", a)
	}
	return s, ok
}

// row checks one line and returns its values in the table's column order.
func (im *importer) row(f *fields) ([]any, bool) {
	switch im.kind.Name {
	case "schools":
		code, reg, name := f.text("school_code", 32), f.leaf(im.tree, "region_code"), f.text("name", 200)
		if _, stored := im.schools[code]; stored {
			f.fail("school_code", "%q is already imported", code)
		} else if code != "" {
			im.once(f, "school_code", code)
		}
		if len(f.errs) > 0 {
			return nil, false
		}
		im.next++
		return []any{im.next, code, reg, name}, true
	case "students":
		a, reg, school, stage := f.text("anon_id", 64), f.leaf(im.tree, "region_code"), f.text("school_code", 32), f.stage("stage")
		if _, stored := im.students[a]; stored {
			f.fail("anon_id", "%q is already imported", a)
		} else if a != "" {
			im.once(f, "anon_id", a)
		}
		sid, ok := im.schools[school]
		if !ok && school != "" {
			f.fail("school_code", "%q is no school imported before (import the schools file first)", school)
		}
		if len(f.errs) > 0 {
			return nil, false
		}
		im.next++
		return []any{im.next, a, reg, sid, stage}, true
	case "identifications":
		s, ok := im.student(f)
		year, level := f.year("year"), f.level("level")
		cats, cok := catalog.ParseCategories(f.str("categories"))
		if !cok {
			f.fail("categories", "%q: names or codes of catalog.Categories separated by |", f.str("categories"))
		}
		if ok && im.idents[[2]int64{s.id, int64(year)}] {
			f.fail("year", "the student's identification for %d is already imported", year)
		} else if ok {
			im.once(f, "anon_id", fmt.Sprintf("%d|%d", s.id, year))
		}
		if len(f.errs) > 0 {
			return nil, false
		}
		return []any{s.id, year, level, cats}, true
	case "aid_records":
		s, ok := im.student(f)
		year, p, src, amount, paid := f.year("year"), f.programme("programme"), f.source("source"), f.yuan("amount"), f.date("paid_on")
		if ok && p != nil {
			if _, given := p.Amount[s.stage]; !given {
				f.fail("programme", "%s is not given at the student's stage (%s)", p.Name, s.stage)
			}
		}
		if len(f.errs) > 0 {
			return nil, false
		}
		im.next++
		return []any{im.next, s.id, year, s.region, s.stage, p.Code, src, amount, paid}, true
	case "enrolment":
		reg, year, stage, n := f.leaf(im.tree, "region_code"), f.year("year"), f.stage("stage"), f.int("students", 0, 1e8)
		key := fmt.Sprintf("%s|%d|%s", reg, year, stage)
		if im.enrolled[key] {
			f.fail("", "enrolment of %s, %d, %s is already imported", reg, year, stage)
		} else if len(f.errs) == 0 {
			im.once(f, "", key)
		}
		if len(f.errs) > 0 {
			return nil, false
		}
		return []any{reg, year, stage, n}, true
	case "allocations":
		id := f.int("allocation_id", 1, 1<<53)
		reg, year, seg, p, src, amount := f.leaf(im.tree, "region_code"), f.year("year"), f.segment("segment"), f.programme("programme"), f.source("source"), f.yuan("amount")
		from, due := f.date("allocated_on"), f.date("due_on")
		if due < from {
			f.fail("due_on", "before allocated_on")
		}
		if im.allocs[id] {
			f.fail("allocation_id", "%d is already imported", id)
		} else {
			im.once(f, "allocation_id", strconv.FormatInt(id, 10))
		}
		if len(f.errs) > 0 {
			return nil, false
		}
		return []any{id, reg, year, seg, p.Code, src, amount, from, due}, true
	case "disbursements":
		a, amount, paid := f.int("allocation_id", 1, 1<<53), f.yuan("amount"), f.date("paid_on")
		if !im.allocs[a] {
			f.fail("allocation_id", "%d is no allocation imported before (import the allocations file first)", a)
		}
		if len(f.errs) > 0 {
			return nil, false
		}
		im.next++
		return []any{im.next, a, amount, paid}, true
	}
	return nil, false
}
