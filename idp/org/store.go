package org

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
)

// ErrNotFound is returned when an organisation does not exist; it matches
// sqldb.ErrNotFound too.
var ErrNotFound = fmt.Errorf("org: %w", sqldb.ErrNotFound)

// Store keeps the tree in the orgs table.
type Store struct {
	db     *sqldb.DB
	now    func() time.Time
	claims *claimCache
}

// Option changes a Store built by NewStore.
type Option func(*Store)

// WithClock sets the clock used for timestamps and the claim cache.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithClaimTTL sets how long Claim answers from memory; changes made by
// another process are seen after at most this long. The default is one
// minute; zero or less disables the cache.
func WithClaimTTL(ttl time.Duration) Option { return func(s *Store) { s.claims.ttl = ttl } }

// NewStore returns a store on db, whose schema must be migrated.
func NewStore(db *sqldb.DB, opts ...Option) *Store {
	s := &Store{db: db, now: time.Now, claims: newClaimCache(time.Minute, 100_000)}
	for _, o := range opts {
		o(s)
	}
	return s
}

const orgColumns = `id, parent_id, name, level, region_code, kind, stages, lines, status, path, depth`

type scanner interface{ Scan(dest ...any) error }

func scanOrg(row scanner) (*Org, error) {
	var (
		o                    Org
		parent               sql.NullString
		stages, lines, spath string
	)
	if err := row.Scan(&o.ID, &parent, &o.Name, &o.Level, &o.RegionCode, &o.Kind, &stages, &lines, &o.Status, &spath, &o.Depth); err != nil {
		return nil, err
	}
	o.ParentID = parent.String
	o.Stages = splitList(stages)
	o.Lines = splitList(lines)
	o.Path = pathIDs(spath)
	return &o, nil
}

func scanOrgs(rows *sql.Rows) ([]Org, error) {
	defer rows.Close()
	var out []Org
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *o)
	}
	return out, rows.Err()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// treeLockKey is the PostgreSQL advisory lock that serialises changes to
// the shape of the tree ("orgs" in ASCII). Without it two concurrent
// moves under READ COMMITTED could each pass the cycle check and together
// make a cycle, or a child could be created under a parent whose path is
// being rewritten. SQLite needs nothing: its transactions take the write
// lock up front.
const treeLockKey = 0x6f726773

func (s *Store) lockTree(ctx context.Context, tx *sql.Tx) error {
	if s.db.Dialect != sqldb.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(treeLockKey)); err != nil {
		return fmt.Errorf("lock org tree: %w", err)
	}
	return nil
}

// Get returns one organisation.
func (s *Store) Get(ctx context.Context, id string) (*Org, error) {
	return get(ctx, s.db, id)
}

func get(ctx context.Context, q sqldb.Querier, id string) (*Org, error) {
	o, err := scanOrg(q.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM orgs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("load org %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load org %q: %w", id, err)
	}
	return o, nil
}

// pathQuery is the one primary-key lookup behind Within.
const pathQuery = `SELECT path FROM orgs WHERE id = $1`

// getPath returns the stored path of id, the key of every subtree query.
func getPath(ctx context.Context, q sqldb.Querier, id string) (string, error) {
	var p string
	err := q.QueryRowContext(ctx, pathQuery, id).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("load org %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("load org %q: %w", id, err)
	}
	return p, nil
}

func (o *Org) place() place { return place{ID: o.ID, Level: o.Level, Kind: o.Kind} }

// withDefaults fills what a caller may leave out: kind regular, status
// active, and the student-aid line, which every unit of the tree works in
// unless told otherwise.
func withDefaults(o Org) Org {
	if o.Kind == "" {
		o.Kind = KindRegular
	}
	if o.Status == "" {
		o.Status = StatusActive
	}
	if o.Lines == nil {
		o.Lines = []string{LineAid}
	}
	return o
}

// Create adds o under o.ParentID after checking the level rules against
// the parent. Path and Depth are computed; Kind, Status and Lines default
// as documented in docs/orgs.md. An existing id gives sqldb.ErrConflict.
func (s *Store) Create(ctx context.Context, o Org) (*Org, error) {
	o = withDefaults(o)
	if err := checkFields(&o); err != nil {
		return nil, fmt.Errorf("create org %q: %w", o.ID, err)
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockTree(ctx, tx); err != nil {
			return err
		}
		var parent *place
		o.Path = []string{o.ID}
		if o.ParentID != "" {
			p, err := get(ctx, tx, o.ParentID)
			if err != nil {
				return fmt.Errorf("parent: %w", err)
			}
			pp := p.place()
			parent = &pp
			o.Path = append(p.Path, o.ID)
		}
		if err := checkPlacement(parent, o.place()); err != nil {
			return err
		}
		o.Depth = len(o.Path) - 1
		now := s.now().Unix()
		_, err := tx.ExecContext(ctx, `INSERT INTO orgs (`+orgColumns+`, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
			o.ID, nullable(o.ParentID), o.Name, o.Level, o.RegionCode, o.Kind, joinList(o.Stages), joinList(o.Lines),
			o.Status, pathString(o.Path), o.Depth, now)
		if sqldb.IsUniqueViolation(err) {
			return fmt.Errorf("id already in use: %w", sqldb.ErrConflict)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create org %q: %w", o.ID, err)
	}
	return &o, nil
}

// Update changes the organisation id in one transaction: fn gets the
// current value and edits it. Id and parent cannot change here (use Move);
// Path and Depth are ignored. A changed level or kind is checked against
// the parent and against every child.
func (s *Store) Update(ctx context.Context, id string, fn func(*Org) error) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockTree(ctx, tx); err != nil {
			return err
		}
		old, err := get(ctx, tx, id)
		if err != nil {
			return err
		}
		o := *old
		o.Stages = append([]string(nil), old.Stages...)
		o.Lines = append([]string(nil), old.Lines...)
		o.Path = append([]string(nil), old.Path...)
		if err := fn(&o); err != nil {
			return err
		}
		if o.ID != old.ID || o.ParentID != old.ParentID {
			return &RuleError{Rule: RuleImmutable, OrgID: id,
				Message: "id and parent cannot be changed by an update; move the unit instead",
				Chinese: "单位编号不能修改；调整上级单位请使用“移动”"}
		}
		o.Path, o.Depth = old.Path, old.Depth
		o = withDefaults(o)
		if err := checkFields(&o); err != nil {
			return err
		}
		if o.Level != old.Level || o.Kind != old.Kind {
			if err := s.checkAround(ctx, tx, &o); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE orgs SET name = $1, level = $2, region_code = $3, kind = $4, stages = $5,
			lines = $6, status = $7, updated_at = $8 WHERE id = $9`,
			o.Name, o.Level, o.RegionCode, o.Kind, joinList(o.Stages), joinList(o.Lines), o.Status, s.now().Unix(), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("update org %q: %w", id, err)
	}
	s.claims.forget(id)
	return nil
}

// checkAround checks o's new level and kind against its parent and its
// children.
func (s *Store) checkAround(ctx context.Context, tx *sql.Tx, o *Org) error {
	var parent *place
	if o.ParentID != "" {
		p, err := get(ctx, tx, o.ParentID)
		if err != nil {
			return fmt.Errorf("parent: %w", err)
		}
		pp := p.place()
		parent = &pp
	}
	if err := checkPlacement(parent, o.place()); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, level, kind FROM orgs WHERE parent_id = $1 ORDER BY id`, o.ID)
	if err != nil {
		return fmt.Errorf("load children: %w", err)
	}
	defer rows.Close()
	self := o.place()
	for rows.Next() {
		var c place
		if err := rows.Scan(&c.ID, &c.Level, &c.Kind); err != nil {
			return fmt.Errorf("load children: %w", err)
		}
		if err := checkPlacement(&self, c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Move puts id and its whole subtree under newParentID in one
// transaction: the paths of all descendants are rewritten by one range
// update. It refuses to move the root, to move a unit under itself or a
// descendant, and placements the level rules forbid.
func (s *Store) Move(ctx context.Context, id, newParentID string) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockTree(ctx, tx); err != nil {
			return err
		}
		o, err := get(ctx, tx, id)
		if err != nil {
			return err
		}
		if o.ParentID == "" {
			return &RuleError{Rule: RuleRoot, OrgID: id, Message: "the root cannot be moved", Chinese: "根单位不能移动"}
		}
		np, err := get(ctx, tx, newParentID)
		if err != nil {
			return fmt.Errorf("new parent: %w", err)
		}
		oldPath := pathString(o.Path)
		if strings.HasPrefix(pathString(np.Path), oldPath) {
			return &RuleError{Rule: RuleCycle, OrgID: id,
				Message: fmt.Sprintf("cannot move %s under itself or its descendant %s", id, newParentID),
				Chinese: "不能把单位移动到其自身或其下级单位之下"}
		}
		if o.ParentID == newParentID {
			return nil
		}
		npp := np.place()
		if err := checkPlacement(&npp, o.place()); err != nil {
			return err
		}
		return rewriteSubtree(ctx, tx, oldPath, pathString(append(np.Path, id)), id, newParentID, s.now().Unix())
	})
	if err != nil {
		return fmt.Errorf("move org %q under %q: %w", id, newParentID, err)
	}
	s.claims.forgetAll()
	return nil
}

// rewriteSubtree replaces the path prefix oldPath by newPath on the
// subtree rooted at id, and gives id its new parent. Paths are unique
// and end in their own id, so no intermediate state can collide.
func rewriteSubtree(ctx context.Context, tx *sql.Tx, oldPath, newPath, id, newParentID string, now int64) error {
	lo, hi := subtreeRange(oldPath)
	delta := strings.Count(newPath, "/") - strings.Count(oldPath, "/")
	if _, err := tx.ExecContext(ctx, `UPDATE orgs SET path = $1 || substr(path, $2), depth = depth + $3
		WHERE path >= $4 AND path < $5`, newPath, len(oldPath)+1, delta, lo, hi); err != nil {
		return fmt.Errorf("rewrite paths under %q: %w", id, err)
	}
	if newParentID == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE orgs SET parent_id = $1, updated_at = $2 WHERE id = $3`, newParentID, now, id); err != nil {
		return fmt.Errorf("set parent of %q: %w", id, err)
	}
	return nil
}

// Children returns the units directly under id, ordered by id.
func (s *Store) Children(ctx context.Context, id string) ([]Org, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+orgColumns+` FROM orgs WHERE parent_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("children of %q: %w", id, err)
	}
	out, err := scanOrgs(rows)
	if err != nil {
		return nil, fmt.Errorf("children of %q: %w", id, err)
	}
	if len(out) == 0 {
		if _, err := getPath(ctx, s.db, id); err != nil {
			return nil, fmt.Errorf("children: %w", err)
		}
	}
	return out, nil
}

const (
	defaultLimit = 100
	maxLimit     = 1000
)

func clampLimit(limit int) int {
	if limit <= 0 {
		return defaultLimit
	}
	return min(limit, maxLimit)
}

// subtreeQuery is the range scan behind Subtree; the EXPLAIN test runs
// exactly this text.
const subtreeQuery = `SELECT ` + orgColumns + ` FROM orgs WHERE path >= $1 AND path < $2 ORDER BY path LIMIT $3`

// Subtree returns id and the units under it in depth-first order (a parent
// before its children, siblings by id), limit at a time (default 100, at
// most 1000). after is the id of the last unit of the previous page, or
// empty for the first page.
func (s *Store) Subtree(ctx context.Context, id string, limit int, after string) ([]Org, error) {
	p, err := getPath(ctx, s.db, id)
	if err != nil {
		return nil, fmt.Errorf("subtree: %w", err)
	}
	lo, hi := subtreeRange(p)
	query := subtreeQuery
	if after != "" {
		ap, err := getPath(ctx, s.db, after)
		if err != nil {
			return nil, fmt.Errorf("subtree of %q: cursor: %w", id, err)
		}
		if ap < lo || ap >= hi {
			return nil, fmt.Errorf("subtree of %q: cursor %q is not in it: %w", id, after, ErrNotFound)
		}
		lo = ap
		query = `SELECT ` + orgColumns + ` FROM orgs WHERE path > $1 AND path < $2 ORDER BY path LIMIT $3`
	}
	rows, err := s.db.QueryContext(ctx, query, lo, hi, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("subtree of %q: %w", id, err)
	}
	out, err := scanOrgs(rows)
	if err != nil {
		return nil, fmt.Errorf("subtree of %q: %w", id, err)
	}
	return out, nil
}

const countQuery = `SELECT COUNT(*) FROM orgs WHERE path >= $1 AND path < $2`

// CountSubtree counts id and the units under it.
func (s *Store) CountSubtree(ctx context.Context, id string) (int, error) {
	p, err := getPath(ctx, s.db, id)
	if err != nil {
		return 0, fmt.Errorf("count subtree: %w", err)
	}
	lo, hi := subtreeRange(p)
	var n int
	if err := s.db.QueryRowContext(ctx, countQuery, lo, hi).Scan(&n); err != nil {
		return 0, fmt.Errorf("count subtree of %q: %w", id, err)
	}
	return n, nil
}

// Within reports whether id is ancestorID or sits under it. It is one
// primary-key lookup: the path of id lists all its ancestors. An unknown
// id is an ErrNotFound error; an unknown ancestor is simply false.
func (s *Store) Within(ctx context.Context, ancestorID, id string) (bool, error) {
	p, err := getPath(ctx, s.db, id)
	if err != nil {
		return false, fmt.Errorf("within %q: %w", ancestorID, err)
	}
	return ancestorID != "" && strings.Contains(p, "/"+ancestorID+"/"), nil
}

// Search finds units at or under `under` whose name contains query, whose
// id starts with it, or whose region code is it; shallow units first.
// An empty query lists the subtree.
func (s *Store) Search(ctx context.Context, under, query string, limit int) ([]Org, error) {
	query = strings.TrimSpace(query)
	if query == "" {
		return s.Subtree(ctx, under, limit, "")
	}
	p, err := getPath(ctx, s.db, under)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	lo, hi := subtreeRange(p)
	esc := likeEscaper.Replace(query)
	rows, err := s.db.QueryContext(ctx, `SELECT `+orgColumns+` FROM orgs
		WHERE path >= $1 AND path < $2
		  AND (name LIKE $3 ESCAPE '\' OR id LIKE $4 ESCAPE '\' OR region_code = $5)
		ORDER BY depth, path LIMIT $6`,
		lo, hi, "%"+esc+"%", esc+"%", query, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("search under %q: %w", under, err)
	}
	out, err := scanOrgs(rows)
	if err != nil {
		return nil, fmt.Errorf("search under %q: %w", under, err)
	}
	return out, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
