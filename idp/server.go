// Package idp assembles the identity provider's HTTP face from its parts,
// each in its own package and mounting its own routes: idp/protocol (the
// OAuth/OIDC endpoints), idp/signin (login pages, SMS and second factor),
// idp/registration, idp/accountcentre and idp/console; plus health and
// metrics. Storage is in the other idp/… packages and the protocol engine
// in idp/oauth. Handlers return errors; internal/web's error handler turns
// them into JSON or a Chinese error page, and logs the cause.
package idp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/accountcentre"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/identity"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/profile"
	"github.com/xszz/xszz/idp/protocol"
	"github.com/xszz/xszz/idp/registration"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/idp/signin"
	"github.com/xszz/xszz/idp/totp"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/web"
)

// Who must pass a second factor after the SMS code (idp.totp_required_for).
const (
	MFAForAdmin = mfa.ForAdmin
	MFAForAll   = mfa.ForAll
	MFAForNone  = mfa.ForNone
)

// Authentication context classes in the ID token's acr claim.
const (
	ACROneFactor = mfa.ACROneFactor
	ACRTwoFactor = mfa.ACRTwoFactor
)

// Identity and Directory live in idp/identity; the names stay here for
// the wiring.
type (
	Identity    = identity.Identity
	Directory   = identity.Directory
	OrgClaimer  = identity.OrgClaimer
	GrantLister = identity.GrantLister
)

// csp is the IdP's Content-Security-Policy. Forms post to the IdP only;
// a page whose form leads on to a relying party (login, second factor,
// consent: the IdP answers with a redirect to the redirect URI; logout
// confirmation: to the post-logout redirect URI) adds that one origin
// per request (formTargets, protocol's logout), since browsers apply
// form-action to the redirects that follow a submission. Scripts come
// only from the IdP's own /static/ files (the resend countdown, the unit
// suggestions), which may call the IdP's own JSON API.
const csp = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

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
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed (web.ClientIP).
	TrustedProxies []netip.Prefix
}

// Keyset serves the public keys.
type Keyset interface {
	JWKS(ctx context.Context) ([]byte, error)
}

// Identities resolves accounts into token claims.
type Identities interface {
	Identity(ctx context.Context, accountID string) (*Identity, error)
	Profile(ctx context.Context, accountID string, withOrg bool) (*Identity, error)
	Active(ctx context.Context, accountID string) (bool, error)
}

// Challenger checks a human-verification answer before an SMS code is
// sent (signin.Challenger).
type Challenger = signin.Challenger

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

// OrgDirectory finds the unit a person applies to; *org.Store implements
// it.
type OrgDirectory interface {
	Get(ctx context.Context, id string) (*org.Org, error)
	Search(ctx context.Context, under, query string, limit int) ([]org.Org, error)
}

// Registration is what self-registration needs; nil in Deps turns
// registration off.
type Registration struct {
	Orgs     OrgDirectory
	Profiles *profile.Store
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
	// It is read at each send, so it may be set after New.
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

// Server is the assembled IdP.
type Server struct {
	Deps
	metrics  *metrics
	https    bool
	flows    *idpweb.Sealer
	protocol *protocol.Protocol
	signin   *signin.SignIn
	register *registration.Registration
	centre   *accountcentre.Centre
}

// New checks the configuration and builds the parts.
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
	s := &Server{Deps: d, metrics: newMetrics(d.Registry), https: u.Scheme == "https"}

	origin := u.Scheme + "://" + u.Host
	flows := &idpweb.Sealer{Key: d.Config.FlowKey, Now: d.Now}
	s.flows = flows
	cookie := idpweb.Cookie{Name: d.Config.CookieName, Secure: u.Scheme == "https"}
	browser := &idpweb.Browser{Cookie: cookie, Sessions: d.Sessions, Identities: d.Identities, Log: d.Log}
	events := &idpweb.Events{OrgPaths: d.OrgPaths, Log: d.Log}
	if d.Audit != nil {
		events.Audit = d.Audit
	}
	policy := mfa.Policy{RequiredFor: d.Config.TOTPRequiredFor}
	// Interfaces stay nil when a part is off: a nil pointer inside one
	// would not read as "off".
	var signinTOTP signin.SecondFactor
	var centreTOTP accountcentre.SecondFactor
	if d.TOTP != nil {
		policy.TOTP, signinTOTP, centreTOTP = d.TOTP, d.TOTP, d.TOTP
	}
	var notifier signin.Notifier
	if d.Notifier != nil {
		notifier = d.Notifier
	}

	s.signin = signin.New(signin.Deps{
		Origin: origin, Flows: flows, Browser: browser, MFA: policy,
		Accounts: d.Accounts, Sessions: d.Sessions, OTP: d.OTP, TOTP: signinTOTP, Clients: d.Clients,
		Grants: d.Provider.Store, Notifier: notifier, Challenge: lateChallenge{s},
		Events: events, Metrics: s.metrics.parts, Log: d.Log, Now: d.Now,
	})
	s.protocol = protocol.New(protocol.Deps{
		Issuer: d.Config.Issuer, Origin: origin, Provider: d.Provider, Keys: d.Keys, Clients: d.Clients,
		Identities: d.Identities, Browser: browser, SignOut: s.signin, Cookie: cookie, MFA: policy, Flows: flows,
		Events: events, Metrics: s.metrics.parts, Log: d.Log, Now: d.Now,
	})
	rd := registration.Deps{Origin: origin, Accounts: d.Accounts, OTP: d.OTP, Codes: s.signin, Events: events, Log: d.Log, Now: d.Now}
	cd := accountcentre.Deps{
		Origin: origin, Browser: browser, Cookie: cookie, Flows: flows, MFA: policy,
		Sessions: d.Sessions, Ender: s.signin, SignOuter: storeSignOut{d.Sessions, d.Provider}, Consents: d.Provider.Store,
		Clients: d.Clients, TOTP: centreTOTP, OTP: d.OTP, Codes: s.signin, Accounts: d.Accounts,
		SMS: d.SMS, Events: events, Log: d.Log, Now: d.Now,
	}
	if d.Registration != nil {
		rd.Orgs, rd.Profiles = d.Registration.Orgs, d.Registration.Profiles
		cd.Orgs, cd.Profiles = d.Registration.Orgs, d.Registration.Profiles
	}
	if d.Admin != nil {
		rd.Claims = d.Admin
		cd.SignOuter = d.Admin
	}
	if d.Notifier != nil {
		cd.Notifier = d.Notifier
	}
	s.register = registration.New(rd)
	s.centre = accountcentre.New(cd)
	return s, nil
}

// Handler returns the IdP's HTTP handler.
func (s *Server) Handler() http.Handler {
	e := web.New(web.Site{Name: "全国学生资助统一身份认证", Log: s.Log, Policy: web.Policy{CSP: csp, HSTS: s.https}, Pages: idpweb.Pages(), TrustedProxies: s.Config.TrustedProxies})
	e.Use(s.metrics.middleware, s.formTargets)
	s.Register(e)
	return e
}

// Register mounts the IdP's routes.
func (s *Server) Register(e *echo.Echo) {
	s.protocol.Register(e)
	s.signin.Register(e)
	s.register.Register(e)
	s.centre.Register(e)
	idpweb.MountStatic(e)
	if s.Console != nil {
		s.Console.Register(e)
	}
	if s.Directory != nil {
		s.Directory.Register(e)
	}
	web.Health(e, s.Log, s.Ready)
}

// formTargets lets the page of a sign-in or consent in progress post on to
// the relying party it will end at: the redirect URI of the authorization
// request in its flow (the query's or form's flow, or the one a pending
// second factor resumes), once that URI is known to be registered for the
// client. Every other page's forms stay on the IdP.
func (s *Server) formTargets(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		tok := c.QueryParam("flow")
		// The login page's posts re-render it with its flow in the form.
		// Other posts answer with redirects, whose own CSP does not
		// matter, and their bodies are left to the handlers' limits.
		if tok == "" && r.Method == http.MethodPost && (r.URL.Path == "/login" || r.URL.Path == "/login/send") &&
			strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			tok = c.FormValue("flow")
		}
		if tok == "" && strings.HasPrefix(r.URL.Path, "/login/totp") {
			tok = s.signin.PendingFlow(c)
		}
		if tok == "" {
			return next(c)
		}
		f, err := s.flows.Open(tok)
		if err != nil {
			return next(c)
		}
		q, err := url.ParseQuery(f.Query)
		if err != nil {
			return next(c)
		}
		cl, err := s.Clients.Get(r.Context(), q.Get("client_id"))
		if err == nil && slices.Contains(cl.RedirectURIs, q.Get("redirect_uri")) {
			web.AllowFormAction(c, web.Origin(q.Get("redirect_uri")))
		}
		return next(c)
	}
}

// lateChallenge reads Deps.Challenge at each send, so a challenge set
// after New (a test, a late-wired captcha service) takes effect.
type lateChallenge struct{ s *Server }

func (l lateChallenge) Check(c echo.Context) error {
	if l.s.Challenge == nil {
		return nil
	}
	return l.s.Challenge.Check(c)
}

// storeSignOut is the account centre's sign-out-everywhere when no admin
// service is wired.
type storeSignOut struct {
	sessions *session.Store
	provider *oauth.Provider
}

func (f storeSignOut) SignOutEverywhere(ctx context.Context, accountID string) error {
	if _, err := f.sessions.DeleteByAccount(ctx, accountID); err != nil {
		return err
	}
	return f.provider.Store.RevokeSubject(ctx, accountID)
}
