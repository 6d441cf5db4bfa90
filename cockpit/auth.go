package cockpit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/xszz/xszz/cockpit/dash"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/internal/rpsession"
	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/guard"
	"github.com/xszz/xszz/sdk/introspect"
	"github.com/xszz/xszz/sdk/web"
)

// Grant is the grant an account needs to enter the cockpit.
const Grant = "cockpit"

// Scopes are what the cockpit's pages ask the IdP for: the organisation
// decides the viewer's region, "cockpit" puts the grant in the access
// token, and offline_access lets a session outlive one access token.
var Scopes = []string{"openid", "profile", "org", "offline_access", "cockpit"}

// recheck is how long an introspection answer about a session's or a
// bearer's access token is trusted: a revoked grant or a disabled account
// is shut out at most this long after the IdP learns of it.
const recheck = 30 * time.Second

// errSignedOut means a page request has no usable session: the visitor
// must sign in (again).
var errSignedOut = errors.New("signed out")

// authenticator is the seam between the cockpit and the SDK: it turns an
// API request into verified claims (or writes the protocol error itself),
// and a page request into the signed-in account's claims.
type authenticator interface {
	Authenticate(r *http.Request) (*sdk.Claims, error)
	WriteError(w http.ResponseWriter, err error)
	// Page returns the claims of the request's session, errSignedOut when
	// there is none or it has ended (revoked, expired, logged out).
	Page(r *http.Request) (*sdk.Claims, error)
	// SignIn returns the SDK's sign-in handlers.
	SignIn(ctx context.Context) (signInHandlers, error)
}

// sdkAuth builds the SDK pieces on first use: the IdP may be starting in
// the same process when the cockpit is constructed, so discovery waits
// for the first request and is retried after a failure.
type sdkAuth struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	store web.SessionStore
	// failPage answers a person whose sign-in failed (web.Config.ErrorPage).
	failPage func(rw http.ResponseWriter, r *http.Request, status int, reason string)

	mu   sync.Mutex
	api  *guard.Guard // bearer tokens: grant and level required
	page *guard.Guard // session tokens: verified and introspected only
	web  *web.Auth
	err  error // why web sign-in cannot work (no client secret)
}

func newSDKAuth(cfg Config, log *slog.Logger, now func() time.Time, store web.SessionStore,
	failPage func(rw http.ResponseWriter, r *http.Request, status int, reason string)) *sdkAuth {
	return &sdkAuth{cfg: cfg, log: log, now: now, store: store, failPage: failPage}
}

// CookieKey is the cockpit's cookie key (rpsession.Key).
func CookieKey(clientSecret string) ([]byte, error) { return rpsession.Key(clientSecret, "cockpit") }

func (a *sdkAuth) build(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.api != nil {
		return nil
	}
	p, err := sdk.NewProvider(ctx, a.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("discover %s: %w", a.cfg.Issuer, err)
	}
	verifier := p.AccessTokenVerifier(&sdk.Config{ClientID: a.cfg.ClientID, Audience: a.cfg.Audience, Now: a.now})
	apiOpts := []guard.Option{guard.WithRealm("cockpit"), guard.RequireGrant(Grant), guard.RequireLevel(sdk.LevelCounty)}
	var pageOpts []guard.Option
	if a.cfg.ClientSecret == "" {
		a.err = errors.New("cockpit: no client secret: web sign-in needs cockpit.client_secret")
	} else {
		// Introspection shuts out a revoked grant or a disabled account
		// within recheck, before the token expires.
		ic, err := introspect.New(p, &introspect.Config{ClientID: a.cfg.ClientID, ClientSecret: a.cfg.ClientSecret, CacheTTL: recheck, Now: a.now})
		if err != nil {
			return fmt.Errorf("introspection client: %w", err)
		}
		apiOpts = append(apiOpts, guard.WithIntrospection(ic))
		pageOpts = append(pageOpts, guard.WithIntrospection(ic))
		key, err := CookieKey(a.cfg.ClientSecret)
		if err != nil {
			return fmt.Errorf("cookie key: %w", err)
		}
		w, err := web.New(p, &web.Config{
			ClientID: a.cfg.ClientID, ClientSecret: a.cfg.ClientSecret,
			RedirectURL: a.cfg.URL + "/callback", PostLogoutRedirectURL: a.cfg.URL + "/",
			Scopes: Scopes, CookieKey: key, CookieName: "xszz-cockpit", Store: a.store, Now: a.now,
			ErrorPage: a.failPage,
		})
		if err != nil {
			return fmt.Errorf("web sign-in: %w", err)
		}
		a.web = w
	}
	a.page = guard.New(verifier, pageOpts...)
	a.api = guard.New(verifier, apiOpts...)
	return nil
}

func (a *sdkAuth) Authenticate(r *http.Request) (*sdk.Claims, error) {
	if err := a.build(r.Context()); err != nil {
		return nil, err
	}
	return a.api.Authenticate(r)
}

func (a *sdkAuth) WriteError(w http.ResponseWriter, err error) {
	a.mu.Lock()
	g := a.api
	a.mu.Unlock()
	if g == nil {
		a.log.Error("cockpit: identity provider unreachable", "err", err)
		http.Error(w, `{"error":"unavailable","message":"身份认证服务暂不可用"}`, http.StatusServiceUnavailable)
		return
	}
	g.WriteError(w, err)
}

func (a *sdkAuth) SignIn(ctx context.Context) (signInHandlers, error) {
	w, err := a.webAuth(ctx)
	if err != nil {
		return nil, err
	}
	return w, nil
}

func (a *sdkAuth) webAuth(ctx context.Context) (*web.Auth, error) {
	if err := a.build(ctx); err != nil {
		return nil, err
	}
	if a.web == nil {
		return nil, a.err
	}
	return a.web, nil
}

// Page checks the session's access token as the API checks a bearer's
// (signature, audience, expiry, and introspection at most recheck old),
// so a session ends as soon as its tokens do. The grant and level are
// judged by the caller, which shows people a page rather than a 403 code.
func (a *sdkAuth) Page(r *http.Request) (*sdk.Claims, error) {
	w, err := a.webAuth(r.Context())
	if err != nil {
		return nil, err
	}
	s, err := w.Session(r)
	if errors.Is(err, web.ErrNoSession) {
		return nil, errSignedOut
	}
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "/", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.AccessToken)
	c, err := a.page.Authenticate(req)
	var ge *guard.Error
	if errors.As(err, &ge) && ge.Status == http.StatusUnauthorized {
		// Revoked, expired or the account disabled: the session is over.
		if err := a.store.Delete(r.Context(), s.ID); err != nil {
			return nil, fmt.Errorf("end session: %w", err)
		}
		a.log.Info("cockpit: session ended by the IdP", "sub", s.Subject, "reason", ge.Description)
		return nil, errSignedOut
	}
	if err != nil {
		return nil, err
	}
	if c.Name == "" && s.Claims != nil {
		c.Name = s.Claims.Name
	}
	return c, nil
}

// viewerOf maps an account's organisation to the region it may see; nil
// when the organisation is not at one of the four cockpit levels or its
// region is not in the reporting tree.
func viewerOf(tree *region.Tree, c *sdk.Claims) (dash.Viewer, bool) {
	if c == nil || c.Org == nil || !c.HasGrant(Grant) || !c.Org.AtLeast(sdk.LevelCounty) {
		return dash.Viewer{}, false
	}
	if c.Org.Level == sdk.LevelMinistry {
		return dash.Viewer{Region: tree.Root}, true
	}
	n := tree.Get(c.Org.RegionCode)
	if n == nil || n.Level == region.Nation {
		return dash.Viewer{}, false
	}
	return dash.Viewer{Region: n}, true
}
