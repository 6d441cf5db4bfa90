package protocol

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/web"
)

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
	// The cockpit scope is dropped for accounts without the grant, so it
	// is not promised either.
	var scopes []string
	for _, sc := range strings.Fields(q.Get("scope")) {
		if sc != "cockpit" || id.HasGrant("cockpit") {
			scopes = append(scopes, sc)
		}
	}
	return idpweb.Render(c, http.StatusOK, "consent.html", map[string]any{
		"Title": "授权确认", "ClientName": cl.Name, "Scopes": idpweb.ScopeSentences(scopes), "Flow": tok,
		"Name": id.Account.Name, "Phone": phone.Mask(id.Account.Phone),
		// Another account signs in on the login page with the same flow:
		// the request comes back here for that account.
		"SwitchURL": "/login?flow=" + url.QueryEscape(tok),
	})
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
