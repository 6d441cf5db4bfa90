package activity

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xszz/xszz/office/directory"
)

// Counts are a unit subtree's figures.
type Counts struct {
	Expected   int `json:"expected"`
	Registered int `json:"registered"`
	CheckedIn  int `json:"checked_in"`
}

// UnitCounts are one unit's figures.
type UnitCounts struct {
	Unit directory.Unit `json:"unit"`
	Counts
}

// Person is someone in a coverage list.
type Person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Coverage is the report at one unit: its subtree's figures, its
// children's, the units anywhere below with nobody registered or nobody
// signed in, and the unit's own people who registered but are absent or
// never registered.
type Coverage struct {
	Activity        *Activity        `json:"activity"`
	Unit            UnitCounts       `json:"unit"`
	Children        []UnitCounts     `json:"children"`
	NoneRegistered  []directory.Unit `json:"units_none_registered"`
	NoneCheckedIn   []directory.Unit `json:"units_none_checked_in"`
	Absent          []Person         `json:"registered_absent"`
	NeverRegistered []Person         `json:"never_registered"`
	Path            []directory.Unit `json:"path"`
}

func (s *Service) organised(ctx context.Context, v directory.Viewer, id int64, orgID string) (*Activity, directory.Unit, error) {
	a, err := s.Get(ctx, v, id)
	if err != nil {
		return nil, directory.Unit{}, err
	}
	if !a.Organiser(v) {
		return nil, directory.Unit{}, forbidden("只有主办单位可以查看参会情况")
	}
	if orgID == "" {
		orgID = a.OrgID
	}
	u, err := s.Dir.Unit(ctx, orgID)
	if errors.Is(err, directory.ErrNotFound) || (err == nil && !strings.HasPrefix(u.Path, a.OrgPath)) {
		return nil, u, notFound()
	}
	return a, u, err
}

// Coverage returns the report at orgID (the holding unit when empty).
func (s *Service) Coverage(ctx context.Context, v directory.Viewer, id int64, orgID string) (*Coverage, error) {
	a, u, err := s.organised(ctx, v, id, orgID)
	if err != nil {
		return nil, err
	}
	out := &Coverage{Activity: a, Unit: UnitCounts{Unit: u}, Children: []UnitCounts{}, NoneRegistered: []directory.Unit{},
		NoneCheckedIn: []directory.Unit{}, Absent: []Person{}, NeverRegistered: []Person{}}
	ids := directory.PathIDs(u.Path)
	if out.Path, err = s.Dir.Units(ctx, ids[len(directory.PathIDs(a.OrgPath))-1:]); err != nil {
		return nil, err
	}
	if err := s.DB.QueryRowContext(ctx, `SELECT expected, registered, checked_in FROM office_activity_counts WHERE activity_id = $1 AND org_id = $2`, a.ID, u.ID).
		Scan(&out.Unit.Expected, &out.Unit.Registered, &out.Unit.CheckedIn); err != nil {
		return nil, fmt.Errorf("activity counters: %w", err)
	}
	rows, err := s.DB.QueryContext(ctx, `SELECT u.id, u.name, u.level, u.path, c.expected, c.registered, c.checked_in
FROM office_units u JOIN office_activity_counts c ON c.org_id = u.id AND c.activity_id = $1 WHERE u.parent_id = $2 ORDER BY u.id`, a.ID, u.ID)
	if err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	for rows.Next() {
		var c UnitCounts
		if err := rows.Scan(&c.Unit.ID, &c.Unit.Name, &c.Unit.Level, &c.Unit.Path, &c.Expected, &c.Registered, &c.CheckedIn); err != nil {
			rows.Close()
			return nil, fmt.Errorf("coverage: %w", err)
		}
		c.Unit.ParentID, c.Unit.Active = u.ID, true
		out.Children = append(out.Children, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	// Units below with people expected and none registered / signed in,
	// the topmost of each gap only: a county where nobody registered is
	// one line, not one per school (drill down for those).
	lo, hi := directory.Range(u.Path)
	for _, q := range []struct {
		col  string
		dest *[]directory.Unit
	}{{"registered", &out.NoneRegistered}, {"checked_in", &out.NoneCheckedIn}} {
		rows, err := s.DB.QueryContext(ctx, `SELECT u.id, u.name, u.level, u.path FROM office_activity_counts c JOIN office_units u ON u.id = c.org_id
WHERE c.activity_id = $1 AND c.expected > 0 AND c.`+q.col+` = 0 AND u.path >= $2 AND u.path < $3
  AND (u.path = $2 OR NOT EXISTS (SELECT 1 FROM office_activity_counts pc WHERE pc.activity_id = $1 AND pc.org_id = u.parent_id AND pc.expected > 0 AND pc.`+q.col+` = 0))
ORDER BY u.path LIMIT 500`, a.ID, lo, hi)
		if err != nil {
			return nil, fmt.Errorf("coverage gaps: %w", err)
		}
		for rows.Next() {
			var g directory.Unit
			if err := rows.Scan(&g.ID, &g.Name, &g.Level, &g.Path); err != nil {
				rows.Close()
				return nil, fmt.Errorf("coverage gaps: %w", err)
			}
			*q.dest = append(*q.dest, g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("coverage gaps: %w", err)
		}
	}
	if err := s.people(ctx, a, u.ID, func(p Person, st string) {
		switch st {
		case "absent":
			out.Absent = append(out.Absent, p)
		case "never":
			out.NeverRegistered = append(out.NeverRegistered, p)
		}
	}, 500); err != nil {
		return nil, err
	}
	return out, nil
}

// people calls fn for the invited people of one unit with their status:
// "checked_in", "absent" (registered, not signed in) or "never".
func (s *Service) people(ctx context.Context, a *Activity, orgID string, fn func(Person, string), limit int) error {
	if orgID == a.OrgID {
		return nil // the holding unit's own people are the organisers
	}
	// The unit lies below the holding unit (checked by the caller), so
	// only the target's own filter remains; bounding by path as well would
	// let the planner scan the whole subtree instead of the unit.
	cond, args := a.Target.Filter(3)
	rows, err := s.DB.QueryContext(ctx, `SELECT p.id, p.name, r.registered_at, r.checked_in_at FROM office_people p LEFT JOIN office_units u ON u.id = p.org_id
LEFT JOIN office_registrations r ON r.activity_id = $1 AND r.person_id = p.id
WHERE p.org_id = $2 AND p.active = 1 AND `+cond+fmt.Sprintf(` ORDER BY p.id LIMIT %d`, limit), append([]any{a.ID, orgID}, args...)...)
	if err != nil {
		return fmt.Errorf("coverage people: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			p        Person
			reg, chk *int64
		)
		if err := rows.Scan(&p.ID, &p.Name, &reg, &chk); err != nil {
			return fmt.Errorf("coverage people: %w", err)
		}
		switch {
		case chk != nil:
			fn(p, "checked_in")
		case reg != nil:
			fn(p, "absent")
		default:
			fn(p, "never")
		}
	}
	return rows.Err()
}

var statusNames = map[string]string{"checked_in": "已签到", "absent": "已报名未签到", "never": "未报名"}

// WriteCSV writes every invited person of the subtree at orgID with their
// unit and status, for the organiser.
func (s *Service) WriteCSV(ctx context.Context, v directory.Viewer, id int64, orgID string, w io.Writer) error {
	a, u, err := s.organised(ctx, v, id, orgID)
	if err != nil {
		return err
	}
	cond, args := a.Target.SQL(a.OrgPath, 4)
	lo, hi := directory.Range(u.Path)
	rows, err := s.DB.QueryContext(ctx, `SELECT p.name, COALESCE(u.name, ''), COALESCE(u.level, ''), r.registered_at, r.checked_in_at
FROM office_people p LEFT JOIN office_units u ON u.id = p.org_id
LEFT JOIN office_registrations r ON r.activity_id = $1 AND r.person_id = p.id
WHERE p.active = 1 AND p.org_path >= $2 AND p.org_path < $3 AND `+cond+` ORDER BY p.org_path, p.id`, append([]any{a.ID, lo, hi}, args...)...)
	if err != nil {
		return fmt.Errorf("coverage csv: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"姓名", "单位", "层级", "状态", "签到时间"}); err != nil {
		return err
	}
	for rows.Next() {
		var (
			name, unit, level string
			reg, chk          *int64
		)
		if err := rows.Scan(&name, &unit, &level, &reg, &chk); err != nil {
			return fmt.Errorf("coverage csv: %w", err)
		}
		st, at := "never", ""
		switch {
		case chk != nil:
			st, at = "checked_in", time.Unix(*chk, 0).In(cst).Format("2006-01-02 15:04")
		case reg != nil:
			st = "absent"
		}
		if err := cw.Write([]string{csvSafe(name), csvSafe(unit), directory.LevelNames[level], statusNames[st], at}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("coverage csv: %w", err)
	}
	cw.Flush()
	return cw.Error()
}

var cst = time.FixedZone("CST", 8*3600)

// csvSafe keeps a cell from being read as a formula by spreadsheets.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
