package office_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office/complaint"
	"github.com/xszz/xszz/office/consultation"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
	"github.com/xszz/xszz/office/submission"
	"github.com/xszz/xszz/office/workflow"
)

// The workflows' visibility, for viewers at each of the six levels × items
// filed by staff of their own unit, its parent, a sibling and a child, on
// both backends. An item is seen by its author and by admins of the filing
// unit and every unit above it; it is held by the filer's parent, whose
// admins alone act on it. So: admins see own and child items; staff see
// none filed by others; only the parent-unit admin of the filer acts.
func TestWorkflowVisibilityMatrix(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr := officetest.Build(t, db)
		now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		dir := directory.NewStore(db)
		subs := &submission.Service{DB: db, Dir: dir, Now: clock}
		cons := &consultation.Service{DB: db, Dir: dir, Now: clock}
		comps := &complaint.Service{DB: db, Dir: dir, Now: clock}

		type ids struct{ sub, con, com int64 }
		items := map[string]ids{}
		for _, u := range append(append([]string{}, tr.Branch...), tr.Sibling...) {
			if u == "" || u == "000000" {
				continue // the ministry has nobody above to send to
			}
			v := tr.Staff(u)
			s, err := subs.Submit(ctx, v, submission.Draft{Title: "稿件 " + u, Body: "<p>正文</p>"})
			if err != nil {
				t.Fatal(err)
			}
			c, err := cons.Ask(ctx, v, consultation.Question{Title: "咨询问题 " + u})
			if err != nil {
				t.Fatal(err)
			}
			p, err := comps.File(ctx, v, complaint.Filing{Title: "投诉事由 " + u, Body: "投诉的具体内容说明。", Case: "案件"})
			if err != nil {
				t.Fatal(err)
			}
			items[u] = ids{s.ID, c.ID, p.ID}
		}
		relations := []struct {
			name  string
			owner func(i int) string
		}{
			{"own", func(i int) string { return tr.Branch[i] }},
			{"parent", func(i int) string {
				if i == 0 {
					return ""
				}
				return tr.Branch[i-1]
			}},
			{"sibling", func(i int) string { return tr.Sibling[i] }},
			{"child", func(i int) string {
				if i+1 >= len(tr.Branch) {
					return ""
				}
				return tr.Branch[i+1]
			}},
		}
		for i, level := range directory.Levels {
			for _, rel := range relations {
				owner := rel.owner(i)
				if owner == "" || owner == "000000" {
					continue
				}
				for _, role := range []string{"staff", "admin"} {
					v := tr.People[tr.Branch[i]+"/"+role]
					t.Run(fmt.Sprintf("%s %s × %s item", level, role, rel.name), func(t *testing.T) {
						it := items[owner]
						// Own-unit items are filed by the unit's staff member: staff
						// see their own, admins their unit's.
						see := rel.name == "own" || role == "admin" && rel.name == "child"
						act := role == "admin" && rel.name == "child" // the child's items are held by the viewer's unit
						seen := map[bool]int{true: http.StatusOK, false: http.StatusNotFound}[see]
						acted := http.StatusOK
						if !act {
							acted = map[bool]int{true: http.StatusForbidden, false: http.StatusNotFound}[see]
						}
						checks := []struct {
							what string
							err  error
							want int
						}{
							{"read submission", second(subs.Get(ctx, v, it.sub)), seen},
							{"read consultation", second(cons.Get(ctx, v, it.con)), seen},
							{"read complaint", second(comps.Get(ctx, v, it.com)), seen},
							{"return submission", second(subs.Review(ctx, v, it.sub, submission.Review{Decision: "return", Comment: "请修改"})), acted},
							{"ask back", second(cons.Act(ctx, v, it.con, consultation.Step{Action: "ask_back", Text: "请补充"})), acted},
							{"accept complaint", second(comps.Transition(ctx, v, it.com, "accepted", "")), acted},
						}
						for _, c := range checks {
							if got := status(c.err); got != c.want {
								t.Errorf("%s: %d (%v), want %d", c.what, got, c.err, c.want)
							}
						}
						// Lists never carry another subtree's items.
						if role == "admin" {
							for _, box := range []string{workflow.BoxSubtree, workflow.BoxHandling} {
								list, err := comps.List(ctx, v, workflow.Query{Box: box, Limit: 100})
								if err != nil {
									t.Fatal(err)
								}
								for _, c := range list {
									if !v.Covers(c.FromPath) {
										t.Errorf("%s list shows %s's complaint", box, c.FromOrgID)
									}
								}
							}
						}
					})
				}
			}
		}
	})
}
