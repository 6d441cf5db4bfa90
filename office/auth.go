package office

import (
	"context"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/xszz/xszz/internal/rpsession"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/guard"
	sdkweb "github.com/xszz/xszz/sdk/web"
)

// relying is everything that needs the IdP's discovery document: it is
// built on first use, not in New, since the IdP may be starting in the
// same process.
type relying struct {
	provider *sdk.Provider
	auth     *sdkweb.Auth
	guard    *guard.Guard
	syncer   *directory.Syncer
}

func (s *Service) relying(ctx context.Context) (*relying, error) {
	s.rpMu.Lock()
	defer s.rpMu.Unlock()
	if s.rp != nil {
		return s.rp, nil
	}
	dctx := context.WithValue(ctx, oauth2.HTTPClient, s.d.HTTPClient)
	p, err := sdk.NewProvider(dctx, s.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("office: discover %s: %w", s.cfg.Issuer, err)
	}
	key, err := cookieKey(s.cfg)
	if err != nil {
		return nil, fmt.Errorf("office: cookie key: %w", err)
	}
	auth, err := sdkweb.New(p, &sdkweb.Config{
		ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret,
		RedirectURL: s.cfg.URL + "/callback", PostLogoutRedirectURL: s.cfg.URL + "/",
		CookieKey: key, CookieName: "xszz-office", Store: s.sessions, Now: s.d.Now,
		ErrorPage: s.signInFailed,
	})
	if err != nil {
		return nil, fmt.Errorf("office: sign-in: %w", err)
	}
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: s.cfg.ClientID, Now: s.d.Now}), guard.WithRealm("xszz-office"))
	// The background sync outlives any one request: its token source must
	// not carry the request's context.
	cc := directory.ClientCredentials(context.WithValue(context.Background(), oauth2.HTTPClient, s.d.HTTPClient),
		p.Endpoints().TokenEndpoint, s.cfg.ClientID, s.cfg.ClientSecret)
	s.rp = &relying{provider: p, auth: auth, guard: g, syncer: &directory.Syncer{Store: s.dir, Base: s.cfg.Issuer + "/scim/v2", Client: cc, Now: s.d.Now, Roster: s.acts}}
	return s.rp, nil
}

// signInFailed is the SDK's error page: a Chinese sentence for the person
// (the shared error page leads back in through the home page), the SDK's
// reason for the log.
func (s *Service) signInFailed(rw http.ResponseWriter, r *http.Request, status int, reason string) {
	s.d.Log.InfoContext(r.Context(), "office: sign-in failed", "status", status, "reason", reason)
	msg := "登录未完成：本次登录已过期、被取消或未能完成，请重新登录"
	switch status {
	case http.StatusUnauthorized:
		msg = "请先登录"
	case http.StatusBadGateway:
		msg = "统一身份认证服务暂不可用，请稍后再试"
	case http.StatusServiceUnavailable:
		msg = "暂时无法退出登录，请稍后重试"
	}
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
	if err := s.tmpl.ExecuteTemplate(rw, "error.html", map[string]any{"Title": "出错了", "Site": Site, "Message": msg}); err != nil {
		s.d.Log.ErrorContext(r.Context(), "render page", "page", "error.html", "err", err)
	}
}

// cookieKey seals the session cookie and the stored sessions: the
// configured key, or rpsession.Key of the client secret, which every
// replica shares.
func cookieKey(cfg Config) ([]byte, error) {
	if len(cfg.CookieKey) != 0 {
		return cfg.CookieKey, nil
	}
	return rpsession.Key(cfg.ClientSecret, "office")
}

// viewerFrom turns verified claims into the viewer every rule is decided
// from. A token without an org claim opens nothing.
func viewerFrom(c *sdk.Claims) (directory.Viewer, error) {
	if c == nil || c.Org == nil || c.Org.ID == "" || len(c.Org.Path) == 0 || c.Org.Path[len(c.Org.Path)-1] != c.Org.ID {
		return directory.Viewer{}, web.Errorf(http.StatusForbidden, "forbidden", "账号未归属任何单位，无法使用办公系统")
	}
	return directory.Viewer{
		Sub: c.Subject, Name: c.Name, OrgID: c.Org.ID, OrgName: c.Org.Name, Level: string(c.Org.Level),
		Path: directory.JoinPath(c.Org.Path), Roles: c.Roles,
	}, nil
}
