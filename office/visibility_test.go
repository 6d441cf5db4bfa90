package office_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/contacts"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/notice"
	"github.com/xszz/xszz/office/officetest"
)

func status(err error) int {
	var we *web.Error
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &we):
		return we.Status
	}
	return http.StatusInternalServerError
}

// Every read and write is decided from the viewer's unit and role: for a
// viewer at each of the six levels, items owned by their own unit, its
// parent, a sibling and a child, on both backends. Items are sent by the
// owner to its whole subtree, so "parent" items reach the viewer and
// "sibling" and "child" ones must not. The contacts are the viewer's
// subtree, on every page, from wherever a cursor points.
func TestVisibilityMatrix(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr := officetest.Build(t, db)
		now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		dir := directory.NewStore(db)
		ns := &notice.Service{DB: db, Dir: dir, Now: clock}
		as := &activity.Service{DB: db, Dir: dir, Now: clock}
		cs := &contacts.Service{Dir: dir, Now: clock}

		// One notice and one activity per unit of the branch and siblings.
		notices, acts := map[string]int64{}, map[string]int64{}
		for _, u := range append(append([]string{}, tr.Branch...), tr.Sibling...) {
			if u == "" {
				continue
			}
			n, err := ns.Publish(ctx, tr.Admin(u), notice.Draft{Title: "通知 " + u})
			if err != nil {
				t.Fatal(err)
			}
			notices[u] = n.ID
			a, err := as.Create(ctx, tr.Admin(u), activity.Activity{Title: "活动 " + u, Place: "会议室",
				StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour), RegOpens: now.Add(-time.Hour), RegCloses: now.Add(time.Hour),
				SigninOpens: now.Add(-time.Hour), SigninCloses: now.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			acts[u] = a.ID
		}

		type relation struct {
			name  string
			owner func(i int) string
			// what the viewer may do with the owner's items
			see, manage bool
		}
		relations := []relation{
			{"own", func(i int) string { return tr.Branch[i] }, true, true},
			{"parent", func(i int) string {
				if i == 0 {
					return ""
				}
				return tr.Branch[i-1]
			}, true, false},
			{"sibling", func(i int) string { return tr.Sibling[i] }, false, false},
			{"child", func(i int) string {
				if i+1 >= len(tr.Branch) {
					return ""
				}
				return tr.Branch[i+1]
			}, false, false},
		}
		want := func(ok bool, deny int) int {
			if ok {
				return http.StatusOK
			}
			return deny
		}
		for i, level := range directory.Levels {
			for _, rel := range relations {
				owner := rel.owner(i)
				if owner == "" {
					continue // the ministry has no parent or sibling, a department no child
				}
				for _, role := range []string{"staff", "admin"} { // staff first: the admin forwards, after which the unit is a sender
					v := tr.People[tr.Branch[i]+"/"+role]
					name := fmt.Sprintf("%s %s × %s item", level, role, rel.name)
					t.Run(name, func(t *testing.T) {
						nid, aid := notices[owner], acts[owner]
						// In the contacts, the owner's unit is visible if it is
						// in the viewer's subtree: own and child.
						inSubtree := rel.name == "own" || rel.name == "child"
						checks := []struct {
							what string
							err  error
							want int
						}{
							{"read notice", second(ns.Get(ctx, v, nid)), want(rel.see, 404)},
							{"mark read", second(ns.MarkRead(ctx, v, nid)), want(rel.see && !rel.manage, map[bool]int{true: 400, false: 404}[rel.manage])},
							{"receipts", second(ns.Receipts(ctx, v, nid, "")), want(rel.manage, map[bool]int{true: 403, false: 404}[rel.see])},
							{"forward", second(ns.Forward(ctx, v, nid, notice.Draft{})), forwardWant(rel.see, rel.manage, role, i)},
							{"activity", second(as.Get(ctx, v, aid)), want(rel.see, 404)},
							{"coverage", second(as.Coverage(ctx, v, aid, "")), want(rel.manage, map[bool]int{true: 403, false: 404}[rel.see])},
							{"register", second(as.Register(ctx, v, aid)), want(rel.see && !rel.manage, map[bool]int{true: 403, false: 404}[rel.manage])},
							{"contacts of the unit", third(cs.List(ctx, v, contacts.Query{OrgID: owner})), want(inSubtree, 404)},
							{"reveal a number", second(cs.Reveal(ctx, v, tr.Staff(owner).Sub)), want(inSubtree && role == "admin", map[bool]int{true: 403, false: 404}[inSubtree])},
						}
						for _, c := range checks {
							if got := status(c.err); got != c.want {
								t.Errorf("%s: %d (%v), want %d", c.what, got, c.err, c.want)
							}
						}
						// Paging: a cursor only says where to go on. From just
						// before the owner's people — the most a made-up
						// cursor could say — the pages hold the viewer's
						// subtree alone, and reach the owner's people only
						// if it is in it.
						staff := tr.Staff(owner)
						for _, q := range []contacts.Query{
							{After: &directory.Position{Key: tr.Units[owner].Path}},
							{Text: staff.Name, After: &directory.Position{Phase: directory.PhaseName, Key: staff.Name}},
						} {
							q.Limit = 2
							reached := false
							for page := 1; ; page++ {
								es, next, err := cs.List(ctx, v, q)
								if err != nil {
									t.Fatalf("page %d from %+v: %v", page, *q.After, err)
								}
								for _, e := range es {
									if !v.Covers(tr.Units[e.OrgID].Path) {
										t.Errorf("page %d from %+v holds %s of %s, outside the viewer's subtree", page, *q.After, e.ID, e.OrgID)
									}
									reached = reached || e.ID == staff.Sub
								}
								if next == nil {
									break
								}
								q.After = next
							}
							if reached != inSubtree {
								t.Errorf("paging from before %s (%q): reached the owner's staff %v, want %v", owner, q.Text, reached, inSubtree)
							}
						}
					})
				}
			}
		}
	})
}

// forwardWant: only a recipient can forward (a sender has no receipt to
// forward from, and to anyone else the notice does not exist), and only
// an admin of the receiving unit.
func forwardWant(see, manage bool, role string, _ int) int {
	switch {
	case !see || manage:
		return http.StatusNotFound
	case role != "admin":
		return http.StatusForbidden
	}
	return http.StatusOK
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }
