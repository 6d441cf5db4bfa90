// Package consultation is 咨询: a question goes to the unit directly above
// or a chosen unit above; that unit's admins answer it, ask back for more,
// or pass it further up; the asker closes it, or it closes itself once
// answered and quiet for the configured period (CloseQuiet, run by the
// office in the background). Answers the answering unit marks public form
// a knowledge base that everyone in that unit's subtree can search, in
// Chinese (Search).
package consultation

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/workflow"
)

// Module names the trail's rows.
const Module = "consultation"

const table = "office_consultations"

func init() {
	workflow.Register(table, "body, answer, answer_org_id, answer_org_name, answered_at, public, quiet_since")
}

// States.
const (
	Open      = "open"
	AskedBack = "asked_back"
	Answered  = "answered"
	Closed    = "closed"
)

// Machine is the consultation's state machine. Escalation keeps the
// question open and moves it further up.
var Machine = workflow.Machine{
	Names: map[string]string{
		Open: "待答复", AskedBack: "待补充", Answered: "已答复", Closed: "已关闭",
		"ask": "提问", "answer": "答复", "ask_back": "请求补充", "escalate": "转上级", "reply": "补充/追问", "close": "关闭", "auto_close": "无新进展自动关闭",
	},
	Moves: map[string]map[string]string{
		Open:      {"answer": Answered, "ask_back": AskedBack, "escalate": Open, "close": Closed},
		AskedBack: {"reply": Open, "close": Closed},
		Answered:  {"reply": Open, "close": Closed},
		Closed:    {},
	},
}

// Who acts: the holding unit's admins, or the asker.
var holderActions = []string{"answer", "ask_back", "escalate"}

// Consultation is a question with its answer.
type Consultation struct {
	workflow.Item
	Body          string     `json:"body"`
	Answer        string     `json:"answer,omitempty"`
	AnswerOrgID   string     `json:"answer_org_id,omitempty"`
	AnswerOrgName string     `json:"answer_org_name,omitempty"`
	AnsweredAt    *time.Time `json:"answered_at,omitempty"`
	Public        bool       `json:"public"`
	QuietSince    time.Time  `json:"-"`
}

// Question is what an asker writes; To is the unit above chosen (empty:
// the parent).
type Question struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	To    string `json:"to"`
}

// Step is an action on a consultation: the text (answer, question back,
// reply or note), Public for an answer, To for an escalation.
type Step struct {
	Action string `json:"-"`
	Text   string `json:"text"`
	Public bool   `json:"public"`
	To     string `json:"to"`
}

// View is a consultation as one viewer sees it.
type View struct {
	*Consultation
	Trail   []workflow.Event `json:"trail,omitempty"`
	Allowed []string         `json:"allowed"`
}

// Service holds consultations.
type Service struct {
	DB  *sqldb.DB
	Dir workflow.Units
	Now func() time.Time
	// Quiet is how long an answered question may stay without a step
	// before it closes itself (default 7 days).
	Quiet time.Duration
}

func (s *Service) quiet() time.Duration {
	if s.Quiet <= 0 {
		return 7 * 24 * time.Hour
	}
	return s.Quiet
}

// Ask sends a question up.
func (s *Service) Ask(ctx context.Context, v directory.Viewer, q Question) (*Consultation, error) {
	var err error
	if q.Title, err = workflow.PlainText(q.Title, "问题", 4, 100); err != nil {
		return nil, err
	}
	if q.Body, err = workflow.PlainText(q.Body, "问题说明", 0, 5000); err != nil {
		return nil, err
	}
	to, err := workflow.Above(ctx, s.Dir, v.Path, q.To)
	if err != nil {
		return nil, err
	}
	now := workflow.Now(s.Now)
	c := &Consultation{Item: workflow.Item{State: Open, Title: q.Title, FromOrgID: v.OrgID, FromPath: v.Path, FromName: v.OrgName,
		AuthorID: v.Sub, AuthorName: v.Name, ToOrgID: to.ID, ToPath: to.Path, ToName: to.Name, ToParentID: workflow.ParentOf(to.Path),
		CreatedAt: now, UpdatedAt: now, Version: 1}, Body: q.Body, QuietSince: now}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		it := &c.Item
		if err := tx.QueryRowContext(ctx, `INSERT INTO office_consultations (state, title, from_org_id, from_org_path, from_org_name, author_id, author_name,
  to_org_id, to_org_path, to_org_name, to_parent_id, created_at, updated_at, body, quiet_since)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
			it.State, it.Title, it.FromOrgID, it.FromPath, it.FromName, it.AuthorID, it.AuthorName,
			it.ToOrgID, it.ToPath, it.ToName, it.ToParentID, now.Unix(), now.Unix(), c.Body, now.Unix()).Scan(&it.ID); err != nil {
			return fmt.Errorf("insert consultation: %w", err)
		}
		return workflow.Record(ctx, tx, Module, it.ID, v, workflow.Event{Action: "ask", ToState: Open, ToOrgName: to.Name, Comment: c.Body, At: now})
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func scan(r interface{ Scan(...any) error }) (*Consultation, error) {
	var (
		c                       Consultation
		created, updated, quiet int64
		due, answered           sql.NullInt64
		public                  int
	)
	if err := r.Scan(c.Dest(&created, &updated, &due, &c.Body, &c.Answer, &c.AnswerOrgID, &c.AnswerOrgName, &answered, &public, &quiet)...); err != nil {
		return nil, err
	}
	c.Fix(created, updated, due)
	c.Public, c.QuietSince = public == 1, time.Unix(quiet, 0).UTC()
	if answered.Valid {
		t := time.Unix(answered.Int64, 0).UTC()
		c.AnsweredAt = &t
	}
	return &c, nil
}

// inKnowledgeBase reports whether v may read c as a public answer: it
// is public and v lies in the answering unit's subtree.
func inKnowledgeBase(v directory.Viewer, c *Consultation) bool {
	return c.Public && c.AnswerOrgID != "" && (c.State == Answered || c.State == Closed) &&
		slices.Contains(directory.PathIDs(v.Path), c.AnswerOrgID)
}

func allowed(v directory.Viewer, c *Consultation) []string {
	out := []string{}
	for _, a := range Machine.Allowed(c.State) {
		holder := slices.Contains(holderActions, a)
		if holder && workflow.Holds(v, &c.Item) || !holder && c.AuthorID == v.Sub {
			if a == "escalate" && len(directory.PathIDs(c.ToPath)) < 2 {
				continue
			}
			out = append(out, a)
		}
	}
	return out
}

// Get returns a consultation the viewer may see: with its trail when the
// viewer is part of it, as a public answer (no asker, no trail) when it
// is only in the viewer's knowledge base.
func (s *Service) Get(ctx context.Context, v directory.Viewer, id int64) (*View, error) {
	c, err := scan(s.DB.QueryRowContext(ctx, workflow.Select(table)+` WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, workflow.NotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("load consultation %d: %w", id, err)
	}
	switch {
	case workflow.Sees(v, &c.Item):
		view := &View{Consultation: c, Allowed: allowed(v, c)}
		if view.Trail, err = workflow.Trail(ctx, s.DB, Module, id); err != nil {
			return nil, err
		}
		return view, nil
	case inKnowledgeBase(v, c):
		c.AuthorID, c.AuthorName = "", ""
		return &View{Consultation: c, Allowed: []string{}}, nil
	}
	return nil, workflow.NotFound()
}

// Act takes a step: answer, ask_back or escalate (the holding unit's
// admins), reply or close (the asker).
func (s *Service) Act(ctx context.Context, v directory.Viewer, id int64, st Step) (*Consultation, error) {
	if _, ok := Machine.Names[st.Action]; !ok || st.Action == "ask" || st.Action == "auto_close" {
		return nil, workflow.Bad("未知的操作：" + st.Action)
	}
	text, err := workflow.PlainText(st.Text, "内容", 0, 5000)
	if err != nil {
		return nil, err
	}
	if text == "" && (st.Action == "answer" || st.Action == "ask_back" || st.Action == "reply") {
		return nil, workflow.Bad("请填写内容")
	}
	var c *Consultation
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		c = &Consultation{}
		var (
			answered sql.NullInt64
			public   int
			quiet    int64
		)
		if err := workflow.Lock(ctx, s.DB, tx, table, id, &c.Item, &c.Body, &c.Answer, &c.AnswerOrgID, &c.AnswerOrgName, &answered, &public, &quiet); err != nil {
			return err
		}
		if !workflow.Sees(v, &c.Item) {
			return workflow.NotFound()
		}
		// Who may act is checked before the state, so the refusal of
		// a transition names actions the viewer could take.
		if slices.Contains(holderActions, st.Action) && !workflow.Holds(v, &c.Item) {
			return workflow.Forbidden("只有当前受理单位的管理员可以" + Machine.Names[st.Action])
		}
		if !slices.Contains(holderActions, st.Action) && c.AuthorID != v.Sub {
			return workflow.Forbidden("只有提问人可以" + Machine.Names[st.Action])
		}
		from := c.State
		to, err := Machine.Next(from, st.Action)
		if err != nil {
			return err
		}
		if st.Action == "escalate" && len(directory.PathIDs(c.ToPath)) < 2 {
			return workflow.Bad("没有上级单位")
		}
		now := workflow.Now(s.Now)
		c.State, c.UpdatedAt, c.QuietSince = to, now, now
		ev := workflow.Event{Action: st.Action, FromState: from, ToState: to, Comment: text, At: now}
		set, args := "quiet_since = $1", []any{now.Unix()}
		switch st.Action {
		case "escalate":
			up, err := workflow.Above(ctx, s.Dir, c.ToPath, st.To)
			if err != nil {
				return err
			}
			c.ToOrgID, c.ToPath, c.ToName, c.ToParentID = up.ID, up.Path, up.Name, workflow.ParentOf(up.Path)
			ev.ToOrgName = up.Name
		case "answer":
			c.Answer, c.AnswerOrgID, c.AnswerOrgName, c.AnsweredAt, c.Public = text, v.OrgID, v.OrgName, &now, st.Public
			set += ", answer = $2, answer_org_id = $3, answer_org_name = $4, answered_at = $5, public = $6"
			args = append(args, text, v.OrgID, v.OrgName, now.Unix(), b2i(st.Public))
		}
		if err := workflow.Update(ctx, tx, table, &c.Item, set, args...); err != nil {
			return err
		}
		return workflow.Record(ctx, tx, Module, id, v, ev)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// system is the actor of steps nobody took.
var system = directory.Viewer{Sub: "system", Name: "系统", OrgName: "办公系统"}

// CloseQuiet closes answered questions quiet for longer than the quiet
// period and returns how many it closed. Each is closed in its own
// transaction, re-checked under lock, so a reply racing it wins.
func (s *Service) CloseQuiet(ctx context.Context) (int, error) {
	now := workflow.Now(s.Now)
	cutoff := now.Add(-s.quiet()).Unix()
	rows, err := s.DB.QueryContext(ctx, `SELECT id FROM office_consultations WHERE state = $1 AND quiet_since <= $2 ORDER BY id LIMIT 500`, Answered, cutoff)
	if err != nil {
		return 0, fmt.Errorf("quiet consultations: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
			var (
				c        Consultation
				answered sql.NullInt64
				public   int
				quiet    int64
			)
			if err := workflow.Lock(ctx, s.DB, tx, table, id, &c.Item, &c.Body, &c.Answer, &c.AnswerOrgID, &c.AnswerOrgName, &answered, &public, &quiet); err != nil {
				return err
			}
			if c.State != Answered || quiet > cutoff {
				return nil
			}
			c.State, c.UpdatedAt = Closed, now
			if err := workflow.Update(ctx, tx, table, &c.Item, ""); err != nil {
				return err
			}
			n++
			return workflow.Record(ctx, tx, Module, id, system, workflow.Event{Action: "auto_close", FromState: Answered, ToState: Closed,
				Comment: fmt.Sprintf("答复后 %d 天无新进展，自动关闭", int(s.quiet().Hours()/24)), At: now})
		})
		if err != nil {
			return n, fmt.Errorf("close consultation %d: %w", id, err)
		}
	}
	return n, nil
}

// List returns a page of consultations for the viewer.
func (s *Service) List(ctx context.Context, v directory.Viewer, q workflow.Query) ([]*Consultation, error) {
	if err := Machine.CheckStates(q.States); err != nil {
		return nil, err
	}
	where, args, err := q.Where(ctx, s.Dir, v, workflow.Now(s.Now))
	if err != nil {
		return nil, err
	}
	return s.list(ctx, where, args, q.Limit)
}

func (s *Service) list(ctx context.Context, where string, args []any, limit int) ([]*Consultation, error) {
	out := []*Consultation{}
	err := workflow.List(ctx, s.DB, table, where, args, limit, func(r *sql.Rows) error {
		c, err := scan(r)
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// MaxQuery bounds a search text.
const MaxQuery = 50

// Search finds public answers in the viewer's knowledge base (answered by
// the viewer's unit or a unit above it) whose question, details or
// answer contain text, newest first. SQLite: the FTS5 trigram index for
// three characters or more, LIKE below; PostgreSQL: ILIKE over the
// pg_trgm GIN index.
//
// Each query walks newest first and stops at a page, so a common phrase
// (every answer matches) costs no more than a rare one: on SQLite the FTS
// index drives the loop in rowid order; otherwise each answering unit
// above the viewer (at most six) is walked backwards on its
// (answer_org_id, public, id) index and the pages are merged.
func (s *Service) Search(ctx context.Context, v directory.Viewer, text string, before int64, limit int) ([]*Consultation, error) {
	text = strings.TrimSpace(text)
	if n := utf8.RuneCountInString(text); n == 0 || n > MaxQuery {
		return nil, workflow.Bad(fmt.Sprintf("搜索内容应为 1–%d 个字符", MaxQuery))
	}
	if limit <= 0 || limit > workflow.MaxLimit {
		limit = workflow.DefaultLimit
	}
	var (
		out []*Consultation
		err error
	)
	if s.DB.Dialect == sqldb.SQLite && utf8.RuneCountInString(text) >= 3 {
		out, err = s.searchFTS(ctx, v, text, before, limit)
	} else {
		out, err = s.searchLike(ctx, v, text, before, limit)
	}
	for _, c := range out {
		c.AuthorID, c.AuthorName = "", ""
	}
	return out, err
}

func (s *Service) searchFTS(ctx context.Context, v directory.Viewer, text string, before int64, limit int) ([]*Consultation, error) {
	anc := workflow.Ancestors(v.Path)
	args := append([]any{`"` + strings.ReplaceAll(text, `"`, `""`) + `"`, Answered, Closed}, anc...)
	q := workflow.SelectAs(table, "c") + ` FROM office_consultations_fts f CROSS JOIN office_consultations c ON c.id = f.rowid
WHERE office_consultations_fts MATCH $1 AND c.public = 1 AND c.state IN ($2, $3) AND c.answer_org_id IN (` + workflow.Placeholders(4, len(anc)) + `)`
	if before > 0 {
		args = append(args, before)
		q += fmt.Sprintf(` AND f.rowid < $%d`, len(args))
	}
	q += fmt.Sprintf(` ORDER BY f.rowid DESC LIMIT %d`, limit)
	return s.query(ctx, q, args...)
}

func (s *Service) searchLike(ctx context.Context, v directory.Viewer, text string, before int64, limit int) ([]*Consultation, error) {
	like := "%" + escapeLike(text) + "%"
	match := `(title LIKE $5 ESCAPE '\' OR body LIKE $5 ESCAPE '\' OR answer LIKE $5 ESCAPE '\')`
	if s.DB.Dialect == sqldb.Postgres {
		match = `(title || ' ' || body || ' ' || answer) ILIKE $5 ESCAPE '\'`
	}
	if before <= 0 {
		before = 1<<63 - 1
	}
	out := []*Consultation{}
	for _, org := range directory.PathIDs(v.Path) {
		args := []any{org, Answered, Closed, before, like}
		var page []*Consultation
		var err error
		if s.DB.Dialect == sqldb.Postgres {
			// The planner trusts the trigram index even when nearly
			// every row matches, then sorts them all. So: the newest
			// rows first, through the fence of a LIMIT; the index only
			// when they hold too few matches, which means matches are
			// rare and the index is the fast way.
			page, err = s.query(ctx, `SELECT * FROM (`+workflow.Select(table)+` WHERE answer_org_id = $1 AND public = 1 AND state IN ($2, $3) AND id < $4
ORDER BY id DESC LIMIT `+fmt.Sprint(recentWindow)+`) recent WHERE `+match+fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit), args...)
			if err == nil && len(page) < limit {
				page, err = s.list(ctx, `answer_org_id = $1 AND public = 1 AND state IN ($2, $3) AND id < $4 AND `+match, args, limit)
			}
		} else {
			page, err = s.list(ctx, `answer_org_id = $1 AND public = 1 AND state IN ($2, $3) AND id < $4 AND `+match, args, limit)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
	}
	slices.SortFunc(out, func(a, b *Consultation) int { return int(b.ID - a.ID) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// recentWindow is how many of a unit's newest public answers PostgreSQL
// reads before it turns to the trigram index.
const recentWindow = 2000

func (s *Service) query(ctx context.Context, q string, args ...any) ([]*Consultation, error) {
	rows, err := s.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("search consultations: %w", err)
	}
	defer rows.Close()
	out := []*Consultation{}
	for rows.Next() {
		c, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("search consultations: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Pending counts what awaits the viewer: questions to answer (admins of
// the holding unit) and own questions asked back.
func (s *Service) Pending(ctx context.Context, v directory.Viewer) (answer, askedBack int, err error) {
	if v.Admin() {
		if answer, err = workflow.CountBy(ctx, s.DB, table, `to_org_id = $1 AND state = $2`, "to_org_id, state, id", v.OrgID, Open); err != nil {
			return 0, 0, err
		}
	}
	askedBack, err = workflow.CountBy(ctx, s.DB, table, `author_id = $1 AND state = $2`, "author_id, id", v.Sub, AskedBack)
	return answer, askedBack, err
}

// WriteCSV exports the viewer's subtree (admins), filtered as q.
func (s *Service) WriteCSV(ctx context.Context, v directory.Viewer, q workflow.Query, w io.Writer) error {
	return workflow.Export(ctx, v, Machine, q, w, s.List, func(x *Consultation) *workflow.Item { return &x.Item })
}
