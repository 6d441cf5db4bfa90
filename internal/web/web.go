// Package web holds the HTTP basics the three services (the IdP, the
// office system and the cockpit) share: security headers, cross-origin
// protection, body limits, one error format (JSON for the API, a Chinese
// page for people), health endpoints and the page layout.
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Error is an error whose message may be shown: a machine code for the
// JSON API and a Chinese sentence for people. Cause is logged, never shown.
type Error struct {
	Status  int
	Code    string
	Message string
	Cause   error
	Header  map[string]string
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Cause.Error()
	}
	return e.Code
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an Error with the given status, code and message.
func Errorf(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Internal wraps a cause the user must not see.
func Internal(cause error) error {
	return &Error{Status: http.StatusInternalServerError, Code: "server_error", Message: "服务暂时不可用，请稍后再试", Cause: cause}
}

// Site describes one service for its pages and its logs.
type Site struct {
	// Name is shown in page titles ("全国学生资助办公系统").
	Name string
	// Log receives causes of errors; nil uses slog.Default.
	Log *slog.Logger
	// Policy sets the security headers.
	Policy Policy
	// BodyLimit caps every request body before it is read; 0 means 1 MiB.
	// Routes that take uploads raise it for themselves.
	BodyLimit int64
	// Pages renders error pages; nil uses the shared layout's own.
	Pages *template.Template
	// TrustedProxies are the load balancers in front of the service
	// (http.trusted_proxies): only from them is X-Forwarded-For read
	// (ClientIP). Empty: the peer's address is the client's.
	TrustedProxies []netip.Prefix
}

// New returns an echo instance with the shared middleware and error
// handler: panics become 500s with the cause logged, every body is
// limited, headers are set, and errors answer in the API's JSON format
// under /api/ and as a Chinese page elsewhere.
func New(site Site) *echo.Echo {
	if site.Log == nil {
		site.Log = slog.Default()
	}
	if site.BodyLimit == 0 {
		site.BodyLimit = 1 << 20
	}
	if site.Pages == nil {
		site.Pages = Layout()
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ClientIP(site.TrustedProxies)
	e.HTTPErrorHandler = site.handleError
	e.Use(site.recoverPanics, SecurityHeaders(site.Policy), LimitBody(site.BodyLimit))
	return e
}

func (s Site) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r) // net/http's own signal to drop the connection
				}
				err = Internal(errors.New("panic in handler"))
				s.Log.ErrorContext(c.Request().Context(), "panic in handler", "path", c.Path(), "panic", r)
			}
		}()
		return next(c)
	}
}

// LimitBody refuses bodies over n bytes with 413 before a handler reads
// them: a declared length is checked at once, a streamed body when the
// reader passes the limit.
func LimitBody(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > n {
				return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "请求过大"}
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			}
			return next(c)
		}
	}
}

// Policy is the Content-Security-Policy of a service.
type Policy struct {
	// FormAction lists origins that forms may post to besides 'self' (the
	// IdP's origin for a relying party's sign-out form).
	FormAction []string
	// Scripts allows the service's own scripts ('self'); off by default.
	Scripts bool
	// HSTS sends Strict-Transport-Security; set it when the service's
	// public URL is https.
	HSTS bool
	// CSP, when set, is sent as the whole Content-Security-Policy instead
	// of the one built from the fields above: the IdP keeps its own
	// (form-action '*' for relying parties' callbacks) until it is
	// tightened on its own.
	CSP string
}

func (p Policy) csp() string {
	if p.CSP != "" {
		return p.CSP
	}
	script := "script-src 'none'"
	if p.Scripts {
		script = "script-src 'self'"
	}
	form := "form-action 'self'"
	for _, o := range p.FormAction {
		form += " " + o
	}
	return "default-src 'none'; " + script + "; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
		form + "; frame-ancestors 'none'; base-uri 'none'"
}

// SecurityHeaders keeps pages out of frames, forbids foreign scripts,
// keeps URLs out of Referer headers sent elsewhere, and marks API answers
// uncacheable (they carry personal data).
func SecurityHeaders(p Policy) echo.MiddlewareFunc {
	csp := p.csp()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("X-Frame-Options", "DENY")
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			// same-origin, not no-referrer: under no-referrer browsers send
			// "Origin: null" on a site's own form posts.
			h.Set("Referrer-Policy", "same-origin")
			if p.HSTS {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			if strings.HasPrefix(c.Request().URL.Path, "/api/") {
				h.Set("Cache-Control", "no-store")
			}
			return next(c)
		}
	}
}

// CrossOrigin refuses cross-site state-changing browser requests with the
// standard library's http.CrossOriginProtection (Sec-Fetch-Site, then
// Origin against Host). Requests without either header — API clients that
// are not browsers — pass.
func CrossOrigin() echo.MiddlewareFunc {
	cop := http.NewCrossOriginProtection()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := cop.Check(c.Request()); err != nil {
				return &Error{Status: http.StatusForbidden, Code: "cross_origin", Message: "请求来源不被允许", Cause: err}
			}
			return next(c)
		}
	}
}

// Health mounts /healthz (the process answers) and /readyz (every check
// answers within 3 s) for load balancers.
func Health(e *echo.Echo, log *slog.Logger, checks map[string]func(context.Context) error) {
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
		defer cancel()
		out := map[string]string{}
		status := http.StatusOK
		for name, check := range checks {
			if err := check(ctx); err != nil {
				log.WarnContext(ctx, "readiness check failed", "check", name, "err", err)
				out[name], status = "unavailable", http.StatusServiceUnavailable
				continue
			}
			out[name] = "ok"
		}
		return c.JSON(status, out)
	})
}

func (s Site) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ue := &Error{}
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ue):
	case errors.As(err, &mbe):
		ue = &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "请求过大"}
	case errors.As(err, &he):
		ue = &Error{Status: he.Code, Code: "invalid_request", Message: "请求无效"}
		switch he.Code {
		case http.StatusNotFound:
			ue.Code, ue.Message = "not_found", "页面不存在"
		case http.StatusMethodNotAllowed:
			ue.Code, ue.Message = "method_not_allowed", "请求方法不被允许"
		case http.StatusRequestEntityTooLarge:
			ue.Code, ue.Message = "too_large", "请求过大"
		case http.StatusUnauthorized:
			ue.Code, ue.Message = "unauthorized", "请先登录"
		case http.StatusForbidden:
			ue.Code, ue.Message = "forbidden", "没有权限"
		}
	default:
		ue = Internal(err).(*Error)
	}
	ctx := c.Request().Context()
	if ue.Status >= 500 {
		s.Log.ErrorContext(ctx, "request failed", "site", s.Name, "method", c.Request().Method, "path", c.Path(), "err", err)
	} else if ue.Cause != nil {
		s.Log.InfoContext(ctx, "request refused", "site", s.Name, "path", c.Path(), "code", ue.Code, "err", ue.Cause)
	}
	for k, v := range ue.Header {
		c.Response().Header().Set(k, v)
	}
	if c.Request().Method == http.MethodHead {
		if err := c.NoContent(ue.Status); err != nil {
			s.Log.DebugContext(ctx, "write error answer", "err", err)
		}
		return
	}
	if WantsJSON(c.Request()) {
		if err := c.JSON(ue.Status, map[string]string{"error": ue.Code, "error_description": ue.Message}); err != nil {
			s.Log.DebugContext(ctx, "write error answer", "err", err)
		}
		return
	}
	Render(c, s.Pages, ue.Status, "error.html", map[string]any{"Title": "出错了", "Site": s.Name, "Message": ue.Message})
}

// WantsJSON says whether an error should answer in JSON: API paths and
// clients that ask for it.
func WantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.Contains(r.Header.Get("Accept"), "application/json")
}

// Render writes a page; pages are never cached, since they carry personal
// data. A template error is logged: the status line has gone already.
func Render(c echo.Context, t *template.Template, status int, name string, data any) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	c.Response().WriteHeader(status)
	if err := t.ExecuteTemplate(c.Response(), name, data); err != nil {
		slog.ErrorContext(c.Request().Context(), "render page", "page", name, "err", err)
	}
}

//go:embed templates/*.html
var layoutFS embed.FS

// Layout returns the shared page layout: the templates "head" and "foot"
// (a page begins {{template "head" .}} and ends {{template "foot" .}}; the
// data's Title, Site and optional Nav and User fill the header) and
// "error.html". A service adds its own pages with ParsePages.
func Layout() *template.Template {
	return template.Must(template.New("layout").Funcs(Funcs).ParseFS(layoutFS, "templates/*.html"))
}

// ParsePages returns the shared layout with a service's own templates.
func ParsePages(fsys fs.FS, patterns ...string) (*template.Template, error) {
	return Layout().ParseFS(fsys, patterns...)
}
