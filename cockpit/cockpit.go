// Package cockpit is the data cockpit (全国学生资助大数据平台 · 数字驾驶舱):
// dashboards over the national aid data — overview, students in
// difficulty, aided students, funds, warnings — for accounts at ministry,
// province, city or county level that hold the cockpit grant. It is a
// relying party of the IdP through the SDK and imports nothing under idp/.
package cockpit

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"github.com/xszz/xszz/cockpit/dash"
	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/internal/sqldb"
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
	// Audience is the audience access tokens for the API must carry
	// (cockpit.audience); default ClientID.
	Audience string
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed (http.trusted_proxies).
	TrustedProxies []netip.Prefix
}

// Deps are what the cockpit is built from.
type Deps struct {
	DB  *sqldb.DB
	Log *slog.Logger
	Now func() time.Time
}

// Service is the cockpit.
type Service struct {
	cfg  Config
	d    Deps
	tree *region.Tree
	q    *dash.Queries
	auth authenticator
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
	if cfg.Audience == "" {
		cfg.Audience = cfg.ClientID
	}
	tree, err := region.Load()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, d: d, tree: tree, q: &dash.Queries{DB: d.DB, Tree: tree}}
	s.auth = newSDKAuth(cfg, d.Log)
	return s, nil
}

// Run does the cockpit's background work until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Generate replaces the cockpit's data with a generated set (xszz cockpit
// gen) and rebuilds the rollups.
func Generate(ctx context.Context, db *sqldb.DB, o gen.Options) (gen.Stats, error) {
	tree, err := region.Load()
	if err != nil {
		return gen.Stats{}, err
	}
	return gen.Run(ctx, db, tree, o)
}

// SeedDemo generates the laptop-sized demo set of xszz demo seed: every
// region and every dashboard filled in a few seconds.
func SeedDemo(ctx context.Context, db *sqldb.DB, progress io.Writer) error {
	_, err := Generate(ctx, db, gen.Options{Records: 200_000, Seed: 2025, Progress: progress})
	return err
}
