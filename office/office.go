// Package office is the office system (全国学生资助办公系统): contacts,
// notices, submissions, activities, consultations and complaints for aid
// staff at all six levels. It is a relying party of the IdP: it signs
// people in through OpenID Connect with the SDK, trusts only IdP-issued
// tokens, knows units and people only from those tokens and the IdP's SCIM
// directory, and imports nothing under idp/.
package office

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
)

// Config is the office's part of the configuration (office.* keys).
type Config struct {
	// URL is the office's public URL (office.url), the base of its
	// redirect, post-logout and back-channel logout URIs.
	URL string
	// Issuer is the IdP the office trusts (office.issuer).
	Issuer string
	// ClientID and ClientSecret are the office's credentials at the IdP.
	ClientID, ClientSecret string
	// Files is the folder for attachments (office.files).
	Files string
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed (http.trusted_proxies).
	TrustedProxies []netip.Prefix
}

// Deps are what the office is built from.
type Deps struct {
	DB  *sqldb.DB
	Log *slog.Logger
	Now func() time.Time
}

// Service is the office system.
type Service struct {
	cfg Config
	d   Deps
}

// New checks the configuration and returns the service. It does no I/O:
// the IdP may still be starting in the same process.
func New(cfg Config, d Deps) (*Service, error) {
	if cfg.URL == "" || cfg.Issuer == "" {
		return nil, errors.New("office: url and issuer are required")
	}
	if d.DB == nil {
		return nil, errors.New("office: a database is required")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{cfg: cfg, d: d}, nil
}

// Handler returns the office's HTTP handler.
func (s *Service) Handler() http.Handler {
	const site = "全国学生资助办公系统"
	e := web.New(web.Site{Name: site, Log: s.d.Log, TrustedProxies: s.cfg.TrustedProxies})
	web.Health(e, s.d.Log, map[string]func(context.Context) error{"database": s.d.DB.Ping})
	pages := web.Layout()
	e.GET("/", func(c echo.Context) error {
		web.Render(c, pages, http.StatusServiceUnavailable, "starting.html", map[string]any{"Title": "正在启动", "Site": site})
		return nil
	})
	return e
}

// Run does the office's background work until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
