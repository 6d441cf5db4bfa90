package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xszz/xszz/cmd/internal/app"
	"github.com/xszz/xszz/cockpit"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/migrations"
	"github.com/xszz/xszz/office"
	"github.com/xszz/xszz/office/complaint"
)

// The system's own relying parties, registered at the IdP under fixed ids
// when they run in the same process.
const (
	officeClientID  = "xszz-office"
	cockpitClientID = "xszz-cockpit"
)

// officeWorkflow is the office's workflow timings from its office.* keys.
func officeWorkflow(rp app.RelyingParty) office.WorkflowConfig {
	return office.WorkflowConfig{
		ConsultationQuiet: rp.ConsultationQuietPeriod,
		ComplaintDeadlines: complaint.Deadlines{
			Accept: rp.ComplaintAcceptWithin, Start: rp.ComplaintStartWithin, Reply: rp.ComplaintReplyWithin,
		},
	}
}

// assemble wires the parts to serve: the IdP through build, and the office
// and cockpit as relying parties on the same database handle. Without the
// IdP only the served parts' schemas are migrated, so a relying party can
// run alone on a database of its own.
func assemble(ctx context.Context, cfg *Config, log *slog.Logger, serve []string, o buildOptions) (*App, error) {
	var schemas []sqldb.Schema
	for _, s := range migrations.All() {
		if slices.Contains(serve, s.Name) {
			schemas = append(schemas, s)
		}
	}
	var a *App
	var err error
	if slices.Contains(serve, "idp") {
		o.schemas = schemas
		if a, err = build(ctx, cfg, log, o); err != nil {
			return nil, err
		}
	} else if a, err = buildBare(ctx, cfg, log, schemas, o); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	proxies, err := cfg.TrustedProxies()
	if err != nil {
		return nil, err
	}
	if slices.Contains(serve, "office") {
		id, secret, err := a.credentials("office", cfg.Office, officeClientID)
		if err != nil {
			return nil, err
		}
		a.Office, err = office.New(office.Config{
			URL: cfg.Office.URL, Issuer: cfg.Office.Issuer, ClientID: id, ClientSecret: secret, Files: cfg.Office.Files,
			TrustedProxies: proxies, Workflow: officeWorkflow(cfg.Office),
		}, office.Deps{DB: a.DB, Log: log.With("part", "office"), Now: a.Now, SMS: a.SMS})
		if err != nil {
			return nil, err
		}
	}
	if slices.Contains(serve, "cockpit") {
		id, secret, err := a.credentials("cockpit", cfg.Cockpit, cockpitClientID)
		if err != nil {
			return nil, err
		}
		a.Cockpit, err = cockpit.New(cockpit.Config{
			URL: cfg.Cockpit.URL, Issuer: cfg.Cockpit.Issuer, ClientID: id, ClientSecret: secret,
			TrustedProxies: proxies,
		}, cockpit.Deps{DB: a.DB, Log: log.With("part", "cockpit"), Now: a.Now})
		if err != nil {
			return nil, err
		}
	}
	ok = true
	return a, nil
}

// buildBare opens and migrates the database for relying parties that run
// without the IdP.
func buildBare(ctx context.Context, cfg *Config, log *slog.Logger, schemas []sqldb.Schema, o buildOptions) (*App, error) {
	now := o.now
	if now == nil {
		now = time.Now
	}
	db, err := sqldb.Open(ctx, cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("config database.url: %w", err)
	}
	if cfg.Database.Migrate {
		if err := db.Migrate(ctx, schemas...); err != nil {
			db.Close()
			return nil, err
		}
	}
	return &App{App: &app.App{Cfg: cfg, Log: log, Now: now, DB: db, Registry: prometheus.NewRegistry()}}, nil
}

// credentials are the client id and secret a relying party signs in
// with: configured ones, or — with the IdP in this process — the built-in
// registration's, whose secret is derived from the IdP secret.
func (a *App) credentials(section string, rp app.RelyingParty, builtinID string) (id, secret string, err error) {
	if rp.ClientID != "" {
		return rp.ClientID, rp.ClientSecret, nil
	}
	if a.BuiltinKey == nil {
		return "", "", fmt.Errorf("config %s.client_id and %s.client_secret: required when the %s runs without the IdP (register it with xszz clients create; see README)", section, section, section)
	}
	return builtinID, a.builtinSecret(builtinID), nil
}

func (a *App) builtinSecret(id string) string {
	m := hmac.New(sha256.New, a.BuiltinKey)
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// builtinClients are the registrations of the office and the cockpit when
// they run with the IdP and have no configured client of their own.
func (a *App) builtinClients() map[string]client.Spec {
	out := map[string]client.Spec{}
	rp := func(name string, c app.RelyingParty, scopes ...string) client.Spec {
		return client.Spec{
			Name:                   name,
			RedirectURIs:           []string{c.URL + "/callback"},
			PostLogoutRedirectURIs: []string{c.URL + "/"},
			BackchannelLogoutURI:   c.URL + "/backchannel-logout",
			GrantTypes:             []string{"authorization_code", "refresh_token", "client_credentials"},
			Scopes:                 scopes,
			Trusted:                true,
		}
	}
	if a.Cfg.Office.ClientID == "" {
		spec := rp("全国学生资助办公系统", a.Cfg.Office, "openid", "profile", "phone", "org", "offline_access", "directory")
		// The office reads the whole tree through SCIM, with full numbers
		// for SMS reminders and the admin's audited reveal.
		spec.DirectoryRoot, spec.DirectoryFullPhones = org.RootID, true
		out[officeClientID] = spec
	}
	if a.Cfg.Cockpit.ClientID == "" {
		out[cockpitClientID] = rp("全国学生资助大数据平台 · 数字驾驶舱", a.Cfg.Cockpit, "openid", "profile", "org", "offline_access", "cockpit")
	}
	return out
}

// registerBuiltinClients registers (or brings up to date) the office and
// the cockpit at the IdP, so that xszz serve needs no client set-up.
func (a *App) registerBuiltinClients(ctx context.Context) error {
	for id, spec := range a.builtinClients() {
		if err := spec.Validate(a.Provider.Config.AllowHTTPLoopback); err != nil {
			return fmt.Errorf("built-in client %s: %w", id, err)
		}
		if _, err := a.Clients.Ensure(ctx, id, spec, a.builtinSecret(id)); err != nil {
			return err
		}
	}
	return nil
}
