package protocol

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/internal/web"
)

// scopeNames tells people in plain words what a scope shares.
var scopeNames = map[string]string{
	"openid":         "您的账号标识",
	"profile":        "姓名",
	"phone":          "手机号",
	"org":            "所在单位及角色",
	"offline_access": "在您离开后保持访问（刷新令牌）",
	"cockpit":        "数字驾驶舱访问权限",
	"admin":          "管理权限",
}

func (s *Protocol) consentPage(c echo.Context) error {
	tok := c.QueryParam("flow")
	ctx := c.Request().Context()
	f, err := s.Flows.Open(tok)
	if err != nil {
		return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "授权流程已过期，请返回原应用重新登录", Cause: err}
	}
	sso, id := s.Browser.Current(c)
	if sso == nil {
		return c.Redirect(http.StatusSeeOther, "/login?flow="+url.QueryEscape(tok))
	}
	q, _ := url.ParseQuery(f.Query)
	cl, err := s.Clients.Get(ctx, q.Get("client_id"))
	if err != nil {
		return &web.Error{Status: http.StatusBadRequest, Code: "invalid_client", Message: "未知的应用", Cause: err}
	}
	var names []string
	for _, sc := range strings.Fields(q.Get("scope")) {
		if n, ok := scopeNames[sc]; ok && (sc != "cockpit" || id.HasGrant("cockpit")) {
			names = append(names, n)
		}
	}
	return idpweb.Render(c, http.StatusOK, "consent.html", map[string]any{"Title": "授权确认", "ClientName": cl.Name, "Scopes": names, "Flow": tok})
}

func (s *Protocol) consentSubmit(c echo.Context) error {
	ctx := c.Request().Context()
	tok := c.FormValue("flow")
	f, err := s.Flows.Open(tok)
	if err != nil {
		return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "授权流程已过期，请返回原应用重新登录", Cause: err}
	}
	sso, id := s.Browser.Current(c)
	if sso == nil {
		return c.Redirect(http.StatusSeeOther, "/login?flow="+url.QueryEscape(tok))
	}
	q, _ := url.ParseQuery(f.Query)
	cl, err := s.preCheck(ctx, q)
	if err != nil {
		return err
	}
	if c.FormValue("decision") != "allow" {
		s.Events.Record(ctx, audit.Event{Type: "consent.denied", Result: "success", ActorID: id.Account.ID, SubjectID: cl.ID, IP: c.RealIP()})
		u, _ := url.Parse(q.Get("redirect_uri"))
		rq := u.Query()
		rq.Set("error", "access_denied")
		rq.Set("iss", s.Issuer)
		if st := q.Get("state"); st != "" {
			rq.Set("state", st)
		}
		u.RawQuery = rq.Encode()
		return c.Redirect(http.StatusSeeOther, u.String())
	}
	if err := s.Provider.Store.SaveConsent(ctx, id.Account.ID, cl.ID, strings.Fields(q.Get("scope"))); err != nil {
		return web.Internal(err)
	}
	s.Events.Record(ctx, audit.Event{Type: "consent.granted", Result: "success", ActorID: id.Account.ID, SubjectID: cl.ID, IP: c.RealIP()})
	// prompt=consent has been answered; drop it so the resumed request
	// does not ask again.
	q.Del("prompt")
	resumed := s.Flows.Seal(idpweb.Flow{Query: q.Encode(), RequestedAt: f.RequestedAt, Stale: f.Stale})
	return c.Redirect(http.StatusSeeOther, "/oauth2/auth/resume?flow="+url.QueryEscape(resumed))
}
