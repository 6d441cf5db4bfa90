package workflow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/directory"
)

// Boxes a list is drawn from.
const (
	// Mine: what the viewer filed.
	BoxMine = "mine"
	// Handling: what the viewer's unit holds now (admins).
	BoxHandling = "handling"
	// Subtree: everything filed in the viewer's subtree (admins).
	BoxSubtree = "subtree"
	// Overdue: past their deadline at a unit directly below the
	// viewer's (admins; complaints).
	BoxOverdue = "overdue"
)

// Query selects a page of a list. Pages are keyset: Before is the last id
// of the previous page (newest first).
type Query struct {
	Box string
	// States keeps only items in these states.
	States []string
	// OrgID keeps only items filed in that unit's subtree (it must lie in
	// what the viewer may see).
	OrgID string
	// From and To bound the filing time: From <= created_at < To.
	From, To *time.Time
	Before   int64
	Limit    int
}

// Page sizes.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Where builds the WHERE clause of a list for v, with its arguments.
func (q *Query) Where(ctx context.Context, dir Units, v directory.Viewer, now time.Time) (string, []any, error) {
	if q.Limit <= 0 || q.Limit > MaxLimit {
		q.Limit = DefaultLimit
	}
	var (
		where []string
		args  []any
	)
	arg := func(a any) string { args = append(args, a); return fmt.Sprintf("$%d", len(args)) }
	if q.Box == "" {
		q.Box = BoxMine
		if v.Admin() {
			q.Box = BoxHandling
		}
	}
	switch q.Box {
	case BoxMine:
		where = append(where, "author_id = "+arg(v.Sub))
	case BoxHandling:
		if !v.Admin() {
			return "", nil, Forbidden("只有单位管理员可以查看本单位待办")
		}
		where = append(where, "to_org_id = "+arg(v.OrgID))
	case BoxSubtree:
		if !v.Admin() {
			return "", nil, Forbidden("只有单位管理员可以查看辖区内的事项")
		}
		lo, hi := directory.Range(v.Path)
		where = append(where, "from_org_path >= "+arg(lo), "from_org_path < "+arg(hi))
	case BoxOverdue:
		if !v.Admin() {
			return "", nil, Forbidden("只有单位管理员可以查看下级超期事项")
		}
		where = append(where, "to_parent_id = "+arg(v.OrgID), "due_at < "+arg(now.Unix()))
	default:
		return "", nil, Bad("box 须为 mine、handling、subtree 或 overdue")
	}
	if q.OrgID != "" {
		u, err := dir.Unit(ctx, q.OrgID)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return "", nil, fmt.Errorf("list filter unit %q: %w", q.OrgID, err)
		}
		if err != nil || !(v.Covers(u.Path) || strings.HasPrefix(v.Path, u.Path)) {
			return "", nil, web.Errorf(http.StatusNotFound, "not_found", "单位不存在或无权查看")
		}
		lo, hi := directory.Range(u.Path)
		where = append(where, "from_org_path >= "+arg(lo), "from_org_path < "+arg(hi))
	}
	if len(q.States) > 0 {
		ph := make([]string, len(q.States))
		for i, s := range q.States {
			ph[i] = arg(s)
		}
		where = append(where, "state IN ("+strings.Join(ph, ", ")+")")
	}
	if q.From != nil {
		where = append(where, "created_at >= "+arg(q.From.Unix()))
	}
	if q.To != nil {
		where = append(where, "created_at < "+arg(q.To.Unix()))
	}
	if q.Before > 0 {
		where = append(where, "id < "+arg(q.Before))
	}
	return strings.Join(where, " AND "), args, nil
}

// CheckStates refuses states the machine does not know.
func (m Machine) CheckStates(states []string) error {
	for _, s := range states {
		if _, ok := m.Moves[s]; !ok {
			return Bad("未知的状态：" + s)
		}
	}
	return nil
}

// List runs a list query on table: newest first, Limit rows, each scanned
// by scan.
func List(ctx context.Context, db *sqldb.DB, table, where string, args []any, limit int, scan func(*sql.Rows) error) error {
	q := Select(table) + ` WHERE ` + where + fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit)
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("list %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("list %s: %w", table, err)
		}
	}
	return rows.Err()
}

// MaxCount caps the inbox's counts: past it a page shows "99+", and a
// unit with a huge backlog does not make every home page slow.
const MaxCount = 100

// Count counts the rows of table matching where, up to MaxCount.
func Count(ctx context.Context, db *sqldb.DB, table, where string, args ...any) (int, error) {
	return CountBy(ctx, db, table, where, "", args...)
}

// CountBy is Count walking an index in the order named: with a LIMIT,
// PostgreSQL otherwise bets on a sequential scan finding the rows early,
// which loses badly when there are none (deadlines nobody missed).
func CountBy(ctx context.Context, db *sqldb.DB, table, where, order string, args ...any) (int, error) {
	if order != "" {
		where += " ORDER BY " + order
	}
	var n int
	if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT %d) capped`, table, where, MaxCount), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}
