// Package directory is the office's copy of the IdP's directory — units
// and people, synced through SCIM — and the questions asked of it: where a
// unit sits, who is in a subtree, who a notice or activity reaches, and
// who the person signed in is (Viewer). The office never reads the IdP's
// tables; what it knows of people who have not signed in comes from here.
package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xszz/xszz/internal/sqldb"
)

// Levels from the top down ("一级部署，六级应用").
var Levels = []string{"ministry", "province", "city", "county", "school", "department"}

// LevelNames are the levels in Chinese, for pages.
var LevelNames = map[string]string{
	"ministry": "部级", "province": "省级", "city": "地市级", "county": "区县级", "school": "学校", "department": "院系/中心校",
}

// Unit is an organisation of the tree.
type Unit struct {
	ID         string `json:"id"`
	ParentID   string `json:"parent_id,omitempty"`
	Name       string `json:"name"`
	Level      string `json:"level"`
	Path       string `json:"path"`
	RegionCode string `json:"region_code,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Active     bool   `json:"active"`
}

// Person is an account of the directory. Phone is as the IdP gave it
// (E.164, or masked when the office is not allowed full numbers).
type Person struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Phone     string `json:"-"`
	OrgID     string `json:"org_id"`
	OrgPath   string `json:"-"`
	Role      string `json:"role"`
	Active    bool   `json:"active"`
	ShowPhone bool   `json:"-"`
}

// Viewer is the person signed in, as the token says: every decision on
// what they may see or do is made from it.
type Viewer struct {
	Sub     string
	Name    string
	OrgID   string
	OrgName string
	Level   string
	// Path is the materialised path of the viewer's unit.
	Path  string
	Roles []string
}

// Admin reports whether the viewer is an admin of their unit.
func (v Viewer) Admin() bool { return slices.Contains(v.Roles, "admin") }

// Covers reports whether path lies in the viewer's subtree (own unit
// included).
func (v Viewer) Covers(path string) bool { return v.Path != "" && strings.HasPrefix(path, v.Path) }

// JoinPath turns the token's list of ids, root first, into a path.
func JoinPath(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return "/" + strings.Join(ids, "/") + "/"
}

// PathIDs turns a path into its ids, root first.
func PathIDs(path string) []string {
	return strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
}

// Range bounds the paths at or under path: [lo, hi).
func Range(path string) (lo, hi string) {
	return path, strings.TrimSuffix(path, "/") + "0"
}

// ErrNotFound is returned for units and people the directory does not
// hold.
var ErrNotFound = sqldb.ErrNotFound

// Store is the synced directory.
type Store struct{ db *sqldb.DB }

// NewStore returns a store.
func NewStore(db *sqldb.DB) *Store { return &Store{db: db} }

const unitColumns = `id, COALESCE(parent_id, ''), name, level, path, region_code, kind, active`

func scanUnit(r interface{ Scan(...any) error }) (Unit, error) {
	var (
		u      Unit
		active int
	)
	err := r.Scan(&u.ID, &u.ParentID, &u.Name, &u.Level, &u.Path, &u.RegionCode, &u.Kind, &active)
	u.Active = active == 1
	return u, err
}

// Unit returns one unit (read in the transaction ctx carries, if any).
func (s *Store) Unit(ctx context.Context, id string) (Unit, error) {
	u, err := scanUnit(s.db.Q(ctx).QueryRowContext(ctx, `SELECT `+unitColumns+` FROM office_units WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("unit %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return u, fmt.Errorf("load unit %q: %w", id, err)
	}
	return u, nil
}

// Units returns the units with the given ids that exist, in the given
// order, in one query per 500 ids (a page of contacts names up to 200
// units; a query each was most of its time).
func (s *Store) Units(ctx context.Context, ids []string) ([]Unit, error) {
	found := make(map[string]Unit, len(ids))
	for rest := ids; len(rest) > 0; {
		batch := rest[:min(len(rest), 500)]
		rest = rest[len(batch):]
		marks := make([]string, len(batch))
		args := make([]any, len(batch))
		for i, id := range batch {
			marks[i], args[i] = "$"+strconv.Itoa(i+1), id
		}
		rows, err := s.db.QueryContext(ctx, `SELECT `+unitColumns+` FROM office_units WHERE id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("load %d units: %w", len(batch), err)
		}
		for rows.Next() {
			u, err := scanUnit(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("load %d units: %w", len(batch), err)
			}
			found[u.ID] = u
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load %d units: %w", len(batch), err)
		}
	}
	out := make([]Unit, 0, len(found))
	for _, id := range ids {
		if u, ok := found[id]; ok {
			out = append(out, u)
		}
	}
	return out, nil
}

// Children returns the units directly under id, by name.
func (s *Store) Children(ctx context.Context, id string) ([]Unit, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+unitColumns+` FROM office_units WHERE parent_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("children of %q: %w", id, err)
	}
	defer rows.Close()
	var out []Unit
	for rows.Next() {
		u, err := scanUnit(rows)
		if err != nil {
			return nil, fmt.Errorf("children of %q: %w", id, err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

const personColumns = `id, name, phone, org_id, org_path, role, active, show_phone`

func scanPerson(r interface{ Scan(...any) error }) (Person, error) {
	var (
		p            Person
		active, show int
	)
	err := r.Scan(&p.ID, &p.Name, &p.Phone, &p.OrgID, &p.OrgPath, &p.Role, &active, &show)
	p.Active, p.ShowPhone = active == 1, show == 1
	return p, err
}

// Person returns one person.
func (s *Store) Person(ctx context.Context, id string) (Person, error) {
	p, err := scanPerson(s.db.QueryRowContext(ctx, `SELECT `+personColumns+` FROM office_people WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("person %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("load person %q: %w", id, err)
	}
	return p, nil
}

// Admins returns the active admins of a unit (its contact points).
func (s *Store) Admins(ctx context.Context, orgID string) ([]Person, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+personColumns+` FROM office_people WHERE org_id = $1 AND role = 'admin' AND active = 1 ORDER BY id LIMIT 20`, orgID)
	if err != nil {
		return nil, fmt.Errorf("admins of %q: %w", orgID, err)
	}
	defer rows.Close()
	var out []Person
	for rows.Next() {
		p, err := scanPerson(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// RecordReveal audits an admin's look at a full phone number.
func (s *Store) RecordReveal(ctx context.Context, viewerID, personID string, at int64) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO office_phone_reveals (viewer_id, person_id, at) VALUES ($1, $2, $3)`, viewerID, personID, at); err != nil {
		return fmt.Errorf("record phone reveal: %w", err)
	}
	return nil
}

// Reveals counts the recorded reveals of a person's number.
func (s *Store) Reveals(ctx context.Context, personID string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_phone_reveals WHERE person_id = $1`, personID).Scan(&n)
	return n, err
}

// SetShowPhone records a person's choice to show their number to all who
// can see them.
func (s *Store) SetShowPhone(ctx context.Context, personID string, show bool) error {
	v := 0
	if show {
		v = 1
	}
	res, err := s.db.ExecContext(ctx, `UPDATE office_people SET show_phone = $1 WHERE id = $2`, v, personID)
	if err != nil {
		return fmt.Errorf("set show phone: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("person %q: %w", personID, ErrNotFound)
	}
	return nil
}
