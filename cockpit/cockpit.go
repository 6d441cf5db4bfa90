// Package cockpit is the data cockpit (全国学生资助大数据平台 · 数字驾驶舱):
// dashboards over the national aid data — overview, students in
// difficulty, aided students, funds, warnings — for accounts at ministry,
// province, city or county level that hold the cockpit grant. It is a
// relying party of the IdP through the SDK and imports nothing under idp/.
package cockpit

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/xszz/xszz/cockpit/dash"
	"github.com/xszz/xszz/cockpit/gen"
	"github.com/xszz/xszz/cockpit/ingest"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/cockpit/rollup"
	"github.com/xszz/xszz/internal/rpsession"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/sdk/web"
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
	// Sessions keeps the pages' sign-in sessions; default in the
	// cockpit's own tables (internal/rpsession).
	Sessions web.SessionStore
}

// Service is the cockpit.
type Service struct {
	cfg   Config
	d     Deps
	tree  *region.Tree
	q     *dash.Queries
	auth  authenticator
	pages *template.Template
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
	if d.Sessions == nil {
		// In the cockpit's tables: sessions outlive a restart, and a
		// back-channel logout reaches every replica.
		key, err := CookieKey(cfg.ClientSecret)
		if err != nil {
			return nil, fmt.Errorf("cockpit: session key: %w", err)
		}
		if d.Sessions, err = rpsession.New(d.DB, "cockpit_web_sessions", key, d.Now); err != nil {
			return nil, fmt.Errorf("cockpit: %w", err)
		}
	}
	tree, err := region.Load()
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, d: d, tree: tree, q: &dash.Queries{DB: d.DB, Tree: tree}, pages: pages}
	s.auth = newSDKAuth(cfg, d.Log, d.Now, d.Sessions, s.signInFailed)
	return s, nil
}

// Run does the cockpit's background work until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	purger, ok := s.d.Sessions.(interface {
		Purge(ctx context.Context) (int64, error)
	})
	if !ok {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		// Expired page sessions; a failure is retried at the next tick.
		if _, err := purger.Purge(ctx); err != nil && ctx.Err() == nil {
			s.d.Log.WarnContext(ctx, "purge sessions failed", "err", err)
		}
	}
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

// CSVFile is one file for Import: Data, or, when Open is set, what Open
// reads (a stream: the file is never held in memory whole).
type CSVFile struct {
	Name string
	Data []byte
	Open func() (io.ReadCloser, error)
}

func (f CSVFile) source() ingest.Source {
	if f.Open == nil {
		return ingest.Bytes(f.Name, f.Data)
	}
	return ingest.Source{Name: f.Name, Open: f.Open}
}

// Import reads real data from CSV files (xszz cockpit import; columns in
// docs/cockpit.md), in the order the kinds depend on each other whatever
// order they are given in. Each file is written whole or not at all; the
// import stops at the first refused file. The rollups and warnings are
// rebuilt, as of asOf, when anything was written.
func Import(ctx context.Context, db *sqldb.DB, files []CSVFile, progress io.Writer, asOf time.Time) ([]ingest.Result, error) {
	tree, err := region.Load()
	if err != nil {
		return nil, err
	}
	type kinded struct {
		f     CSVFile
		order int
	}
	var todo []kinded
	for _, f := range files {
		k, err := kindOf(f.source())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		todo = append(todo, kinded{f, ingest.Order(k)})
	}
	slices.SortStableFunc(todo, func(a, b kinded) int { return a.order - b.order })
	var done []ingest.Result
	var failed error
	for _, t := range todo {
		r, err := ingest.File(ctx, db, tree, t.f.source(), progress)
		if err != nil {
			failed = err
			break
		}
		done = append(done, r)
	}
	if len(done) > 0 {
		if _, err := rollup.Refresh(ctx, db, tree, asOf); err != nil {
			return done, errors.Join(failed, err)
		}
	}
	return done, failed
}

func kindOf(src ingest.Source) (ingest.Kind, error) {
	rc, err := src.Open()
	if err != nil {
		return ingest.Kind{}, err
	}
	defer rc.Close()
	return ingest.KindOf(rc)
}

// SeedDemo generates the laptop-sized demo set of xszz demo seed: every
// region and every dashboard filled in a few seconds.
func SeedDemo(ctx context.Context, db *sqldb.DB, progress io.Writer) error {
	_, err := Generate(ctx, db, gen.Options{Records: 200_000, Seed: 2025, Progress: progress})
	return err
}
