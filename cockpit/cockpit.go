// Package cockpit is the data cockpit (全国学生资助大数据平台 · 数字驾驶舱):
// dashboards over the national aid data — overview, students in
// difficulty, aided students, funds, warnings — for accounts at ministry,
// province, city or county level that hold the cockpit grant. It is a
// relying party of the IdP through the SDK and imports nothing under idp/.
package cockpit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
)

// Config is the cockpit's part of the configuration (cockpit.* keys).
type Config struct {
	// URL is the cockpit's public URL (cockpit.url), the base of its
	// redirect, post-logout and back-channel logout URIs.
	URL string
	// Issuer is the IdP the cockpit trusts (cockpit.issuer).
	Issuer string
	// ClientID and ClientSecret are the cockpit's credentials at the IdP.
	ClientID, ClientSecret string
}

// Deps are what the cockpit is built from.
type Deps struct {
	DB  *sqldb.DB
	Log *slog.Logger
	Now func() time.Time
}

// Service is the cockpit.
type Service struct {
	cfg Config
	d   Deps
}

// New checks the configuration and returns the service. It does no I/O:
// the IdP may still be starting in the same process.
func New(cfg Config, d Deps) (*Service, error) {
	if cfg.URL == "" || cfg.Issuer == "" {
		return nil, errors.New("cockpit: url and issuer are required")
	}
	if d.DB == nil {
		return nil, errors.New("cockpit: a database is required")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{cfg: cfg, d: d}, nil
}

// Handler returns the cockpit's HTTP handler.
func (s *Service) Handler() http.Handler {
	const site = "全国学生资助大数据平台 · 数字驾驶舱"
	e := web.New(web.Site{Name: site, Log: s.d.Log})
	web.Health(e, s.d.Log, map[string]func(context.Context) error{"database": s.d.DB.Ping})
	pages := web.Layout()
	e.GET("/", func(c echo.Context) error {
		web.Render(c, pages, http.StatusServiceUnavailable, "starting.html", map[string]any{"Title": "正在启动", "Site": site})
		return nil
	})
	return e
}

// Run does the cockpit's background work until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
