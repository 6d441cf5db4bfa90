package workflow

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office/directory"
)

// Event is one step of an item's trail. Events are only ever added: the
// table refuses updates and deletes (triggers in the migration).
type Event struct {
	Seq       int       `json:"seq"`
	Action    string    `json:"action"`
	FromState string    `json:"from_state,omitempty"`
	ToState   string    `json:"to_state"`
	ActorID   string    `json:"actor_id,omitempty"`
	ActorName string    `json:"actor_name,omitempty"`
	ActorOrg  string    `json:"actor_org_name"`
	ToOrgName string    `json:"to_org_name,omitempty"`
	Comment   string    `json:"comment,omitempty"`
	At        time.Time `json:"at"`
}

// Record appends an event to an item's trail inside tx.
func Record(ctx context.Context, tx *sql.Tx, module string, id int64, v directory.Viewer, e Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO office_trail (module, item_id, seq, action, from_state, to_state, actor_id, actor_name, actor_org_id, actor_org_name, to_org_name, comment, at)
VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM office_trail WHERE module = $1 AND item_id = $2), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		module, id, e.Action, e.FromState, e.ToState, v.Sub, v.Name, v.OrgID, v.OrgName, e.ToOrgName, e.Comment, e.At.Unix())
	if err != nil {
		return fmt.Errorf("record %s %d %s: %w", module, id, e.Action, err)
	}
	return nil
}

// Trail returns an item's events in order.
func Trail(ctx context.Context, db *sqldb.DB, module string, id int64) ([]Event, error) {
	rows, err := db.QueryContext(ctx, `SELECT seq, action, from_state, to_state, actor_id, actor_name, actor_org_name, to_org_name, comment, at
FROM office_trail WHERE module = $1 AND item_id = $2 ORDER BY seq`, module, id)
	if err != nil {
		return nil, fmt.Errorf("trail of %s %d: %w", module, id, err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var (
			e  Event
			at int64
		)
		if err := rows.Scan(&e.Seq, &e.Action, &e.FromState, &e.ToState, &e.ActorID, &e.ActorName, &e.ActorOrg, &e.ToOrgName, &e.Comment, &at); err != nil {
			return nil, fmt.Errorf("trail of %s %d: %w", module, id, err)
		}
		e.At = time.Unix(at, 0).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// HideActor blanks the author's own steps, for viewers from whom a
// complainant's name is hidden.
func HideActor(es []Event, authorID, label string) {
	for i := range es {
		if es[i].ActorID == authorID {
			es[i].ActorID, es[i].ActorName = "", label
		}
	}
}
