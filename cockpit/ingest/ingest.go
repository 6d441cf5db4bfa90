// Package ingest reads real data into the cockpit's fact tables from CSV
// files (xszz cockpit import): one kind of fact per file, recognised by
// its header, every line checked against the reporting tree and the
// catalogue, each file written whole or not at all. The columns are
// documented in docs/cockpit.md ("Importing real data").
package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
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

// Source is a CSV file to import: its name, for errors, and a way to
// read it from the start. It is read as a stream, so its size does not
// matter; with a progress writer it is read twice, first to count its
// lines.
type Source struct {
	Name string
	Open func() (io.ReadCloser, error)
}

// Bytes is a Source over a file already in memory.
func Bytes(name string, data []byte) Source {
	return Source{Name: name, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// File imports one CSV file (UTF-8, a header line, comma-separated; a
// BOM is skipped). All its rows are written in one transaction, or none
// when any line is bad. progress receives a bar (or a final line).
// Lines are checked batchLines at a time against the rows stored, so
// the memory it takes depends neither on the file nor on the database.
func File(ctx context.Context, db *sqldb.DB, tree *region.Tree, src Source, out io.Writer) (Result, error) {
	name := src.Name
	var total int64
	if out != nil {
		n, err := countLines(src)
		if err != nil {
			return Result{}, &FileError{File: name, Cause: err}
		}
		total = max(n-1, 0)
	}
	rc, err := src.Open()
	if err != nil {
		return Result{}, &FileError{File: name, Cause: err}
	}
	defer rc.Close()
	r := csv.NewReader(skipBOM(rc))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return Result{}, &FileError{File: name, Cause: fmt.Errorf("no header line: %w", err)}
	}
	head = slices.Clone(head)
	kind, cols, lerr := recognise(head)
	if lerr != nil {
		return Result{}, &FileError{File: name, Lines: []LineError{*lerr}, Bad: 1}
	}
	fe := &FileError{File: name}
	bar := progress.New(out, total, kind.Name+" rows")
	var rows int64
	err = load.Run(ctx, db, func(w *load.Writer) error {
		im, err := newImporter(w, db.Dialect, tree, kind, src, cols)
		if err != nil {
			return err
		}
		flush := func() error {
			n, err := im.flush(fe)
			rows += n
			return err
		}
		for {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var pe *csv.ParseError
				if !errors.As(err, &pe) {
					return fmt.Errorf("read: %w", err) // the file's fault, not a line's
				}
				// After a quoting error the reader cannot tell where the
				// next line starts: report it and stop there.
				im.refuse(LineError{Line: pe.StartLine, Msg: "not valid CSV: " + csvReason(err)})
				break
			}
			line, _ := r.FieldPos(0)
			bar.Add(1)
			if len(rec) != len(head) {
				im.refuse(LineError{Line: line, Msg: fmt.Sprintf("%d fields, the header has %d", len(rec), len(head))})
			} else {
				im.add(&fields{rec: slices.Clone(rec), cols: cols, line: line})
			}
			if len(im.b.lines) >= batchLines {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if fe.Bad > 0 {
			return fe // a rollback, which drops seenTable too
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

// skipBOM drops a UTF-8 byte order mark at the start of r.
func skipBOM(r io.Reader) io.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	return br
}

// countLines counts the lines of src for the progress bar.
func countLines(src Source) (int64, error) {
	rc, err := src.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := rc.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte("\n")))
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
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

// KindOf returns the kind of file r's header names; it reads the header
// line only.
func KindOf(r io.Reader) (Kind, error) {
	cr := csv.NewReader(skipBOM(r))
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
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

// batchLines is how many lines are checked together: one query per batch
// and kind of lookup instead of one per line, and all the import holds of
// the file and of the rows stored, whatever their number.
const batchLines = 2000

// seenTable holds a refused file's keys with the line each was first
// on, so a repeat names it; a temporary table of the transaction, so the
// file's size does not matter.
var seenTable = load.Table{Name: "cockpit_import_seen", Columns: []string{"k", "line"}}

// importer turns lines of one kind into rows, looking up, a batch at a
// time, the rows stored that a line refers to or must not repeat.
type importer struct {
	w       *load.Writer
	dialect sqldb.Dialect
	tree    *region.Tree
	kind    Kind
	src     Source         // read again by backfill
	cols    map[string]int // column → field
	next    int64          // the last id given out
	keyed   bool           // a file may not repeat a line's key
	tracked bool           // seenTable holds the key of every line so far
	b       batch
}

// line is one line waiting for its batch's lookups: key (if any) is
// what it may not repeat, finish completes its checks and returns its
// row, once the lookups are in.
type line struct {
	f      *fields
	parsed int // errors found by parse: finish adds the rest
	key    string
	finish func() ([]any, bool)
}

// batch is the lines checked together and what they found.
type batch struct {
	lines []line

	codes   []string // asked for
	anons   []string
	allocs  []int64
	regions []string

	schools  map[string]int64   // school code → id
	students map[string]student // anon id → student
	allocIDs map[int64]bool
	idents   map[[2]int64]bool // (student, year) stored
	enrolled map[string]bool   // region|year|stage stored
	seenIn   map[string]int    // keys of earlier batches → first line (once tracked)
	seen     map[string]int    // keys first seen in this batch → line
}

func (b *batch) reset() {
	b.lines = b.lines[:0]
	b.unask()
	b.schools, b.students, b.allocIDs = map[string]int64{}, map[string]student{}, map[int64]bool{}
	b.idents, b.enrolled = map[[2]int64]bool{}, map[string]bool{}
	b.seenIn, b.seen = map[string]int{}, map[string]int{}
}

func (b *batch) unask() {
	b.codes, b.anons, b.allocs, b.regions = b.codes[:0], b.anons[:0], b.allocs[:0], b.regions[:0]
}

func newImporter(w *load.Writer, dialect sqldb.Dialect, tree *region.Tree, k Kind, src Source, cols map[string]int) (*importer, error) {
	im := &importer{w: w, dialect: dialect, tree: tree, kind: k, src: src, cols: cols}
	im.b.reset()
	if dialect == sqldb.Postgres {
		// Ids continue from the largest stored, and the checks hold
		// until commit: no other import may write meanwhile (SQLite
		// serialises writers by itself).
		if err := w.Exec("LOCK TABLE " + k.table.Name + " IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return nil, err
		}
	}
	if slices.Contains(k.table.Columns, "id") && k.Name != "allocations" {
		if err := w.Query("SELECT COALESCE(MAX(id), 0) FROM "+k.table.Name, nil, func(scan func(...any) error) error { return scan(&im.next) }); err != nil {
			return nil, err
		}
	}
	switch k.Name {
	case "schools", "students", "identifications", "enrolment", "allocations":
		im.keyed = true
	}
	return im, nil
}

// in returns the condition "col is one of $1" and the argument for $1:
// an array on PostgreSQL, a JSON array on SQLite, so a batch is one
// statement with one parameter whatever its size.
func (im *importer) in(col string, keys any) (string, any, error) {
	if im.dialect == sqldb.Postgres {
		return col + " = ANY($1)", keys, nil
	}
	b, err := json.Marshal(keys)
	if err != nil {
		return "", nil, err
	}
	return col + " IN (SELECT value FROM json_each($1))", string(b), nil
}

// lookup runs query (with %s for the condition on col) for keys, each
// asked once (a batch of students names few schools, many times).
func (im *importer) lookup(query, col string, keys any, fn func(scan func(...any) error) error) error {
	switch k := keys.(type) {
	case []string:
		keys = slices.Compact(slices.Sorted(slices.Values(k)))
	case []int64:
		keys = slices.Compact(slices.Sorted(slices.Values(k)))
	}
	cond, arg, err := im.in(col, keys)
	if err != nil {
		return err
	}
	return im.w.Query(fmt.Sprintf(query, cond), []any{arg}, fn)
}

// add checks what a line can alone and queues it for its batch.
func (im *importer) add(f *fields) {
	key, finish := im.parse(f)
	im.b.lines = append(im.b.lines, line{f: f, parsed: len(f.errs), key: key, finish: finish})
}

// refuse queues a line refused whole (its fields cannot be read).
func (im *importer) refuse(e LineError) {
	im.b.lines = append(im.b.lines, line{f: &fields{line: e.Line, errs: []LineError{e}}, parsed: 1})
}

// flush looks up what the batch's lines need, finishes them in order,
// reports their errors to fe and writes their rows while the file has
// no bad line. It returns the rows written.
//
// While the file has no bad line, its keys are not written down: each
// earlier line's row is in its table, so a repeat shows as a key stored
// and is refused as such, and that alone is enough to know the file is
// refused. The first batch with a bad line writes down the keys of the
// lines before it (read again from the file) and is checked again, so
// that from there on a repeat names its first line.
func (im *importer) flush(fe *FileError) (int64, error) {
	b := &im.b
	if len(b.lines) == 0 {
		return 0, nil
	}
	defer b.reset()
	if err := im.resolve(); err != nil {
		return 0, err
	}
	if im.tracked {
		if err := im.lookupSeen(); err != nil {
			return 0, err
		}
	}
	next := im.next
	rows := im.finish()
	if im.keyed && !im.tracked && slices.ContainsFunc(b.lines, func(l line) bool { return len(l.f.errs) > 0 }) {
		if err := im.track(b.lines[0].f.line); err != nil {
			return 0, err
		}
		for _, l := range b.lines {
			l.f.errs = l.f.errs[:l.parsed]
		}
		im.next, b.seen = next, map[string]int{}
		if err := im.lookupSeen(); err != nil {
			return 0, err
		}
		rows = im.finish()
	}
	var written int64
	for i, l := range b.lines {
		for _, e := range l.f.errs {
			fe.add(e)
		}
		if rows[i] == nil || fe.Bad > 0 {
			continue // keep checking, stop writing: the file is refused
		}
		if err := im.w.Add(im.kind.table, rows[i]...); err != nil {
			return written, err
		}
		written++
	}
	if im.tracked {
		for k, n := range b.seen {
			if err := im.w.Add(seenTable, k, n); err != nil {
				return written, err
			}
		}
	}
	if !im.keyed {
		return written, nil // no later lookup reads this table
	}
	// The next batch's lookups must see this one's rows and keys.
	return written, im.w.Flush()
}

// finish completes the batch's lines in order: the row of each good
// line, nil for a bad one.
func (im *importer) finish() [][]any {
	rows := make([][]any, len(im.b.lines))
	for i, l := range im.b.lines {
		if l.finish == nil {
			continue
		}
		if vals, ok := l.finish(); ok {
			rows[i] = vals
		}
	}
	return rows
}

// track starts seenTable with the keys of the file's lines before line
// before, all good (so each key once), reading the file again. Only a
// refused file gets here, so the table never outlives the transaction.
func (im *importer) track(before int) error {
	if im.dialect == sqldb.SQLite {
		// A temporary table belongs to the connection: one left by an
		// import that failed to roll back must not be in the way.
		if err := im.w.Exec("DROP TABLE IF EXISTS temp." + seenTable.Name); err != nil {
			return err
		}
	}
	create := "CREATE TEMP TABLE " + seenTable.Name + " (k TEXT PRIMARY KEY, line BIGINT NOT NULL)"
	if im.dialect == sqldb.Postgres {
		create += " ON COMMIT DROP"
	}
	if err := im.w.Exec(create); err != nil {
		return err
	}
	im.tracked = true
	rc, err := im.src.Open()
	if err != nil {
		return fmt.Errorf("read again: %w", err)
	}
	defer rc.Close()
	r := csv.NewReader(skipBOM(rc))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return fmt.Errorf("read again: %w", err)
	}
	scratch := &importer{tree: im.tree, kind: im.kind}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read again: %w", err)
		}
		n, _ := r.FieldPos(0)
		if n >= before {
			break
		}
		key, _ := scratch.parse(&fields{rec: rec, cols: im.cols, line: n})
		scratch.b.unask()
		if key == "" {
			continue
		}
		if err := im.w.Add(seenTable, key, n); err != nil {
			return err
		}
	}
	return im.w.Flush()
}

// lookupSeen finds which of the batch's keys earlier lines had (once
// tracked).
func (im *importer) lookupSeen() error {
	var keys []string
	for _, l := range im.b.lines {
		if l.key != "" {
			keys = append(keys, l.key)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	err := im.lookup("SELECT k, line FROM "+seenTable.Name+" WHERE %s", "k", keys, func(scan func(...any) error) error {
		var k string
		var n int
		if err := scan(&k, &n); err != nil {
			return err
		}
		im.b.seenIn[k] = n
		return nil
	})
	if err != nil {
		return fmt.Errorf("look up earlier lines' keys: %w", err)
	}
	return nil
}

// resolve looks up the stored rows the batch's lines refer to or may
// not repeat.
func (im *importer) resolve() error {
	b := &im.b
	steps := []struct {
		what, query, col string
		keys             any
		n                int
		fn               func(scan func(...any) error) error
	}{
		{"schools", "SELECT code, id FROM cockpit_schools WHERE %s", "code", b.codes, len(b.codes), func(scan func(...any) error) error {
			var c string
			var id int64
			if err := scan(&c, &id); err != nil {
				return err
			}
			b.schools[c] = id
			return nil
		}},
		{"students", "SELECT anon_id, id, region_code, stage FROM cockpit_students WHERE %s", "anon_id", b.anons, len(b.anons), func(scan func(...any) error) error {
			var a string
			var s student
			if err := scan(&a, &s.id, &s.region, &s.stage); err != nil {
				return err
			}
			b.students[a] = s
			return nil
		}},
		{"allocations", "SELECT id FROM cockpit_allocations WHERE %s", "id", b.allocs, len(b.allocs), func(scan func(...any) error) error {
			var id int64
			if err := scan(&id); err != nil {
				return err
			}
			b.allocIDs[id] = true
			return nil
		}},
		{"enrolment", "SELECT region_code, year, stage FROM cockpit_enrolment WHERE %s", "region_code", b.regions, len(b.regions), func(scan func(...any) error) error {
			var r, s string
			var y int
			if err := scan(&r, &y, &s); err != nil {
				return err
			}
			b.enrolled[fmt.Sprintf("%s|%d|%s", r, y, s)] = true
			return nil
		}},
	}
	for _, st := range steps {
		if st.n == 0 {
			continue
		}
		if err := im.lookup(st.query, st.col, st.keys, st.fn); err != nil {
			return fmt.Errorf("look up stored %s: %w", st.what, err)
		}
	}
	if im.kind.Name == "identifications" && len(b.students) > 0 {
		ids := make([]int64, 0, len(b.students))
		for _, s := range b.students {
			ids = append(ids, s.id)
		}
		err := im.lookup("SELECT student_id, year FROM cockpit_identifications WHERE %s", "student_id", ids, func(scan func(...any) error) error {
			var k [2]int64
			if err := scan(&k[0], &k[1]); err != nil {
				return err
			}
			b.idents[k] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("look up stored identifications: %w", err)
		}
	}
	return nil
}

// repeats reports whether a line of an earlier batch had key, and
// records the error. Ask it before whether the key is stored: those
// lines' rows are in the tables already.
func (im *importer) repeats(f *fields, col, key string) bool {
	first, dup := im.b.seenIn[key]
	if dup {
		f.fail(col, "repeats line %d", first)
	}
	return dup
}

// once reports whether key is new in this batch, else records the error.
func (im *importer) once(f *fields, col, key string) bool {
	if first, dup := im.b.seen[key]; dup {
		f.fail(col, "repeats line %d", first)
		return false
	}
	im.b.seen[key] = f.line
	return true
}

func (im *importer) student(f *fields, a string) (student, bool) {
	s, ok := im.b.students[a]
	if !ok && a != "" {
		f.fail("anon_id", "%q is no student imported before (import the students file first)", a)
	}
	return s, ok
}

// parse checks what one line can alone and notes what it must look up;
// it returns the key the file may not repeat ("" when none) and the rest
// of the checks, which return the line's values in the table's column
// order.
func (im *importer) parse(f *fields) (string, func() ([]any, bool)) {
	b := &im.b
	switch im.kind.Name {
	case "schools":
		code, reg, name := f.text("school_code", 32), f.leaf(im.tree, "region_code"), f.text("name", 200)
		b.codes = append(b.codes, code)
		return code, func() ([]any, bool) {
			switch _, stored := b.schools[code]; {
			case code == "", im.repeats(f, "school_code", code):
			case stored:
				f.fail("school_code", "%q is already imported", code)
			default:
				im.once(f, "school_code", code)
			}
			if len(f.errs) > 0 {
				return nil, false
			}
			im.next++
			return []any{im.next, code, reg, name}, true
		}
	case "students":
		a, reg, school, stage := f.text("anon_id", 64), f.leaf(im.tree, "region_code"), f.text("school_code", 32), f.stage("stage")
		b.anons, b.codes = append(b.anons, a), append(b.codes, school)
		return a, func() ([]any, bool) {
			switch _, stored := b.students[a]; {
			case a == "", im.repeats(f, "anon_id", a):
			case stored:
				f.fail("anon_id", "%q is already imported", a)
			default:
				im.once(f, "anon_id", a)
			}
			sid, ok := b.schools[school]
			if !ok && school != "" {
				f.fail("school_code", "%q is no school imported before (import the schools file first)", school)
			}
			if len(f.errs) > 0 {
				return nil, false
			}
			im.next++
			return []any{im.next, a, reg, sid, stage}, true
		}
	case "identifications":
		a := f.text("anon_id", 64)
		year, level := f.year("year"), f.level("level")
		cats, cok := catalog.ParseCategories(f.str("categories"))
		if !cok {
			f.fail("categories", "%q: names or codes of catalog.Categories separated by |", f.str("categories"))
		}
		b.anons = append(b.anons, a)
		// One pseudonym is one student: the pseudonym and the year key
		// the file's lines before the student's id is known.
		key := fmt.Sprintf("%s|%d", a, year)
		return key, func() ([]any, bool) {
			s, ok := im.student(f, a)
			switch {
			case !ok, im.repeats(f, "anon_id", key):
			case b.idents[[2]int64{s.id, int64(year)}]:
				f.fail("year", "the student's identification for %d is already imported", year)
			default:
				im.once(f, "anon_id", key)
			}
			if len(f.errs) > 0 {
				return nil, false
			}
			return []any{s.id, year, level, cats}, true
		}
	case "aid_records":
		a := f.text("anon_id", 64)
		year, p, src, amount, paid := f.year("year"), f.programme("programme"), f.source("source"), f.yuan("amount"), f.date("paid_on")
		b.anons = append(b.anons, a)
		return "", func() ([]any, bool) {
			s, ok := im.student(f, a)
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
		}
	case "enrolment":
		reg, year, stage, n := f.leaf(im.tree, "region_code"), f.year("year"), f.stage("stage"), f.int("students", 0, 1e8)
		key := fmt.Sprintf("%s|%d|%s", reg, year, stage)
		b.regions = append(b.regions, reg)
		return key, func() ([]any, bool) {
			_, earlier := b.seenIn[key] // then stored by this file
			switch {
			case b.enrolled[key] && !earlier:
				f.fail("", "enrolment of %s, %d, %s is already imported", reg, year, stage)
			case len(f.errs) > 0, im.repeats(f, "", key):
			default:
				im.once(f, "", key)
			}
			if len(f.errs) > 0 {
				return nil, false
			}
			return []any{reg, year, stage, n}, true
		}
	case "allocations":
		bad := len(f.errs)
		id := f.int("allocation_id", 1, 1<<53)
		idOK := len(f.errs) == bad
		reg, year, seg, p, src, amount := f.leaf(im.tree, "region_code"), f.year("year"), f.segment("segment"), f.programme("programme"), f.source("source"), f.yuan("amount")
		from, due := f.date("allocated_on"), f.date("due_on")
		if due < from {
			f.fail("due_on", "before allocated_on")
		}
		key := ""
		if idOK {
			key = strconv.FormatInt(id, 10)
			b.allocs = append(b.allocs, id)
		}
		return key, func() ([]any, bool) {
			switch {
			case !idOK, im.repeats(f, "allocation_id", key):
			case b.allocIDs[id]:
				f.fail("allocation_id", "%d is already imported", id)
			default:
				im.once(f, "allocation_id", key)
			}
			if len(f.errs) > 0 {
				return nil, false
			}
			return []any{id, reg, year, seg, p.Code, src, amount, from, due}, true
		}
	case "disbursements":
		a, amount, paid := f.int("allocation_id", 1, 1<<53), f.yuan("amount"), f.date("paid_on")
		b.allocs = append(b.allocs, a)
		return "", func() ([]any, bool) {
			if !b.allocIDs[a] {
				f.fail("allocation_id", "%d is no allocation imported before (import the allocations file first)", a)
			}
			if len(f.errs) > 0 {
				return nil, false
			}
			im.next++
			return []any{im.next, a, amount, paid}, true
		}
	}
	return "", nil
}
