// Package submission is 投稿: staff send an article (title, rich text
// sanitised on the server, images) to the unit above or a chosen unit
// above; that unit's admins publish it, return it with comments (the
// author revises and resubmits), reject it with a reason, or pass it
// further up. A published article is listed for the publishing unit's
// subtree. Every step is on the item's trail (office/workflow).
package submission

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/notice"
	"github.com/xszz/xszz/office/workflow"
)

// Module names the trail's rows.
const Module = "submission"

const table = "office_submissions"

func init() {
	workflow.Register(table, "body_html, published_org_id, published_name, published_at")
}

// States and decisions.
const (
	Reviewing = "reviewing"
	Returned  = "returned"
	Published = "published"
	Rejected  = "rejected"
)

// Machine is the submission's state machine. Escalation keeps the state
// and moves the article to a unit further up.
var Machine = workflow.Machine{
	Names: map[string]string{
		Reviewing: "审核中", Returned: "退回修改", Published: "已发布", Rejected: "未采用",
		"publish": "发布", "return": "退回修改", "reject": "不采用", "escalate": "推荐上报", "resubmit": "修改后重新提交", "submit": "投稿",
	},
	Moves: map[string]map[string]string{
		Reviewing: {"publish": Published, "return": Returned, "reject": Rejected, "escalate": Reviewing},
		Returned:  {"resubmit": Reviewing},
		Published: {},
		Rejected:  {},
	},
}

// Image limits.
const (
	MaxImages    = 5
	MaxImageSize = 2 << 20
)

var imageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// Image is an image of an article (its data is served separately).
type Image struct {
	N    int    `json:"n"`
	Name string `json:"name"`
	Type string `json:"type"`
}

// Upload is an image as received.
type Upload struct {
	Name string
	Data []byte
}

// Submission is an article with its review state.
type Submission struct {
	workflow.Item
	BodyHTML       string     `json:"body_html"`
	PublishedOrgID string     `json:"published_org_id,omitempty"`
	PublishedName  string     `json:"published_org_name,omitempty"`
	PublishedAt    *time.Time `json:"published_at,omitempty"`
	Images         []Image    `json:"images"`
}

// Draft is what an author writes. To is the unit above chosen (empty:
// the parent).
type Draft struct {
	Title  string   `json:"title"`
	Body   string   `json:"body"`
	To     string   `json:"to"`
	Images []Upload `json:"-"`
}

// Review is a reviewer's decision. To is the unit an escalation goes to
// (empty: the reviewer's parent).
type Review struct {
	Decision string `json:"decision"`
	Comment  string `json:"comment"`
	To       string `json:"to"`
}

// View is a submission as one viewer sees it.
type View struct {
	*Submission
	Trail []workflow.Event `json:"trail"`
	// Allowed are the actions this viewer may take now.
	Allowed []string `json:"allowed"`
}

// Service holds submissions.
type Service struct {
	DB  *sqldb.DB
	Dir workflow.Units
	Now func() time.Time
}

func checkDraft(d *Draft) error {
	var err error
	if d.Title, err = workflow.PlainText(d.Title, "标题", 2, 100); err != nil {
		return err
	}
	if d.Body, err = workflow.RichText(d.Body, "正文", 200<<10); err != nil {
		return err
	}
	if len(d.Images) > MaxImages {
		return workflow.Bad(fmt.Sprintf("图片最多 %d 张", MaxImages))
	}
	return nil
}

// checkImages reads each image's type from its content.
func checkImages(us []Upload) ([]string, error) {
	var types []string
	for _, u := range us {
		if err := notice.CheckName(u.Name); err != nil {
			return nil, workflow.Bad("图片名含有不允许的字符或过长")
		}
		if len(u.Data) == 0 || len(u.Data) > MaxImageSize {
			return nil, workflow.Bad("每张图片应在 2 MB 以内且不能为空")
		}
		t := http.DetectContentType(u.Data)
		if !imageTypes[t] {
			return nil, workflow.Bad("只能上传 PNG、JPEG、GIF 或 WebP 图片（按内容识别）")
		}
		types = append(types, t)
	}
	return types, nil
}

func writeImages(ctx context.Context, tx *sql.Tx, id int64, us []Upload, types []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM office_submission_images WHERE submission_id = $1`, id); err != nil {
		return fmt.Errorf("replace images of %d: %w", id, err)
	}
	for i, u := range us {
		if _, err := tx.ExecContext(ctx, `INSERT INTO office_submission_images (submission_id, n, name, mime, data) VALUES ($1, $2, $3, $4, $5)`,
			id, i+1, u.Name, types[i], u.Data); err != nil {
			return fmt.Errorf("store image of %d: %w", id, err)
		}
	}
	return nil
}

// Submit sends an article from the viewer's unit up for review.
func (s *Service) Submit(ctx context.Context, v directory.Viewer, d Draft) (*Submission, error) {
	if err := checkDraft(&d); err != nil {
		return nil, err
	}
	types, err := checkImages(d.Images)
	if err != nil {
		return nil, err
	}
	to, err := workflow.Above(ctx, s.Dir, v.Path, d.To)
	if err != nil {
		return nil, err
	}
	now := workflow.Now(s.Now)
	sub := &Submission{Item: workflow.Item{State: Reviewing, Title: d.Title, FromOrgID: v.OrgID, FromPath: v.Path, FromName: v.OrgName,
		AuthorID: v.Sub, AuthorName: v.Name, ToOrgID: to.ID, ToPath: to.Path, ToName: to.Name, ToParentID: workflow.ParentOf(to.Path),
		CreatedAt: now, UpdatedAt: now, Version: 1}, BodyHTML: d.Body}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		it := &sub.Item
		if err := tx.QueryRowContext(ctx, `INSERT INTO office_submissions (state, title, from_org_id, from_org_path, from_org_name, author_id, author_name,
  to_org_id, to_org_path, to_org_name, to_parent_id, created_at, updated_at, body_html)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id`,
			it.State, it.Title, it.FromOrgID, it.FromPath, it.FromName, it.AuthorID, it.AuthorName,
			it.ToOrgID, it.ToPath, it.ToName, it.ToParentID, now.Unix(), now.Unix(), sub.BodyHTML).Scan(&it.ID); err != nil {
			return fmt.Errorf("insert submission: %w", err)
		}
		if err := writeImages(ctx, tx, it.ID, d.Images, types); err != nil {
			return err
		}
		return workflow.Record(ctx, tx, Module, it.ID, v, workflow.Event{Action: "submit", ToState: Reviewing, ToOrgName: to.Name, At: now})
	})
	if err != nil {
		return nil, err
	}
	for i, u := range d.Images {
		sub.Images = append(sub.Images, Image{N: i + 1, Name: u.Name, Type: types[i]})
	}
	return sub, nil
}

func scan(r interface{ Scan(...any) error }) (*Submission, error) {
	var (
		sub              Submission
		created, updated int64
		due, published   sql.NullInt64
	)
	if err := r.Scan(sub.Dest(&created, &updated, &due, &sub.BodyHTML, &sub.PublishedOrgID, &sub.PublishedName, &published)...); err != nil {
		return nil, err
	}
	sub.Fix(created, updated, due)
	if published.Valid {
		t := time.Unix(published.Int64, 0).UTC()
		sub.PublishedAt = &t
	}
	return &sub, nil
}

func (s *Service) load(ctx context.Context, id int64) (*Submission, error) {
	sub, err := scan(s.DB.QueryRowContext(ctx, workflow.Select(table)+` WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, workflow.NotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("load submission %d: %w", id, err)
	}
	return sub, nil
}

// readsPublished reports whether v lies in the publishing unit's subtree.
func readsPublished(v directory.Viewer, sub *Submission) bool {
	return sub.State == Published && slices.Contains(directory.PathIDs(v.Path), sub.PublishedOrgID)
}

func (s *Service) allowed(v directory.Viewer, sub *Submission) []string {
	out := []string{}
	switch {
	case sub.State == Reviewing && workflow.Holds(v, &sub.Item):
		out = Machine.Allowed(Reviewing)
		if len(directory.PathIDs(sub.ToPath)) < 2 {
			out = slices.DeleteFunc(out, func(a string) bool { return a == "escalate" })
		}
	case sub.State == Returned && sub.AuthorID == v.Sub:
		out = Machine.Allowed(Returned)
	}
	return out
}

// Get returns a submission the viewer may see, with its trail.
func (s *Service) Get(ctx context.Context, v directory.Viewer, id int64) (*View, error) {
	sub, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !workflow.Sees(v, &sub.Item) && !readsPublished(v, sub) {
		return nil, workflow.NotFound()
	}
	if sub.Images, err = s.images(ctx, id); err != nil {
		return nil, err
	}
	view := &View{Submission: sub, Allowed: s.allowed(v, sub)}
	if workflow.Sees(v, &sub.Item) {
		// Readers of the published article see it, not its review.
		if view.Trail, err = workflow.Trail(ctx, s.DB, Module, id); err != nil {
			return nil, err
		}
	}
	return view, nil
}

func (s *Service) images(ctx context.Context, id int64) ([]Image, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT n, name, mime FROM office_submission_images WHERE submission_id = $1 ORDER BY n`, id)
	if err != nil {
		return nil, fmt.Errorf("images of %d: %w", id, err)
	}
	defer rows.Close()
	out := []Image{}
	for rows.Next() {
		var im Image
		if err := rows.Scan(&im.N, &im.Name, &im.Type); err != nil {
			return nil, err
		}
		out = append(out, im)
	}
	return out, rows.Err()
}

// ImageData returns one image of a submission the viewer may see.
func (s *Service) ImageData(ctx context.Context, v directory.Viewer, id int64, n int) (Image, []byte, error) {
	if _, err := s.Get(ctx, v, id); err != nil {
		return Image{}, nil, err
	}
	var (
		im   = Image{N: n}
		data []byte
	)
	err := s.DB.QueryRowContext(ctx, `SELECT name, mime, data FROM office_submission_images WHERE submission_id = $1 AND n = $2`, id, n).Scan(&im.Name, &im.Type, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return im, nil, workflow.NotFound()
	}
	if err != nil {
		return im, nil, fmt.Errorf("image %d/%d: %w", id, n, err)
	}
	return im, data, nil
}

// Review applies a reviewer's decision. Only admins of the unit holding
// the article decide; a return or rejection needs a comment.
func (s *Service) Review(ctx context.Context, v directory.Viewer, id int64, r Review) (*Submission, error) {
	comment, err := workflow.PlainText(r.Comment, "意见", 0, 2000)
	if err != nil {
		return nil, err
	}
	if (r.Decision == "return" || r.Decision == "reject") && comment == "" {
		return nil, workflow.Bad("退回或不采用时请填写意见")
	}
	if _, ok := Machine.Names[r.Decision]; !ok || r.Decision == "resubmit" || r.Decision == "submit" {
		return nil, workflow.Bad("decision 须为 publish、return、reject 或 escalate")
	}
	var sub *Submission
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if sub, err = s.lock(ctx, tx, v, id); err != nil {
			return err
		}
		if !workflow.Holds(v, &sub.Item) {
			return workflow.Forbidden("只有当前审核单位的管理员可以审核")
		}
		from := sub.State
		to, err := Machine.Next(from, r.Decision)
		if err != nil {
			return err
		}
		now := workflow.Now(s.Now)
		sub.State, sub.UpdatedAt = to, now
		ev := workflow.Event{Action: r.Decision, FromState: from, ToState: to, Comment: comment, At: now}
		set, args := "", []any{}
		switch r.Decision {
		case "escalate":
			up, err := workflow.Above(ctx, s.Dir, sub.ToPath, r.To)
			if err != nil {
				return err
			}
			sub.ToOrgID, sub.ToPath, sub.ToName, sub.ToParentID = up.ID, up.Path, up.Name, workflow.ParentOf(up.Path)
			ev.ToOrgName = up.Name
		case "publish":
			sub.PublishedOrgID, sub.PublishedName, sub.PublishedAt = v.OrgID, v.OrgName, &now
			set, args = "published_org_id = $1, published_name = $2, published_at = $3", []any{v.OrgID, v.OrgName, now.Unix()}
		}
		if err := workflow.Update(ctx, tx, table, &sub.Item, set, args...); err != nil {
			return err
		}
		return workflow.Record(ctx, tx, Module, id, v, ev)
	})
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// lock reads a submission for update; one the viewer may not see does
// not exist for them.
func (s *Service) lock(ctx context.Context, tx *sql.Tx, v directory.Viewer, id int64) (*Submission, error) {
	var (
		sub       Submission
		published sql.NullInt64
	)
	if err := workflow.Lock(ctx, s.DB, tx, table, id, &sub.Item, &sub.BodyHTML, &sub.PublishedOrgID, &sub.PublishedName, &published); err != nil {
		return nil, err
	}
	if !workflow.Sees(v, &sub.Item) {
		return nil, workflow.NotFound()
	}
	return &sub, nil
}

// Resubmit sends a returned article back to the unit that returned it,
// revised. Only its author resubmits. Images given replace the old ones.
func (s *Service) Resubmit(ctx context.Context, v directory.Viewer, id int64, d Draft, comment string) (*Submission, error) {
	if err := checkDraft(&d); err != nil {
		return nil, err
	}
	types, err := checkImages(d.Images)
	if err != nil {
		return nil, err
	}
	if comment, err = workflow.PlainText(comment, "修改说明", 0, 2000); err != nil {
		return nil, err
	}
	var sub *Submission
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if sub, err = s.lock(ctx, tx, v, id); err != nil {
			return err
		}
		if sub.AuthorID != v.Sub {
			return workflow.Forbidden("只有作者可以修改后重新提交")
		}
		from := sub.State
		to, err := Machine.Next(from, "resubmit")
		if err != nil {
			return err
		}
		now := workflow.Now(s.Now)
		sub.State, sub.UpdatedAt, sub.Title, sub.BodyHTML = to, now, d.Title, d.Body
		if err := workflow.Update(ctx, tx, table, &sub.Item, "title = $1, body_html = $2", d.Title, d.Body); err != nil {
			return err
		}
		if len(d.Images) > 0 {
			if err := writeImages(ctx, tx, id, d.Images, types); err != nil {
				return err
			}
		}
		return workflow.Record(ctx, tx, Module, id, v, workflow.Event{Action: "resubmit", FromState: from, ToState: to, ToOrgName: sub.ToName, Comment: comment, At: now})
	})
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// List returns a page of submissions for the viewer (see workflow.Query).
func (s *Service) List(ctx context.Context, v directory.Viewer, q workflow.Query) ([]*Submission, error) {
	if err := Machine.CheckStates(q.States); err != nil {
		return nil, err
	}
	where, args, err := q.Where(ctx, s.Dir, v, workflow.Now(s.Now))
	if err != nil {
		return nil, err
	}
	out := []*Submission{}
	err = workflow.List(ctx, s.DB, table, where, args, q.Limit, func(r *sql.Rows) error {
		sub, err := scan(r)
		if err != nil {
			return err
		}
		sub.BodyHTML = "" // lists carry no bodies
		out = append(out, sub)
		return nil
	})
	return out, err
}

// PublishedFor lists the articles published by the viewer's unit or any
// unit above it, newest first, a page at a time.
func (s *Service) PublishedFor(ctx context.Context, v directory.Viewer, before int64, limit int) ([]*Submission, error) {
	if limit <= 0 || limit > workflow.MaxLimit {
		limit = workflow.DefaultLimit
	}
	anc := workflow.Ancestors(v.Path)
	where := `published_org_id IN (` + workflow.Placeholders(1, len(anc)) + `) AND state = 'published'`
	args := anc
	if before > 0 {
		args = append(args, before)
		where += fmt.Sprintf(` AND id < $%d`, len(args))
	}
	out := []*Submission{}
	err := workflow.List(ctx, s.DB, table, where, args, limit, func(r *sql.Rows) error {
		sub, err := scan(r)
		if err != nil {
			return err
		}
		sub.BodyHTML, sub.AuthorID = "", ""
		out = append(out, sub)
		return nil
	})
	return out, err
}

// Pending counts what awaits the viewer: articles to review (admins) and
// own articles returned for revision.
func (s *Service) Pending(ctx context.Context, v directory.Viewer) (review, returned int, err error) {
	if v.Admin() {
		if review, err = workflow.CountBy(ctx, s.DB, table, `to_org_id = $1 AND state = $2`, "to_org_id, state, id", v.OrgID, Reviewing); err != nil {
			return 0, 0, err
		}
	}
	returned, err = workflow.CountBy(ctx, s.DB, table, `author_id = $1 AND state = $2`, "author_id, id", v.Sub, Returned)
	return review, returned, err
}

// WriteCSV exports the viewer's subtree (admins), filtered as q.
func (s *Service) WriteCSV(ctx context.Context, v directory.Viewer, q workflow.Query, w io.Writer) error {
	return workflow.Export(ctx, v, Machine, q, w, s.List, func(x *Submission) *workflow.Item { return &x.Item })
}
