package org

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xszz/xszz/internal/sqldb"
)

// ImportHeader is the header line an import file must start with.
const ImportHeader = "id,parent_id,name,level,region_code,kind,stages"

// maxRowErrors bounds the errors one import reports.
const maxRowErrors = 100

// importBatch is the number of rows per INSERT statement: 13 parameters a
// row stays far below SQLite's 32766 and PostgreSQL's 65535 parameters.
const importBatch = 1000

// ImportResult counts what an import did.
type ImportResult struct {
	Rows      int // data rows in the file
	Inserted  int // new units
	Updated   int // existing units whose fields or place changed
	Moved     int // existing units given a new parent (included in Updated)
	Unchanged int // rows equal to what was stored
}

// RowError is one refused row.
type RowError struct {
	Line   int    // 1-based line in the file; the header is line 1
	ID     string // the row's id, when it could be read
	Rule   Rule   // the rule broken, when a tree rule was
	Reason string
}

// ImportError refuses a whole import. Imports are all-or-nothing: when any
// row is bad nothing is written, and every bad row found (up to 100) is
// listed so the file can be fixed in one go.
type ImportError struct {
	Errors    []RowError
	Truncated bool // more rows were bad than are listed
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import orgs: %d bad row(s), nothing applied", len(e.Errors))
	if e.Truncated {
		b.WriteString(" (list truncated)")
	}
	for i, re := range e.Errors {
		if i == 5 {
			fmt.Fprintf(&b, "; and %d more", len(e.Errors)-i)
			break
		}
		fmt.Fprintf(&b, "; line %d: %s", re.Line, re.Reason)
	}
	return b.String()
}

type importRow struct {
	line                                  int
	id, parent, name, level, region, kind string
	stages                                string // validated, ';'-joined
}

func (r *importRow) hash() uint64 {
	return contentHash(r.parent, r.name, r.level, r.region, r.kind, r.stages)
}

// contentHash fingerprints the imported columns, so that re-importing an
// unchanged row writes nothing.
func contentHash[S ~string | ~[]byte](parent string, name S, level, region, kind, stages S) uint64 {
	h := fnv.New64a()
	for _, f := range []string{parent, string(name), string(level), string(region), string(kind), string(stages)} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// node is a unit of the tree as the import sees it: what is stored,
// merged with what the file says.
type node struct {
	oldParent, parent string // parent before and after the import
	level, kind       string // after the import
	hash              uint64 // of the stored columns
	row               int    // index in the file's rows, or -1
	exists            bool
	hasChildren       bool // in the stored tree
	state             uint8
	path              string // after the import, once resolved
	pathChanged       bool
}

const (
	unresolved uint8 = iota
	resolving
	resolved
	broken
)

type rowErrors struct {
	list      []RowError
	truncated bool
	header    bool            // the file is unusable as a whole
	badRows   int             // rows left out by parseImport
	badIDs    map[string]bool // their ids, so children are not blamed
}

func (e *rowErrors) add(line int, id string, err error) {
	if len(e.list) == maxRowErrors {
		e.truncated = true
		return
	}
	re := RowError{Line: line, ID: id, Reason: err.Error()}
	var rerr *RuleError
	if errors.As(err, &rerr) {
		re.Rule = rerr.Rule
	}
	e.list = append(e.list, re)
}

func (e *rowErrors) err() error {
	if len(e.list) == 0 {
		return nil
	}
	slices.SortStableFunc(e.list, func(a, b RowError) int { return a.Line - b.Line })
	return &ImportError{Errors: e.list, Truncated: e.truncated}
}

// Import upserts the units of a CSV file (see ImportHeader and
// docs/orgs.md): UTF-8 with or without a byte-order mark, rows in any
// order, empty kind meaning regular, stages separated by ';'. A row for an
// existing id updates it (a new parent moves its whole subtree); status
// and business lines are not in the file and are kept. The import is one
// transaction and all-or-nothing: any bad row gives an *ImportError and
// nothing is written.
func (s *Store) Import(ctx context.Context, r io.Reader) (ImportResult, error) {
	rows, errs, err := parseImport(r)
	if err != nil {
		return ImportResult{}, err
	}
	if errs.header {
		return ImportResult{}, errs.err()
	}
	// Rows with syntax errors are left out, but the rest is still checked
	// against the tree so that one run reports every problem.
	res := ImportResult{Rows: len(rows) + errs.badRows}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockTree(ctx, tx); err != nil {
			return err
		}
		nodes, err := loadNodes(ctx, tx, len(rows))
		if err != nil {
			return err
		}
		plan, err := planImport(rows, nodes, errs, &res)
		if err != nil {
			return err
		}
		return s.applyImport(ctx, tx, plan)
	})
	if err != nil {
		var ie *ImportError
		if errors.As(err, &ie) {
			return ImportResult{}, err
		}
		return ImportResult{}, fmt.Errorf("import orgs: %w", err)
	}
	s.claims.forgetAll()
	return res, nil
}

// parseImport reads and checks every row on its own; errors that need the
// tree (parents, rules) come later.
func parseImport(r io.Reader) ([]importRow, *rowErrors, error) {
	errs := &rowErrors{badIDs: map[string]bool{}}
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		errs.add(1, "", errors.New("the file is empty; it must start with the header "+ImportHeader))
		errs.header = true
		return nil, errs, nil
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			errs.add(1, "", fmt.Errorf("header: %w", pe.Err))
			errs.header = true
			return nil, errs, nil
		}
		return nil, nil, fmt.Errorf("import orgs: read: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	for i := range header {
		header[i] = strings.ToLower(strings.TrimSpace(header[i]))
	}
	if strings.Join(header, ",") != ImportHeader {
		errs.add(1, "", fmt.Errorf("the header must be %q, not %q", ImportHeader, strings.Join(header, ",")))
		errs.header = true
		return nil, errs, nil
	}
	var rows []importRow
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				errs.add(pe.StartLine, "", pe.Err)
				errs.badRows++
				continue
			}
			return nil, nil, fmt.Errorf("import orgs: read: %w", err)
		}
		line, _ := cr.FieldPos(0)
		row, err := parseRow(line, rec)
		if err != nil {
			errs.add(line, row.id, err)
			errs.badRows++
			errs.badIDs[row.id] = true
			continue
		}
		if first, dup := seen[row.id]; dup {
			errs.add(line, row.id, fmt.Errorf("id %q is already on line %d", row.id, first))
			errs.badRows++
			continue
		}
		seen[row.id] = line
		rows = append(rows, row)
	}
	return rows, errs, nil
}

func parseRow(line int, rec []string) (importRow, error) {
	row := importRow{line: line}
	if len(rec) > 0 {
		row.id = strings.TrimSpace(rec[0])
	}
	if len(rec) != 7 {
		return row, fmt.Errorf("%d fields, want 7 (%s)", len(rec), ImportHeader)
	}
	for _, f := range rec {
		if !utf8.ValidString(f) {
			return row, errors.New("not valid UTF-8: save the file as UTF-8 (GBK is not accepted)")
		}
	}
	o := Org{
		ID: row.id, ParentID: strings.TrimSpace(rec[1]), Name: strings.TrimSpace(rec[2]),
		Level: strings.TrimSpace(rec[3]), RegionCode: strings.TrimSpace(rec[4]), Kind: strings.TrimSpace(rec[5]),
		Status: StatusActive,
	}
	if o.Kind == "" {
		o.Kind = KindRegular
	}
	for _, st := range strings.Split(rec[6], ";") {
		if st = strings.TrimSpace(st); st != "" && !contains(o.Stages, st) {
			o.Stages = append(o.Stages, st)
		}
	}
	if err := checkFields(&o); err != nil {
		return row, err
	}
	// Interning the vocabularies keeps 600,000 rows from holding 600,000
	// copies of "school".
	row.parent, row.name, row.region = o.ParentID, o.Name, o.RegionCode
	row.level = Levels[slices.Index(Levels, o.Level)]
	row.kind = Kinds[slices.Index(Kinds, o.Kind)]
	row.stages = joinList(o.Stages)
	return row, nil
}

// loadNodes reads the stored tree, keeping only what the plan needs.
func loadNodes(ctx context.Context, tx *sql.Tx, hint int) (map[string]*node, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, parent_id, name, level, region_code, kind, stages FROM orgs`)
	if err != nil {
		return nil, fmt.Errorf("load tree: %w", err)
	}
	defer rows.Close()
	nodes := make(map[string]*node, hint+64)
	for rows.Next() {
		var (
			id                                string
			parent                            sql.NullString
			name, level, region, kind, stages sql.RawBytes
		)
		if err := rows.Scan(&id, &parent, &name, &level, &region, &kind, &stages); err != nil {
			return nil, fmt.Errorf("load tree: %w", err)
		}
		n := &node{oldParent: parent.String, parent: parent.String, row: -1, exists: true,
			hash: contentHash(parent.String, name, level, region, kind, stages)}
		if i := slices.Index(Levels, string(level)); i >= 0 {
			n.level = Levels[i]
		}
		if i := slices.Index(Kinds, string(kind)); i >= 0 {
			n.kind = Kinds[i]
		}
		nodes[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load tree: %w", err)
	}
	for _, n := range nodes {
		if p := nodes[n.oldParent]; p != nil {
			p.hasChildren = true
		}
	}
	return nodes, nil
}

type write struct {
	row   *importRow
	path  string
	depth int
}

type move struct {
	id, oldPath, newPath string
	oldDepth             int
}

type importPlan struct {
	writes []write
	moves  []move
}

// planImport merges the file into the stored tree, checks every rule and
// computes the new paths, all in memory.
func planImport(rows []importRow, nodes map[string]*node, errs *rowErrors, res *ImportResult) (*importPlan, error) {
	levelChanged := map[string]bool{}
	for i := range rows {
		r := &rows[i]
		n := nodes[r.id]
		if n == nil {
			n = &node{}
			nodes[r.id] = n
		} else if n.level != r.level || n.kind != r.kind {
			levelChanged[r.id] = true
		}
		n.row, n.parent, n.level, n.kind = i, r.parent, r.level, r.kind
	}

	// Level rules, for every row against its parent after the import…
	for i := range rows {
		r := &rows[i]
		var parent *place
		if r.parent != "" {
			p := nodes[r.parent]
			if p == nil {
				if !errs.badIDs[r.parent] {
					errs.add(r.line, r.id, fmt.Errorf("parent %q is neither in the file nor in the tree", r.parent))
				}
				nodes[r.id].state = broken
				continue
			}
			parent = &place{ID: r.parent, Level: p.level, Kind: p.kind}
		}
		if err := checkPlacement(parent, place{ID: r.id, Level: r.level, Kind: r.kind}); err != nil {
			errs.add(r.line, r.id, err)
			nodes[r.id].state = broken
		}
	}
	// …and for stored children left under a row whose level or kind
	// changed.
	if len(levelChanged) > 0 {
		for id, n := range nodes {
			if n.row >= 0 || !levelChanged[n.parent] {
				continue
			}
			p := nodes[n.parent]
			r := &rows[p.row]
			if err := checkPlacement(&place{ID: r.id, Level: p.level, Kind: p.kind}, place{ID: id, Level: n.level, Kind: n.kind}); err != nil {
				errs.add(r.line, r.id, fmt.Errorf("existing child %s would break a rule: %w", id, err))
			}
		}
	}

	plan := &importPlan{writes: make([]write, 0, len(rows))}
	for i := range rows {
		r := &rows[i]
		n := nodes[r.id]
		resolvePath(r.id, nodes, rows, errs)
		if n.state != resolved {
			continue
		}
		switch {
		case !n.exists:
			res.Inserted++
		case n.pathChanged || n.hash != r.hash():
			res.Updated++
		default:
			res.Unchanged++
			continue
		}
		plan.writes = append(plan.writes, write{row: r, path: n.path, depth: strings.Count(n.path, "/") - 2})
		if n.exists && n.oldParent != n.parent {
			res.Moved++
			if n.hasChildren {
				op := oldPath(r.id, nodes)
				plan.moves = append(plan.moves, move{id: r.id, oldPath: op, newPath: n.path, oldDepth: strings.Count(op, "/")})
			}
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	// Parents are written before their children (foreign key), and in path
	// order within a depth so the path index is filled mostly in order.
	slices.SortFunc(plan.writes, func(a, b write) int {
		if a.depth != b.depth {
			return a.depth - b.depth
		}
		return strings.Compare(a.path, b.path)
	})
	// Deepest moves first: each rewrite then only touches paths that still
	// carry its old prefix, so nested moves compose (docs/orgs.md).
	slices.SortFunc(plan.moves, func(a, b move) int { return b.oldDepth - a.oldDepth })
	return plan, nil
}

// resolvePath computes the path of id after the import by walking up to
// the root, and reports cycles. Nodes whose ancestors are broken are
// broken too, silently: the cause is reported on its own line.
func resolvePath(id string, nodes map[string]*node, rows []importRow, errs *rowErrors) {
	var chain []string
	cur := id
	base, baseChanged := "/", false
	for {
		n := nodes[cur]
		if n.state == resolved {
			base, baseChanged = n.path, n.pathChanged
			break
		}
		if n.state == broken {
			markBroken(chain, nodes)
			return
		}
		if n.state == resolving {
			// cur is on the chain twice: every imported row from its
			// first visit on is part of the cycle.
			i := slices.Index(chain, cur)
			for _, c := range chain[i:] {
				if cn := nodes[c]; cn.row >= 0 {
					r := &rows[cn.row]
					errs.add(r.line, r.id, &RuleError{Rule: RuleCycle, OrgID: r.id,
						Message: fmt.Sprintf("parent %q would put %s under itself", r.parent, r.id),
						Chinese: "不能把单位置于其自身或其下级单位之下"})
				}
			}
			markBroken(chain, nodes)
			return
		}
		n.state = resolving
		chain = append(chain, cur)
		if n.parent == "" {
			break
		}
		cur = n.parent
		if nodes[cur] == nil {
			// Only possible for a stored node, which the foreign key rules
			// out; checked so a damaged table cannot panic the import.
			markBroken(chain, nodes)
			return
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		n := nodes[chain[i]]
		n.path = base + chain[i] + "/"
		n.pathChanged = baseChanged || !n.exists || n.oldParent != n.parent
		n.state = resolved
		base, baseChanged = n.path, n.pathChanged
	}
}

func markBroken(chain []string, nodes map[string]*node) {
	for _, c := range chain {
		nodes[c].state = broken
	}
}

// oldPath is the stored path of id, rebuilt from the stored parents.
func oldPath(id string, nodes map[string]*node) string {
	ids := []string{id}
	for p := nodes[id].oldParent; p != "" && len(ids) <= len(nodes); p = nodes[p].oldParent {
		ids = append(ids, p)
	}
	slices.Reverse(ids)
	return pathString(ids)
}

func (s *Store) applyImport(ctx context.Context, tx *sql.Tx, plan *importPlan) error {
	now := s.now().Unix()
	for _, m := range plan.moves {
		if err := rewriteSubtree(ctx, tx, m.oldPath, m.newPath, m.id, "", now); err != nil {
			return err
		}
	}
	// Full batches share one prepared statement: parsing a 13,000
	// parameter statement is not free.
	var full *sql.Stmt
	if len(plan.writes) >= importBatch {
		var err error
		if full, err = tx.PrepareContext(ctx, upsertStatement(s.db.Dialect, importBatch)); err != nil {
			return fmt.Errorf("prepare upsert: %w", err)
		}
		defer full.Close()
	}
	args := make([]any, 0, importBatch*13)
	for start := 0; start < len(plan.writes); start += importBatch {
		batch := plan.writes[start:min(start+importBatch, len(plan.writes))]
		args = args[:0]
		for _, w := range batch {
			r := w.row
			args = append(args, r.id, nullable(r.parent), r.name, r.level, r.region, r.kind, r.stages,
				LineAid, StatusActive, w.path, w.depth, now, now)
		}
		var err error
		if len(batch) == importBatch {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, upsertStatement(s.db.Dialect, len(batch)), args...)
		}
		if err != nil {
			return fmt.Errorf("write rows %d–%d: %w", start+1, start+len(batch), err)
		}
	}
	return nil
}

// upsertStatement writes rows rows at once. SQLite gets anonymous '?'
// parameters: it treats $N as named parameters and resolves each name by
// a linear search, which makes a 13,000-parameter statement quadratic.
func upsertStatement(dialect sqldb.Dialect, rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO orgs (` + orgColumns + `, created_at, updated_at) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range 13 {
			if j > 0 {
				b.WriteByte(',')
			}
			if dialect == sqldb.SQLite {
				b.WriteByte('?')
			} else {
				fmt.Fprintf(&b, "$%d", i*13+j+1)
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(` ON CONFLICT (id) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name,
		level = excluded.level, region_code = excluded.region_code, kind = excluded.kind, stages = excluded.stages,
		path = excluded.path, depth = excluded.depth, updated_at = excluded.updated_at`)
	return b.String()
}
