package activity

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/xszz/xszz/office/directory"
)

// The counters of an activity follow its roster while it has not ended
// (docs/office.md). Per unit subtree:
//
//	expected        people of the audience now (active, below the holding
//	                unit, within the target)
//	registered      those of them who registered,
//	checked_in      and who signed in
//	off_registered  registrations of people not on the roster now — they
//	                left, were disabled, moved out of the audience, or
//	                registered before the sync knew them — counted where
//	                they were last counted,
//	off_checked_in  and of those, who signed in
//
// so registered ≤ expected and checked_in ≤ registered at every unit.
// A registration row says which of the two it is in (on_roster) and where
// (org_id, org_path: the person's place when on the roster). Everything
// is keyed by unit id, so a path is "below the holding unit" when it
// names the holding unit's id, whatever tree it was written in: a moved
// holding unit keeps its counters.

// reaches reports whether the activity's audience includes a person at p.
func (a *Activity) reaches(p directory.Place) bool {
	if !p.Active {
		return false
	}
	ids := directory.PathIDs(p.Path)
	if i := slices.Index(ids, a.OrgID); i < 0 || i == len(ids)-1 {
		return false // not below the holding unit, or its own people
	}
	switch a.Target.Kind {
	case directory.TargetUnits:
		return slices.Contains(a.Target.Units, p.OrgID)
	case directory.TargetLevels:
		return slices.Contains(a.Target.Levels, p.Level)
	}
	return true
}

// Columns of office_activity_counts that tally moves.
type column int

const (
	colExpected column = iota
	colRegistered
	colCheckedIn
	colOffRegistered
	colOffCheckedIn
	nColumns
)

type rowKey struct {
	activity int64
	org      string
}

type rowMove struct {
	parent, path string
	n            [nColumns]int
}

// tally collects the counter moves of one transaction, so each row is
// written once, in a fixed order.
type tally map[rowKey]*rowMove

// add moves col by n on every unit from the holding unit down to the
// unit at path; a path outside the activity moves nothing.
func (t tally) add(a *Activity, path string, col column, n int) {
	ids := directory.PathIDs(path)
	top := slices.Index(ids, a.OrgID)
	if top < 0 {
		return
	}
	for i := top; i < len(ids); i++ {
		k := rowKey{a.ID, ids[i]}
		r := t[k]
		if r == nil {
			r = &rowMove{}
			t[k] = r
		}
		// A row new to the table takes the unit's place from a path
		// that adds to it: that one is current.
		if r.path == "" || n > 0 {
			r.path, r.parent = directory.JoinPath(ids[:i+1]), ""
			if i > 0 {
				r.parent = ids[i-1]
			}
		}
		r.n[col] += n
	}
}

// apply writes the moves in (activity, unit) order. Rows that only grow
// are inserted or added to, many rows per statement. A row that shrinks
// must exist and is updated on its own — an upsert would test the
// table's CHECK on the negative row it proposes — and a counter that
// would go below zero fails that CHECK, and with it the transaction.
func (t tally) apply(ctx context.Context, tx *sql.Tx) error {
	var grow, shrink []rowKey
	for k, r := range t {
		switch {
		case r.n == [nColumns]int{}:
		case slices.ContainsFunc(r.n[:], func(n int) bool { return n < 0 }):
			shrink = append(shrink, k)
		default:
			grow = append(grow, k)
		}
	}
	order := func(x, y rowKey) int {
		if x.activity != y.activity {
			return int(x.activity - y.activity)
		}
		return strings.Compare(x.org, y.org)
	}
	slices.SortFunc(grow, order)
	slices.SortFunc(shrink, order)
	if len(shrink) > 0 {
		st, err := tx.PrepareContext(ctx, `UPDATE office_activity_counts SET expected = expected + $1, registered = registered + $2,
  checked_in = checked_in + $3, off_registered = off_registered + $4, off_checked_in = off_checked_in + $5 WHERE activity_id = $6 AND org_id = $7`)
		if err != nil {
			return fmt.Errorf("activity counters: %w", err)
		}
		defer st.Close()
		for _, k := range shrink {
			n := t[k].n
			res, err := st.ExecContext(ctx, n[colExpected], n[colRegistered], n[colCheckedIn], n[colOffRegistered], n[colOffCheckedIn], k.activity, k.org)
			if err != nil {
				return fmt.Errorf("activity counters: %w", err)
			}
			if m, _ := res.RowsAffected(); m != 1 {
				return fmt.Errorf("activity %d counters at %s: taking %v from counters that do not exist", k.activity, k.org, n)
			}
		}
	}
	const per = 50
	for start := 0; start < len(grow); start += per {
		chunk := grow[start:min(start+per, len(grow))]
		var (
			b    strings.Builder
			args []any
		)
		b.WriteString(`INSERT INTO office_activity_counts (activity_id, org_id, parent_id, path, expected, registered, checked_in, off_registered, off_checked_in) VALUES `)
		for i, k := range chunk {
			r := t[k]
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9)
			args = append(args, k.activity, k.org, r.parent, r.path, r.n[colExpected], r.n[colRegistered], r.n[colCheckedIn], r.n[colOffRegistered], r.n[colOffCheckedIn])
		}
		b.WriteString(` ON CONFLICT (activity_id, org_id) DO UPDATE SET
  expected = office_activity_counts.expected + excluded.expected,
  registered = office_activity_counts.registered + excluded.registered,
  checked_in = office_activity_counts.checked_in + excluded.checked_in,
  off_registered = office_activity_counts.off_registered + excluded.off_registered,
  off_checked_in = office_activity_counts.off_checked_in + excluded.off_checked_in`)
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("activity counters: %w", err)
		}
	}
	return nil
}

// countRegistration adds n to the columns a registration is counted in.
func (t tally) countRegistration(a *Activity, path string, onRoster, checkedIn bool, n int) {
	reg, chk := colRegistered, colCheckedIn
	if !onRoster {
		reg, chk = colOffRegistered, colOffCheckedIn
	}
	t.add(a, path, reg, n)
	if checkedIn {
		t.add(a, path, chk, n)
	}
}

// liveAbove returns the activities that follow the roster, have not
// ended, and are held by a unit on one of the paths.
func (s *Service) liveAbove(ctx context.Context, tx *sql.Tx, paths []string) (map[string][]*Activity, error) {
	seen := map[string]bool{}
	var ids []string
	for _, p := range paths {
		for _, id := range directory.PathIDs(p) {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	out := map[string][]*Activity{}
	now := s.Now().Unix()
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := []any{now}
		ph := make([]string, len(chunk))
		for i, id := range chunk {
			args = append(args, id)
			ph[i] = fmt.Sprintf("$%d", i+2)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+columns+` FROM office_activities WHERE org_id IN (`+strings.Join(ph, ", ")+`) AND ends_at > $1 AND follows_roster = 1`, args...)
		if err != nil {
			return nil, fmt.Errorf("live activities: %w", err)
		}
		for rows.Next() {
			a, err := scan(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("live activities: %w", err)
			}
			out[a.OrgID] = append(out[a.OrgID], a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("live activities: %w", err)
		}
	}
	return out, nil
}

// liveWithin returns the activities that follow the roster, have not
// ended, and are held by a unit whose path is in [lo, hi).
func (s *Service) liveWithin(ctx context.Context, tx *sql.Tx, lo, hi string) ([]*Activity, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+columns+` FROM office_activities WHERE org_path >= $1 AND org_path < $2 AND ends_at > $3 AND follows_roster = 1`, lo, hi, s.Now().Unix())
	if err != nil {
		return nil, fmt.Errorf("live activities: %w", err)
	}
	defer rows.Close()
	var out []*Activity
	for rows.Next() {
		a, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("live activities: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// holding returns the activities of live held by a unit on either path,
// each once.
func holding(live map[string][]*Activity, paths ...string) []*Activity {
	var out []*Activity
	for _, p := range paths {
		for _, id := range directory.PathIDs(p) {
			for _, a := range live[id] {
				if !slices.Contains(out, a) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// PeopleMoved moves the counters of every live activity whose audience a
// changed person left or joined: expected along the old path down, along
// the new one up; a registration onto or off the roster, or along with
// its person. It runs in the sync batch's transaction (directory.Roster).
func (s *Service) PeopleMoved(ctx context.Context, tx *sql.Tx, changes []directory.Change) error {
	paths := make([]string, 0, 2*len(changes))
	for _, c := range changes {
		paths = append(paths, c.Old.Path, c.New.Path)
	}
	live, err := s.liveAbove(ctx, tx, paths)
	if err != nil || len(live) == 0 {
		return err
	}
	t := tally{}
	touched := map[int64]*Activity{}
	moved := map[string]directory.Change{}
	var people []string
	for _, c := range changes {
		acts := holding(live, c.Old.Path, c.New.Path)
		for _, a := range acts {
			touched[a.ID] = a
			if a.reaches(c.Old) {
				t.add(a, c.Old.Path, colExpected, -1)
			}
			if a.reaches(c.New) {
				t.add(a, c.New.Path, colExpected, 1)
			}
		}
		if len(acts) > 0 {
			moved[c.PersonID] = c
			people = append(people, c.PersonID)
		}
	}
	type reg struct {
		activity            int64
		person, org, path   string
		onRoster, checkedIn bool
	}
	var regs []reg
	acts := make([]any, 0, len(touched))
	for id := range touched {
		acts = append(acts, id)
	}
	for start := 0; start < len(people); start += 400 {
		chunk := people[start:min(start+400, len(people))]
		args := append([]any{}, acts...)
		aph := make([]string, len(acts))
		for i := range acts {
			aph[i] = fmt.Sprintf("$%d", i+1)
		}
		pph := make([]string, len(chunk))
		for i, p := range chunk {
			args = append(args, p)
			pph[i] = fmt.Sprintf("$%d", len(args))
		}
		rows, err := tx.QueryContext(ctx, `SELECT activity_id, person_id, org_id, org_path, on_roster, CASE WHEN checked_in_at IS NULL THEN 0 ELSE 1 END FROM office_registrations
WHERE person_id IN (`+strings.Join(pph, ", ")+`) AND activity_id IN (`+strings.Join(aph, ", ")+`)`, args...)
		if err != nil {
			return fmt.Errorf("registrations of moved people: %w", err)
		}
		for rows.Next() {
			var (
				r       reg
				on, chk int
			)
			if err := rows.Scan(&r.activity, &r.person, &r.org, &r.path, &on, &chk); err != nil {
				rows.Close()
				return fmt.Errorf("registrations of moved people: %w", err)
			}
			r.onRoster, r.checkedIn = on == 1, chk == 1
			regs = append(regs, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("registrations of moved people: %w", err)
		}
	}
	for _, r := range regs {
		a, c := touched[r.activity], moved[r.person]
		on := a.reaches(c.New)
		switch {
		case r.onRoster && on && r.path == c.New.Path && r.org == c.New.OrgID, !r.onRoster && !on:
			continue
		}
		t.countRegistration(a, r.path, r.onRoster, r.checkedIn, -1)
		org, path := r.org, r.path
		if on {
			org, path = c.New.OrgID, c.New.Path
		}
		t.countRegistration(a, path, on, r.checkedIn, 1)
		if _, err := tx.ExecContext(ctx, `UPDATE office_registrations SET on_roster = $1, org_id = $2, org_path = $3 WHERE activity_id = $4 AND person_id = $5`,
			boolInt(on), org, path, r.activity, r.person); err != nil {
			return fmt.Errorf("move registration: %w", err)
		}
	}
	return t.apply(ctx, tx)
}

// UnitsMoved re-places what lies in a moved subtree: the activities held
// there (their path decides who sees them) and, for the live activities
// above the unit before or after the move or inside it, the counter rows
// of the subtree (a report lists children and gaps from them) and the
// registrations off the roster there, which follow their unit — out of
// the activity's tree, if the unit leaves it. People on the roster move
// with their person (PeopleMoved). Ended activities keep the tree they
// ended with. It runs in the sync batch's transaction.
func (s *Service) UnitsMoved(ctx context.Context, tx *sql.Tx, moves []directory.UnitMove) error {
	for _, m := range moves {
		lo, hi := directory.Range(m.From)
		if _, err := tx.ExecContext(ctx, `UPDATE office_activities SET org_path = $1 || substr(org_path, $2) WHERE org_path >= $3 AND org_path < $4`,
			m.To, len(m.From)+1, lo, hi); err != nil {
			return fmt.Errorf("move activities of %q: %w", m.ID, err)
		}
		live, err := s.liveAbove(ctx, tx, []string{m.From, m.To})
		if err != nil {
			return err
		}
		nlo, nhi := directory.Range(m.To)
		inside, err := s.liveWithin(ctx, tx, nlo, nhi)
		if err != nil {
			return err
		}
		acts := holding(live, m.From, m.To)
		for _, a := range inside {
			if !slices.ContainsFunc(acts, func(b *Activity) bool { return b.ID == a.ID }) {
				acts = append(acts, a)
			}
		}
		t := tally{}
		for _, a := range acts {
			rows, err := tx.QueryContext(ctx, `SELECT person_id, org_path, CASE WHEN checked_in_at IS NULL THEN 0 ELSE 1 END FROM office_registrations
WHERE activity_id = $1 AND on_roster = 0 AND org_path >= $2 AND org_path < $3`, a.ID, lo, hi)
			if err != nil {
				return fmt.Errorf("registrations below %q: %w", m.ID, err)
			}
			n := 0
			for rows.Next() {
				var (
					person, path string
					chk          int
				)
				if err := rows.Scan(&person, &path, &chk); err != nil {
					rows.Close()
					return fmt.Errorf("registrations below %q: %w", m.ID, err)
				}
				t.countRegistration(a, path, false, chk == 1, -1)
				t.countRegistration(a, m.To+path[len(m.From):], false, chk == 1, 1)
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("registrations below %q: %w", m.ID, err)
			}
			if n > 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE office_registrations SET org_path = $1 || substr(org_path, $2)
WHERE activity_id = $3 AND on_roster = 0 AND org_path >= $4 AND org_path < $5`, m.To, len(m.From)+1, a.ID, lo, hi); err != nil {
					return fmt.Errorf("move registrations below %q: %w", m.ID, err)
				}
			}
		}
		if err := t.apply(ctx, tx); err != nil {
			return err
		}
		for _, a := range acts {
			if _, err := tx.ExecContext(ctx, `UPDATE office_activity_counts SET
  path = COALESCE((SELECT u.path FROM office_units u WHERE u.id = office_activity_counts.org_id), path),
  parent_id = COALESCE((SELECT u.parent_id FROM office_units u WHERE u.id = office_activity_counts.org_id), parent_id)
WHERE activity_id = $1 AND org_id IN (SELECT id FROM office_units WHERE path >= $2 AND path < $3)`, a.ID, nlo, nhi); err != nil {
				return fmt.Errorf("move counters of %q: %w", m.ID, err)
			}
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

var _ directory.Roster = (*Service)(nil)
