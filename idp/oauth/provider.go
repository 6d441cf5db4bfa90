// Package oauth composes the OAuth 2.0 / OpenID Connect protocol engine
// (fosite) with xszz's storage, keys and token formats.
package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/hmac"
	"github.com/ory/fosite/token/jwt"

	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/internal/sqldb"
)

// Config holds the protocol settings.
type Config struct {
	Issuer          string
	Secret          []byte // at least 32 bytes: keys the HMAC of codes and refresh tokens
	AccessTokenTTL  time.Duration
	IDTokenTTL      time.Duration
	RefreshTokenTTL time.Duration
	CodeTTL         time.Duration
	// AccessTokenAlg signs access tokens. ES256 by default: an RSA-2048
	// signature costs ~1.7 ms here, an ES256 one ~50 µs, and access tokens
	// are minted on every token request (README, "Performance").
	AccessTokenAlg string
	// AllowHTTPLoopback admits http:// redirect URIs on loopback hosts;
	// only when the issuer itself is http on loopback (development).
	AllowHTTPLoopback bool
}

// Provider is the protocol engine.
type Provider struct {
	fosite.OAuth2Provider
	Config  Config
	Fosite  *fosite.Config
	Store   *oauthstore.Store
	Signer  *Signer
	Tokens  *TokenStrategy
	Clients *client.Store

	auth clientAuthenticator
}

// Endpoint paths, relative to the issuer.
const (
	PathAuthorize  = "/oauth2/auth"
	PathToken      = "/oauth2/token"
	PathUserinfo   = "/userinfo"
	PathIntrospect = "/oauth2/introspect"
	PathRevoke     = "/oauth2/revoke"
	PathLogout     = "/oauth2/logout"
	PathJWKS       = "/.well-known/jwks.json"
)

// clientSource is fosite's storage: the token store plus client lookup.
type clientSource struct {
	*oauthstore.Store
	clientGetter
}

// clientGetter adapts client.Store to fosite's client lookup.
type clientGetter struct{ clients *client.Store }

func (c clientGetter) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	cl, err := c.clients.Get(ctx, id)
	if errors.Is(err, sqldb.ErrNotFound) {
		return nil, fosite.ErrNotFound.WithWrap(err)
	}
	if err != nil {
		// Not "no such client": an outage must not read as a deleted
		// client (whose tokens would then all be inactive).
		return nil, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return cl, nil
}

// New builds the provider. Only what the discovery document advertises is
// composed: the authorization code flow with PKCE, refresh tokens,
// client credentials, OpenID Connect (code flow), introspection and
// revocation. No implicit, hybrid or password grant is registered, so
// fosite answers them with unsupported_response_type / unsupported_grant_type.
func New(cfg Config, store *oauthstore.Store, clients *client.Store, k Keys, hasher fosite.Hasher, now func() time.Time) (*Provider, error) {
	if len(cfg.Secret) < 32 {
		return nil, fmt.Errorf("oauth: secret must be at least 32 bytes")
	}
	if cfg.AccessTokenAlg == "" {
		cfg.AccessTokenAlg = "ES256"
	}
	issuer := strings.TrimSuffix(cfg.Issuer, "/")
	fc := &fosite.Config{
		AccessTokenLifespan:            cfg.AccessTokenTTL,
		RefreshTokenLifespan:           cfg.RefreshTokenTTL,
		AuthorizeCodeLifespan:          cfg.CodeTTL,
		IDTokenLifespan:                cfg.IDTokenTTL,
		IDTokenIssuer:                  issuer,
		AccessTokenIssuer:              issuer,
		TokenURL:                       issuer + PathToken,
		GlobalSecret:                   cfg.Secret,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.ExactAudienceMatchingStrategy,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{"offline_access"},
		MinParameterEntropy:            fosite.MinParameterEntropy,
		ClientSecretsHasher:            hasher,
		AllowedPromptValues:            []string{"login", "none", "consent", "select_account"},
		SendDebugMessagesToClients:     false,
		JWTScopeClaimKey:               jwt.JWTScopeFieldString,
		RedirectSecureChecker: func(_ context.Context, u *url.URL) bool {
			return u.Scheme == "https" || (cfg.AllowHTTPLoopback && u.Scheme == "http" && client.IsLoopback(u.Hostname()))
		},
	}
	signer := NewSigner(k, "RS256", now)
	hmacStrategy := oauth2.NewHMACSHAStrategy(&hmac.HMACStrategy{Config: fc}, fc)
	tokens := &TokenStrategy{HMAC: hmacStrategy, Signer: signer, Issuer: issuer, Alg: cfg.AccessTokenAlg, Now: now}
	strategy := compose.CommonStrategy{
		CoreStrategy:               tokens,
		OpenIDConnectTokenStrategy: &openid.DefaultStrategy{Signer: signer, Config: fc},
		Signer:                     signer,
	}
	storage := clientSource{Store: store, clientGetter: clientGetter{clients}}
	p := compose.Compose(fc, storage, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2PKCEFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
	)
	f, ok := p.(*fosite.Fosite)
	if !ok {
		return nil, fmt.Errorf("oauth: compose returned %T", p)
	}
	auth := clientAuthenticator{fosite: f, clients: clientGetter{clients}, hasher: hasher}
	fc.ClientAuthenticationStrategy = auth.authenticate
	return &Provider{OAuth2Provider: p, Config: cfg, Fosite: fc, Store: store, Signer: signer, Tokens: tokens, Clients: clients, auth: auth}, nil
}

// AuthenticateClient authenticates the client of a token, introspection
// or revocation request, as the token endpoint does.
func (p *Provider) AuthenticateClient(ctx context.Context, r *http.Request, form url.Values) (*client.Client, error) {
	fc, err := p.auth.authenticate(ctx, r, form)
	if err != nil {
		return nil, err
	}
	cl, ok := fc.(*client.Client)
	if !ok {
		return nil, fosite.ErrServerError.WithHintf("unexpected client type %T", fc)
	}
	return cl, nil
}

// ClientGetter returns what oauthstore needs to resolve clients.
func ClientGetter(c *client.Store) oauthstore.Clients { return clientGetter{c} }

// TokenStrategy issues RFC 9068 JWT access tokens and keeps fosite's HMAC
// tokens for authorization codes and refresh tokens, which only the IdP
// reads and which must be revocable by lookup.
type TokenStrategy struct {
	HMAC   *oauth2.HMACSHAStrategy
	Signer *Signer
	Issuer string
	Alg    string
	Now    func() time.Time
}

var _ oauth2.CoreStrategy = (*TokenStrategy)(nil)

// AccessTokenSignature is the key the token is stored under: its jti and
// its JWS signature. The signature makes the key unique and unforgeable
// (no one without the token knows it); the jti, which starts with the
// time of issue, puts the rows of tokens issued together next to each
// other in the primary-key index. A random key dirtied one index page per
// token, and on SQLite each dirty page is a WAL frame. Tokens issued
// before the jti was time-ordered are stored under their signature alone.
func (t *TokenStrategy) AccessTokenSignature(_ context.Context, token string) string {
	return accessKey(token)
}

// accessKey derives the storage key from a token without verifying it:
// a forged payload yields a key no stored row has.
func accessKey(token string) string {
	sig := signatureOf(token)
	first := strings.IndexByte(token, '.')
	last := strings.LastIndexByte(token, '.')
	if first < 0 || first == last || len(token) > MaxTokenSize {
		return sig
	}
	payload, err := base64.RawURLEncoding.DecodeString(token[first+1 : last])
	if err != nil {
		return sig
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if json.Unmarshal(payload, &c) != nil || !orderedJTI(c.JTI) {
		return sig
	}
	return c.JTI + "." + sig
}

// newJTI returns a time-ordered token id: the issue time in milliseconds
// (6 bytes) and 10 random bytes, in hex so that it sorts by time.
func newJTI(now time.Time) (string, error) {
	var b [16]byte
	ms := uint64(now.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (8 * (5 - i)))
	}
	if _, err := rand.Read(b[6:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// orderedJTI reports whether a jti has newJTI's form.
func orderedJTI(jti string) bool {
	if len(jti) != 32 {
		return false
	}
	_, err := hex.DecodeString(jti)
	return err == nil
}

// AccessClaims are the claims of an access token (RFC 9068 §2.2 plus the
// xszz claims).
type AccessClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	ClientID string   `json:"client_id"`
	Scope    string   `json:"scope,omitempty"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	JTI      string   `json:"jti"`
	AuthTime int64    `json:"auth_time,omitempty"`
	SID      string   `json:"sid,omitempty"`
}

// GenerateAccessToken signs an access token.
func (t *TokenStrategy) GenerateAccessToken(ctx context.Context, req fosite.Requester) (string, string, error) {
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return "", "", fmt.Errorf("access token: unexpected session type %T", req.GetSession())
	}
	now := t.Now().UTC()
	exp := sess.GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		return "", "", fmt.Errorf("access token: no expiry set")
	}
	aud := []string(req.GetGrantedAudience())
	if len(aud) == 0 {
		aud = req.GetClient().GetAudience()
	}
	jti, err := newJTI(now)
	if err != nil {
		return "", "", fmt.Errorf("access token: jti: %w", err)
	}
	base := AccessClaims{
		Issuer: t.Issuer, Subject: sess.GetSubject(), Audience: aud, ClientID: req.GetClient().GetID(),
		Scope: strings.Join(req.GetGrantedScopes(), " "), Expiry: exp.Unix(), IssuedAt: now.Unix(),
		JTI: jti, SID: sess.SID,
	}
	if !sess.AuthTime.IsZero() {
		base.AuthTime = sess.AuthTime.Unix()
	}
	var claims any = base
	if len(sess.Access) > 0 {
		m := make(map[string]any, len(sess.Access)+10)
		for k, v := range sess.Access {
			m[k] = v
		}
		m["iss"], m["sub"], m["aud"], m["client_id"] = base.Issuer, base.Subject, base.Audience, base.ClientID
		m["exp"], m["iat"], m["jti"] = base.Expiry, base.IssuedAt, base.JTI
		if base.Scope != "" {
			m["scope"] = base.Scope
		}
		if base.AuthTime != 0 {
			m["auth_time"] = base.AuthTime
		}
		if base.SID != "" {
			m["sid"] = base.SID
		}
		claims = m
	}
	tok, err := t.Signer.Sign(ctx, t.Alg, "at+jwt", claims)
	if err != nil {
		return "", "", err
	}
	return tok, jti + "." + signatureOf(tok), nil
}

// ValidateAccessToken checks signature and expiry; revocation is checked by
// fosite through the store.
func (t *TokenStrategy) ValidateAccessToken(ctx context.Context, _ fosite.Requester, token string) error {
	_, header, err := t.Signer.Verify(ctx, token)
	switch {
	case err == nil:
	case err == ErrExpired:
		return fosite.ErrTokenExpired.WithWrap(err)
	default:
		return fosite.ErrTokenSignatureMismatch.WithWrap(err)
	}
	if typ, _ := header["typ"].(string); !strings.EqualFold(typ, "at+jwt") {
		return fosite.ErrTokenClaim.WithHint("Not an access token.")
	}
	return nil
}

func (t *TokenStrategy) RefreshTokenSignature(ctx context.Context, token string) string {
	return t.HMAC.RefreshTokenSignature(ctx, token)
}
func (t *TokenStrategy) GenerateRefreshToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	return t.HMAC.GenerateRefreshToken(ctx, r)
}

func (t *TokenStrategy) ValidateRefreshToken(ctx context.Context, r fosite.Requester, token string) error {
	return t.HMAC.ValidateRefreshToken(ctx, r, token)
}
func (t *TokenStrategy) AuthorizeCodeSignature(ctx context.Context, token string) string {
	return t.HMAC.AuthorizeCodeSignature(ctx, token)
}

// GenerateAuthorizeCode issues a code and notes how far the injected clock
// is from the wall clock fosite stamps the code's expiry with.
func (t *TokenStrategy) GenerateAuthorizeCode(ctx context.Context, r fosite.Requester) (string, string, error) {
	if sess, ok := r.GetSession().(*Session); ok && t.Now != nil {
		sess.ClockSkew = t.Now().Sub(time.Now())
	}
	return t.HMAC.GenerateAuthorizeCode(ctx, r)
}

// ValidateAuthorizeCode checks the HMAC and the expiry, on the wall clock
// (as fosite does) and on the injected one.
func (t *TokenStrategy) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, token string) error {
	if err := t.HMAC.ValidateAuthorizeCode(ctx, r, token); err != nil {
		return err
	}
	sess, ok := r.GetSession().(*Session)
	if !ok || t.Now == nil {
		return nil
	}
	// Fosite stamps the expiry from time.Now; shifted by the skew noted at
	// issue, it is the expiry on the clock the rest of xszz runs on.
	if exp := sess.GetExpiresAt(fosite.AuthorizeCode); !exp.IsZero() && t.Now().After(exp.Add(sess.ClockSkew)) {
		return fosite.ErrTokenExpired.WithHint("The authorization code has expired.")
	}
	return nil
}

// fosite asserts its storage's type at run time; this makes it a compile error.
var _ fosite.Storage = clientSource{}
