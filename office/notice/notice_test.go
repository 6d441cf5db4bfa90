package notice_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/notice"
	"github.com/xszz/xszz/office/officetest"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func newService(t *testing.T, db *sqldb.DB) (*notice.Service, *officetest.Tree, *clock) {
	tr := officetest.Build(t, db)
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	return &notice.Service{DB: db, Dir: directory.NewStore(db), Files: &notice.Files{Dir: t.TempDir()}, Now: c.Now}, tr, c
}

func status(err error) int {
	var we *web.Error
	if errors.As(err, &we) {
		return we.Status
	}
	if err != nil {
		return 500
	}
	return 200
}

// must fails the test (as a panic, which the test runner reports with
// the line) when a step that should work does not.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func rollup(t *testing.T, s *notice.Service, v directory.Viewer, id int64, org string) *notice.Rollup {
	t.Helper()
	return must(s.Receipts(context.Background(), v, id, org))
}

// A notice published by the centre to the provinces, forwarded level by
// level to a school, keeps its lineage, and every read moves the counters
// of each dispatch above the reader.
func TestForwardDownTheTreeAndRollUp(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, tr, c := newService(t, db)
		dl := c.t.Add(72 * time.Hour)
		root := must(s.Publish(ctx, tr.Admin("000000"), notice.Draft{
			Title: "关于开展资助业务培训的通知", Body: "<p>请各地<b>组织参训</b></p>", Deadline: &dl, RequireConfirm: true,
			Target: directory.Target{Kind: directory.TargetLevels, Levels: []string{"province"}},
		}))
		r := rollup(t, s, tr.Admin("000000"), root.ID, "")
		if r.Unit.Recipients != 4 || len(r.Children) != 2 || r.Children[0].Recipients != 2 {
			t.Fatalf("centre roll-up after publishing = %+v", r)
		}

		// Province → its cities → one county → its schools and departments.
		must(s.Forward(ctx, tr.Admin("110000"), root.ID, notice.Draft{Note: "请各市转发", Target: directory.Target{Kind: directory.TargetLevels, Levels: []string{"city"}}}))
		city := must(s.Forward(ctx, tr.Admin("110100"), root.ID, notice.Draft{Note: "请各县落实", Target: directory.Target{Kind: directory.TargetUnits, Units: []string{"110101", "110102"}}}))
		cdl := c.t.Add(48 * time.Hour)
		county := must(s.Forward(ctx, tr.Admin("110101"), root.ID, notice.Draft{Note: "请各校于周五前确认", Deadline: &cdl}))
		if county.Title != root.Title || county.RootID != root.ID || county.ParentID != city.ID {
			t.Fatalf("county forward = %+v", county)
		}

		school := tr.Staff("S01")
		v := must(s.Get(ctx, school, root.ID))
		var notes []string
		for _, d := range v.Chain {
			notes = append(notes, d.OrgName+":"+d.Note)
		}
		if got := strings.Join(notes, " > "); got != "全国学生资助管理中心: > 北京市学生资助管理中心:请各市转发 > 甲市资助中心:请各县落实 > 甲一县资助中心:请各校于周五前确认" {
			t.Errorf("lineage = %s", got)
		}
		if v.Deadline == nil || !v.Deadline.Equal(cdl) || v.Receipt.ReadAt != nil {
			t.Errorf("school view: deadline %v receipt %+v", v.Deadline, v.Receipt)
		}
		if v.Notice.BodyHTML != "<p>请各地<b>组织参训</b></p>" {
			t.Errorf("body = %q", v.Notice.BodyHTML)
		}

		must(s.MarkRead(ctx, school, root.ID))
		must(s.MarkRead(ctx, school, root.ID)) // a second opening is not a second reader
		must(s.Confirm(ctx, tr.Staff("S01D1"), root.ID))

		// Every dispatch above the readers counts them, down its own subtree.
		for _, c := range []struct {
			viewer, at                  string
			recipients, readers, confed int
		}{
			{"000000", "000000", 4 + 4 + 4 + 8, 2, 1},
			{"000000", "110101", 2 + 8, 2, 1},
			{"110000", "110000", 4 + 4 + 8, 2, 1},
			{"110100", "110100", 4 + 8, 2, 1},
			{"110101", "110101", 8, 2, 1},
			{"110101", "S01", 6, 2, 1},
			{"110101", "S02", 2, 0, 0},
		} {
			r := rollup(t, s, tr.Admin(c.viewer), root.ID, c.at)
			if r.Unit.Recipients != c.recipients || r.Unit.Readers != c.readers || r.Unit.Confirmed != c.confed {
				t.Errorf("%s's view at %s = %+v, want %d/%d/%d", c.viewer, c.at, r.Unit.Counts, c.recipients, c.readers, c.confed)
			}
		}
		// Drill down to the people: at the school, its admin has not read;
		// its staff member read but (confirmation required) has not confirmed.
		r = rollup(t, s, tr.Admin("110101"), root.ID, "S01")
		if len(r.Unread) != 2 || len(r.Children) != 2 {
			t.Fatalf("school drill-down = %+v", r)
		}
		for _, p := range r.Unread {
			if strings.Contains(p.Phone, "13800000") {
				t.Errorf("unread list shows a full phone %q", p.Phone)
			}
		}
		if r.Path[0].ID != "110101" || r.Path[len(r.Path)-1].ID != "S01" {
			t.Errorf("breadcrumb = %+v", r.Path)
		}
	})
}

// Who may see, forward and drill into a notice.
func TestNoticeAccessRules(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, tr, _ := newService(t, db)
		n := must(s.Publish(ctx, tr.Admin("110100"), notice.Draft{Title: "甲市通知", Body: "x"}))

		cases := []struct {
			name string
			err  error
			want int
		}{
			{"staff cannot publish", second(s.Publish(ctx, tr.Staff("110100"), notice.Draft{Title: "员工通知"})), http.StatusForbidden},
			{"a sibling city cannot see it", second(s.Get(ctx, tr.Staff("110200"), n.ID)), http.StatusNotFound},
			{"the province above cannot see it", second(s.Get(ctx, tr.Staff("110000"), n.ID)), http.StatusNotFound},
			{"a sibling cannot forward it", second(s.Forward(ctx, tr.Admin("110200"), n.ID, notice.Draft{})), http.StatusNotFound},
			{"a recipient cannot see receipts", second(s.Receipts(ctx, tr.Admin("110101"), n.ID, "")), http.StatusForbidden},
			{"the sender cannot drill outside", second(s.Receipts(ctx, tr.Admin("110100"), n.ID, "110200")), http.StatusNotFound},
			{"unknown notice", second(s.Get(ctx, tr.Admin("110100"), 99999)), http.StatusNotFound},
			{"targets must be below", second(s.Publish(ctx, tr.Admin("110100"), notice.Draft{Title: "越级", Target: directory.Target{Kind: directory.TargetUnits, Units: []string{"110200"}}})), http.StatusBadRequest},
			{"levels must be below", second(s.Publish(ctx, tr.Admin("110100"), notice.Draft{Title: "越级", Target: directory.Target{Kind: directory.TargetLevels, Levels: []string{"province"}}})), http.StatusBadRequest},
			{"a forward may not target the side", second(s.Forward(ctx, tr.Admin("110101"), n.ID, notice.Draft{Target: directory.Target{Kind: directory.TargetUnits, Units: []string{"S01", "110102"}}})), http.StatusBadRequest},
			{"the county below can see it", second(s.Get(ctx, tr.Staff("110101"), n.ID)), http.StatusOK},
			{"the sender's staff can see receipts", second(s.Receipts(ctx, tr.Staff("110100"), n.ID, "S01")), http.StatusOK},
		}
		for _, c := range cases {
			if got := status(c.err); got != c.want {
				t.Errorf("%s: status %d (%v), want %d", c.name, got, c.err, c.want)
			}
		}
		var count int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_notices`).Scan(&count); err != nil || count != 1 {
			t.Errorf("notices after refused writes: %d (%v), want 1", count, err)
		}
	})
}

func second[T any](_ T, err error) error { return err }

// Text fields lose their markup; the body keeps safe formatting only.
func TestNoticeTextIsSanitised(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, tr, _ := newService(t, db)
		n := must(s.Publish(ctx, tr.Admin("110000"), notice.Draft{
			Title: `<script>alert(1)</script>资助<b>通知</b>`,
			Body:  `<p onclick="x()">正文<script>alert(2)</script><a href="javascript:alert(3)">链接</a><img src=x onerror=alert(4)></p>`,
		}))
		if n.Title != "资助通知" {
			t.Errorf("title = %q", n.Title)
		}
		for _, bad := range []string{"script", "onclick", "javascript:", "onerror"} {
			if strings.Contains(n.BodyHTML, bad) {
				t.Errorf("body keeps %q: %s", bad, n.BodyHTML)
			}
		}
		if err := second(s.Publish(ctx, tr.Admin("110000"), notice.Draft{Title: "<b></b>"})); status(err) != http.StatusBadRequest {
			t.Errorf("empty title after stripping: %v", err)
		}
	})
}

// Attachments: type from content, names without path tricks, downloads
// only for readers; a refused file leaves no notice behind.
func TestAttachments(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, tr, _ := newService(t, db)
		pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")
		for _, c := range []struct {
			name string
			up   notice.Upload
			want int
		}{
			{"path trick", notice.Upload{Name: "../../etc/passwd", Data: pdf}, http.StatusBadRequest},
			{"backslash", notice.Upload{Name: `..\\boot.ini`, Data: pdf}, http.StatusBadRequest},
			{"hidden", notice.Upload{Name: ".htaccess", Data: pdf}, http.StatusBadRequest},
			{"right-to-left override", notice.Upload{Name: "报告\u202efdp.exe", Data: pdf}, http.StatusBadRequest},
			{"executable named pdf", notice.Upload{Name: "通知.pdf", Data: []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00")}, http.StatusUnsupportedMediaType},
			{"html named txt", notice.Upload{Name: "a.txt", Data: []byte("<html><script>alert(1)</script></html>")}, http.StatusUnsupportedMediaType},
			{"too large", notice.Upload{Name: "big.pdf", Data: append(pdf, make([]byte, notice.MaxFileSize)...)}, http.StatusBadRequest},
		} {
			_, err := s.Publish(ctx, tr.Admin("110000"), notice.Draft{Title: "附件测试", Files: []notice.Upload{c.up}})
			if got := status(err); got != c.want {
				t.Errorf("%s: %d (%v), want %d", c.name, got, err, c.want)
			}
		}
		var count int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_notices`).Scan(&count); err != nil || count != 0 {
			t.Fatalf("notices after refused attachments: %d (%v)", count, err)
		}
		n := must(s.Publish(ctx, tr.Admin("110000"), notice.Draft{Title: "附件测试", Files: []notice.Upload{{Name: "培训安排.pdf", Data: pdf}}}))
		v := must(s.Get(ctx, tr.Staff("110100"), n.ID))
		if len(v.Files) != 1 || v.Files[0].Type != "application/pdf" || v.Files[0].Name != "培训安排.pdf" {
			t.Fatalf("files = %+v", v.Files)
		}
		f, fh, err := s.Open(ctx, tr.Staff("S01"), v.Files[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		fh.Close()
		if f.Size != int64(len(pdf)) {
			t.Errorf("size %d", f.Size)
		}
		if _, _, err := s.Open(ctx, tr.Staff("120000"), v.Files[0].ID); status(err) != http.StatusNotFound {
			t.Errorf("download by another province: %v", err)
		}
	})
}

// "Remind the unread" reaches only the unread below the sender's dispatch,
// at most once per five minutes.
func TestRemindUnread(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, tr, c := newService(t, db)
		var texts []string
		s.Texter = texterFunc(func(_ context.Context, to, _ string) error { texts = append(texts, to); return nil })
		n := must(s.Publish(ctx, tr.Admin("110101"), notice.Draft{Title: "县级通知"}))
		must(s.MarkRead(ctx, tr.Staff("S01"), n.ID))
		got := must(s.Remind(ctx, tr.Admin("110101"), n.ID))
		if got != 7 || len(texts) != 7 {
			t.Errorf("reminded %d, texted %d; want 7", got, len(texts))
		}
		if m := must(s.Messages(ctx, tr.Admin("S02"), 10)); len(m) != 1 || !strings.Contains(m[0].Text, "县级通知") {
			t.Errorf("S02 admin's messages = %+v", m)
		}
		if m := must(s.Messages(ctx, tr.Staff("S01"), 10)); len(m) != 0 {
			t.Errorf("a reader was reminded: %+v", m)
		}
		if err := second(s.Remind(ctx, tr.Admin("110101"), n.ID)); status(err) != http.StatusTooManyRequests {
			t.Errorf("second reminder at once: %v", err)
		}
		c.t = c.t.Add(notice.RemindInterval)
		if err := second(s.Remind(ctx, tr.Admin("110101"), n.ID)); err != nil {
			t.Errorf("reminder after five minutes: %v", err)
		}
		if err := second(s.Remind(ctx, tr.Staff("110101"), n.ID)); status(err) != http.StatusForbidden {
			t.Errorf("staff reminding: %v", err)
		}
	})
}

type texterFunc func(ctx context.Context, to, text string) error

func (f texterFunc) Text(ctx context.Context, to, text string) error { return f(ctx, to, text) }

// Concurrent first reads of one person count once (on PostgreSQL too).
func TestConcurrentReadsCountOnce(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, tr, _ := newService(t, db)
		n := must(s.Publish(ctx, tr.Admin("110100"), notice.Draft{Title: "并发测试"}))
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.MarkRead(ctx, tr.Staff("S01"), n.ID); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if r := rollup(t, s, tr.Admin("110100"), n.ID, ""); r.Unit.Readers != 1 {
			t.Errorf("readers = %d, want 1", r.Unit.Readers)
		}
	})
}
