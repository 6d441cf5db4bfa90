// Package office is the office system (全国学生资助办公系统): contacts,
// notices, submissions, activities, consultations and complaints for aid
// staff at all six levels. It is a relying party of the IdP: it signs
// people in through OpenID Connect with the SDK, trusts only IdP-issued
// tokens, knows units and people only from those tokens and the IdP's SCIM
// directory, and imports nothing under idp/.
//
// The parts: office/directory (the synced copy of the directory and the
// viewer), office/notice, office/activity, office/contacts; this package
// wires them to HTTP — the JSON API under /api/v1 and the pages.
package office

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	pagecursor "github.com/xszz/xszz/internal/cursor"
	"github.com/xszz/xszz/internal/rpsession"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/contacts"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/notice"
)

// Config is the office's part of the configuration (office.* keys).
type Config struct {
	// URL is the office's public URL (office.url), the base of its
	// redirect (/callback), post-logout (/) and back-channel logout
	// (/backchannel-logout) URIs.
	URL string
	// Issuer is the IdP the office trusts (office.issuer).
	Issuer string
	// ClientID and ClientSecret are the office's credentials at the IdP.
	// The client needs the scopes openid profile phone org offline_access
	// directory, the grants authorization_code refresh_token
	// client_credentials, and a directory root.
	ClientID, ClientSecret string
	// Files is the folder for attachments (office.files).
	Files string
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed (http.trusted_proxies).
	TrustedProxies []netip.Prefix
	// CookieKey encrypts the session cookie (32 bytes, the same on every
	// replica). Empty: a key derived from the client secret.
	CookieKey []byte
	// SyncInterval is how often the directory is synced (default 3 min).
	SyncInterval time.Duration
	// Workflow tunes submissions, consultations and complaints.
	Workflow WorkflowConfig
}

// Deps are what the office is built from.
type Deps struct {
	DB  *sqldb.DB
	Log *slog.Logger
	Now func() time.Time
	// SMS sends "remind the unread" messages; nil reminds in the office
	// only. The same gateway configuration as the IdP's.
	SMS sms.Sender
	// HTTPClient reaches the IdP; nil uses a client with a 15 s timeout.
	HTTPClient *http.Client
}

// Service is the office system.
type Service struct {
	cfg      Config
	d        Deps
	dir      *directory.Store
	notices  *notice.Service
	acts     *activity.Service
	contacts *contacts.Service
	// cursors signs the contacts' page cursors, bound to the viewer and
	// query.
	cursors *pagecursor.Codec
	// sessions keeps the pages' sign-in sessions in the office's tables,
	// so they outlive a restart and a back-channel logout reaches every
	// replica.
	sessions *rpsession.Store
	wf       *workflows

	rpMu sync.Mutex
	rp   *relying

	syncNow chan struct{}
	tmpl    *template.Template
}

// New checks the configuration and returns the service. It does no I/O:
// the IdP may still be starting in the same process.
func New(cfg Config, d Deps) (*Service, error) {
	if cfg.URL == "" || cfg.Issuer == "" {
		return nil, errors.New("office: url and issuer are required")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("office: client id and secret are required")
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
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.SyncInterval <= 0 {
		cfg.SyncInterval = 3 * time.Minute
	}
	if cfg.Files == "" {
		cfg.Files = "data/office-files"
	}
	cfg.URL = strings.TrimSuffix(cfg.URL, "/")
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	dir := directory.NewStore(d.DB)
	key, err := cookieKey(cfg)
	if err != nil {
		return nil, fmt.Errorf("office: cookie key: %w", err)
	}
	sessions, err := rpsession.New(d.DB, "office_web_sessions", key, d.Now)
	if err != nil {
		return nil, fmt.Errorf("office: %w", err)
	}
	cursors, err := pagecursor.New(key, "office contacts")
	if err != nil {
		return nil, fmt.Errorf("office: %w", err)
	}
	s := &Service{cfg: cfg, d: d, dir: dir, sessions: sessions, cursors: cursors, syncNow: make(chan struct{}, 1)}
	s.notices = &notice.Service{DB: d.DB, Dir: dir, Files: &notice.Files{Dir: cfg.Files}, Now: d.Now, Log: d.Log}
	if d.SMS != nil {
		s.notices.Texter = texter{d.SMS}
	}
	s.acts = &activity.Service{DB: d.DB, Dir: dir, Now: d.Now}
	s.contacts = &contacts.Service{Dir: dir, Now: d.Now}
	s.wf = newWorkflows(cfg.Workflow, d, dir)
	return s, nil
}

// texter sends reminders through the configured SMS gateway.
type texter struct{ s sms.Sender }

func (t texter) Text(ctx context.Context, e164, title string) error {
	err := t.s.Send(ctx, sms.Message{Phone: e164, Purpose: sms.NoticeOfficeReminder, Params: map[string]string{"title": title}})
	if errors.Is(err, sms.ErrNoTemplate) {
		return fmt.Errorf("%w: %w", notice.ErrNoTexting, err)
	}
	return err
}

// Run syncs the directory at start, every SyncInterval and after each
// sign-in, until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	tick := time.NewTicker(s.cfg.SyncInterval)
	defer tick.Stop()
	s.syncLogged(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.syncNow:
		}
		s.syncLogged(ctx)
		s.closeQuiet(ctx)
	}
}

func (s *Service) syncLogged(ctx context.Context) {
	// Expired page sessions go at the pace of the sync.
	if _, err := s.sessions.Purge(ctx); err != nil && ctx.Err() == nil {
		s.d.Log.WarnContext(ctx, "purge sessions failed", "err", err)
	}
	r, err := s.Sync(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.d.Log.WarnContext(ctx, "directory sync failed", "err", err)
		}
		return
	}
	if r.Units+r.People > 0 {
		s.d.Log.InfoContext(ctx, "directory synced", "units", r.Units, "people", r.People)
	}
}

// Sync runs one incremental directory sync now.
func (s *Service) Sync(ctx context.Context) (directory.Result, error) {
	rp, err := s.relying(ctx)
	if err != nil {
		return directory.Result{}, err
	}
	return rp.syncer.Sync(ctx)
}

// requestSync asks Run for a sync soon, without waiting for it.
func (s *Service) requestSync() {
	select {
	case s.syncNow <- struct{}{}:
	default:
	}
}
