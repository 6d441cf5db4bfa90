// Package workflow holds what the office's three up-the-tree workflows —
// 投稿 submissions, 咨询 consultations and 投诉 complaints — share: the
// common columns of an item (who filed it from which unit, which unit
// holds it now, its state), the state machines that refuse a transition
// not allowed from the current state and name the allowed ones, the
// append-only trail of every step, the routing rule (work only ever moves
// to units above the filer) and the paginated, filtered lists.
//
// Visibility, the same for all three: an item is seen by its author, and
// by the admins of the filing unit and of every unit above it (so also by
// the unit that holds it, which is always above the filer). Only the
// admins of the holding unit act on it. See docs/office.md.
package workflow

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/directory"
)

// Item is what every workflow item has.
type Item struct {
	ID         int64     `json:"id"`
	State      string    `json:"state"`
	Title      string    `json:"title"`
	FromOrgID  string    `json:"from_org_id"`
	FromPath   string    `json:"-"`
	FromName   string    `json:"from_org_name"`
	AuthorID   string    `json:"author_id,omitempty"`
	AuthorName string    `json:"author_name,omitempty"`
	ToOrgID    string    `json:"to_org_id"`
	ToPath     string    `json:"-"`
	ToName     string    `json:"to_org_name"`
	ToParentID string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// DueAt is the deadline of the current state, where it has one.
	DueAt   *time.Time `json:"due_at,omitempty"`
	Version int64      `json:"-"`
}

// Columns are the common columns, in Scan's order; every workflow table
// has them.
const Columns = `id, state, title, from_org_id, from_org_path, from_org_name, author_id, author_name,
to_org_id, to_org_path, to_org_name, to_parent_id, created_at, updated_at, due_at, version`

// Dest returns the scan destinations for Columns followed by extra.
func (it *Item) Dest(created, updated *int64, due *sql.NullInt64, extra ...any) []any {
	return append([]any{&it.ID, &it.State, &it.Title, &it.FromOrgID, &it.FromPath, &it.FromName, &it.AuthorID, &it.AuthorName,
		&it.ToOrgID, &it.ToPath, &it.ToName, &it.ToParentID, created, updated, due, &it.Version}, extra...)
}

// Fix sets the times after a Scan with Dest.
func (it *Item) Fix(created, updated int64, due sql.NullInt64) {
	it.CreatedAt, it.UpdatedAt = time.Unix(created, 0).UTC(), time.Unix(updated, 0).UTC()
	it.DueAt = nil
	if due.Valid {
		t := time.Unix(due.Int64, 0).UTC()
		it.DueAt = &t
	}
}

// Sees reports whether v may see the item: its author, or an admin of the
// filing unit or a unit above it.
func Sees(v directory.Viewer, it *Item) bool {
	return it.AuthorID == v.Sub || (v.Admin() && v.Covers(it.FromPath))
}

// Holds reports whether v acts for the unit that holds the item now.
func Holds(v directory.Viewer, it *Item) bool { return v.Admin() && v.OrgID == it.ToOrgID }

// Errors in the API's format.
func Bad(msg string) error       { return web.Errorf(http.StatusBadRequest, "invalid_request", msg) }
func Forbidden(msg string) error { return web.Errorf(http.StatusForbidden, "forbidden", msg) }
func NotFound() error {
	return web.Errorf(http.StatusNotFound, "not_found", "不存在或无权查看")
}

var (
	strict = bluemonday.StrictPolicy()
	rich   = bluemonday.UGCPolicy()
)

// PlainText strips tags (rather than escaping them, so "<script>" never
// reaches a page or a CSV) and checks the length in characters.
func PlainText(s, what string, lo, hi int) (string, error) {
	s = strings.TrimSpace(strict.Sanitize(s))
	if n := utf8.RuneCountInString(s); n < lo || n > hi {
		if lo == 0 {
			return "", Bad(fmt.Sprintf("%s不能超过 %d 个字符", what, hi))
		}
		return "", Bad(fmt.Sprintf("%s应为 %d–%d 个字符", what, lo, hi))
	}
	return s, nil
}

// RichText sanitises HTML with the same policy as notices.
func RichText(s, what string, maxBytes int) (string, error) {
	if len(s) > maxBytes {
		return "", Bad(what + "过长")
	}
	s = strings.TrimSpace(rich.Sanitize(s))
	if strings.TrimSpace(strict.Sanitize(s)) == "" {
		return "", Bad(what + "不能为空")
	}
	return s, nil
}

// Units is the part of the directory the workflows need.
type Units interface {
	Unit(ctx context.Context, id string) (directory.Unit, error)
}

// Above resolves the unit work is sent to from a unit at path: the one
// chosen (it must be strictly above), or the parent when none is chosen.
// The ministry has no unit above it.
func Above(ctx context.Context, dir Units, path, chosen string) (directory.Unit, error) {
	ids := directory.PathIDs(path)
	if len(ids) < 2 {
		return directory.Unit{}, Bad("没有上级单位")
	}
	if chosen == "" {
		chosen = ids[len(ids)-2]
	}
	if !slices.Contains(ids[:len(ids)-1], chosen) {
		return directory.Unit{}, Bad("只能提交给上级单位")
	}
	u, err := dir.Unit(ctx, chosen)
	if errors.Is(err, directory.ErrNotFound) {
		return directory.Unit{}, Bad("上级单位不存在")
	}
	return u, err
}

// ParentOf is a unit's parent id from its path ("" for the root).
func ParentOf(path string) string {
	ids := directory.PathIDs(path)
	if len(ids) < 2 {
		return ""
	}
	return ids[len(ids)-2]
}

// Ancestors returns the ids of the unit at path and every unit above it.
func Ancestors(path string) []any {
	var out []any
	for _, id := range directory.PathIDs(path) {
		out = append(out, id)
	}
	return out
}

// Placeholders returns "$n, $n+1, …" for k arguments.
func Placeholders(n, k int) string {
	p := make([]string, k)
	for i := range p {
		p[i] = fmt.Sprintf("$%d", n+i)
	}
	return strings.Join(p, ", ")
}

// Now truncates to the second, as stored.
func Now(now func() time.Time) time.Time { return now().UTC().Truncate(time.Second) }

// Unix or NULL.
func UnixOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Unix()
}

// ErrStale is returned when an item changed between read and write.
var ErrStale = web.Errorf(http.StatusConflict, "conflict", "该事项刚被他人处理，请刷新后重试")

// Update writes the new state and holder of a locked item, checking the
// version it was read at, so on either backend two racing transitions
// cannot both apply.
func Update(ctx context.Context, tx *sql.Tx, table string, it *Item, set string, args ...any) error {
	base := []any{it.State, it.ToOrgID, it.ToPath, it.ToName, it.ToParentID, it.UpdatedAt.Unix(), UnixOrNil(it.DueAt), it.ID, it.Version}
	q := `UPDATE ` + table + ` SET state = $1, to_org_id = $2, to_org_path = $3, to_org_name = $4, to_parent_id = $5,
updated_at = $6, due_at = $7, version = version + 1`
	if set != "" {
		q += ", " + shift(set, len(base))
	}
	q += ` WHERE id = $8 AND version = $9`
	res, err := tx.ExecContext(ctx, q, append(base, args...)...)
	if err != nil {
		return fmt.Errorf("update %s %d: %w", table, it.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return ErrStale
	}
	it.Version++
	return nil
}

// shift renumbers $1… in set to follow n base arguments.
func shift(set string, n int) string {
	var b strings.Builder
	for i := 0; i < len(set); i++ {
		if set[i] == '$' {
			j := i + 1
			k := 0
			for j < len(set) && set[j] >= '0' && set[j] <= '9' {
				k = k*10 + int(set[j]-'0')
				j++
			}
			fmt.Fprintf(&b, "$%d", k+n)
			i = j - 1
			continue
		}
		b.WriteByte(set[i])
	}
	return b.String()
}

// Lock reads an item for update inside tx.
func Lock(ctx context.Context, db *sqldb.DB, tx *sql.Tx, table string, id int64, it *Item, extra ...any) error {
	var (
		created, updated int64
		due              sql.NullInt64
	)
	cols := Columns
	err := tx.QueryRowContext(ctx, `SELECT `+cols+extraCols(table)+` FROM `+table+` WHERE id = $1`+db.ForUpdate(), id).
		Scan(it.Dest(&created, &updated, &due, extra...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return NotFound()
	}
	if err != nil {
		return fmt.Errorf("load %s %d: %w", table, id, err)
	}
	it.Fix(created, updated, due)
	return nil
}

// extraColumns are each table's own columns, registered by the module.
var extraColumns = map[string]string{}

// Register names a table's own columns, in the order its scans expect
// them after Columns.
func Register(table, cols string) { extraColumns[table] = cols }

func extraCols(table string) string {
	if c := extraColumns[table]; c != "" {
		return ", " + c
	}
	return ""
}

// Select is "SELECT <common>, <own> FROM table".
func Select(table string) string { return `SELECT ` + Columns + extraCols(table) + ` FROM ` + table }

// SelectAs is Select with every column prefixed by alias, for joins;
// it stops before FROM.
func SelectAs(table, alias string) string {
	var cols []string
	for _, c := range strings.Split(Columns+extraCols(table), ",") {
		cols = append(cols, alias+"."+strings.TrimSpace(c))
	}
	return `SELECT ` + strings.Join(cols, ", ")
}
