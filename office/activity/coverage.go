package activity

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/xszz/xszz/office/directory"
)

// Counts are a unit subtree's figures. Expected, Registered and
// CheckedIn are about the roster (for an activity that has not ended: as
// the directory stands now), so Registered ≤ Expected and CheckedIn ≤
// Registered; the two OffRoster figures are the people who registered
// and are not on the roster (any more), counted where they were.
type Counts struct {
	Expected      int `json:"expected"`
	Registered    int `json:"registered"`
	CheckedIn     int `json:"checked_in"`
	OffRegistered int `json:"off_roster_registered"`
	OffCheckedIn  int `json:"off_roster_checked_in"`
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
	// CheckedIn is set in the off-roster list only.
	CheckedIn bool `json:"checked_in,omitempty"`
}

// What a report's expected figures are (Coverage.Roster).
const (
	RosterLive     = "live"     // the roster as the directory stands now
	RosterFinal    = "final"    // the roster when the activity ended
	RosterCreation = "creation" // the roster when it was created (activities from before the roster was followed)
)

// Coverage is the report at one unit: its subtree's figures, its
// children's, the units anywhere below with nobody registered or nobody
// signed in, the unit's own people who registered but are absent or
// never registered, and those counted here who registered and are no
// longer on the roster.
type Coverage struct {
	Activity        *Activity        `json:"activity"`
	Roster          string           `json:"roster"`
	Unit            UnitCounts       `json:"unit"`
	Children        []UnitCounts     `json:"children"`
	NoneRegistered  []directory.Unit `json:"units_none_registered"`
	NoneCheckedIn   []directory.Unit `json:"units_none_checked_in"`
	Absent          []Person         `json:"registered_absent"`
	NeverRegistered []Person         `json:"never_registered"`
	OffRoster       []Person         `json:"off_roster"`
	Path            []directory.Unit `json:"path"`
}

// MaxListed bounds each list of a report.
const MaxListed = 500

// organised returns the activity, if the viewer organises it, and the
// unit at orgID (the holding unit when empty) with its figures. The
// unit's path is the one its counters carry — the tree as the activity
// last saw it, which for an ended activity is the tree it ended with —
// or, for a unit with no counters, the directory's.
func (s *Service) organised(ctx context.Context, v directory.Viewer, id int64, orgID string) (*Activity, UnitCounts, error) {
	a, err := s.Get(ctx, v, id)
	if err != nil {
		return nil, UnitCounts{}, err
	}
	if !a.Organiser(v) {
		return nil, UnitCounts{}, forbidden("只有主办单位可以查看参会情况")
	}
	if orgID == "" {
		orgID = a.OrgID
	}
	u, err := s.Dir.Unit(ctx, orgID)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, UnitCounts{}, notFound()
	}
	if err != nil {
		return nil, UnitCounts{}, err
	}
	uc := UnitCounts{Unit: u}
	var path string
	err = s.DB.QueryRowContext(ctx, `SELECT path, expected, registered, checked_in, off_registered, off_checked_in FROM office_activity_counts WHERE activity_id = $1 AND org_id = $2`, a.ID, u.ID).
		Scan(&path, &uc.Expected, &uc.Registered, &uc.CheckedIn, &uc.OffRegistered, &uc.OffCheckedIn)
	switch {
	case err == nil && path != "":
		uc.Unit.Path = path
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return nil, UnitCounts{}, fmt.Errorf("activity counters: %w", err)
	}
	if !slices.Contains(directory.PathIDs(uc.Unit.Path), a.OrgID) {
		return nil, UnitCounts{}, notFound()
	}
	return a, uc, nil
}

// Coverage returns the report at orgID (the holding unit when empty). It
// reads a fixed number of rows whatever the size of the subtree: the
// unit's counters, its children's, at most MaxListed topmost gaps of each
// kind (one index seek each) and the unit's own people.
func (s *Service) Coverage(ctx context.Context, v directory.Viewer, id int64, orgID string) (*Coverage, error) {
	a, uc, err := s.organised(ctx, v, id, orgID)
	if err != nil {
		return nil, err
	}
	u := uc.Unit
	out := &Coverage{Activity: a, Roster: RosterLive, Unit: uc, Children: []UnitCounts{}, NoneRegistered: []directory.Unit{},
		NoneCheckedIn: []directory.Unit{}, Absent: []Person{}, NeverRegistered: []Person{}, OffRoster: []Person{}}
	switch {
	case !a.FollowsRoster:
		out.Roster = RosterCreation
	case !s.Now().Before(a.EndsAt):
		out.Roster = RosterFinal
	}
	ids := directory.PathIDs(u.Path)
	if out.Path, err = s.Dir.Units(ctx, ids[slices.Index(ids, a.OrgID):]); err != nil {
		return nil, err
	}
	rows, err := s.DB.QueryContext(ctx, childrenQuery, a.ID, u.ID)
	if err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	for rows.Next() {
		var c UnitCounts
		if err := rows.Scan(&c.Unit.ID, &c.Unit.Name, &c.Unit.Level, &c.Unit.Path, &c.Expected, &c.Registered, &c.CheckedIn, &c.OffRegistered, &c.OffCheckedIn); err != nil {
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
	if out.NoneRegistered, err = s.gaps(ctx, a.ID, u.Path, "registered"); err != nil {
		return nil, err
	}
	if out.NoneCheckedIn, err = s.gaps(ctx, a.ID, u.Path, "checked_in"); err != nil {
		return nil, err
	}
	if err := s.people(ctx, a, u.ID, func(p Person, st string) {
		switch st {
		case "absent":
			out.Absent = append(out.Absent, p)
		case "never":
			out.NeverRegistered = append(out.NeverRegistered, p)
		}
	}, MaxListed); err != nil {
		return nil, err
	}
	if out.OffRoster, err = s.offRoster(ctx, a.ID, u.ID); err != nil {
		return nil, err
	}
	return out, nil
}

// gapQuery finds the topmost units of the gaps of one kind in a subtree:
// units with people expected and none registered ($col = registered) or
// none signed in (checked_in), leaving out those whose parent is such a
// unit too — a county where nobody registered is one line, not one per
// school. Counters are subtree sums, so below a gap everything is gap or
// empty: the first gap in path order is topmost, and the next topmost is
// the first gap after its subtree. The query hops from one to the next,
// an index seek on the partial index of the kind each ($4 hops at most),
// instead of reading every counter of the subtree. $2, $3: the subtree's
// range.
const gapQuery = `WITH RECURSIVE gap(path, n) AS (
  SELECT (SELECT c.path FROM office_activity_counts c WHERE c.activity_id = $1 AND c.expected > 0 AND c.$col = 0
      AND c.path >= $2 AND c.path < $3 ORDER BY c.path LIMIT 1), 1
  UNION ALL
  SELECT (SELECT c.path FROM office_activity_counts c WHERE c.activity_id = $1 AND c.expected > 0 AND c.$col = 0
      AND c.path >= substr(g.path, 1, length(g.path) - 1) || '0' AND c.path < $3 ORDER BY c.path LIMIT 1), g.n + 1
  FROM gap g WHERE g.path IS NOT NULL AND g.n < $4
)
SELECT path FROM gap WHERE path IS NOT NULL`

// childrenQuery reads the counters of a unit's children, in the tree as
// the activity's counters have it.
const childrenQuery = `SELECT c.org_id, COALESCE(u.name, c.org_id), COALESCE(u.level, ''), c.path,
  c.expected, c.registered, c.checked_in, c.off_registered, c.off_checked_in
FROM office_activity_counts c LEFT JOIN office_units u ON u.id = c.org_id WHERE c.activity_id = $1 AND c.parent_id = $2 ORDER BY c.org_id`

// gaps lists the topmost gaps (GapQuery) below and at path, in path
// order, with their units' names.
func (s *Service) gaps(ctx context.Context, activityID int64, path, col string) ([]directory.Unit, error) {
	lo, hi := directory.Range(path)
	rows, err := s.DB.QueryContext(ctx, strings.ReplaceAll(gapQuery, "$col", col), activityID, lo, hi, MaxListed)
	if err != nil {
		return nil, fmt.Errorf("coverage gaps: %w", err)
	}
	out := []directory.Unit{}
	var ids []any
	for rows.Next() {
		var g directory.Unit
		if err := rows.Scan(&g.Path); err != nil {
			rows.Close()
			return nil, fmt.Errorf("coverage gaps: %w", err)
		}
		p := directory.PathIDs(g.Path)
		g.ID = p[len(p)-1]
		if len(p) > 1 {
			g.ParentID = p[len(p)-2]
		}
		out = append(out, g)
		ids = append(ids, g.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("coverage gaps: %w", err)
	}
	if len(ids) == 0 {
		return out, nil
	}
	ph := make([]string, len(ids))
	for i := range ids {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	urows, err := s.DB.QueryContext(ctx, `SELECT id, name, level, active FROM office_units WHERE id IN (`+strings.Join(ph, ", ")+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("coverage gaps: %w", err)
	}
	defer urows.Close()
	named := map[string]directory.Unit{}
	for urows.Next() {
		var (
			u      directory.Unit
			active int
		)
		if err := urows.Scan(&u.ID, &u.Name, &u.Level, &active); err != nil {
			return nil, fmt.Errorf("coverage gaps: %w", err)
		}
		u.Active = active == 1
		named[u.ID] = u
	}
	if err := urows.Err(); err != nil {
		return nil, fmt.Errorf("coverage gaps: %w", err)
	}
	for i, g := range out {
		if u, ok := named[g.ID]; ok {
			out[i].Name, out[i].Level, out[i].Active = u.Name, u.Level, u.Active
		} else {
			out[i].Name = g.ID
		}
	}
	return out, nil
}

const offRosterQuery = `SELECT r.person_id, COALESCE(p.name, ''), CASE WHEN r.checked_in_at IS NULL THEN 0 ELSE 1 END
FROM office_registrations r LEFT JOIN office_people p ON p.id = r.person_id
WHERE r.activity_id = $1 AND r.org_id = $2 AND r.on_roster = 0 ORDER BY r.person_id LIMIT $3`

// offRoster lists the people counted at the unit itself who registered
// and are not on the roster now.
func (s *Service) offRoster(ctx context.Context, activityID int64, orgID string) ([]Person, error) {
	rows, err := s.DB.QueryContext(ctx, offRosterQuery, activityID, orgID, MaxListed)
	if err != nil {
		return nil, fmt.Errorf("coverage off the roster: %w", err)
	}
	defer rows.Close()
	out := []Person{}
	for rows.Next() {
		var (
			p   Person
			chk int
		)
		if err := rows.Scan(&p.ID, &p.Name, &chk); err != nil {
			return nil, fmt.Errorf("coverage off the roster: %w", err)
		}
		p.CheckedIn = chk == 1
		out = append(out, p)
	}
	return out, rows.Err()
}

// signedIn is person p's registration in one value — NULL: never
// registered; 0: registered, not signed in; else the time of sign-in —
// read by a subquery per person. A join would let PostgreSQL's generic
// plan of a prepared statement (chosen after a few exports of a large
// subtree) hash every registration of the activity even for a county's
// hundred people.
const signedIn = `(SELECT COALESCE(r.checked_in_at, 0) FROM office_registrations r WHERE r.activity_id = $1 AND r.person_id = p.id)`

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
	rows, err := s.DB.QueryContext(ctx, `SELECT p.id, p.name, `+signedIn+` FROM office_people p LEFT JOIN office_units u ON u.id = p.org_id
WHERE p.org_id = $2 AND p.active = 1 AND `+cond+fmt.Sprintf(` ORDER BY p.id LIMIT %d`, limit), append([]any{a.ID, orgID}, args...)...)
	if err != nil {
		return fmt.Errorf("coverage people: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			p      Person
			signed *int64
		)
		if err := rows.Scan(&p.ID, &p.Name, &signed); err != nil {
			return fmt.Errorf("coverage people: %w", err)
		}
		switch {
		case signed == nil:
			fn(p, "never")
		case *signed == 0:
			fn(p, "absent")
		default:
			fn(p, "checked_in")
		}
	}
	return rows.Err()
}

var statusNames = map[string]string{"checked_in": "已签到", "absent": "已报名未签到", "never": "未报名",
	"off_checked_in": "已签到（已不在名单）", "off_absent": "已报名未签到（已不在名单）"}

// WriteCSV writes every invited person of the subtree at orgID with their
// unit and status, for the organiser, then those counted in the subtree
// who registered and are no longer on the roster.
func (s *Service) WriteCSV(ctx context.Context, v directory.Viewer, id int64, orgID string, w io.Writer) error {
	a, uc, err := s.organised(ctx, v, id, orgID)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"姓名", "单位", "层级", "状态", "签到时间"}); err != nil {
		return err
	}
	cond, args := a.Target.SQL(a.OrgPath, 4)
	lo, hi := directory.Range(uc.Unit.Path)
	// The unit's name and level come by a subquery per person too (see
	// signedIn: a generic plan would hash every unit of the country); a
	// target of levels needs the join for its condition.
	from := `office_people p`
	if a.Target.Kind == directory.TargetLevels {
		from += ` LEFT JOIN office_units u ON u.id = p.org_id`
	}
	if err := s.csvRows(ctx, cw, "", `SELECT p.name, COALESCE((SELECT pu.name FROM office_units pu WHERE pu.id = p.org_id), ''),
  COALESCE((SELECT pu.level FROM office_units pu WHERE pu.id = p.org_id), ''), `+signedIn+`
FROM `+from+`
WHERE p.active = 1 AND p.org_path >= $2 AND p.org_path < $3 AND `+cond+` ORDER BY p.org_path, p.id`, append([]any{a.ID, lo, hi}, args...)...); err != nil {
		return err
	}
	if err := s.csvRows(ctx, cw, "off_", `SELECT COALESCE(p.name, ''), COALESCE(u.name, ''), COALESCE(u.level, ''), COALESCE(r.checked_in_at, 0)
FROM office_registrations r LEFT JOIN office_people p ON p.id = r.person_id LEFT JOIN office_units u ON u.id = r.org_id
WHERE r.activity_id = $1 AND r.on_roster = 0 AND r.org_path >= $2 AND r.org_path < $3 ORDER BY r.org_path, r.person_id`, a.ID, lo, hi); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// csvRows writes the rows of q (name, unit, level, and the status as
// signedIn gives it) with their status, prefixed for people off the
// roster.
func (s *Service) csvRows(ctx context.Context, cw *csv.Writer, prefix, q string, args ...any) error {
	rows, err := s.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("coverage csv: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name, unit, level string
			signed            *int64
		)
		if err := rows.Scan(&name, &unit, &level, &signed); err != nil {
			return fmt.Errorf("coverage csv: %w", err)
		}
		st, at := "never", ""
		switch {
		case signed == nil:
		case *signed == 0:
			st = "absent"
		default:
			st, at = "checked_in", time.Unix(*signed, 0).In(cst).Format("2006-01-02 15:04")
		}
		if err := cw.Write([]string{csvSafe(name), csvSafe(unit), directory.LevelNames[level], statusNames[prefix+st], at}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("coverage csv: %w", err)
	}
	return nil
}

var cst = time.FixedZone("CST", 8*3600)

// csvSafe keeps a cell from being read as a formula by spreadsheets.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
