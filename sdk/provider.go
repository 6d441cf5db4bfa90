package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

const maxDiscoveryBytes = 1 << 20

// Endpoints is the provider metadata used by the SDK (OpenID Connect
// Discovery 1.0 §3; RFC 8414 §2).
type Endpoints struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserInfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
}

// ProviderConfig builds a Provider without, or with more control than,
// NewProvider. The zero value of every optional field is a safe default.
type ProviderConfig struct {
	// Endpoints must name at least Issuer and JWKSURI.
	Endpoints Endpoints
	// HTTPClient fetches the JWKS and talks to the token and introspection
	// endpoints. Default: a client with a 10 s timeout.
	HTTPClient *http.Client
	// MinRefreshInterval is the least time between two JWKS requests, so
	// tokens with forged kids cannot flood the IdP. Default 1 minute.
	// After a failed request the next one is allowed after at most 5 s.
	MinRefreshInterval time.Duration
	// MaxKeyAge is how long a fetched JWKS is used before it is refetched in
	// the background, which is how retired keys are eventually dropped.
	// Default 1 hour.
	MaxKeyAge time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// InsecureAllowHTTP allows http:// endpoints on hosts other than
	// loopback. Never set it in production.
	InsecureAllowHTTP bool
}

// Provider is an xszz identity provider: its endpoints and its cached keys.
// It is safe for concurrent use; create one per issuer and share it.
type Provider struct {
	endpoints Endpoints
	client    *http.Client
	now       func() time.Time
	keys      *remoteKeySet
}

// NewProvider discovers the provider at issuer from
// {issuer}/.well-known/openid-configuration (OpenID Connect Discovery 1.0
// §4) and checks that the document's "issuer" equals issuer exactly (§4.3).
// An *http.Client stored in ctx with oauth2.HTTPClient is used for the
// request and afterwards.
func NewProvider(ctx context.Context, issuer string) (*Provider, error) {
	return (&ProviderConfig{Endpoints: Endpoints{Issuer: issuer}}).discover(ctx)
}

func (c *ProviderConfig) discover(ctx context.Context) (*Provider, error) {
	client := c.httpClient(ctx)
	issuer := c.Endpoints.Issuer
	if err := checkURL(issuer, c.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("sdk: issuer: %w", err)
	}
	wellKnown := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wellKnown, nil)
	if err != nil {
		return nil, fmt.Errorf("sdk: discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sdk: discovery: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBytes))
	if err != nil {
		return nil, fmt.Errorf("sdk: discovery: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sdk: discovery: %s answered %s", wellKnown, resp.Status)
	}
	var ep Endpoints
	if err := json.Unmarshal(body, &ep); err != nil {
		return nil, fmt.Errorf("sdk: discovery: %w", err)
	}
	if ep.Issuer != issuer {
		return nil, fmt.Errorf("%w: discovery document names %q, expected %q", ErrInvalidIssuer, ep.Issuer, issuer)
	}
	cc := *c
	cc.Endpoints = ep
	cc.HTTPClient = client
	return cc.NewProvider(ctx)
}

// NewProvider returns a Provider for c.Endpoints without discovery.
func (c *ProviderConfig) NewProvider(ctx context.Context) (*Provider, error) {
	ep := c.Endpoints
	if ep.Issuer == "" || ep.JWKSURI == "" {
		return nil, fmt.Errorf("sdk: provider needs issuer and jwks_uri")
	}
	for _, u := range []string{ep.Issuer, ep.AuthorizationEndpoint, ep.TokenEndpoint, ep.UserInfoEndpoint,
		ep.JWKSURI, ep.EndSessionEndpoint, ep.IntrospectionEndpoint, ep.RevocationEndpoint} {
		if u == "" {
			continue
		}
		if err := checkURL(u, c.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("sdk: provider metadata: %w", err)
		}
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	minInterval := c.MinRefreshInterval
	if minInterval <= 0 {
		minInterval = time.Minute
	}
	maxAge := c.MaxKeyAge
	if maxAge <= 0 {
		maxAge = time.Hour
	}
	client := c.httpClient(ctx)
	return &Provider{
		endpoints: ep,
		client:    client,
		now:       now,
		keys: &remoteKeySet{
			url:         ep.JWKSURI,
			client:      client,
			now:         now,
			minInterval: minInterval,
			maxAge:      maxAge,
		},
	}, nil
}

func (c *ProviderConfig) httpClient(ctx context.Context) *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	if hc, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); ok && hc != nil {
		return hc
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// checkURL requires https, except http on a loopback host (development).
func checkURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && u.Host != "" && (allowHTTP || isLoopback(u.Hostname())):
		return nil
	}
	return fmt.Errorf("%q is not an https URL", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Endpoints returns the provider's metadata.
func (p *Provider) Endpoints() Endpoints { return p.endpoints }

// HTTPClient returns the client the provider talks to the IdP with, for
// packages (sdk/web, sdk/introspect) that call its other endpoints.
func (p *Provider) HTTPClient() *http.Client { return p.client }

// Now returns the current time on the provider's clock
// (ProviderConfig.Now), which the verifiers and subpackages default to.
func (p *Provider) Now() time.Time { return p.now() }

// Issuer returns the issuer identifier, as compared with "iss".
func (p *Provider) Issuer() string { return p.endpoints.Issuer }

// OAuth2Endpoint returns the endpoints for golang.org/x/oauth2, with
// client_secret_basic authentication (RFC 6749 §2.3.1).
func (p *Provider) OAuth2Endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{
		AuthURL:   p.endpoints.AuthorizationEndpoint,
		TokenURL:  p.endpoints.TokenEndpoint,
		AuthStyle: oauth2.AuthStyleInHeader,
	}
}
