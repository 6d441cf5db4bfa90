package console

import (
	"context"
	"crypto/hmac"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/grant"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/sqldb"
)

// maxForm bounds what a console form may post.
const maxForm = 8 << 10

// pageSize is how many accounts a list page shows.
const pageSize = 50

// requireAdmin admits browsers whose SSO session belongs to an active
// admin. The account is read on every request, so disabling or demoting an
// admin takes effect on the next click.
func (c *Console) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		// After signing in, the admin comes back to the page asked for
		// (a POST's page is the console's home).
		login := idpweb.LoginPath("/admin")
		if ec.Request().Method == http.MethodGet {
			login = idpweb.LoginPath(ec.Request().URL.RequestURI())
		}
		ck, err := ec.Cookie(c.Config.CookieName)
		if err != nil || ck.Value == "" {
			return ec.Redirect(http.StatusSeeOther, login)
		}
		ctx := ec.Request().Context()
		sess, err := c.Sessions.Lookup(ctx, ck.Value)
		if errors.Is(err, session.ErrNoSession) || errors.Is(err, sqldb.ErrNotFound) {
			return ec.Redirect(http.StatusSeeOther, login)
		}
		if err != nil {
			return err
		}
		acc, err := c.adminAccount(ctx, sess.AccountID)
		if errors.Is(err, sqldb.ErrNotFound) {
			return ec.Redirect(http.StatusSeeOther, login)
		}
		if err != nil {
			return err
		}
		if !acc.Active() {
			return ec.Redirect(http.StatusSeeOther, login)
		}
		if !isAdmin(acc) {
			return c.errorPage(ec, http.StatusForbidden, "管理控制台仅对单位管理员开放。如需管理权限，请联系上级单位管理员。")
		}
		if !hasAMR(sess, c.Config.RequireAMR) {
			return c.errorPage(ec, http.StatusForbidden, "管理控制台需要使用动态口令登录，请退出后重新登录。")
		}
		ec.Set(actorKey, signedIn{
			actor: admin.Actor{Account: acc, IP: ec.RealIP(), UserAgent: ec.Request().UserAgent()},
			csrf:  c.csrfToken(ck.Value),
		})
		return next(ec)
	}
}

// checkPost guards every state change: the Origin, when the browser sends
// one, must be the IdP's own, and the form must carry the CSRF token of
// this session.
func (c *Console) checkPost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		r := ec.Request()
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return next(ec)
		}
		if o := r.Header.Get("Origin"); o != "" && o != c.origin {
			return c.errorPage(ec, http.StatusForbidden, "请求来源不被允许。")
		}
		r.Body = http.MaxBytesReader(ec.Response(), r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return c.errorPage(ec, http.StatusBadRequest, "请求格式错误。")
		}
		got, want := r.PostForm.Get("csrf"), actorOf(ec).csrf
		if got == "" || !hmac.Equal([]byte(got), []byte(want)) {
			return c.errorPage(ec, http.StatusForbidden, "页面已过期，请刷新后重试。")
		}
		return next(ec)
	}
}

// base is the data every page has.
func (c *Console) base(ec echo.Context, title string) map[string]any {
	s := actorOf(ec)
	d := map[string]any{"Title": title, "CSRF": s.csrf, "Me": s.actor.Account}
	if s.actor.Account != nil {
		if o, err := c.Orgs.Get(ec.Request().Context(), s.actor.Account.OrgID); err == nil {
			d["MyOrg"] = o
		}
		d["ConflictCount"] = c.conflictBadge(ec.Request().Context(), s.actor)
	}
	if msg, ok := notices[ec.QueryParam("ok")]; ok {
		d["Notice"] = msg
	}
	return d
}

// notices are the fixed confirmations a 303 may ask a page to show; the
// query names one, so a link cannot put words on the page.
var notices = map[string]string{
	"approved":          "已通过该账号的注册申请。",
	"rejected":          "已驳回该账号的注册申请。",
	"disabled":          "账号已停用，其所有登录会话和令牌已失效。",
	"enabled":           "账号已启用。",
	"role":              "角色已修改，该账号需重新登录。",
	"moved":             "已调整所属单位，该账号需重新登录。",
	"granted":           "已授予数字驾驶舱访问权限。",
	"revoked":           "已撤销数字驾驶舱访问权限，相关令牌已失效。",
	"created":           "账号已开通，首次短信登录后即可使用。",
	"conflict_resolved": "已记录处理结果，该事项已从待处理列表中移除。",
	"totp_reset":        "已重置该账号的身份验证器，其登录会话已结束，并已短信通知本人；下次登录时需重新绑定。",
}

func (c *Console) home(ec echo.Context) error {
	ctx := ec.Request().Context()
	s := actorOf(ec)
	d := c.base(ec, "管理控制台")
	pending, err := c.Admin.Search(ctx, s.actor, admin.Query{Status: account.StatusPending, Limit: pageSize + 1})
	if err != nil {
		return c.fail(ec, err)
	}
	d["Pending"] = len(pending)
	d["PendingMore"] = len(pending) > pageSize
	if n, err := c.Orgs.CountSubtree(ctx, s.actor.Account.OrgID); err == nil {
		d["Units"] = n
	}
	return c.render(ec, http.StatusOK, "home.html", d)
}

// crumb is one step of the breadcrumb.
type crumb struct {
	ID, Name string
	Link     bool // within the admin's subtree
}

// breadcrumb names the units from the admin's own unit down to o; units
// above the admin's are not shown.
func (c *Console) breadcrumb(ec echo.Context, o *org.Org) []crumb {
	ctx := ec.Request().Context()
	root := actorOf(ec).actor.Account.OrgID
	var out []crumb
	seen := false
	for _, id := range o.Path {
		if id == root {
			seen = true
		}
		if !seen {
			continue
		}
		name := id
		if id == o.ID {
			name = o.Name
		} else if p, err := c.Orgs.Get(ctx, id); err == nil {
			name = p.Name
		}
		out = append(out, crumb{ID: id, Name: name, Link: id != o.ID})
	}
	return out
}

type childRow struct {
	org.Org
	Units int
}

func (c *Console) orgPage(ec echo.Context) error {
	ctx := ec.Request().Context()
	s := actorOf(ec)
	id := ec.Param("id")
	if !validID(id) {
		return c.errorPage(ec, http.StatusNotFound, "单位不存在或不在您的管辖范围内。")
	}
	ok, err := c.Admin.Manages(ctx, s.actor, id)
	if err != nil {
		return c.fail(ec, err)
	}
	if !ok {
		return c.errorPage(ec, http.StatusNotFound, "单位不存在或不在您的管辖范围内。")
	}
	o, err := c.Orgs.Get(ctx, id)
	if err != nil {
		return c.fail(ec, err)
	}
	d := c.base(ec, o.Name)
	d["Org"], d["Crumbs"] = o, c.breadcrumb(ec, o)
	q := strings.TrimSpace(ec.QueryParam("q"))
	d["Q"] = q
	if q != "" {
		found, err := c.Orgs.Search(ctx, id, q, pageSize)
		if err != nil {
			return c.fail(ec, err)
		}
		d["Found"] = found
	} else {
		kids, err := c.Orgs.Children(ctx, id)
		if err != nil {
			return c.fail(ec, err)
		}
		rows := make([]childRow, len(kids))
		for i, k := range kids {
			rows[i].Org = k
			if n, err := c.Orgs.CountSubtree(ctx, k.ID); err == nil {
				rows[i].Units = n
			}
		}
		d["Children"] = rows
	}
	return c.render(ec, http.StatusOK, "org.html", d)
}

func (c *Console) provisionForm(ec echo.Context) error {
	ctx := ec.Request().Context()
	s := actorOf(ec)
	f := ec.Request().PostForm
	orgID := ec.Param("id")
	acc, err := c.Admin.Provision(ctx, s.actor, f.Get("phone"), strings.TrimSpace(f.Get("name")), orgID, f.Get("role"))
	if err != nil {
		return c.fail(ec, err)
	}
	return ec.Redirect(http.StatusSeeOther, "/admin/accounts/"+url.PathEscape(acc.ID)+"?ok=created")
}

func (c *Console) accountsPage(ec echo.Context) error {
	return c.listPage(ec, "账号查询", ec.QueryParam("status"), "accounts.html")
}

func (c *Console) pendingPage(ec echo.Context) error {
	return c.listPage(ec, "待审核注册", account.StatusPending, "pending.html")
}

func (c *Console) listPage(ec echo.Context, title, status, page string) error {
	ctx := ec.Request().Context()
	s := actorOf(ec)
	switch status {
	case "", account.StatusPending, account.StatusActive, account.StatusDisabled:
	default:
		status = ""
	}
	q := admin.Query{
		Under: strings.TrimSpace(ec.QueryParam("under")), Text: strings.TrimSpace(ec.QueryParam("q")),
		Status: status, After: ec.QueryParam("after"), Limit: pageSize + 1,
	}
	if q.Under != "" && !validID(q.Under) || len(q.Text) > 100 || len(q.After) > 64 {
		return c.errorPage(ec, http.StatusBadRequest, "查询条件无效。")
	}
	d := c.base(ec, title)
	d["Q"], d["Under"], d["Status"] = q.Text, q.Under, status
	items, err := c.Admin.Search(ctx, s.actor, q)
	if err != nil {
		var ae *admin.Error
		if errors.As(err, &ae) {
			d["Error"] = ae.Msg
			return c.render(ec, statusOf(ae), page, d)
		}
		return err
	}
	if len(items) > pageSize {
		items = items[:pageSize]
		next := url.Values{"after": {items[len(items)-1].ID}}
		for k, v := range map[string]string{"q": q.Text, "under": q.Under, "status": status} {
			if v != "" {
				next.Set(k, v)
			}
		}
		d["Next"] = template.URL("?" + next.Encode())
	}
	d["Items"] = items
	d["Paged"] = q.After != ""
	if page == "pending.html" {
		d["Rows"] = c.pendingRows(ctx, s.actor.Account.OrgID, items)
	}
	return c.render(ec, http.StatusOK, page, d)
}

// pendingRow is a registration in the approval queue with what the
// applicant typed (职务) and where the unit sits.
type pendingRow struct {
	admin.AccountView
	Position string
	// UnitPath names the units from below the admin's own down to the
	// applicant's ("南京市 › 玄武区 › 玄武区第1小学").
	UnitPath string
}

func (c *Console) pendingRows(ctx context.Context, root string, items []admin.AccountView) []pendingRow {
	names := map[string]string{}
	out := make([]pendingRow, len(items))
	for i, v := range items {
		out[i].AccountView = v
		if c.Profiles != nil {
			if p, err := c.Profiles.Get(ctx, v.ID); err == nil {
				out[i].Position = p.Position
			}
		}
		out[i].UnitPath = v.OrgName
		o, err := c.Orgs.Get(ctx, v.OrgID)
		if err != nil {
			continue
		}
		var parts []string
		below := false
		for _, id := range o.Path {
			if below {
				name, ok := names[id]
				if !ok {
					name = id
					if p, err := c.Orgs.Get(ctx, id); err == nil {
						name = p.Name
					}
					names[id] = name
				}
				parts = append(parts, name)
			}
			if id == root {
				below = true
			}
		}
		if len(parts) > 0 {
			out[i].UnitPath = strings.Join(parts, " › ")
		}
	}
	return out
}

func (c *Console) accountPage(ec echo.Context) error {
	return c.showAccount(ec, http.StatusOK, "")
}

// showAccount renders an account's page, with an error from a refused
// action when there is one.
func (c *Console) showAccount(ec echo.Context, status int, errMsg string) error {
	ctx := ec.Request().Context()
	s := actorOf(ec)
	id := ec.Param("id")
	if !validID(id) {
		return c.errorPage(ec, http.StatusNotFound, "账号不存在或不在您的管辖范围内。")
	}
	v, err := c.Admin.Get(ctx, s.actor, id)
	if err != nil {
		return c.fail(ec, err)
	}
	d := c.base(ec, v.Name)
	d["Acc"], d["Error"] = v, errMsg
	d["Cockpit"] = contains(v.Grants, grant.Cockpit)
	// The grant is offered only where it can succeed; elsewhere the page
	// says why not.
	switch {
	case v.OrgID == "" || !admin.CockpitLevel(v.OrgLevel):
		d["CockpitWhyNot"] = admin.CockpitRefusal
	case !v.Active():
		d["CockpitWhyNot"] = "账号启用后方可授予数字驾驶舱权限。"
	}
	d["Self"] = v.ID == s.actor.Account.ID
	d["Peer"] = v.Role == account.RoleAdmin && v.OrgID == s.actor.Account.OrgID
	if v.OrgID != "" {
		if o, err := c.Orgs.Get(ctx, v.OrgID); err == nil {
			d["Org"], d["Crumbs"] = o, c.breadcrumb(ec, o)
		}
	}
	if c.Audit != nil {
		entries, err := c.Audit.Search(ctx, audit.Query{SubjectID: v.ID, Limit: 30})
		if err != nil {
			return err
		}
		d["Trail"] = c.trail(ec, entries)
	}
	return c.render(ec, status, "account.html", d)
}

// trailRow is one audit entry with the actor's and the subject's names
// looked up.
type trailRow struct {
	audit.Entry
	Actor   string
	Subject string
	// SubjectLink is set when the subject is an account the page can open.
	SubjectLink bool
}

func (c *Console) trail(ec echo.Context, entries []audit.Entry) []trailRow {
	ctx := ec.Request().Context()
	names := map[string]string{}
	accountName := func(id string) (string, bool) {
		if name, ok := names[id]; ok {
			return name, name != id
		}
		name := id
		if id == "cli" || id == "system" {
			name = "系统（命令行）"
		} else if a, err := c.Accounts.Get(ctx, id); err == nil {
			name = a.Name
		}
		names[id] = name
		return name, name != id
	}
	out := make([]trailRow, len(entries))
	for i, e := range entries {
		out[i].Entry = e
		if e.ActorID != "" {
			out[i].Actor, _ = accountName(e.ActorID)
		}
		out[i].Subject, out[i].SubjectLink = c.subjectName(ctx, e, accountName)
	}
	return out
}

// subjectName names what an event is about: an account by its name, a
// unit by its name, an application by its id; a masked phone number (SMS
// events, failed sign-ins) as it is.
func (c *Console) subjectName(ctx context.Context, e audit.Entry, accountName func(string) (string, bool)) (string, bool) {
	id := e.SubjectID
	switch {
	case id == "":
		return "", false
	case strings.HasPrefix(e.Type, "consent.") || strings.HasPrefix(e.Type, "client."):
		return "应用 " + id, false
	case strings.HasPrefix(e.Type, "org."):
		if o, err := c.Orgs.Get(ctx, id); err == nil {
			return o.Name, false
		}
		return id, false
	case strings.Contains(id, "*"):
		return id, false
	}
	name, found := accountName(id)
	return name, found
}

// accountAction performs one state change from an account's page or the
// pending queue and sends the browser back with 303.
func (c *Console) accountAction(ec echo.Context) error {
	ctx := ec.Request().Context()
	s := actorOf(ec)
	id := ec.Param("id")
	if !validID(id) {
		return c.errorPage(ec, http.StatusNotFound, "账号不存在或不在您的管辖范围内。")
	}
	f := ec.Request().PostForm
	var (
		err    error
		notice string
	)
	switch ec.Param("action") {
	case "approve":
		_, err = c.Admin.Approve(ctx, s.actor, id)
		notice = "approved"
	case "reject":
		_, err = c.Admin.Reject(ctx, s.actor, id)
		notice = "rejected"
	case "disable":
		_, err = c.Admin.Disable(ctx, s.actor, id)
		notice = "disabled"
	case "enable":
		_, err = c.Admin.Enable(ctx, s.actor, id)
		notice = "enabled"
	case "role":
		_, err = c.Admin.SetRole(ctx, s.actor, id, f.Get("role"))
		notice = "role"
	case "org":
		target := strings.TrimSpace(f.Get("org_id"))
		if !validID(target) {
			err = &admin.Error{Code: "invalid", Msg: "请填写目标单位的代码"}
		} else {
			_, err = c.Admin.Move(ctx, s.actor, id, target)
		}
		notice = "moved"
	case "grant":
		err = c.Admin.Grant(ctx, s.actor, id, f.Get("app"))
		notice = "granted"
	case "revoke":
		err = c.Admin.Revoke(ctx, s.actor, id, f.Get("app"))
		notice = "revoked"
	case "totp-reset":
		err = c.Admin.ResetTOTP(ctx, s.actor, id, f.Get("code"))
		notice = "totp_reset"
	default:
		return c.errorPage(ec, http.StatusNotFound, "页面不存在。")
	}
	if err != nil {
		var ae *admin.Error
		if errors.As(err, &ae) && ae.Code != "not_found" {
			return c.showAccount(ec, statusOf(ae), ae.Msg)
		}
		return c.fail(ec, err)
	}
	if f.Get("from") == "pending" {
		return ec.Redirect(http.StatusSeeOther, "/admin/pending?ok="+notice)
	}
	return ec.Redirect(http.StatusSeeOther, "/admin/accounts/"+url.PathEscape(id)+"?ok="+notice)
}

// statusOf maps a refusal of the admin service to an HTTP status.
func statusOf(e *admin.Error) int {
	switch e.Code {
	case "forbidden":
		return http.StatusForbidden
	case "not_found":
		return http.StatusNotFound
	case "conflict":
		return http.StatusConflict
	default:
		return http.StatusBadRequest
	}
}

// fail shows a refusal as a page; anything else is the IdP's 500.
func (c *Console) fail(ec echo.Context, err error) error {
	var ae *admin.Error
	switch {
	case errors.As(err, &ae):
		return c.errorPage(ec, statusOf(ae), ae.Msg)
	case errors.Is(err, sqldb.ErrNotFound):
		return c.errorPage(ec, http.StatusNotFound, "单位或账号不存在，或不在您的管辖范围内。")
	}
	return err
}

func (c *Console) errorPage(ec echo.Context, status int, msg string) error {
	d := c.base(ec, "出错了")
	d["Message"] = msg
	return c.render(ec, status, "error.html", d)
}

// render writes a page. Pages carry personal data and CSRF tokens: never
// cached, never framed (the IdP's middleware says so too; the console
// does not rely on where it is mounted).
func (c *Console) render(ec echo.Context, status int, name string, data map[string]any) error {
	h := ec.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	// Same-origin posts must carry the real Origin, which checkPost reads.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Type", "text/html; charset=utf-8")
	ec.Response().WriteHeader(status)
	if err := c.tmpl.ExecuteTemplate(ec.Response(), name, data); err != nil {
		c.Log.ErrorContext(ec.Request().Context(), "render console page", "page", name, "err", err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
