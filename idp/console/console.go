// Package console is the IdP's administration surface: the server-rendered
// web console under /admin (Simplified Chinese, plain forms, no scripts)
// and the JSON admin API under /api/v1/admin. Both are thin: every rule —
// who may act on whom, what a cockpit grant may be given to, what is
// audited — lives in idp/admin, so the two faces cannot disagree.
//
// The console authenticates with the IdP's SSO session cookie; the API with
// an access token carrying the "admin" scope, which the IdP issues only to
// admins at trusted clients. Either way the account is read fresh on every
// request, so a disabled or demoted admin loses access at once.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/profile"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/cursor"
)

// Sessions resolves the SSO cookie into a live session.
type Sessions interface {
	Lookup(ctx context.Context, token string) (*session.Session, error)
}

// Accounts loads accounts as they are now.
type Accounts interface {
	Get(ctx context.Context, id string) (*account.Account, error)
}

// Orgs is the part of the organisation tree the pages browse.
type Orgs interface {
	Get(ctx context.Context, id string) (*org.Org, error)
	Children(ctx context.Context, id string) ([]org.Org, error)
	CountSubtree(ctx context.Context, id string) (int, error)
	Search(ctx context.Context, under, query string, limit int) ([]org.Org, error)
}

// Profiles gives what an applicant typed at registration (the position);
// profile.Store implements it.
type Profiles interface {
	Get(ctx context.Context, accountID string) (*profile.Profile, error)
}

// AuditTrail reads the audit log.
type AuditTrail interface {
	Search(ctx context.Context, q audit.Query) ([]audit.Entry, error)
}

// Tokens checks access tokens; fosite's OAuth2Provider implements it.
type Tokens interface {
	IntrospectToken(ctx context.Context, token string, use fosite.TokenUse, sess fosite.Session, scopes ...string) (fosite.TokenUse, fosite.AccessRequester, error)
}

// Config holds the settings the console needs from the IdP.
type Config struct {
	// Issuer is the IdP's URL; POSTs must come from its origin.
	Issuer string
	// CookieName is the IdP's SSO session cookie.
	CookieName string
	// Key authenticates the CSRF tokens of the forms (at least 32 bytes,
	// the same on every replica).
	Key []byte
	// RequireAMR, when set, admits only sessions signed in with that
	// method (e.g. "otp" once admins must use TOTP).
	RequireAMR string
}

// Deps are what the console is built from.
type Deps struct {
	Config   Config
	Admin    *admin.Service
	Accounts Accounts
	Sessions Sessions
	Orgs     Orgs
	Audit    AuditTrail // may be nil: no trail is shown
	Profiles Profiles   // may be nil: the queue shows no positions
	Tokens   Tokens
	// NewSession returns an empty token session of the IdP's type, for
	// token introspection.
	NewSession func() fosite.Session
	Log        *slog.Logger
	Now        func() time.Time
}

// Console serves the admin pages and API.
type Console struct {
	Deps
	origin string
	tmpl   *template.Template
	// conflictCursors signs the queue's page cursors, bound to the admin.
	conflictCursors *cursor.Codec
}

// New checks the dependencies and returns a console.
func New(d Deps) (*Console, error) {
	u, err := url.Parse(d.Config.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("console: issuer must be an absolute http(s) URL")
	}
	if len(d.Config.Key) < 32 {
		return nil, errors.New("console: key must be at least 32 bytes")
	}
	if d.Admin == nil || d.Accounts == nil || d.Sessions == nil || d.Orgs == nil || d.Tokens == nil || d.NewSession == nil {
		return nil, errors.New("console: admin service, accounts, sessions, orgs, tokens and NewSession are required")
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
	cursors, err := cursor.New(d.Config.Key, "idp phone conflicts")
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return &Console{Deps: d, origin: u.Scheme + "://" + u.Host, tmpl: parseTemplates(), conflictCursors: cursors}, nil
}

// Register mounts the console and the admin API.
func (c *Console) Register(e *echo.Echo) {
	g := e.Group("/admin", c.requireAdmin, c.checkPost)
	g.GET("", c.home)
	g.GET("/", c.home)
	g.GET("/orgs/:id", c.orgPage)
	g.POST("/orgs/:id/accounts", c.provisionForm)
	g.GET("/accounts", c.accountsPage)
	g.GET("/pending", c.pendingPage)
	g.GET("/audit", c.auditPage)
	g.GET("/conflicts", c.conflictsPage)
	g.POST("/conflicts/:id/resolve", c.resolveConflictForm)
	g.GET("/accounts/:id", c.accountPage)
	g.POST("/accounts/:id/:action", c.accountAction)

	api := e.Group("/api/v1/admin", c.requireToken)
	api.GET("/orgs/:id", c.apiOrg)
	api.GET("/orgs/:id/children", c.apiChildren)
	api.GET("/accounts", c.apiSearch)
	api.POST("/accounts", c.apiProvision)
	api.GET("/accounts/:id", c.apiAccount)
	api.POST("/accounts/:id/:action", c.apiAction)
	api.POST("/accounts/:id/totp/reset", c.apiResetTOTP)
	api.PUT("/accounts/:id/role", c.apiSetRole)
	api.PUT("/accounts/:id/org", c.apiMove)
	api.PUT("/accounts/:id/grants/:app", c.apiGrant)
	api.DELETE("/accounts/:id/grants/:app", c.apiRevoke)
	api.GET("/accounts/:id/audit", c.apiAudit)
	api.GET("/phone-conflicts", c.apiConflicts)
	api.POST("/phone-conflicts/:id/resolve", c.apiResolveConflict)
}

// csrfToken binds a form to the browser's session cookie: a page of
// another site cannot read it, so it cannot forge the POST.
func (c *Console) csrfToken(cookie string) string {
	m := hmac.New(sha256.New, c.Config.Key)
	m.Write([]byte("xszz-console-csrf:"))
	m.Write([]byte(cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// actorKey is where the middleware leaves the signed-in admin.
const actorKey = "console.actor"

type signedIn struct {
	actor admin.Actor
	csrf  string
}

func actorOf(ec echo.Context) signedIn {
	s, _ := ec.Get(actorKey).(signedIn)
	return s
}

// adminAccount loads an account and checks it may administer now.
func (c *Console) adminAccount(ctx context.Context, id string) (*account.Account, error) {
	acc, err := c.Accounts.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load admin %q: %w", id, err)
	}
	return acc, nil
}

func isAdmin(acc *account.Account) bool {
	return acc.Active() && acc.Role == account.RoleAdmin && acc.OrgID != ""
}

func hasAMR(sess *session.Session, want string) bool {
	if want == "" {
		return true
	}
	for _, m := range sess.AMR {
		if m == want {
			return true
		}
	}
	return false
}

// validID bounds path and form ids before they reach a query: ids are
// short printable strings everywhere in xszz.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	return !strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r == 0x7f })
}
