// Package app wires the system from its configuration: every store and
// service, built once and handed around as plain values. cmd/xszz (the
// CLI) and cmd/xszz-bench (the load generator, which runs the app
// in-process) both build it here.
package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/ory/fosite"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/xszz/xszz/idp"
	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/backchannel"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/console"
	"github.com/xszz/xszz/idp/grant"
	"github.com/xszz/xszz/idp/idcard"
	"github.com/xszz/xszz/idp/keys"
	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/otp/redisstore"
	"github.com/xszz/xszz/idp/profile"
	"github.com/xszz/xszz/idp/scim"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/idp/totp"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sms/smsmetrics"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/migrations"
)

// App is the wired system: every store and service, built once from the
// configuration and handed around as plain values.
type App struct {
	Cfg      *Config
	Log      *slog.Logger
	Now      func() time.Time
	DB       *sqldb.DB
	Redis    *redis.Client
	Keys     *keys.Manager
	Clients  *client.Store
	Accounts *account.Store
	Orgs     *org.Store
	Sessions *session.Store
	OAuth    *oauthstore.Store
	Provider *oauth.Provider
	OTP      *otp.Service
	Audit    *audit.Log
	Grants   *grant.Store
	Notifier *backchannel.Notifier
	Admin    *admin.Service
	TOTP     *totp.Service
	Profiles *profile.Store
	Console  *console.Console
	IdP      *idp.Server
	Registry *prometheus.Registry
	// SMS is the configured gateway (with failover and metrics); codes
	// reach it through the OTP service's limits.
	SMS sms.Sender
	// BuiltinKey derives the secrets of the system's own relying parties
	// (the office and the cockpit) when they run with the IdP.
	BuiltinKey []byte
}

// derive gives each use of the IdP secret its own key.
func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("xszz/" + label))
	return m.Sum(nil)
}

// NewLogger returns the configured logger writing to w.
func NewLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.Log.Format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Options let tests and the bench swap the clock and the SMS sender, and
// keep parallel runs apart on one Redis.
type Options struct {
	Now    func() time.Time
	Sender sms.Sender
	// OTPPrefix replaces the Redis key prefix of the SMS-code store
	// ("xszz:otp:").
	OTPPrefix string
	// Schemas are the parts whose migrations run; nil means every part.
	Schemas []sqldb.Schema
}

// Build opens the database (migrating it unless turned off) and wires the
// system. It does not start background work; `xszz serve` does.
func Build(ctx context.Context, cfg *Config, log *slog.Logger, o Options) (*App, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	sec, err := cfg.loadSecrets()
	if err != nil {
		return nil, err
	}
	db, err := sqldb.Open(ctx, cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("config database.url: %w", err)
	}
	a := &App{Cfg: cfg, Log: log, Now: now, DB: db, Registry: prometheus.NewRegistry(), BuiltinKey: derive(sec.IdPSecret, "builtin-clients")}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	if cfg.Database.Migrate {
		schemas := o.Schemas
		if schemas == nil {
			schemas = migrations.All()
		}
		if err := db.Migrate(ctx, schemas...); err != nil {
			return nil, err
		}
	}
	if cfg.Redis.URL != "" {
		opts, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			return nil, fmt.Errorf("config redis.url: %w", err)
		}
		a.Redis = redis.NewClient(opts)
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := a.Redis.Ping(pctx).Err(); err != nil {
			return nil, fmt.Errorf("config redis.url: %w", err)
		}
	}
	longest := max(cfg.IdP.AccessTokenTTL, cfg.IdP.IDTokenTTL)
	a.Keys, err = keys.New(db, keys.Config{
		EncryptionKey: sec.EncryptionKey, EncryptionKeyID: "config",
		RotateEvery: cfg.Keys.RotateEvery, RetainFor: longest + 5*time.Minute,
		// A new key is published for the replicas' cache period plus the
		// JWKS max-age (60 s) before it signs, so no relying party sees a
		// kid it cannot fetch.
		PublishAhead: keys.DefaultCacheFor + time.Minute,
	}, now, log)
	if err != nil {
		return nil, err
	}
	a.Clients = client.NewStore(db, client.Hasher{Key: derive(sec.IdPSecret, "client-secret")}, now, 30*time.Second)
	phoneSealer, err := account.NewSealer("idp-secret", derive(sec.IdPSecret, "phone"), derive(sec.IdPSecret, "phone-index"), nil)
	if err != nil {
		return nil, err
	}
	a.Accounts = account.NewStore(db, now, account.WithSealer(phoneSealer))
	// The data half of migration 0223: rows from before phones were
	// sealed are sealed now (idempotent; one query when none are left).
	if n, err := a.Accounts.SealPlaintextPhones(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		log.InfoContext(ctx, "sealed plaintext phone numbers", "accounts", n)
	}
	a.Orgs = org.NewStore(db, org.WithClock(now))
	a.Sessions = session.NewStore(db, session.Config{Idle: cfg.IdP.SessionIdle, Absolute: cfg.IdP.SessionAbsolute}, now)
	a.OAuth = oauthstore.New(db, oauth.ClientGetter(a.Clients), now)
	a.Audit = audit.New(db, now, log, audit.WithKey(derive(sec.IdPSecret, "audit")))
	a.Grants = grant.NewStore(db, now)

	issuerLoopback := false
	if u := cfg.IdP.Issuer; len(u) > 7 && u[:7] == "http://" {
		issuerLoopback = true // Validate allows http only on loopback
	}
	a.Provider, err = oauth.New(oauth.Config{
		Issuer: cfg.IdP.Issuer, Secret: derive(sec.IdPSecret, "fosite"),
		AccessTokenTTL: cfg.IdP.AccessTokenTTL, IDTokenTTL: cfg.IdP.IDTokenTTL,
		RefreshTokenTTL: cfg.IdP.RefreshTokenTTL, CodeTTL: cfg.IdP.CodeTTL,
		AccessTokenAlg: cfg.IdP.AccessTokenAlg, AllowHTTPLoopback: issuerLoopback,
	}, a.OAuth, a.Clients, a.Keys, a.Clients.Hasher(), now)
	if err != nil {
		return nil, err
	}
	a.Notifier = backchannel.New(backchannel.Config{Issuer: cfg.IdP.Issuer}, a.Provider.Signer, a.Clients, nil, now, log)
	a.Admin = &admin.Service{
		DB: db, Accounts: a.Accounts, Orgs: a.Orgs, Grants: a.Grants, Sessions: a.Sessions,
		OAuth: a.OAuth, Notifier: a.Notifier, Audit: a.Audit, Now: now,
	}

	smsm, err := smsmetrics.New(a.Registry)
	if err != nil {
		return nil, err
	}
	if o.Sender != nil {
		a.SMS = smsm.Wrap("custom", o.Sender)
	} else {
		a.SMS = cfg.SMSSender(log, smsm)
	}
	sender := a.SMS
	a.Admin.SMS, a.Admin.Log = a.SMS, log
	var codes otp.Store = otp.NewMemoryStore(now)
	if a.Redis != nil {
		prefix := "xszz:otp:"
		if o.OTPPrefix != "" {
			prefix = o.OTPPrefix
		}
		codes = redisstore.New(a.Redis, prefix)
	}
	a.OTP = otp.New(codes, idp.SMSGate{Next: sender, Accounts: a.Accounts, Async: o.Sender == nil, Log: log}, otp.Config{
		Secret: derive(sec.IdPSecret, "otp"), CodeTTL: cfg.SMS.CodeTTL, MaxAttempts: cfg.SMS.MaxAttempts,
		ResendInterval: cfg.SMS.ResendInterval, PerHour: cfg.SMS.PerHour, PerDay: cfg.SMS.PerDay,
		PerIPPerHour: cfg.SMS.PerIPPerHour, PerNetPerHour: cfg.SMS.PerNetPerHour, GlobalPerMinute: cfg.SMS.GlobalPerMin,
	}, now, log)

	a.Console, err = console.New(console.Deps{
		Config: console.Config{Issuer: cfg.IdP.Issuer, Key: derive(sec.IdPSecret, "console"), RequireAMR: consoleAMR(cfg)},
		Admin:  a.Admin, Accounts: a.Accounts, Sessions: a.Sessions, Orgs: a.Orgs, Audit: a.Audit,
		Tokens: a.Provider, NewSession: func() fosite.Session { return oauth.NewSession() }, Log: log, Now: now,
	})
	if err != nil {
		return nil, err
	}

	if a.TOTP, err = totp.New(db, totp.Config{Key: derive(sec.IdPSecret, "totp")}, now); err != nil {
		return nil, err
	}
	idSealer, err := idcard.NewSealer("idp-secret", derive(sec.IdPSecret, "idcard"), derive(sec.IdPSecret, "idcard-index"), nil)
	if err != nil {
		return nil, err
	}
	a.Profiles = profile.NewStore(db, idSealer, now)
	a.Admin.Profiles = a.Profiles

	directory, err := scim.New(scim.Deps{
		Issuer: cfg.IdP.Issuer, DB: db, Tokens: a.Provider, Clients: a.Clients, Paths: a.Orgs, Accounts: a.Accounts,
		NewSession: func() fosite.Session { return oauth.NewSession() }, Log: log,
	})
	if err != nil {
		return nil, err
	}

	ready := map[string]func(context.Context) error{"database": db.Ping}
	if a.Redis != nil {
		ready["redis"] = func(ctx context.Context) error { return a.Redis.Ping(ctx).Err() }
	}
	a.IdP, err = idp.New(idp.Deps{
		Config:   idp.Config{Issuer: cfg.IdP.Issuer, FlowKey: derive(sec.IdPSecret, "flow"), TOTPRequiredFor: cfg.IdP.TOTPRequiredFor},
		Provider: a.Provider, Keys: a.Keys, Accounts: a.Accounts, Clients: a.Clients, Sessions: a.Sessions,
		OTP: a.OTP, TOTP: a.TOTP, Registration: &idp.Registration{Orgs: a.Orgs, Profiles: a.Profiles}, Identities: &idp.Directory{Accounts: a.Accounts, Orgs: orgClaims{a.Orgs}, Grants: a.Grants},
		Notifier: a.Notifier, Admin: a.Admin, OrgPaths: a.Orgs, Console: a.Console, Directory: directory, SMS: a.SMS,
		Audit: a.Audit, Log: log, Now: now, Ready: ready, Registry: a.Registry,
	})
	if err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

// consoleAMR: when admins must sign in with the authenticator app, the
// console also refuses a session that somehow lacks it.
func consoleAMR(cfg *Config) string {
	if cfg.IdP.TOTPRequiredFor == idp.MFAForNone {
		return ""
	}
	return "otp"
}

// orgClaims adapts the org store to the IdP's claim source.
type orgClaims struct{ s *org.Store }

func (o orgClaims) OrgClaim(ctx context.Context, id string) (any, error) {
	c, err := o.s.Claim(ctx, id)
	if errors.Is(err, sqldb.ErrNotFound) {
		// An account whose unit was removed still signs in; the claim
		// names the id so relying parties can tell.
		return map[string]any{"id": id}, nil
	}
	return c, err
}

// Prepare makes the database ready to serve: signing keys and the root of
// the organisation tree.
func (a *App) Prepare(ctx context.Context) error {
	if err := a.Keys.Ensure(ctx); err != nil {
		return err
	}
	return a.Orgs.Seed(ctx)
}

// Close releases connections.
func (a *App) Close() {
	if a.Redis != nil {
		a.Redis.Close()
	}
	if a.DB != nil {
		a.DB.Close()
	}
}
