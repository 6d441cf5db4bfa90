// Package complaint is 投诉: staff complain about a unit or a case to the
// unit responsible, which accepts, works on, replies to and closes it, or
// rejects it with a reason. Every transition is on the append-only trail;
// the states a unit must act in have deadlines, a complaint past one is
// flagged to the unit above the responsible one, and the complainant sees
// every deadline. A complainant may hide their name from the unit
// complained about; the responsible unit (and those above it) still see
// it.
//
// Routing: the responsible unit is a unit above the complainant's (the
// parent by default). When the complaint is about a unit above the
// complainant's, the responsible unit is that unit or one above it (by
// default that unit): a unit below the one complained about does not
// judge it.
package complaint

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/workflow"
)

// Module names the trail's rows.
const Module = "complaint"

const table = "office_complaints"

func init() {
	workflow.Register(table, "body, about_org_id, about_org_name, case_ref, anonymous, reply, reason, accepted_at, started_at, replied_at, closed_at")
}

// States; a transition is named by the state it leads to.
const (
	Submitted  = "submitted"
	Accepted   = "accepted"
	InProgress = "in_progress"
	Replied    = "replied"
	Closed     = "closed"
	Rejected   = "rejected"
)

// Machine is the complaint's state machine.
var Machine = workflow.Machine{
	Names: map[string]string{
		Submitted: "已提交", Accepted: "已受理", InProgress: "办理中", Replied: "已答复", Closed: "已办结", Rejected: "不予受理",
		"file": "提交投诉",
	},
	Moves: map[string]map[string]string{
		Submitted:  {Accepted: Accepted, Rejected: Rejected},
		Accepted:   {InProgress: InProgress, Rejected: Rejected},
		InProgress: {Replied: Replied},
		// The complainant closes a replied complaint, or reopens it
		// when not satisfied; the responsible unit may close it too.
		Replied:  {Closed: Closed, InProgress: InProgress},
		Closed:   {},
		Rejected: {},
	},
}

// Deadlines are how long the responsible unit has in each state it must
// act in. Plain calendar days: working days need a holiday calendar the
// office does not have.
type Deadlines struct {
	Accept, Start, Reply time.Duration
}

// DefaultDeadlines: accept within 2 days, start within 3 days of
// accepting, reply within 15 days of starting.
var DefaultDeadlines = Deadlines{Accept: 2 * 24 * time.Hour, Start: 3 * 24 * time.Hour, Reply: 15 * 24 * time.Hour}

func (d Deadlines) orDefault() Deadlines {
	if d.Accept <= 0 {
		d.Accept = DefaultDeadlines.Accept
	}
	if d.Start <= 0 {
		d.Start = DefaultDeadlines.Start
	}
	if d.Reply <= 0 {
		d.Reply = DefaultDeadlines.Reply
	}
	return d
}

// Complaint is a complaint as stored.
type Complaint struct {
	workflow.Item
	Body       string     `json:"body"`
	AboutOrgID string     `json:"about_org_id,omitempty"`
	AboutName  string     `json:"about_org_name,omitempty"`
	CaseRef    string     `json:"case_ref,omitempty"`
	Anonymous  bool       `json:"anonymous"`
	Reply      string     `json:"reply,omitempty"`
	Reason     string     `json:"reason,omitempty"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	RepliedAt  *time.Time `json:"replied_at,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
	// Overdue is set when the current state's deadline has passed.
	Overdue bool `json:"overdue"`
}

// Filing is what a complainant writes. About (a unit at or above the
// complainant's) or Case names what the complaint is about; To is the
// responsible unit chosen (empty: the parent).
type Filing struct {
	Title     string `json:"title"`
	Body      string `json:"body"`
	About     string `json:"about"`
	Case      string `json:"case"`
	To        string `json:"to"`
	Anonymous bool   `json:"anonymous"`
}

// Deadline is one state's deadline as the complainant sees it: when the
// step is due (planned from the actual times so far), when it was done.
type Deadline struct {
	State   string     `json:"state"`
	Step    string     `json:"step"`
	Due     time.Time  `json:"due"`
	Done    *time.Time `json:"done,omitempty"`
	Overdue bool       `json:"overdue"`
}

// View is a complaint as one viewer sees it.
type View struct {
	*Complaint
	Deadlines []Deadline       `json:"deadlines"`
	Trail     []workflow.Event `json:"trail"`
	Allowed   []string         `json:"allowed"`
}

// Service holds complaints.
type Service struct {
	DB        *sqldb.DB
	Dir       workflow.Units
	Now       func() time.Time
	Deadlines Deadlines
}

// Hidden is what a hidden complainant's name shows as.
const Hidden = "（投诉人已匿名）"

// namesAuthor reports whether v may see the complainant's name: the
// complainant, and the responsible unit and those above it.
func namesAuthor(v directory.Viewer, c *Complaint) bool {
	return !c.Anonymous || c.AuthorID == v.Sub || (v.Admin() && v.Covers(c.ToPath))
}

func hide(v directory.Viewer, c *Complaint) {
	if !namesAuthor(v, c) {
		c.AuthorID, c.AuthorName = "", Hidden
	}
}

// File records a complaint and assigns it to the responsible unit.
func (s *Service) File(ctx context.Context, v directory.Viewer, f Filing) (*Complaint, error) {
	var err error
	if f.Title, err = workflow.PlainText(f.Title, "投诉事由", 4, 100); err != nil {
		return nil, err
	}
	if f.Body, err = workflow.PlainText(f.Body, "投诉内容", 10, 5000); err != nil {
		return nil, err
	}
	if f.Case, err = workflow.PlainText(f.Case, "案件编号或说明", 0, 100); err != nil {
		return nil, err
	}
	var about directory.Unit
	switch {
	case f.About != "":
		if about, err = s.Dir.Unit(ctx, f.About); err != nil || !strings.HasPrefix(v.Path, about.Path) {
			return nil, workflow.Bad("被投诉单位须为本单位或上级单位")
		}
	case f.Case == "":
		return nil, workflow.Bad("请选择被投诉单位或填写案件")
	}
	if f.To == "" && about.ID != "" && about.ID != v.OrgID {
		// Unchosen, a complaint about a unit above goes to that unit: the
		// parent may lie below it.
		f.To = about.ID
	}
	to, err := workflow.Above(ctx, s.Dir, v.Path, f.To)
	if err != nil {
		return nil, err
	}
	if about.ID != "" && !strings.HasPrefix(about.Path, to.Path) {
		return nil, workflow.Bad("投诉须由被投诉单位或其上级单位办理")
	}
	now := workflow.Now(s.Now)
	due := now.Add(s.Deadlines.orDefault().Accept)
	c := &Complaint{Item: workflow.Item{State: Submitted, Title: f.Title, FromOrgID: v.OrgID, FromPath: v.Path, FromName: v.OrgName,
		AuthorID: v.Sub, AuthorName: v.Name, ToOrgID: to.ID, ToPath: to.Path, ToName: to.Name, ToParentID: workflow.ParentOf(to.Path),
		CreatedAt: now, UpdatedAt: now, DueAt: &due, Version: 1},
		Body: f.Body, AboutOrgID: about.ID, AboutName: about.Name, CaseRef: f.Case, Anonymous: f.Anonymous}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		it := &c.Item
		if err := tx.QueryRowContext(ctx, `INSERT INTO office_complaints (state, title, from_org_id, from_org_path, from_org_name, author_id, author_name,
  to_org_id, to_org_path, to_org_name, to_parent_id, created_at, updated_at, due_at, body, about_org_id, about_org_name, case_ref, anonymous)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING id`,
			it.State, it.Title, it.FromOrgID, it.FromPath, it.FromName, it.AuthorID, it.AuthorName,
			it.ToOrgID, it.ToPath, it.ToName, it.ToParentID, now.Unix(), now.Unix(), due.Unix(),
			c.Body, c.AboutOrgID, c.AboutName, c.CaseRef, b2i(c.Anonymous)).Scan(&it.ID); err != nil {
			return fmt.Errorf("insert complaint: %w", err)
		}
		return workflow.Record(ctx, tx, Module, it.ID, v, workflow.Event{Action: "file", ToState: Submitted, ToOrgName: to.Name, At: now})
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

func timeOrNil(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(n.Int64, 0).UTC()
	return &t
}

func scanInto(c *Complaint, scanFn func(...any) error, now time.Time) error {
	var (
		created, updated                      int64
		due, accepted, started, replied, done sql.NullInt64
		anon                                  int
	)
	if err := scanFn(c.Dest(&created, &updated, &due, &c.Body, &c.AboutOrgID, &c.AboutName, &c.CaseRef, &anon, &c.Reply, &c.Reason,
		&accepted, &started, &replied, &done)...); err != nil {
		return err
	}
	c.Fix(created, updated, due)
	c.Anonymous = anon == 1
	c.AcceptedAt, c.StartedAt, c.RepliedAt, c.ClosedAt = timeOrNil(accepted), timeOrNil(started), timeOrNil(replied), timeOrNil(done)
	c.Overdue = c.DueAt != nil && now.After(*c.DueAt)
	return nil
}

// Schedule returns every deadline of the complaint, past and planned.
func (s *Service) Schedule(c *Complaint, now time.Time) []Deadline {
	d := s.Deadlines.orDefault()
	steps := []struct {
		state, step string
		dur         time.Duration
		done        *time.Time
	}{
		{Submitted, "受理", d.Accept, c.AcceptedAt},
		{Accepted, "开始办理", d.Start, c.StartedAt},
		{InProgress, "答复", d.Reply, c.RepliedAt},
	}
	if c.State == Rejected {
		return []Deadline{}
	}
	out := []Deadline{}
	from := c.CreatedAt
	for _, st := range steps {
		due := from.Add(st.dur)
		dl := Deadline{State: st.state, Step: st.step, Due: due, Done: st.done}
		dl.Overdue = (st.done == nil && now.After(due)) || (st.done != nil && st.done.After(due))
		out = append(out, dl)
		if st.done != nil {
			from = *st.done
		} else if now.After(due) {
			from = now
		} else {
			from = due
		}
	}
	return out
}

func (s *Service) allowed(v directory.Viewer, c *Complaint) []string {
	out := []string{}
	for _, to := range Machine.Allowed(c.State) {
		if canMove(v, c, to) {
			out = append(out, to)
		}
	}
	return out
}

// canMove: the responsible unit's admins move a complaint, except that a
// replied one is closed or reopened by the complainant (the unit may
// close it too).
func canMove(v directory.Viewer, c *Complaint, to string) bool {
	holder, author := workflow.Holds(v, &c.Item), c.AuthorID == v.Sub
	switch {
	case c.State == Replied && to == Closed:
		return holder || author
	case c.State == Replied && to == InProgress:
		return author
	}
	return holder
}

// Get returns a complaint the viewer may see, with every deadline and its
// trail.
func (s *Service) Get(ctx context.Context, v directory.Viewer, id int64) (*View, error) {
	now := workflow.Now(s.Now)
	c := &Complaint{}
	err := scanInto(c, s.DB.QueryRowContext(ctx, workflow.Select(table)+` WHERE id = $1`, id).Scan, now)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, workflow.NotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("load complaint %d: %w", id, err)
	}
	if !workflow.Sees(v, &c.Item) {
		return nil, workflow.NotFound()
	}
	view := &View{Complaint: c, Deadlines: s.Schedule(c, now), Allowed: s.allowed(v, c)}
	if view.Trail, err = workflow.Trail(ctx, s.DB, Module, id); err != nil {
		return nil, err
	}
	if !namesAuthor(v, c) {
		workflow.HideActor(view.Trail, c.AuthorID, Hidden)
	}
	hide(v, c)
	return view, nil
}

// Transition moves a complaint to state to. A rejection needs a reason,
// a reply its text; comment is kept on the trail.
func (s *Service) Transition(ctx context.Context, v directory.Viewer, id int64, to, comment string) (*Complaint, error) {
	if _, ok := Machine.Moves[to]; !ok || to == Submitted {
		return nil, workflow.Bad("to 须为 accepted、in_progress、replied、closed 或 rejected")
	}
	comment, err := workflow.PlainText(comment, "说明", 0, 5000)
	if err != nil {
		return nil, err
	}
	if comment == "" && (to == Rejected || to == Replied) {
		return nil, workflow.Bad(map[string]string{Rejected: "不予受理须说明理由", Replied: "请填写答复内容"}[to])
	}
	now := workflow.Now(s.Now)
	c := &Complaint{}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		err := scanInto(c, tx.QueryRowContext(ctx, workflow.Select(table)+` WHERE id = $1`+s.DB.ForUpdate(), id).Scan, now)
		if errors.Is(err, sql.ErrNoRows) {
			return workflow.NotFound()
		}
		if err != nil {
			return fmt.Errorf("load complaint %d: %w", id, err)
		}
		if !workflow.Sees(v, &c.Item) {
			return workflow.NotFound()
		}
		// Who may act is checked before the state, so the refusal of
		// a transition names transitions the viewer could make.
		from := c.State
		if !workflow.Holds(v, &c.Item) && (c.AuthorID != v.Sub || from != Replied) {
			return workflow.Forbidden("只有办理单位的管理员可以办理投诉")
		}
		if _, err := Machine.Next(from, to); err != nil {
			return err
		}
		if !canMove(v, c, to) {
			if from == Replied {
				return workflow.Forbidden("只有投诉人可以重新办理，投诉人或办理单位可以办结")
			}
			return workflow.Forbidden("只有办理单位的管理员可以办理投诉")
		}
		d := s.Deadlines.orDefault()
		c.State, c.UpdatedAt, c.DueAt = to, now, nil
		var set string
		var args []any
		due := func(dur time.Duration) { t := now.Add(dur); c.DueAt = &t }
		switch to {
		case Accepted:
			due(d.Start)
			c.AcceptedAt, set, args = &now, "accepted_at = $1", []any{now.Unix()}
		case InProgress:
			due(d.Reply)
			c.StartedAt, set, args = &now, "started_at = $1", []any{now.Unix()}
		case Replied:
			c.RepliedAt, c.Reply, set, args = &now, comment, "replied_at = $1, reply = $2", []any{now.Unix(), comment}
		case Closed:
			c.ClosedAt, set, args = &now, "closed_at = $1", []any{now.Unix()}
		case Rejected:
			c.Reason, c.ClosedAt, set, args = comment, &now, "reason = $1, closed_at = $2", []any{comment, now.Unix()}
		}
		c.Overdue = false
		if err := workflow.Update(ctx, tx, table, &c.Item, set, args...); err != nil {
			return err
		}
		return workflow.Record(ctx, tx, Module, id, v, workflow.Event{Action: to, FromState: from, ToState: to, Comment: comment, At: now})
	})
	if err != nil {
		return nil, err
	}
	hide(v, c)
	return c, nil
}

// List returns a page of complaints for the viewer; Overdue lists those
// past a deadline at units directly below the viewer's.
func (s *Service) List(ctx context.Context, v directory.Viewer, q workflow.Query) ([]*Complaint, error) {
	if err := Machine.CheckStates(q.States); err != nil {
		return nil, err
	}
	now := workflow.Now(s.Now)
	where, args, err := q.Where(ctx, s.Dir, v, now)
	if err != nil {
		return nil, err
	}
	out := []*Complaint{}
	err = workflow.List(ctx, s.DB, table, where, args, q.Limit, func(r *sql.Rows) error {
		c := &Complaint{}
		if err := scanInto(c, r.Scan, now); err != nil {
			return err
		}
		hide(v, c)
		c.Body = ""
		out = append(out, c)
		return nil
	})
	return out, err
}

// Pending counts what awaits the viewer: complaints to handle at the
// viewer's unit (how many of them overdue) and complaints past a deadline
// at units directly below (admins).
func (s *Service) Pending(ctx context.Context, v directory.Viewer) (handle, overdue, below int, err error) {
	if !v.Admin() {
		return 0, 0, 0, nil
	}
	now := workflow.Now(s.Now).Unix()
	open := []any{v.OrgID, Submitted, Accepted, InProgress}
	if handle, err = workflow.CountBy(ctx, s.DB, table, `to_org_id = $1 AND state IN ($2, $3, $4)`, "to_org_id, state, id", open...); err != nil {
		return
	}
	if overdue, err = workflow.CountBy(ctx, s.DB, table, `to_org_id = $1 AND state IN ($2, $3, $4) AND due_at < $5`, "to_org_id, due_at", append(open, now)...); err != nil {
		return
	}
	below, err = workflow.CountBy(ctx, s.DB, table, `to_parent_id = $1 AND due_at < $2`, "to_parent_id, due_at", v.OrgID, now)
	return
}

// WriteCSV exports the viewer's subtree (admins), filtered as q, with
// hidden names hidden.
func (s *Service) WriteCSV(ctx context.Context, v directory.Viewer, q workflow.Query, w io.Writer) error {
	return workflow.Export(ctx, v, Machine, q, w, s.List, func(x *Complaint) *workflow.Item { return &x.Item })
}
