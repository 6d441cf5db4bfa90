// Package idp is the identity provider's HTTP face: the OpenID Connect
// endpoints, the SMS sign-in pages and JSON API, and operations endpoints.
// The protocol engine is in idp/oauth; storage is in the other idp/…
// packages. Handlers return errors; one error handler turns them into the
// protocol's own format or a Chinese error page, and logs the cause.
package idp

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/idp/totp"
	"github.com/xszz/xszz/internal/sms"
)

// Config holds the HTTP-level settings.
type Config struct {
	Issuer string
	// FlowKey authenticates the state carried through the login and consent
	// pages (32 bytes; shared by every replica).
	FlowKey []byte
	// CookieName of the SSO session cookie.
	CookieName string
	// TOTPRequiredFor says who must pass a second factor: MFAForAdmin
	// (default), MFAForAll or MFAForNone.
	TOTPRequiredFor string
}

// Keyset serves the public keys.
type Keyset interface {
	JWKS(ctx context.Context) ([]byte, error)
}

// Identities resolves accounts into token claims.
type Identities interface {
	Identity(ctx context.Context, accountID string) (*Identity, error)
}

// Challenger checks a human-verification answer (a graphical captcha, a
// slider) before an SMS code is sent, the one place an SMS-bombing storm
// can be stopped before it costs money. Implementations read their answer
// from the request (a header such as X-Xszz-Challenge, or a form field of
// the login page) and return an error to refuse.
type Challenger interface {
	Check(c echo.Context) error
}

// OrgPather gives the materialised path of a unit ("/000000/320000/").
type OrgPather interface {
	PathOf(ctx context.Context, id string) (string, error)
}

// Notifier queues back-channel logout notifications.
type Notifier interface {
	Notify(ctx context.Context, clientIDs []string, sub, sid string)
}

// Auditor records security events; audit.Log implements it.
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Mounter adds routes of a part that lives in its own package.
type Mounter interface {
	Register(e *echo.Echo)
}

// Deps are the parts the server is built from.
type Deps struct {
	Config   Config
	Provider *oauth.Provider
	Keys     Keyset
	Accounts *account.Store
	Clients  *client.Store
	Sessions *session.Store
	OTP      *otp.Service
	// TOTP is the second factor; nil turns second factors off.
	TOTP *totp.Service
	// Registration enables self-registration; may be nil.
	Registration *Registration
	Identities   Identities
	Audit        Auditor // may be nil
	// OrgPaths locates audited accounts in the tree; may be nil.
	OrgPaths OrgPather
	// Challenge runs before every SMS code is sent; nil sends without one.
	Challenge Challenger
	// Notifier tells relying parties about ended sessions (back-channel
	// logout); may be nil.
	Notifier Notifier
	// Admin performs delegated administration for the console and the
	// admin API; may be nil.
	Admin *admin.Service
	// Console mounts the admin console and admin API (idp/console); may
	// be nil.
	Console Mounter
	// Directory mounts the SCIM directory (idp/scim); may be nil.
	Directory Mounter
	// SMS sends notices to account holders (to the old number after a
	// phone change); may be nil (no notices). Codes go through OTP.
	SMS sms.Sender
	Log *slog.Logger
	Now func() time.Time
	// Ready lists the readiness checks of /readyz (database, Redis).
	Ready map[string]func(context.Context) error
	// Registry receives the metrics; nil uses a private registry.
	Registry *prometheus.Registry
}

// Server serves the IdP.
type Server struct {
	Deps
	issuer  *url.URL
	secure  bool
	tmpl    *template.Template
	metrics *metrics
}

// New checks the configuration and returns a server.
func New(d Deps) (*Server, error) {
	u, err := url.Parse(d.Config.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("idp: issuer must be an absolute http(s) URL")
	}
	if len(d.Config.FlowKey) < 32 {
		return nil, errors.New("idp: flow key must be at least 32 bytes")
	}
	if d.Config.CookieName == "" {
		d.Config.CookieName = "xszz_session"
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	d.Config.Issuer = strings.TrimSuffix(d.Config.Issuer, "/")
	s := &Server{Deps: d, issuer: u, secure: u.Scheme == "https", tmpl: parseTemplates()}
	s.metrics = newMetrics(d.Registry)
	return s, nil
}

// Handler returns the IdP's HTTP handler.
func (s *Server) Handler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = echo.ExtractIPDirect()
	e.Use(s.recoverPanics, s.metrics.middleware, securityHeaders)
	s.Register(e)
	return e
}

// Register mounts the IdP's routes.
func (s *Server) Register(e *echo.Echo) {
	e.GET("/.well-known/openid-configuration", s.discovery)
	e.GET(oauth.PathJWKS, s.jwks)
	e.GET(oauth.PathAuthorize, s.authorize)
	e.POST(oauth.PathAuthorize, s.authorize)
	e.GET(oauth.PathAuthorize+"/resume", s.resume)
	e.POST(oauth.PathToken, s.token)
	e.GET(oauth.PathUserinfo, s.userinfo)
	e.POST(oauth.PathUserinfo, s.userinfo)
	e.POST(oauth.PathIntrospect, s.introspect)
	e.POST(oauth.PathRevoke, s.revoke)
	e.GET(oauth.PathLogout, s.logout)
	e.POST(oauth.PathLogout, s.logout)

	e.GET("/", s.home)
	e.GET("/login", s.loginPage)
	e.POST("/login/send", s.loginSendForm, s.sameOrigin)
	e.POST("/login", s.loginVerifyForm, s.sameOrigin)
	e.GET("/consent", s.consentPage)
	e.POST("/consent", s.consentSubmit, s.sameOrigin)

	api := e.Group("/api/v1", s.jsonOnly, s.sameOrigin)
	api.POST("/sms/send", s.apiSMSSend)
	api.POST("/login", s.apiLogin)
	api.POST("/logout", s.apiLogout)
	api.GET("/session", s.apiSession)
	s.registerAccountRoutes(e)

	if s.Console != nil {
		s.Console.Register(e)
	}
	if s.Directory != nil {
		s.Directory.Register(e)
	}

	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/readyz", s.readyz)
}

// securityHeaders keeps every page out of frames (RFC 9700 §4.16) and
// keeps flow state and codes out of Referer headers sent to other sites.
// "same-origin" rather than "no-referrer": under no-referrer, browsers
// send "Origin: null" on the IdP's own form posts, which sameOrigin must
// refuse, and no HTML form would ever work in a real browser.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self' *; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		// API answers carry codes, secrets, tokens and personal data: never
		// cached (SECURITY.md #24). Pages set it in render.
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.Log.ErrorContext(c.Request().Context(), "panic in handler", "path", c.Path(), "panic", r)
				err = errInternal
			}
		}()
		return next(c)
	}
}

// sameOrigin refuses cross-site state-changing requests: a browser always
// sends Origin on POST, so a foreign or "null" origin is a forgery. Clients
// that are not browsers send no Origin and are let through.
func (s *Server) sameOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodGet {
			return next(c)
		}
		origin := c.Request().Header.Get("Origin")
		if origin == "" {
			return next(c)
		}
		if origin != s.issuer.Scheme+"://"+s.issuer.Host {
			return &userError{status: http.StatusForbidden, code: "cross_origin", msg: "请求来源不被允许"}
		}
		return next(c)
	}
}

// jsonOnly makes the JSON API refuse form posts, which a foreign page can
// send without a CORS preflight.
func (s *Server) jsonOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodGet {
			ct := c.Request().Header.Get("Content-Type")
			if ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
				return &userError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", msg: "请求必须为 application/json"}
			}
		}
		return next(c)
	}
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	out := map[string]string{}
	status := http.StatusOK
	for name, check := range s.Ready {
		if err := check(ctx); err != nil {
			s.Log.WarnContext(ctx, "readiness check failed", "check", name, "err", err)
			out[name] = "unavailable"
			status = http.StatusServiceUnavailable
			continue
		}
		out[name] = "ok"
	}
	return c.JSON(status, out)
}

func (s *Server) home(c echo.Context) error {
	if sess, id := s.currentSession(c); sess != nil {
		return s.render(c, http.StatusOK, "done.html", map[string]any{"Title": "已登录", "Name": id.Account.Name})
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

func (s *Server) audit(ctx context.Context, e audit.Event) {
	if s.Audit == nil {
		return
	}
	// The path lets an admin find the event when searching the subtree.
	if e.OrgID != "" && e.OrgPath == "" && s.OrgPaths != nil {
		if p, err := s.OrgPaths.PathOf(ctx, e.OrgID); err == nil {
			e.OrgPath = p
		}
	}
	if err := s.Audit.Record(ctx, e); err != nil {
		s.Log.ErrorContext(ctx, "audit record failed", "type", e.Type, "err", err)
	}
}
