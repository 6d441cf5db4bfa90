package office

import (
	"context"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/web"
)

// Site is the office's name on every page.
const Site = "全国学生资助办公系统"

func urlEscape(s string) string { return url.PathEscape(s) }

// Handler returns the office's HTTP handler.
func (s *Service) Handler() http.Handler {
	pages := s.pages()
	e := web.New(web.Site{Name: Site, Log: s.d.Log, BodyLimit: maxUpload, Pages: pages,
		// The sign-out page sends the browser on to the IdP.
		Policy: web.Policy{FormAction: []string{originOf(s.cfg.Issuer)}}})
	web.Health(e, s.d.Log, map[string]func(context.Context) error{"database": s.d.DB.Ping})
	s.mountAuth(e)
	s.mountAPI(e)
	s.mountPages(e, pages)
	return e
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// mountAuth serves sign-in and sign-out through the SDK: /login and
// /callback (code flow with PKCE), POST /logout (RP-initiated logout, so
// the IdP session ends too) and /backchannel-logout (the IdP ends the
// office session).
func (s *Service) mountAuth(e *echo.Echo) {
	wrap := func(h func(rp *relying, w http.ResponseWriter, r *http.Request)) echo.HandlerFunc {
		return func(c echo.Context) error {
			rp, err := s.relying(c.Request().Context())
			if err != nil {
				return web.Internal(err)
			}
			h(rp, c.Response(), c.Request())
			return nil
		}
	}
	e.GET("/login", wrap(func(rp *relying, w http.ResponseWriter, r *http.Request) { rp.auth.Login(w, r) }))
	e.GET("/callback", wrap(func(rp *relying, w http.ResponseWriter, r *http.Request) {
		rp.auth.Callback(w, r)
		// A sign-in is a moment the directory may have changed for
		// this person (a new account, a move): sync soon.
		s.requestSync()
	}))
	e.POST("/logout", wrap(func(rp *relying, w http.ResponseWriter, r *http.Request) { rp.auth.Logout(w, r) }), web.CrossOrigin())
	e.POST("/backchannel-logout", wrap(func(rp *relying, w http.ResponseWriter, r *http.Request) { rp.auth.BackChannelLogout(w, r) }))
}
