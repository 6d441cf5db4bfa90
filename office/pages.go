package office

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/notice"
	sdkweb "github.com/xszz/xszz/sdk/web"
)

//go:embed templates/*.html
var templateFS embed.FS

var cst = time.FixedZone("CST", 8*3600)

var pageFuncs = template.FuncMap{
	"level": func(l string) string { return directory.LevelNames[l] },
	"kind":  func(k string) string { return activity.Kinds[k] },
	"pct": func(part, whole int) string {
		if whole == 0 {
			return "—"
		}
		return fmt.Sprintf("%d%%", part*100/whole)
	},
	"sub":   func(a, b int) int { return a - b },
	"input": func(t time.Time) string { return t.In(cst).Format("2006-01-02T15:04") },
}

func (s *Service) pages() *template.Template {
	t, err := web.Layout().Funcs(pageFuncs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		panic(fmt.Sprintf("office templates: %v", err)) // embedded at build time; a parse error is a bug
	}
	return t
}

// requireSession admits people signed in through the IdP; others are
// sent to /login (GET) or refused (POST).
func (s *Service) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rp, err := s.relying(c.Request().Context())
		if err != nil {
			return web.Internal(err)
		}
		var result error
		rp.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, _ := sdkweb.SessionFromContext(r.Context())
			v, err := viewerFrom(sess.Claims)
			if err != nil {
				result = err
				return
			}
			c.SetRequest(r)
			c.Set(viewerKey, v)
			result = next(c)
		})).ServeHTTP(c.Response(), c.Request())
		return result
	}
}

type page struct {
	Title, Site string
	Nav         []web.NavItem
	User        string
	Viewer      directory.Viewer
	Flash, Err  string
	Data        any
}

func (s *Service) render(c echo.Context, name, title, section string, data any) error {
	v := viewerOf(c)
	nav := []web.NavItem{{Href: "/", Label: "首页"}, {Href: "/notices", Label: "通知公告"}, {Href: "/activities", Label: "活动"}, {Href: "/contacts", Label: "通讯录"}}
	for _, n := range workflowNav {
		nav = append(nav, web.NavItem{Href: n.Href, Label: n.Label})
	}
	for i := range nav {
		nav[i].Active = nav[i].Href == section
	}
	p := page{Title: title, Site: Site, Nav: nav, User: v.Name + " · " + v.OrgName, Viewer: v, Flash: flash(c.QueryParam("ok")), Data: data}
	web.Render(c, s.tmpl, http.StatusOK, name, p)
	return nil
}

var flashes = map[string]string{
	"published": "通知已发布", "forwarded": "通知已转发", "confirmed": "已确认收到", "reminded": "已提醒未读人员",
	"created": "活动已创建", "saved": "已保存", "registered": "报名成功", "checkedin": "签到成功",
}

func flash(k string) string { return flashes[k] }

// multipartForm returns the posted multipart form, or nil for a form
// without files (urlencoded); a broken or oversized one is refused rather
// than read as a form without attachments.
func multipartForm(c echo.Context) (*multipart.Form, error) {
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return nil, nil
	}
	form, err := c.MultipartForm()
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, web.Errorf(http.StatusRequestEntityTooLarge, "too_large", "上传的内容过大")
		}
		return nil, &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "表单无效，请重新提交", Cause: err}
	}
	return form, nil
}

// readFiles reads the file parts named field of form, skipping empty ones
// (a file input left blank), refusing any over max bytes with tooBig, and
// makes each into an upload of the caller's module with mk.
func readFiles[U any](form *multipart.Form, field string, max int64, tooBig string, mk func(name string, data []byte) U) ([]U, error) {
	var out []U
	for _, fh := range form.File[field] {
		if fh.Size == 0 {
			continue
		}
		if fh.Size > max {
			return nil, badRequest(tooBig)
		}
		f, err := fh.Open()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", field, err)
		}
		data, err := io.ReadAll(io.LimitReader(f, max+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", field, err)
		}
		out = append(out, mk(fh.Filename, data))
	}
	return out, nil
}

func noticeUpload(name string, data []byte) notice.Upload {
	return notice.Upload{Name: name, Data: data}
}

func back(c echo.Context, path, ok string) error {
	if ok != "" {
		path += "?ok=" + ok
	}
	return c.Redirect(http.StatusSeeOther, path)
}

func (s *Service) mountPages(e *echo.Echo, pages *template.Template) {
	s.tmpl = pages
	g := e.Group("", s.requireSession, web.CrossOrigin())
	g.GET("/", s.homePage)
	g.GET("/notices", s.noticesPage)
	g.GET("/notices/new", s.publishPage)
	g.POST("/notices", s.publishForm)
	g.GET("/notices/:id", s.noticePage)
	g.POST("/notices/:id/confirm", s.confirmForm)
	g.GET("/notices/:id/forward", s.forwardPage)
	g.POST("/notices/:id/forward", s.forwardForm)
	g.GET("/notices/:id/receipts", s.receiptsPage)
	g.POST("/notices/:id/remind", s.remindForm)
	g.GET("/files/:id", func(c echo.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		return s.sendFile(c, viewerOf(c), id)
	})
	g.GET("/activities", s.activitiesPage)
	g.GET("/activities/new", s.newActivityPage)
	g.POST("/activities", s.createActivityForm)
	g.GET("/activities/:id", s.activityPage)
	g.POST("/activities/:id/register", s.registerForm)
	g.GET("/activities/:id/checkin", s.activityPage)
	g.POST("/activities/:id/checkin", s.checkInForm)
	g.GET("/activities/:id/screen", s.screenPage)
	g.GET("/activities/:id/coverage", s.coveragePage)
	g.GET("/activities/:id/coverage.csv", s.apiCoverageCSV)
	g.GET("/contacts", s.contactsPage)
	g.POST("/contacts/:id/reveal", s.revealForm)
	g.POST("/contacts/show-phone", func(c echo.Context) error {
		if err := s.setShowPhone(c, c.FormValue("show") == "1"); err != nil {
			return err
		}
		return back(c, "/contacts", "saved")
	})
	g.GET("/contacts/export.csv", s.apiContactsCSV)
	s.mountWorkflowPages(g)
}

func (s *Service) homePage(c echo.Context) error {
	ctx, v := c.Request().Context(), viewerOf(c)
	items, err := s.notices.List(ctx, v, 0, 50)
	if err != nil {
		return err
	}
	var unread []notice.Item
	for _, it := range items {
		if !it.Sent && (it.ReadAt == nil || (it.NeedConfirm && it.ConfirmedAt == nil)) {
			unread = append(unread, it)
		}
	}
	acts, err := s.acts.List(ctx, v, 0, 20)
	if err != nil {
		return err
	}
	now := s.d.Now()
	type open struct {
		A                     *activity.Activity
		Registered, CheckedIn bool
		CanRegister, CanSign  bool
	}
	var opens []open
	for _, a := range acts {
		if !a.Invited(v) || !now.Before(a.SigninCloses) {
			continue
		}
		st, err := s.acts.Status(ctx, v, a.ID)
		if err != nil {
			return err
		}
		opens = append(opens, open{A: a, Registered: st.RegisteredAt != nil, CheckedIn: st.CheckedInAt != nil,
			CanRegister: !now.Before(a.RegOpens) && now.Before(a.RegCloses), CanSign: !now.Before(a.SigninOpens)})
	}
	msgs, err := s.notices.Messages(ctx, v, 5)
	if err != nil {
		return err
	}
	inbox, err := s.inbox(ctx, v)
	if err != nil {
		return err
	}
	return s.render(c, "home.html", "我的待办", "/", map[string]any{"Unread": unread, "Activities": opens, "Messages": msgs, "Inbox": inbox})
}

func (s *Service) noticesPage(c echo.Context) error {
	before, err := cursor(c, "before")
	if err != nil {
		return err
	}
	items, err := s.notices.List(c.Request().Context(), viewerOf(c), before, 20)
	if err != nil {
		return err
	}
	var next int64
	if len(items) == 20 {
		next = items[len(items)-1].ID
	}
	return s.render(c, "notices.html", "通知公告", "/notices", map[string]any{"Items": items, "Next": next})
}

// targetForm is the "to whom" part of the publish and forward forms.
type targetForm struct {
	Children []directory.Unit
	Levels   []string
}

func (s *Service) targetChoices(ctx context.Context, v directory.Viewer) (targetForm, error) {
	ch, err := s.dir.Children(ctx, v.OrgID)
	if err != nil {
		return targetForm{}, err
	}
	var levels []string
	for i, l := range directory.Levels {
		if i > indexOf(directory.Levels, v.Level) {
			levels = append(levels, l)
		}
	}
	return targetForm{Children: ch, Levels: levels}, nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func readTarget(c echo.Context) directory.Target {
	t := directory.Target{Kind: c.FormValue("target")}
	form, _ := c.FormParams()
	switch t.Kind {
	case directory.TargetUnits:
		t.Units = form["units"]
	case directory.TargetLevels:
		t.Levels = form["levels"]
	}
	return t
}

func readTime(c echo.Context, name string) (*time.Time, error) {
	v := strings.TrimSpace(c.FormValue(name))
	if v == "" {
		return nil, nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", v, cst)
	if err != nil {
		return nil, badRequest("时间格式不正确")
	}
	return &t, nil
}

func (s *Service) publishPage(c echo.Context) error {
	v := viewerOf(c)
	if !v.Admin() {
		return web.Errorf(http.StatusForbidden, "forbidden", "只有单位管理员可以发布通知")
	}
	tf, err := s.targetChoices(c.Request().Context(), v)
	if err != nil {
		return err
	}
	return s.render(c, "publish.html", "发布通知", "/notices", tf)
}

func (s *Service) publishForm(c echo.Context) error {
	dl, err := readTime(c, "deadline")
	if err != nil {
		return err
	}
	d := notice.Draft{Title: c.FormValue("title"), Body: c.FormValue("body"), Deadline: dl, RequireConfirm: c.FormValue("require_confirm") == "1", Target: readTarget(c)}
	form, err := multipartForm(c)
	if err != nil {
		return err
	}
	if form != nil {
		if d.Files, err = readFiles(form, "files", notice.MaxFileSize, "附件大小应在 10 MB 以内", noticeUpload); err != nil {
			return err
		}
		if len(d.Files) > notice.MaxFiles {
			return badRequest("附件最多 5 个")
		}
	}
	n, err := s.notices.Publish(c.Request().Context(), viewerOf(c), d)
	if err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/notices/%d", n.ID), "published")
}

func (s *Service) noticePage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ctx, v := c.Request().Context(), viewerOf(c)
	nv, err := s.notices.Get(ctx, v, id)
	if err != nil {
		return err
	}
	// Opening the page is reading the notice.
	if nv.Receipt != nil && nv.Receipt.ReadAt == nil {
		if nv.Receipt, err = s.notices.MarkRead(ctx, v, id); err != nil {
			return err
		}
	}
	return s.render(c, "notice.html", nv.Notice.Title, "/notices", map[string]any{"V": nv, "Body": template.HTML(nv.Notice.BodyHTML)}) // sanitised by bluemonday when published
}

func (s *Service) confirmForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if _, err := s.notices.Confirm(c.Request().Context(), viewerOf(c), id); err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/notices/%d", id), "confirmed")
}

func (s *Service) forwardPage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ctx, v := c.Request().Context(), viewerOf(c)
	nv, err := s.notices.Get(ctx, v, id)
	if err != nil {
		return err
	}
	if !nv.CanForward {
		return web.Errorf(http.StatusForbidden, "forbidden", "只有收到通知的单位管理员可以转发")
	}
	tf, err := s.targetChoices(ctx, v)
	if err != nil {
		return err
	}
	return s.render(c, "forward.html", "转发通知", "/notices", map[string]any{"V": nv, "Target": tf})
}

func (s *Service) forwardForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	dl, err := readTime(c, "deadline")
	if err != nil {
		return err
	}
	if _, err := s.notices.Forward(c.Request().Context(), viewerOf(c), id, notice.Draft{Note: c.FormValue("note"), Deadline: dl, Target: readTarget(c)}); err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/notices/%d/receipts", id), "forwarded")
}

func (s *Service) receiptsPage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	r, err := s.notices.Receipts(c.Request().Context(), viewerOf(c), id, c.QueryParam("org"))
	if err != nil {
		return err
	}
	return s.render(c, "receipts.html", "阅读情况", "/notices", map[string]any{"R": r, "ID": id})
}

func (s *Service) remindForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if _, err := s.notices.Remind(c.Request().Context(), viewerOf(c), id); err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/notices/%d/receipts", id), "reminded")
}

func (s *Service) activitiesPage(c echo.Context) error {
	before, err := cursor(c, "before")
	if err != nil {
		return err
	}
	items, err := s.acts.List(c.Request().Context(), viewerOf(c), before, 20)
	if err != nil {
		return err
	}
	var next int64
	if len(items) == 20 {
		next = items[len(items)-1].ID
	}
	return s.render(c, "activities.html", "活动", "/activities", map[string]any{"Items": items, "Next": next})
}

func (s *Service) newActivityPage(c echo.Context) error {
	v := viewerOf(c)
	if !v.Admin() {
		return web.Errorf(http.StatusForbidden, "forbidden", "只有单位管理员可以创建活动")
	}
	tf, err := s.targetChoices(c.Request().Context(), v)
	if err != nil {
		return err
	}
	now := s.d.Now().Truncate(time.Hour).Add(24 * time.Hour)
	return s.render(c, "activity_new.html", "创建活动", "/activities", map[string]any{"Target": tf, "Start": now, "End": now.Add(2 * time.Hour), "Now": s.d.Now()})
}

func (s *Service) createActivityForm(c echo.Context) error {
	var times [6]*time.Time
	for i, name := range []string{"starts_at", "ends_at", "registration_opens", "registration_closes", "signin_opens", "signin_closes"} {
		t, err := readTime(c, name)
		if err != nil {
			return err
		}
		if t == nil {
			return badRequest("请填写全部时间")
		}
		times[i] = t
	}
	a, err := s.acts.Create(c.Request().Context(), viewerOf(c), activity.Activity{
		Title: c.FormValue("title"), Kind: c.FormValue("kind"), Place: c.FormValue("place"), Link: c.FormValue("link"), Description: c.FormValue("description"),
		StartsAt: *times[0], EndsAt: *times[1], RegOpens: *times[2], RegCloses: *times[3], SigninOpens: *times[4], SigninCloses: *times[5],
		Target: readTarget(c),
	})
	if err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/activities/%d", a.ID), "created")
}

func (s *Service) activityPage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ctx, v := c.Request().Context(), viewerOf(c)
	a, err := s.acts.Get(ctx, v, id)
	if err != nil {
		return err
	}
	st, err := s.acts.Status(ctx, v, id)
	if err != nil {
		return err
	}
	now := s.d.Now()
	return s.render(c, "activity.html", a.Title, "/activities", map[string]any{
		"A": a, "St": st, "Organiser": a.Organiser(v), "Code": c.QueryParam("code"),
		"CanRegister": a.Invited(v) && !now.Before(a.RegOpens) && now.Before(a.RegCloses) && st.RegisteredAt == nil,
		"CanSign":     a.Invited(v) && !now.Before(a.SigninOpens) && now.Before(a.SigninCloses) && st.CheckedInAt == nil,
	})
}

func (s *Service) registerForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if _, err := s.acts.Register(c.Request().Context(), viewerOf(c), id); err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/activities/%d", id), "registered")
}

func (s *Service) checkInForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if _, err := s.acts.CheckIn(c.Request().Context(), viewerOf(c), id, c.FormValue("code")); err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/activities/%d", id), "checkedin")
}

func (s *Service) screenPage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ctx, v := c.Request().Context(), viewerOf(c)
	a, err := s.acts.Get(ctx, v, id)
	if err != nil {
		return err
	}
	sc, err := s.code(c, v, id)
	if err != nil {
		return err
	}
	cov, err := s.acts.Coverage(ctx, v, id, "")
	if err != nil {
		return err
	}
	// The page reloads itself when the code rotates: no script needed.
	refresh := 1
	if d := sc.RotatesAt.Sub(s.d.Now()); d > 0 {
		refresh = int(d.Seconds()) + 1
	}
	return s.render(c, "screen.html", "签到 · "+a.Title, "/activities", map[string]any{"A": a, "Code": sc, "QR": template.URL(sc.QR), "Refresh": min(max(refresh, 1), 31), "Cov": cov}) // QR is a data: URL we made
}

func (s *Service) coveragePage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	cov, err := s.acts.Coverage(c.Request().Context(), viewerOf(c), id, c.QueryParam("org"))
	if err != nil {
		return err
	}
	return s.render(c, "coverage.html", "参会情况", "/activities", map[string]any{"C": cov, "Org": url.QueryEscape(c.QueryParam("org"))})
}

func (s *Service) contactsPage(c echo.Context) error {
	ctx, v := c.Request().Context(), viewerOf(c)
	q, err := s.contactsQuery(c, v, directory.DefaultPage)
	if err != nil {
		return err
	}
	list, next, err := s.contacts.List(ctx, v, q)
	if err != nil {
		return err
	}
	above, err := s.contacts.Above(ctx, v)
	if err != nil {
		return err
	}
	unit := v.OrgID
	if q.OrgID != "" {
		unit = q.OrgID
	}
	children, err := s.dir.Children(ctx, unit)
	if err != nil {
		return err
	}
	// Links keep the query; the cursor alone moves on.
	link := func(cur string) string {
		vals := url.Values{}
		for k, val := range map[string]string{"q": q.Text, "org": q.OrgID, "cursor": cur} {
			if val != "" {
				vals.Set(k, val)
			}
		}
		if len(vals) == 0 {
			return "/contacts"
		}
		return "/contacts?" + vals.Encode()
	}
	d := map[string]any{"List": list, "Above": above, "Children": children, "Q": q}
	if next != nil {
		cur, err := s.cursors.Encode(next, contactsScope(v, q)...)
		if err != nil {
			return err
		}
		d["Next"] = link(cur)
	}
	if q.After != nil {
		d["First"] = link("")
	}
	me, err := s.dir.Person(ctx, v.Sub)
	if err != nil && !errors.Is(err, directory.ErrNotFound) {
		return err
	}
	d["ShowPhone"] = me.ShowPhone
	return s.render(c, "contacts.html", "通讯录", "/contacts", d)
}

// revealForm records the reveal and shows the number on the list page.
func (s *Service) revealForm(c echo.Context) error {
	id := c.Param("id")
	p, err := s.contacts.Reveal(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	name := ""
	if person, err := s.dir.Person(c.Request().Context(), id); err == nil {
		name = person.Name
	}
	return s.render(c, "revealed.html", "完整号码", "/contacts", map[string]any{"Name": name, "Phone": p})
}
