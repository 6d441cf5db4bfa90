package submission_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
	"github.com/xszz/xszz/office/submission"
	"github.com/xszz/xszz/office/workflow"
)

func status(err error) int {
	var we *web.Error
	if err == nil {
		return 200
	}
	if errors.As(err, &we) {
		return we.Status
	}
	return 500
}

func second[T any](_ T, err error) error { return err }

var png = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

func setup(t *testing.T, db *sqldb.DB) (*officetest.Tree, *submission.Service) {
	tr := officetest.Build(t, db)
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	return tr, &submission.Service{DB: db, Dir: directory.NewStore(db), Now: func() time.Time { return now }}
}

var draft = submission.Draft{Title: "我校资助育人工作纪实", Body: `<p>今年我校<b>国家助学金</b>覆盖 312 人。</p><script>alert(1)</script>`}

func TestSubmitSanitisesAndSniffs(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s := setup(t, db)
		d := draft
		d.Images = []submission.Upload{{Name: "现场.png", Data: png}}
		sub, err := s.Submit(ctx, tr.Staff("S01"), d)
		if err != nil {
			t.Fatal(err)
		}
		if sub.ToOrgID != "110101" || sub.State != "reviewing" || sub.BodyHTML != `<p>今年我校<b>国家助学金</b>覆盖 312 人。</p>` {
			t.Fatalf("%+v", sub)
		}
		im, data, err := s.ImageData(ctx, tr.Admin("110101"), sub.ID, 1)
		if err != nil || im.Type != "image/png" || len(data) != len(png) {
			t.Fatalf("image: %+v %v", im, err)
		}
		for _, tc := range []struct {
			name string
			d    submission.Draft
		}{
			{"a script named as an image", submission.Draft{Title: "标题标题", Body: "<p>正文</p>", Images: []submission.Upload{{Name: "a.png", Data: []byte("<script>alert(1)</script>")}}}},
			{"a path in the name", submission.Draft{Title: "标题标题", Body: "<p>正文</p>", Images: []submission.Upload{{Name: "../a.png", Data: png}}}},
			{"too large", submission.Draft{Title: "标题标题", Body: "<p>正文</p>", Images: []submission.Upload{{Name: "a.png", Data: append(append([]byte{}, png...), make([]byte, submission.MaxImageSize)...)}}}},
			{"an empty body", submission.Draft{Title: "标题标题", Body: "<script>x</script>"}},
			{"a one-character title", submission.Draft{Title: "标", Body: "<p>正文</p>"}},
			{"to a sibling", submission.Draft{Title: "标题标题", Body: "<p>正文</p>", To: "S02"}},
		} {
			if err := second(s.Submit(ctx, tr.Staff("S01"), tc.d)); status(err) != 400 {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		if n, _ := workflow.Count(ctx, db, "office_submissions", "1 = 1"); n != 1 {
			t.Fatalf("%d submissions stored, want only the good one", n)
		}
	})
}

func TestReviewFlow(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s := setup(t, db)
		author, county, city := tr.Staff("S01"), tr.Admin("110101"), tr.Admin("110100")
		sub, _ := s.Submit(ctx, author, draft)
		steps := []struct {
			name string
			do   func() error
			want int
		}{
			{"the author cannot review", func() error { return second(s.Review(ctx, author, sub.ID, submission.Review{Decision: "publish"})) }, 403},
			{"the city does not hold it yet", func() error { return second(s.Review(ctx, city, sub.ID, submission.Review{Decision: "publish"})) }, 403},
			{"a return needs comments", func() error { return second(s.Review(ctx, county, sub.ID, submission.Review{Decision: "return"})) }, 400},
			{"an unknown decision", func() error { return second(s.Review(ctx, county, sub.ID, submission.Review{Decision: "approve"})) }, 400},
			{"returned with comments", func() error {
				return second(s.Review(ctx, county, sub.ID, submission.Review{Decision: "return", Comment: "请补充数据来源"}))
			}, 200},
			{"no decision on a returned article", func() error { return second(s.Review(ctx, county, sub.ID, submission.Review{Decision: "publish"})) }, 409},
			{"only the author resubmits", func() error { return second(s.Resubmit(ctx, tr.Staff("S02"), sub.ID, draft, "")) }, 404},
			{"resubmitted", func() error { return second(s.Resubmit(ctx, author, sub.ID, draft, "已补充")) }, 200},
			{"escalated to the city", func() error {
				return second(s.Review(ctx, county, sub.ID, submission.Review{Decision: "escalate", Comment: "推荐"}))
			}, 200},
			{"the county no longer holds it", func() error { return second(s.Review(ctx, county, sub.ID, submission.Review{Decision: "publish"})) }, 403},
			{"published by the city", func() error { return second(s.Review(ctx, city, sub.ID, submission.Review{Decision: "publish"})) }, 200},
			{"published is final", func() error {
				return second(s.Review(ctx, city, sub.ID, submission.Review{Decision: "reject", Comment: "x"}))
			}, 409},
		}
		for _, st := range steps {
			if got := status(st.do()); got != st.want {
				t.Fatalf("%s: %d, want %d", st.name, got, st.want)
			}
		}
		v, err := s.Get(ctx, author, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range v.Trail {
			actions = append(actions, e.Action)
		}
		if want := "submit return resubmit escalate publish"; join(actions) != want {
			t.Fatalf("trail %q, want %q", join(actions), want)
		}
		// Published by the city: listed in the city's subtree, not the sibling city's.
		for _, tc := range []struct {
			who  directory.Viewer
			want int
		}{{tr.Staff("110101"), 1}, {tr.Staff("S02"), 1}, {tr.Staff("110100"), 1}, {tr.Staff("110200"), 0}, {tr.Staff("110000"), 0}} {
			list, err := s.PublishedFor(ctx, tc.who, 0, 0)
			if err != nil || len(list) != tc.want {
				t.Errorf("%s sees %d published, want %d (%v)", tc.who.OrgID, len(list), tc.want, err)
			}
			if got := status(second(s.Get(ctx, tc.who, sub.ID))); got != map[int]int{1: 200, 0: 404}[tc.want] {
				t.Errorf("%s reads it: %d", tc.who.OrgID, got)
			}
		}
	})
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestListFilters(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s := setup(t, db)
		for _, u := range []string{"S01", "S01", "S02", "S01D1"} {
			if _, err := s.Submit(ctx, tr.Staff(u), draft); err != nil {
				t.Fatal(err)
			}
		}
		county := tr.Admin("110101")
		day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
		next := day.Add(24 * time.Hour)
		for _, tc := range []struct {
			name string
			q    workflow.Query
			want int
			code int
		}{
			{"held by the county", workflow.Query{Box: workflow.BoxHandling}, 3, 200},
			{"the county's subtree", workflow.Query{Box: workflow.BoxSubtree}, 4, 200},
			{"one school's subtree", workflow.Query{Box: workflow.BoxSubtree, OrgID: "S01"}, 3, 200},
			{"by state", workflow.Query{Box: workflow.BoxSubtree, States: []string{"published"}}, 0, 200},
			{"by date", workflow.Query{Box: workflow.BoxSubtree, From: &day, To: &next}, 4, 200},
			{"before the day", workflow.Query{Box: workflow.BoxSubtree, To: &day}, 0, 200},
			{"a page", workflow.Query{Box: workflow.BoxSubtree, Limit: 2}, 2, 200},
			{"an unknown state", workflow.Query{States: []string{"nope"}}, 0, 400},
			{"a unit elsewhere", workflow.Query{Box: workflow.BoxSubtree, OrgID: "120000"}, 0, 404},
			{"an unknown box", workflow.Query{Box: "all"}, 0, 400},
		} {
			list, err := s.List(ctx, county, tc.q)
			if status(err) != tc.code || len(list) != tc.want {
				t.Errorf("%s: %d items, %v", tc.name, len(list), err)
			}
		}
		page1, _ := s.List(ctx, county, workflow.Query{Box: workflow.BoxSubtree, Limit: 2})
		page2, _ := s.List(ctx, county, workflow.Query{Box: workflow.BoxSubtree, Limit: 2, Before: page1[1].ID})
		if len(page2) != 2 || page2[0].ID >= page1[1].ID {
			t.Fatalf("keyset pages overlap: %v %v", page1, page2)
		}
		if err := second(s.List(ctx, tr.Staff("S01"), workflow.Query{Box: workflow.BoxSubtree})); status(err) != 403 {
			t.Fatalf("staff listing the subtree: %v", err)
		}
	})
}
