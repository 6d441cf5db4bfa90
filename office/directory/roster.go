package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/xszz/xszz/internal/sqldb"
)

// Place is where a person stands in the directory, as far as whom a
// notice or activity reaches depends on it.
type Place struct {
	Active bool
	OrgID  string
	Path   string
	// Level is the level of the unit at OrgID ("" when the office does
	// not know the unit).
	Level string
}

// Change is a person whose place changed in one batch of the sync; Old
// is the zero Place for someone new.
type Change struct {
	PersonID string
	Old, New Place
}

// Roster is told, inside the transaction that changes the directory, how
// people and units moved, so that what is counted against the roster (the
// coverage of activities) moves with them and commits or rolls back with
// the batch.
type Roster interface {
	// PeopleMoved is called with every person of the batch whose place
	// changed (new, disabled, re-enabled, moved, or their unit moved or
	// changed level).
	PeopleMoved(ctx context.Context, tx *sql.Tx, changes []Change) error
	// UnitsMoved is called with the units of the batch that moved; their
	// subtrees came with them.
	UnitsMoved(ctx context.Context, tx *sql.Tx, moves []UnitMove) error
}

// UnitMove is a unit that moved, with the path it had and the path it
// has; the paths of its subtree changed the same way.
type UnitMove struct {
	ID, From, To string
}

// rosterLock keys the advisory lock of LockRoster (PostgreSQL's two-int
// form: "offc", 1), apart from the migrations' lock.
const rosterLockClass, rosterLockID = 0x6f666663, 1

// LockRoster orders a change of the roster against what is counted
// against it. A sync batch takes it exclusively; a registration, a
// sign-in and a new activity share it, so they read the directory either
// before a batch or after it has committed, never half-way — otherwise a
// person added by a batch and registering at the same moment would be
// counted on the roster by neither. Take it first in the transaction, so
// no other lock is held while waiting. On SQLite the transaction's write
// lock already orders them.
func LockRoster(ctx context.Context, db *sqldb.DB, tx *sql.Tx, exclusive bool) error {
	if db.Dialect != sqldb.Postgres {
		return nil
	}
	fn := "pg_advisory_xact_lock_shared"
	if exclusive {
		fn = "pg_advisory_xact_lock"
	}
	if _, err := tx.ExecContext(ctx, `SELECT `+fn+`($1, $2)`, rosterLockClass, rosterLockID); err != nil {
		return fmt.Errorf("lock roster: %w", err)
	}
	return nil
}

// places reads the places of people, by id; people the office does not
// hold are absent.
func places(ctx context.Context, tx *sql.Tx, ids []string) (map[string]Place, error) {
	out := map[string]Place{}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		ph := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, id := range chunk {
			ph[i], args[i] = fmt.Sprintf("$%d", i+1), id
		}
		rows, err := tx.QueryContext(ctx, `SELECT p.id, p.active, p.org_id, p.org_path, COALESCE(u.level, '') FROM office_people p
LEFT JOIN office_units u ON u.id = p.org_id WHERE p.id IN (`+strings.Join(ph, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read places: %w", err)
		}
		for rows.Next() {
			var (
				id     string
				pl     Place
				active int
			)
			if err := rows.Scan(&id, &active, &pl.OrgID, &pl.Path, &pl.Level); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read places: %w", err)
			}
			pl.Active = active == 1
			out[id] = pl
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read places: %w", err)
		}
	}
	return out, nil
}

// PlaceOf returns where one person stands, read in tx; ok is false when
// the office does not hold them.
func PlaceOf(ctx context.Context, tx *sql.Tx, personID string) (Place, bool, error) {
	m, err := places(ctx, tx, []string{personID})
	if err != nil {
		return Place{}, false, err
	}
	p, ok := m[personID]
	return p, ok, nil
}

// changes compares places before and after a batch, in the order of ids.
func changes(ids []string, before, after map[string]Place) []Change {
	var out []Change
	for _, id := range ids {
		if a, b := after[id], before[id]; a != b {
			out = append(out, Change{PersonID: id, Old: b, New: a})
		}
	}
	return out
}

// ApplyPeople writes one batch of people from the sync in one
// transaction, and tells roster (nil: nobody) of everyone whose place
// changed, in the same transaction: the batch and what follows from it
// commit together or not at all.
func (s *Store) ApplyPeople(ctx context.Context, roster Roster, people []Person, now int64) error {
	if len(people) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := LockRoster(ctx, s.db, tx, true); err != nil {
			return err
		}
		ids := make([]string, 0, len(people))
		seen := map[string]bool{}
		for _, p := range people {
			if !seen[p.ID] {
				seen[p.ID] = true
				ids = append(ids, p.ID)
			}
		}
		before, err := places(ctx, tx, ids)
		if err != nil {
			return err
		}
		txCtx := sqldb.WithTx(ctx, tx)
		for _, p := range people {
			if err := s.PutPerson(txCtx, p, now); err != nil {
				return err
			}
		}
		after, err := places(ctx, tx, ids)
		if err != nil {
			return err
		}
		if ch := changes(ids, before, after); roster != nil && len(ch) > 0 {
			return roster.PeopleMoved(ctx, tx, ch)
		}
		return nil
	})
}

// ApplyUnits writes one batch of units from the sync in one transaction.
// A unit whose path changed (it moved) takes its subtree in the office's
// copy with it — the IdP rewrites the paths below a moved unit without
// marking those units modified — and the people of the subtree, and of a
// unit whose level changed, are re-placed; roster (nil: nobody) hears of
// both in the same transaction.
func (s *Store) ApplyUnits(ctx context.Context, roster Roster, units []Unit, now int64) error {
	if len(units) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := LockRoster(ctx, s.db, tx, true); err != nil {
			return err
		}
		txCtx := sqldb.WithTx(ctx, tx)
		var (
			moved    []UnitMove
			affected []string // people whose place may change, in the order found
			before   = map[string]Place{}
		)
		// note records where people stand before the batch touches them:
		// the first step of the batch that can move someone finds them.
		note := func(q string, args ...any) error {
			rows, err := tx.QueryContext(ctx, q, args...)
			if err != nil {
				return err
			}
			var fresh []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				if _, ok := before[id]; !ok {
					before[id] = Place{}
					fresh = append(fresh, id)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			pl, err := places(ctx, tx, fresh)
			if err != nil {
				return err
			}
			for _, id := range fresh {
				before[id] = pl[id]
			}
			affected = append(affected, fresh...)
			return nil
		}
		for _, u := range units {
			old, err := s.Unit(txCtx, u.ID)
			known := err == nil
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			pathChanged := known && old.Path != u.Path
			if pathChanged {
				lo, hi := Range(old.Path)
				if err := note(`SELECT id FROM office_people WHERE org_path >= $1 AND org_path < $2`, lo, hi); err != nil {
					return fmt.Errorf("people below %q: %w", u.ID, err)
				}
			}
			if known && old.Level != u.Level {
				if err := note(`SELECT id FROM office_people WHERE org_id = $1`, u.ID); err != nil {
					return fmt.Errorf("people of %q: %w", u.ID, err)
				}
			}
			if err := s.PutUnit(txCtx, u, now); err != nil {
				return err
			}
			if pathChanged {
				lo, hi := Range(old.Path)
				if _, err := tx.ExecContext(ctx, `UPDATE office_units SET path = $1 || substr(path, $2) WHERE path >= $3 AND path < $4`,
					u.Path, len(old.Path)+1, lo, hi); err != nil {
					return fmt.Errorf("move units below %q: %w", u.ID, err)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE office_people SET org_path = $1 || substr(org_path, $2) WHERE org_path >= $3 AND org_path < $4`,
					u.Path, len(old.Path)+1, lo, hi); err != nil {
					return fmt.Errorf("move people below %q: %w", u.ID, err)
				}
				moved = append(moved, UnitMove{ID: u.ID, From: old.Path, To: u.Path})
			}
		}
		if roster == nil {
			return nil
		}
		after, err := places(ctx, tx, affected)
		if err != nil {
			return err
		}
		if ch := changes(affected, before, after); len(ch) > 0 {
			if err := roster.PeopleMoved(ctx, tx, ch); err != nil {
				return err
			}
		}
		if len(moved) == 0 {
			return nil
		}
		return roster.UnitsMoved(ctx, tx, moved)
	})
}

// Repath brings every person's path in line with their unit's, as a
// safety net after the units of a sync: ApplyUnits already moves the
// people of a moved unit, so this normally finds nobody. Whoever it does
// move goes through roster like any other change.
func (s *Store) Repath(ctx context.Context, roster Roster) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := LockRoster(ctx, s.db, tx, true); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT p.id FROM office_people p JOIN office_units u ON u.id = p.org_id WHERE u.path <> p.org_path`)
		if err != nil {
			return fmt.Errorf("repath people: %w", err)
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("repath people: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(ids) == 0 {
			return err
		}
		before, err := places(ctx, tx, ids)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE office_people SET org_path = (SELECT u.path FROM office_units u WHERE u.id = office_people.org_id)
WHERE EXISTS (SELECT 1 FROM office_units u WHERE u.id = office_people.org_id AND u.path <> office_people.org_path)`); err != nil {
			return fmt.Errorf("repath people: %w", err)
		}
		after, err := places(ctx, tx, ids)
		if err != nil {
			return err
		}
		if ch := changes(ids, before, after); roster != nil && len(ch) > 0 {
			return roster.PeopleMoved(ctx, tx, ch)
		}
		return nil
	})
}
