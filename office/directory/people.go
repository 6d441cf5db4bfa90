package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xszz/xszz/internal/phone"
)

// Page sizes of the people lists.
const (
	DefaultPage = 50
	MaxPage     = 200
)

// The parts of a search, in the order its pages go through them. Each is
// one index walk from the position, so a page costs the same on the
// hundredth page as on the first, in a province as in a school.
const (
	// PhasePhone: the holder of the number the text is (11 digits), by id.
	PhasePhone = "phone"
	// PhaseName: people whose name starts with the text, by name, then id.
	PhaseName = "name"
	// PhaseUnit: the other people of units whose name contains the text,
	// by the unit's path, then id.
	PhaseUnit = "unit"
)

var phases = []string{PhasePhone, PhaseName, PhaseUnit}

// ErrBadPosition is returned for a position that is not a place in the
// query's order (a list's position given to a search, an unknown phase).
var ErrBadPosition = errors.New("position is not in this list's order")

// Position is a place in the order of a people list: the sort key of the
// last person a page showed. A list is ordered by (org_path, id); a
// search by its phases, each in its own order.
type Position struct {
	// Phase is the part of a search ("" in a list).
	Phase string `json:"p,omitempty"`
	// Key is the last person's unit path (a list, PhaseUnit) or name
	// (PhaseName); empty in PhasePhone.
	Key string `json:"k,omitempty"`
	ID  string `json:"i"`
}

// PersonQuery selects people of a subtree for the contacts list.
type PersonQuery struct {
	// Under is the subtree's path (required). Every page, whatever the
	// position, holds only people whose own path lies under it.
	Under string
	// OrgID keeps only the people of one unit.
	OrgID string
	// Text matches a name, unit name or phone fragment.
	Text string
	// After is where the page starts (nil: the first page); Limit is at
	// most MaxPage (DefaultPage when out of range).
	After *Position
	Limit int
}

// People returns a page of the active people of a subtree, unit by unit
// (or, with Text, of the people the text finds: see the phases), and the
// position the next page starts after — nil when this page is the last.
func (s *Store) People(ctx context.Context, q PersonQuery) ([]Person, *Position, error) {
	if q.Under == "" {
		return nil, nil, errors.New("people: a subtree is required")
	}
	if q.Limit <= 0 || q.Limit > MaxPage {
		q.Limit = DefaultPage
	}
	// One more than the page says whether there is a next page.
	var (
		ps  []Person
		at  []Position
		err error
	)
	if t := strings.TrimSpace(q.Text); t != "" {
		ps, at, err = s.search(ctx, q, t, q.Limit+1)
	} else {
		ps, at, err = s.list(ctx, q, q.Limit+1)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(ps) <= q.Limit {
		return ps, nil, nil
	}
	return ps[:q.Limit], &at[q.Limit-1], nil
}

// args numbers a query's placeholders as they are added.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// subtree is the condition every page of q keeps to.
func (q PersonQuery) subtree(a *args) []string {
	lo, hi := Range(q.Under)
	conds := []string{"p.org_path >= " + a.add(lo), "p.org_path < " + a.add(hi), "p.active = 1"}
	if q.OrgID != "" {
		conds = append(conds, "p.org_id = "+a.add(q.OrgID))
	}
	return conds
}

const personColumnsP = `p.id, p.name, p.phone, p.org_id, p.org_path, p.role, p.active, p.show_phone`

// list pages through the subtree in the order of the path index,
// (org_path, id), so a page is a walk of the index from the position
// whether the subtree is a school or a province.
func (s *Store) list(ctx context.Context, q PersonQuery, n int) ([]Person, []Position, error) {
	var a args
	conds := q.subtree(&a)
	if q.After != nil {
		if q.After.Phase != "" {
			return nil, nil, ErrBadPosition
		}
		conds = append(conds, fmt.Sprintf("(p.org_path, p.id) > (%s, %s)", a.add(q.After.Key), a.add(q.After.ID)))
	}
	return s.queryPeople(ctx, "", `SELECT `+personColumnsP+`, p.org_path FROM office_people p WHERE `+strings.Join(conds, " AND ")+
		` ORDER BY p.org_path, p.id LIMIT `+a.add(n), a)
}

// match is what a search text finds, one condition per phase.
type match struct {
	text, upTo string // the name range [text, upTo)
	phone      string // E.164 when the text is a mobile number
}

func (m match) nameCond(a *args) string {
	return "p.name_key >= " + a.add(m.text) + " AND p.name_key < " + a.add(m.upTo)
}

// search finds people of a subtree by number, name prefix or unit name,
// phase by phase (see PhasePhone …), each person once: a phase leaves out
// whom an earlier phase found.
func (s *Store) search(ctx context.Context, q PersonQuery, text string, n int) ([]Person, []Position, error) {
	start := 0
	if q.After != nil {
		if start = slices.Index(phases, q.After.Phase); start < 0 {
			return nil, nil, ErrBadPosition
		}
	}
	// A prefix range on the bytewise name: text ≤ name < text+U+10FFFF.
	m := match{text: text, upTo: text + "\U0010FFFF"}
	if ph, err := phone.Normalize(text); err == nil {
		m.phone = ph
	}
	var (
		ps []Person
		at []Position
	)
	for i := start; i < len(phases) && len(ps) < n; i++ {
		var after *Position
		if i == start {
			after = q.After
		}
		var (
			got []Person
			pos []Position
			err error
		)
		switch phases[i] {
		case PhasePhone:
			got, pos, err = s.searchPhone(ctx, q, m, after, n-len(ps))
		case PhaseName:
			got, pos, err = s.searchName(ctx, q, m, after, n-len(ps))
		case PhaseUnit:
			got, pos, err = s.searchUnits(ctx, q, m, after, n-len(ps))
		}
		if err != nil {
			return nil, nil, err
		}
		ps, at = append(ps, got...), append(at, pos...)
	}
	return ps, at, nil
}

func (s *Store) searchPhone(ctx context.Context, q PersonQuery, m match, after *Position, n int) ([]Person, []Position, error) {
	if m.phone == "" {
		return nil, nil, nil
	}
	var a args
	conds := append(q.subtree(&a), "p.phone = "+a.add(m.phone))
	if after != nil {
		conds = append(conds, "p.id > "+a.add(after.ID))
	}
	return s.queryPeople(ctx, PhasePhone, `SELECT `+personColumnsP+`, '' FROM office_people p WHERE `+strings.Join(conds, " AND ")+
		` ORDER BY p.id LIMIT `+a.add(n), a)
}

// searchName walks the (name_key, id) index from the position.
func (s *Store) searchName(ctx context.Context, q PersonQuery, m match, after *Position, n int) ([]Person, []Position, error) {
	var a args
	conds := append(q.subtree(&a), m.nameCond(&a))
	if m.phone != "" {
		conds = append(conds, "p.phone <> "+a.add(m.phone))
	}
	if after != nil {
		conds = append(conds, fmt.Sprintf("(p.name_key, p.id) > (%s, %s)", a.add(after.Key), a.add(after.ID)))
	}
	return s.queryPeople(ctx, PhaseName, `SELECT `+personColumnsP+`, p.name_key FROM office_people p WHERE `+strings.Join(conds, " AND ")+
		` ORDER BY p.name_key, p.id LIMIT `+a.add(n), a)
}

// unitBatch is how many matching units searchUnits takes at a time.
const unitBatch = 50

// searchUnits walks the subtree's units in path order, a batch at a time
// (a province has thousands of units, a hundred times fewer than people,
// and a name inside a unit's name has no index), and takes the people of
// each batch by unit until the page is full.
func (s *Store) searchUnits(ctx context.Context, q PersonQuery, m match, after *Position, n int) ([]Person, []Position, error) {
	lo, hi := Range(q.Under)
	var (
		ps []Person
		at []Position
	)
	from, inclusive := lo, true
	if after != nil && after.Key > lo {
		from = after.Key
	}
	for len(ps) < n {
		var ua args
		uconds := []string{`u.name LIKE ` + ua.add("%"+escapeLike(m.text)+"%") + ` ESCAPE '\'`, "u.path < " + ua.add(hi)}
		if inclusive {
			uconds = append(uconds, "u.path >= "+ua.add(from))
		} else {
			uconds = append(uconds, "u.path > "+ua.add(from))
		}
		if q.OrgID != "" {
			uconds = append(uconds, "u.id = "+ua.add(q.OrgID))
		}
		units, last, err := s.unitIDs(ctx, `SELECT id, path FROM office_units u WHERE `+strings.Join(uconds, " AND ")+` ORDER BY u.path LIMIT `+ua.add(unitBatch), ua)
		if err != nil {
			return nil, nil, err
		}
		if len(units) == 0 {
			break
		}
		var a args
		ids := make([]string, len(units))
		for i, id := range units {
			ids[i] = a.add(id)
		}
		conds := append(q.subtree(&a), "u.id IN ("+strings.Join(ids, ", ")+")", "NOT ("+m.nameCond(&a)+")")
		if m.phone != "" {
			conds = append(conds, "p.phone <> "+a.add(m.phone))
		}
		if after != nil {
			conds = append(conds, fmt.Sprintf("(u.path, p.id) > (%s, %s)", a.add(after.Key), a.add(after.ID)))
		}
		got, pos, err := s.queryPeople(ctx, PhaseUnit, `SELECT `+personColumnsP+`, u.path FROM office_people p JOIN office_units u ON u.id = p.org_id WHERE `+
			strings.Join(conds, " AND ")+` ORDER BY u.path, p.id LIMIT `+a.add(n-len(ps)), a)
		if err != nil {
			return nil, nil, err
		}
		ps, at = append(ps, got...), append(at, pos...)
		if len(units) < unitBatch {
			break
		}
		from, inclusive = last, false
	}
	return ps, at, nil
}

// unitIDs runs a query of (id, path) and returns the ids and the last
// path.
func (s *Store) unitIDs(ctx context.Context, query string, a args) ([]string, string, error) {
	rows, err := s.db.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, "", fmt.Errorf("search units: %w", err)
	}
	defer rows.Close()
	var (
		ids  []string
		last string
	)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id, &last); err != nil {
			return nil, "", fmt.Errorf("search units: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("search units: %w", err)
	}
	return ids, last, nil
}

// queryPeople runs a query of personColumnsP and a sort key, and returns
// the people with their positions in phase.
func (s *Store) queryPeople(ctx context.Context, phase, query string, a args) ([]Person, []Position, error) {
	what := "list people"
	if phase != "" {
		what = "search people by " + phase
	}
	rows, err := s.db.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var (
		ps []Person
		at []Position
	)
	for rows.Next() {
		var (
			p            Person
			key          string
			active, show int
		)
		if err := rows.Scan(&p.ID, &p.Name, &p.Phone, &p.OrgID, &p.OrgPath, &p.Role, &active, &show, &key); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", what, err)
		}
		p.Active, p.ShowPhone = active == 1, show == 1
		ps, at = append(ps, p), append(at, Position{Phase: phase, Key: key, ID: p.ID})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return ps, at, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
