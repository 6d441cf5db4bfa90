// Package protocol is the IdP's OAuth 2.0 and OpenID Connect face:
// discovery, JWKS, the authorization endpoint with its consent page, the
// token, userinfo, introspection and revocation endpoints, and
// RP-initiated logout. The protocol engine is idp/oauth (fosite); the
// person signs in through idp/signin, which this part reaches through
// small interfaces.
package protocol

import (
	"context"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/identity"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/idp/session"
)

// Keyset serves the public keys.
type Keyset interface {
	JWKS(ctx context.Context) ([]byte, error)
}

// Clients looks up relying parties; client.Store implements it.
type Clients interface {
	Get(ctx context.Context, id string) (*client.Client, error)
}

// Identities resolves accounts into token claims.
type Identities interface {
	Identity(ctx context.Context, accountID string) (*identity.Identity, error)
	// Profile is the identity without grants, and without the org claim
	// unless withOrg, for userinfo.
	Profile(ctx context.Context, accountID string, withOrg bool) (*identity.Identity, error)
	// Active is the account's status alone, for introspection.
	Active(ctx context.Context, accountID string) (bool, error)
}

// Browser finds the signed-in person of a request; idpweb.Browser
// implements it.
type Browser interface {
	Current(c echo.Context) (*session.Session, *identity.Identity)
}

// SignOuter ends the browser's SSO session and the grants made in it;
// signin.SignIn implements it.
type SignOuter interface {
	SignOut(c echo.Context) (*session.Session, error)
}

// Deps are what the protocol endpoints are built from.
type Deps struct {
	// Issuer is the issuer URL without a trailing slash.
	Issuer string
	// Origin is the issuer's scheme://host, the only origin allowed to post.
	Origin   string
	Provider *oauth.Provider
	Keys     Keyset
	Clients  Clients
	// Identities gives the claims, read fresh at every token issue.
	Identities Identities
	Browser    Browser
	SignOut    SignOuter
	// Cookie is the SSO session cookie, to which a logout confirmation is
	// bound.
	Cookie  idpweb.Cookie
	MFA     mfa.Policy
	Flows   *idpweb.Sealer
	Events  *idpweb.Events
	Metrics *idpweb.Metrics
	Log     *slog.Logger
	Now     func() time.Time
}

// Protocol serves the OAuth and OpenID Connect endpoints.
type Protocol struct {
	Deps
}

// New returns the protocol part.
func New(d Deps) *Protocol {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Metrics == nil {
		d.Metrics = idpweb.NewMetrics(prometheus.NewRegistry())
	}
	return &Protocol{Deps: d}
}

// Register mounts the protocol routes.
func (s *Protocol) Register(e *echo.Echo) {
	same := idpweb.SameOrigin(s.Origin)
	e.GET("/.well-known/openid-configuration", s.discovery)
	e.GET(oauth.PathJWKS, s.jwks)
	e.GET(oauth.PathAuthorize, s.authorize, browserForm)
	e.POST(oauth.PathAuthorize, s.authorize, browserForm)
	e.GET(oauth.PathAuthorize+"/resume", s.resume, browserForm)
	e.POST(oauth.PathToken, s.token, clientForm)
	e.GET(oauth.PathUserinfo, s.userinfo, clientForm)
	e.POST(oauth.PathUserinfo, s.userinfo, clientForm)
	e.POST(oauth.PathIntrospect, s.introspect, clientForm)
	e.POST(oauth.PathRevoke, s.revoke, clientForm)
	e.GET(oauth.PathLogout, s.logout, browserForm)
	e.POST(oauth.PathLogout, s.logout, browserForm)
	e.GET("/consent", s.consentPage)
	e.POST("/consent", s.consentSubmit, same, browserForm)
}

// factorsSatisfy says whether a live session is strong enough for an
// authorization request (mfa.Policy.Satisfied).
func (s *Protocol) factorsSatisfy(ctx context.Context, sso *session.Session, id *identity.Identity, acrValues string) bool {
	ok, err := s.MFA.Satisfied(ctx, sso, id.Account, acrValues)
	if err != nil {
		s.Log.ErrorContext(ctx, "second factor policy", "err", err)
	}
	return ok
}
