package cockpit

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/cockpit/dash"
	"github.com/xszz/xszz/cockpit/warning"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
)

const site = "全国学生资助大数据平台 · 数字驾驶舱"

// Handler returns the cockpit's HTTP handler.
func (s *Service) Handler() http.Handler {
	e := web.New(web.Site{Name: site, Log: s.d.Log, Policy: web.Policy{Scripts: true}, BodyLimit: 64 << 10, TrustedProxies: s.cfg.TrustedProxies})
	web.Health(e, s.d.Log, map[string]func(context.Context) error{"database": s.d.DB.Ping})
	api := e.Group("/api/v1", s.bearer)
	api.GET("/dashboards/:name", s.apiDashboard)
	api.GET("/warnings/:id/records", s.apiWarningRecords)
	e.GET("/", s.home)
	e.GET("/login", s.signInRoute(func(a signInHandlers) http.HandlerFunc { return a.Login }))
	e.GET("/callback", s.callback)
	e.POST("/logout", s.signInRoute(func(a signInHandlers) http.HandlerFunc { return a.Logout }))
	e.POST("/backchannel-logout", s.signInRoute(func(a signInHandlers) http.HandlerFunc { return a.BackChannelLogout }))
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	e.GET("/static/*", func(c echo.Context) error {
		// The files change only with the binary; an hour spares repeat
		// visits the 700 KB of ECharts without outliving an upgrade long.
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	})
	p := e.Group("", s.signedIn)
	// One route per dashboard, so that a stray path (a browser's
	// /favicon.ico) is a 404 rather than a sign-in that would overwrite
	// the state cookie of the one in progress.
	for _, n := range dash.Names {
		p.GET("/"+n.Code, s.dashboardPage(n.Code))
	}
	p.GET("/export/:file", s.exportCSV)
	p.GET("/warnings/:id", s.warningPage)
	return e
}

const viewerKey = "cockpit.viewer"

// signInHandlers are the SDK's sign-in endpoints (sdk/web.Auth).
type signInHandlers interface {
	Login(http.ResponseWriter, *http.Request)
	Callback(http.ResponseWriter, *http.Request)
	Logout(http.ResponseWriter, *http.Request)
	BackChannelLogout(http.ResponseWriter, *http.Request)
}

// signInRoute serves one of the SDK's sign-in endpoints, once the IdP
// has been discovered.
func (s *Service) signInRoute(pick func(signInHandlers) http.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		a, err := s.auth.SignIn(c.Request().Context())
		if err != nil {
			return &web.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "统一身份认证服务暂不可用，请稍后再试", Cause: err}
		}
		pick(a)(c.Response(), c.Request())
		return nil
	}
}

// callback finishes sign-in; a failed one (expired, refused at the IdP,
// a stale tab) is answered by signInFailed.
func (s *Service) callback(c echo.Context) error {
	a, err := s.auth.SignIn(c.Request().Context())
	if err != nil {
		return &web.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "统一身份认证服务暂不可用，请稍后再试", Cause: err}
	}
	a.Callback(c.Response(), c.Request())
	return nil
}

// signInFailed is the SDK's error page: people get a page in Chinese with
// the way back in, the log the SDK's reason.
func (s *Service) signInFailed(rw http.ResponseWriter, r *http.Request, status int, reason string) {
	s.d.Log.InfoContext(r.Context(), "cockpit: sign-in failed", "status", status, "reason", reason)
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
	if err := s.pages.ExecuteTemplate(rw, "signin-failed.html", map[string]any{"Title": "登录未完成", "Site": site}); err != nil {
		s.d.Log.ErrorContext(r.Context(), "render page", "page", "signin-failed.html", "err", err)
	}
}

// bearer admits API requests with an access token for the cockpit's
// audience carrying the cockpit grant at a cockpit level (the SDK guard
// answers 401 with WWW-Authenticate or 403 itself).
func (s *Service) bearer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		claims, err := s.auth.Authenticate(c.Request())
		if err != nil {
			s.auth.WriteError(c.Response(), err)
			return nil
		}
		v, ok := viewerOf(s.tree, claims)
		if !ok {
			return web.Errorf(http.StatusForbidden, "forbidden", "该账号的单位不在驾驶舱的区划范围内")
		}
		c.Set(viewerKey, v)
		return next(c)
	}
}

func request(c echo.Context) (dash.Request, error) {
	r := dash.Request{Region: c.QueryParam("region"), Segment: c.QueryParam("segment")}
	if y := c.QueryParam("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil || n < 1949 || n > 9999 {
			return r, web.Errorf(http.StatusBadRequest, "invalid_request", "year 应为四位年份")
		}
		r.Year = n
	}
	return r, nil
}

// asHTTP turns the query layer's errors into API errors.
func asHTTP(err error) error {
	switch {
	case errors.Is(err, dash.ErrOutOfScope):
		return web.Errorf(http.StatusForbidden, "out_of_scope", "只能查看本单位所辖地区的数据")
	case errors.Is(err, warning.ErrResolved):
		// Same status and code as an id never given out, so a client
		// that only knows 404 is right; the sentence tells people why.
		return web.Errorf(http.StatusNotFound, "not_found", "该预警已解除：数据刷新后已不再成立")
	case errors.Is(err, dash.ErrNoRegion), errors.Is(err, sqldb.ErrNotFound):
		return web.Errorf(http.StatusNotFound, "not_found", "没有这个地区、看板或预警")
	case errors.Is(err, dash.ErrBadInput):
		// The cause names the parameter in English; the person gets a
		// sentence and the log the detail.
		return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "参数无效：年度、学段或地区不在可选范围内", Cause: err}
	}
	return web.Internal(err)
}

func (s *Service) apiDashboard(c echo.Context) error {
	v := c.Get(viewerKey).(dash.Viewer)
	r, err := request(c)
	if err != nil {
		return err
	}
	d, err := s.q.Get(c.Request().Context(), v, c.Param("name"), r)
	if err != nil {
		return asHTTP(err)
	}
	if c.QueryParam("format") == "csv" {
		return writeCSV(c, d, c.QueryParam("chart"))
	}
	return c.JSON(http.StatusOK, d)
}

// writeCSV sends one chart's table (with a BOM, so spreadsheet programs
// read the Chinese headers right).
func writeCSV(c echo.Context, d *dash.Dashboard, chart string) error {
	ch := d.Chart(chart)
	if ch == nil {
		return web.Errorf(http.StatusNotFound, "not_found", "没有这个图表")
	}
	h := c.Response().Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s-%d-%s.csv"`, d.Name, d.Region.Code, d.Year, ch.ID))
	c.Response().WriteHeader(http.StatusOK)
	c.Response().Write([]byte("\ufeff"))
	w := csv.NewWriter(c.Response())
	head := ch.Columns
	if len(ch.Regions) > 0 {
		head = append([]string{"区划代码"}, head...)
	}
	if err := w.Write(head); err != nil {
		return nil // the client went away
	}
	for i, row := range ch.Rows {
		rec := make([]string, 0, len(row)+1)
		if len(ch.Regions) > 0 {
			rec = append(rec, ch.Regions[i])
		}
		for _, x := range row {
			rec = append(rec, fmt.Sprint(x))
		}
		if err := w.Write(rec); err != nil {
			return nil
		}
	}
	w.Flush()
	return nil
}

func (s *Service) apiWarningRecords(c echo.Context) error {
	v := c.Get(viewerKey).(dash.Viewer)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return web.Errorf(http.StatusNotFound, "not_found", "没有这个预警")
	}
	x, recs, err := s.q.WarningRecords(c.Request().Context(), v, id, 1000)
	if err != nil {
		return asHTTP(err)
	}
	return c.JSON(http.StatusOK, map[string]any{
		"warning": map[string]any{"id": x.ID, "rule": x.Rule, "severity": x.Severity, "region": x.Region, "year": x.Year,
			"segment": x.Segment, "programme": x.Programme, "subjects": x.Subjects, "amount": x.Amount, "detail": x.Detail},
		"records": recs,
	})
}
