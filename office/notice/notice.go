// Package notice is 通知公告: notices published by a unit to units below,
// forwarded further down with each forwarder's own note and deadline, and
// read receipts rolled up the tree.
//
// Each publication or forward is a dispatch; its chain is the lineage of
// dispatch ids from the original ('/1/7/12/'). A person has one receipt per
// notice, naming the dispatch that reached them first. Counters per
// (dispatch, unit) hold, for the unit's subtree, how many people the
// dispatch or any forward below it reached and how many of them read and
// confirmed; they move as receipts are created and read, so a roll-up is
// a handful of rows, never a scan of receipts. See docs/office.md.
package notice

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/directory"
)

// Notice is one dispatch: the original publication or a forward.
type Notice struct {
	ID             int64            `json:"id"`
	RootID         int64            `json:"root_id"`
	ParentID       int64            `json:"parent_id,omitempty"`
	Chain          string           `json:"-"`
	OrgID          string           `json:"org_id"`
	OrgPath        string           `json:"-"`
	OrgName        string           `json:"org_name"`
	AuthorID       string           `json:"-"`
	AuthorName     string           `json:"author_name"`
	Title          string           `json:"title"`
	BodyHTML       string           `json:"body_html,omitempty"`
	Note           string           `json:"note,omitempty"`
	Deadline       *time.Time       `json:"deadline,omitempty"`
	RequireConfirm bool             `json:"require_confirm"`
	Target         directory.Target `json:"target"`
	CreatedAt      time.Time        `json:"created_at"`
}

// Draft is what a publisher or forwarder writes.
type Draft struct {
	Title          string           `json:"title"`
	Body           string           `json:"body"`
	Note           string           `json:"note"`
	Deadline       *time.Time       `json:"deadline"`
	RequireConfirm bool             `json:"require_confirm"`
	Target         directory.Target `json:"target"`
	Files          []Upload         `json:"-"`
}

// Directory is the part of the synced directory notices need.
type Directory interface {
	Unit(ctx context.Context, id string) (directory.Unit, error)
	Units(ctx context.Context, ids []string) ([]directory.Unit, error)
	CheckTarget(ctx context.Context, v directory.Viewer, t *directory.Target) error
	Children(ctx context.Context, id string) ([]directory.Unit, error)
}

// Service holds notices.
type Service struct {
	DB  *sqldb.DB
	Dir Directory
	// Files stores attachments; nil refuses them.
	Files *Files
	Now   func() time.Time
	// Texter sends reminders by SMS; nil reminds in the office only.
	Texter Texter
	Log    *slog.Logger
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

var policy = bluemonday.UGCPolicy()

func bad(msg string) error       { return web.Errorf(http.StatusBadRequest, "invalid_request", msg) }
func forbidden(msg string) error { return web.Errorf(http.StatusForbidden, "forbidden", msg) }
func notFound() error {
	return web.Errorf(http.StatusNotFound, "not_found", "通知不存在或无权查看")
}
func tooMany(msg string) error {
	return web.Errorf(http.StatusTooManyRequests, "too_many_requests", msg)
}
func plainText(s string) string { return strings.TrimSpace(bluemonday.StrictPolicy().Sanitize(s)) }
func unixOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.Unix()
}

func (s *Service) checkDraft(d *Draft, forward bool) error {
	// Titles and notes are plain text: tags are stripped rather than
	// escaped, so "<script>" never reaches a page or a CSV.
	d.Title = plainText(d.Title)
	d.Note = plainText(d.Note)
	if !forward {
		if n := utf8.RuneCountInString(d.Title); n < 2 || n > 100 {
			return bad("标题应为 2–100 个字符")
		}
		if len(d.Body) > 200<<10 {
			return bad("正文过长")
		}
		d.Body = policy.Sanitize(d.Body)
	}
	if utf8.RuneCountInString(d.Note) > 2000 {
		return bad("转发说明不能超过 2000 个字符")
	}
	if d.Deadline != nil && !d.Deadline.After(s.Now()) {
		return bad("截止时间须晚于现在")
	}
	return nil
}

func (s *Service) checkTarget(ctx context.Context, v directory.Viewer, t *directory.Target) error {
	return s.Dir.CheckTarget(ctx, v, t)
}

// Publish sends a new notice from the viewer's unit. Only admins publish.
func (s *Service) Publish(ctx context.Context, v directory.Viewer, d Draft) (*Notice, error) {
	if !v.Admin() {
		return nil, forbidden("只有单位管理员可以发布通知")
	}
	if err := s.checkDraft(&d, false); err != nil {
		return nil, err
	}
	if err := s.checkTarget(ctx, v, &d.Target); err != nil {
		return nil, err
	}
	return s.dispatch(ctx, v, nil, d)
}

// Forward sends the notice the viewer received further down, with the
// viewer's note and deadline, keeping the lineage.
func (s *Service) Forward(ctx context.Context, v directory.Viewer, id int64, d Draft) (*Notice, error) {
	root, err := s.rootOf(ctx, id)
	if err != nil {
		return nil, err
	}
	r, err := s.receipt(ctx, root, v.Sub)
	if err != nil {
		return nil, err
	}
	if r == nil {
		// Neither the notice nor the fact that it exists is shown to
		// someone it did not reach.
		return nil, notFound()
	}
	if !v.Admin() {
		return nil, forbidden("只有单位管理员可以转发通知")
	}
	parent, err := s.get(ctx, r.DispatchID)
	if err != nil {
		return nil, err
	}
	if err := s.checkDraft(&d, true); err != nil {
		return nil, err
	}
	if err := s.checkTarget(ctx, v, &d.Target); err != nil {
		return nil, err
	}
	d.Title, d.Body, d.RequireConfirm = parent.Title, "", parent.RequireConfirm
	return s.dispatch(ctx, v, parent, d)
}

// dispatch writes the dispatch, its receipts, its counters and its files
// in one transaction.
func (s *Service) dispatch(ctx context.Context, v directory.Viewer, parent *Notice, d Draft) (*Notice, error) {
	now := s.Now().UTC().Truncate(time.Second)
	n := &Notice{
		OrgID: v.OrgID, OrgPath: v.Path, OrgName: v.OrgName, AuthorID: v.Sub, AuthorName: v.Name,
		Title: d.Title, BodyHTML: d.Body, Note: d.Note, Deadline: d.Deadline, RequireConfirm: d.RequireConfirm,
		Target: d.Target, CreatedAt: now,
	}
	var chainOrgs []dispatchOrg
	if parent != nil {
		n.RootID, n.ParentID = parent.RootID, parent.ID
		var err error
		if chainOrgs, err = s.chainOrgs(ctx, parent.Chain); err != nil {
			return nil, err
		}
	}
	var stored []string
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO office_notices (root_id, parent_id, chain, org_id, org_path, org_name, author_id, author_name,
  title, body_html, note, deadline, require_confirm, target_kind, target, created_at)
VALUES ($1, $2, '', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
			n.RootID, nullID(n.ParentID), n.OrgID, n.OrgPath, n.OrgName, n.AuthorID, n.AuthorName, n.Title, n.BodyHTML, n.Note,
			unixOrNil(n.Deadline), boolInt(n.RequireConfirm), n.Target.Kind, n.Target.Encode(), now.Unix()).Scan(&n.ID)
		if err != nil {
			return fmt.Errorf("insert notice: %w", err)
		}
		if parent == nil {
			n.RootID, n.Chain = n.ID, "/"+strconv.FormatInt(n.ID, 10)+"/"
		} else {
			n.Chain = parent.Chain + strconv.FormatInt(n.ID, 10) + "/"
		}
		if _, err := tx.ExecContext(ctx, `UPDATE office_notices SET root_id = $1, chain = $2 WHERE id = $3`, n.RootID, n.Chain, n.ID); err != nil {
			return fmt.Errorf("insert notice: %w", err)
		}
		cond, args := n.Target.SQL(n.OrgPath, 5)
		if _, err := tx.ExecContext(ctx, `INSERT INTO office_receipts (root_id, person_id, dispatch_id, chain, org_id, org_path)
SELECT $1, p.id, $2, $3, p.org_id, p.org_path FROM office_people p LEFT JOIN office_units u ON u.id = p.org_id
WHERE p.active = $4 AND `+cond+` ON CONFLICT (root_id, person_id) DO NOTHING`,
			append([]any{n.RootID, n.ID, n.Chain, 1}, args...)...); err != nil {
			return fmt.Errorf("insert receipts: %w", err)
		}
		perPath, err := countPaths(ctx, tx, `SELECT org_path, COUNT(*) FROM office_receipts WHERE root_id = $1 AND dispatch_id = $2 GROUP BY org_path`, n.RootID, n.ID)
		if err != nil {
			return err
		}
		chainOrgs = append(chainOrgs, dispatchOrg{ID: n.ID, Path: n.OrgPath})
		// Counters exist for the dispatch's own unit even when nobody is
		// below it yet, so the roll-up shows zeros rather than nothing.
		if _, err := tx.ExecContext(ctx, `INSERT INTO office_notice_counts (dispatch_id, org_id) VALUES ($1, $2) ON CONFLICT (dispatch_id, org_id) DO NOTHING`, n.ID, n.OrgID); err != nil {
			return fmt.Errorf("notice counters: %w", err)
		}
		if err := bump(ctx, tx, "recipients", chainOrgs, perPath); err != nil {
			return err
		}
		for _, f := range d.Files {
			name, err := s.Files.Save(ctx, tx, n.ID, f, now)
			if err != nil {
				return err
			}
			stored = append(stored, name)
		}
		return nil
	})
	if err != nil {
		// Files written before a failed transaction are removed, so
		// nothing is half-written on disk either.
		for _, name := range stored {
			s.Files.remove(name)
		}
		return nil, err
	}
	return n, nil
}

// dispatchOrg is a dispatch of a chain and its unit's path.
type dispatchOrg struct {
	ID   int64
	Path string
}

func (s *Service) chainOrgs(ctx context.Context, chain string) ([]dispatchOrg, error) {
	var out []dispatchOrg
	for _, part := range directory.PathIDs(chain) {
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("notice chain %q: %w", chain, err)
		}
		var p string
		if err := s.DB.QueryRowContext(ctx, `SELECT org_path FROM office_notices WHERE id = $1`, id).Scan(&p); err != nil {
			return nil, fmt.Errorf("notice chain %q: %w", chain, err)
		}
		out = append(out, dispatchOrg{ID: id, Path: p})
	}
	return out, nil
}

func countPaths(ctx context.Context, q sqldb.Querier, query string, args ...any) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("count receipts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			p string
			n int
		)
		if err := rows.Scan(&p, &n); err != nil {
			return nil, fmt.Errorf("count receipts: %w", err)
		}
		out[p] = n
	}
	return out, rows.Err()
}

// bump adds the people per unit path to column of the counters of every
// dispatch of the chain, for each unit from the dispatch's own down to
// the person's.
func bump(ctx context.Context, tx *sql.Tx, column string, chain []dispatchOrg, perPath map[string]int) error {
	type key struct {
		d   int64
		org string
	}
	add := map[key]int{}
	for p, n := range perPath {
		ids := directory.PathIDs(p)
		for _, d := range chain {
			if !strings.HasPrefix(p, d.Path) {
				continue
			}
			for _, id := range ids[len(directory.PathIDs(d.Path))-1:] {
				add[key{d.ID, id}] += n
			}
		}
	}
	for k, n := range add {
		_, err := tx.ExecContext(ctx, `INSERT INTO office_notice_counts (dispatch_id, org_id, `+column+`) VALUES ($1, $2, $3)
ON CONFLICT (dispatch_id, org_id) DO UPDATE SET `+column+` = office_notice_counts.`+column+` + excluded.`+column, k.d, k.org, n)
		if err != nil {
			return fmt.Errorf("notice counters: %w", err)
		}
	}
	return nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const noticeColumns = `id, root_id, COALESCE(parent_id, 0), chain, org_id, org_path, org_name, author_id, author_name, title, body_html, note, deadline, require_confirm, target_kind, target, created_at`

func scanNotice(r interface{ Scan(...any) error }) (*Notice, error) {
	var (
		n            Notice
		deadline     sql.NullInt64
		confirm      int
		kind, target string
		created      int64
	)
	if err := r.Scan(&n.ID, &n.RootID, &n.ParentID, &n.Chain, &n.OrgID, &n.OrgPath, &n.OrgName, &n.AuthorID, &n.AuthorName, &n.Title,
		&n.BodyHTML, &n.Note, &deadline, &confirm, &kind, &target, &created); err != nil {
		return nil, err
	}
	if deadline.Valid {
		t := time.Unix(deadline.Int64, 0).UTC()
		n.Deadline = &t
	}
	n.RequireConfirm = confirm == 1
	n.Target = directory.DecodeTarget(kind, target)
	n.CreatedAt = time.Unix(created, 0).UTC()
	return &n, nil
}

func (s *Service) get(ctx context.Context, id int64) (*Notice, error) {
	n, err := scanNotice(s.DB.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM office_notices WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound()
	}
	if err != nil {
		return nil, fmt.Errorf("load notice %d: %w", id, err)
	}
	return n, nil
}

func (s *Service) rootOf(ctx context.Context, id int64) (int64, error) {
	var root int64
	err := s.DB.QueryRowContext(ctx, `SELECT root_id FROM office_notices WHERE id = $1`, id).Scan(&root)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound()
	}
	if err != nil {
		return 0, fmt.Errorf("load notice %d: %w", id, err)
	}
	return root, nil
}

// Receipt is a person's read status of a notice.
type Receipt struct {
	DispatchID  int64      `json:"dispatch_id"`
	Chain       string     `json:"-"`
	OrgPath     string     `json:"-"`
	ReadAt      *time.Time `json:"read_at,omitempty"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
}

func (s *Service) receipt(ctx context.Context, root int64, person string) (*Receipt, error) {
	var (
		r          Receipt
		read, conf sql.NullInt64
	)
	err := s.DB.QueryRowContext(ctx, `SELECT dispatch_id, chain, org_path, read_at, confirmed_at FROM office_receipts WHERE root_id = $1 AND person_id = $2`, root, person).
		Scan(&r.DispatchID, &r.Chain, &r.OrgPath, &read, &conf)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load receipt: %w", err)
	}
	r.ReadAt, r.ConfirmedAt = timePtr(read), timePtr(conf)
	return &r, nil
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.Unix(v.Int64, 0).UTC()
	return &t
}
