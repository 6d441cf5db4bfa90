package cockpit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/xszz/xszz/cockpit/dash"
	"github.com/xszz/xszz/cockpit/region"
	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/guard"
	"github.com/xszz/xszz/sdk/introspect"
)

// Grant is the grant an account needs to enter the cockpit.
const Grant = "cockpit"

// authenticator is the one seam between the cockpit and the SDK: it turns
// a request into verified claims, or writes the protocol error itself.
type authenticator interface {
	Authenticate(r *http.Request) (*sdk.Claims, error)
	WriteError(w http.ResponseWriter, err error)
}

// sdkAuth builds the SDK guard on first use: the IdP may be starting in
// the same process when the cockpit is constructed, so discovery waits
// for the first request and is retried after a failure.
type sdkAuth struct {
	cfg Config
	log *slog.Logger
	mu  sync.Mutex
	g   *guard.Guard
}

func newSDKAuth(cfg Config, log *slog.Logger) *sdkAuth { return &sdkAuth{cfg: cfg, log: log} }

func (a *sdkAuth) guard(ctx context.Context) (*guard.Guard, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.g != nil {
		return a.g, nil
	}
	p, err := sdk.NewProvider(ctx, a.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", a.cfg.Issuer, err)
	}
	opts := []guard.Option{guard.WithRealm("cockpit"), guard.RequireGrant(Grant), guard.RequireLevel(sdk.LevelCounty)}
	if a.cfg.ClientSecret != "" {
		// Introspection (cached ≤ 30 s) shuts out a revoked grant or a
		// disabled account within a minute, before the token expires.
		ic, err := introspect.New(p, &introspect.Config{ClientID: a.cfg.ClientID, ClientSecret: a.cfg.ClientSecret})
		if err != nil {
			return nil, fmt.Errorf("introspection client: %w", err)
		}
		opts = append(opts, guard.WithIntrospection(ic))
	}
	a.g = guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: a.cfg.ClientID, Audience: a.cfg.Audience}), opts...)
	return a.g, nil
}

func (a *sdkAuth) Authenticate(r *http.Request) (*sdk.Claims, error) {
	g, err := a.guard(r.Context())
	if err != nil {
		return nil, err
	}
	return g.Authenticate(r)
}

func (a *sdkAuth) WriteError(w http.ResponseWriter, err error) {
	a.mu.Lock()
	g := a.g
	a.mu.Unlock()
	if g == nil {
		a.log.Error("cockpit: identity provider unreachable", "err", err)
		http.Error(w, `{"error":"unavailable","message":"身份认证服务暂不可用"}`, http.StatusServiceUnavailable)
		return
	}
	g.WriteError(w, err)
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
