package sdk

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

const (
	defaultMaxTokenSize = 8 << 10
	defaultLeeway       = 30 * time.Second
	maxLeeway           = 5 * time.Minute
)

// Config configures a verifier. ClientID is required; the other fields have
// fail-closed defaults.
type Config struct {
	// ClientID is the relying party's client ID. ID tokens must name it in
	// "aud". A verifier without it refuses every token (ErrInvalidConfig).
	ClientID string
	// Audience is the resource server's identifier that access tokens must
	// carry in "aud" (RFC 9068 §4 step 3). Default: ClientID. It is not
	// used for ID tokens.
	Audience string
	// Algorithms narrows the accepted "alg" values. Allowed members: RS256,
	// ES256. Default: both.
	Algorithms []string
	// Leeway tolerates clock skew in exp, nbf and iat. Default 30 s;
	// negative means none; capped at 5 minutes.
	Leeway time.Duration
	// MaxTokenSize bounds the raw token, checked before any parsing.
	// Default 8 KiB.
	MaxTokenSize int
	// Now is the clock. Default: the Provider's clock.
	Now func() time.Time
}

type tokenKind int

const (
	accessToken tokenKind = iota
	idToken
	logoutToken
)

// verifier holds the checks common to all token kinds.
type verifier struct {
	kind     tokenKind
	keys     *remoteKeySet
	issuer   string
	audience string
	clientID string
	allowRS  bool
	allowES  bool
	leeway   time.Duration
	maxSize  int
	now      func() time.Time
	cfgErr   error
}

func (p *Provider) newVerifier(kind tokenKind, c *Config) *verifier {
	if c == nil {
		c = &Config{}
	}
	v := &verifier{
		kind:     kind,
		keys:     p.keys,
		issuer:   p.endpoints.Issuer,
		clientID: c.ClientID,
		audience: c.Audience,
		leeway:   c.Leeway,
		maxSize:  c.MaxTokenSize,
		now:      c.Now,
	}
	if v.audience == "" || kind != accessToken {
		v.audience = c.ClientID
	}
	if v.clientID == "" {
		v.cfgErr = fmt.Errorf("%w: ClientID is empty", ErrInvalidConfig)
	}
	algs := c.Algorithms
	if len(algs) == 0 {
		algs = []string{RS256, ES256}
	}
	for _, a := range algs {
		switch a {
		case RS256:
			v.allowRS = true
		case ES256:
			v.allowES = true
		default:
			v.cfgErr = fmt.Errorf("%w: algorithm %q is not supported", ErrInvalidConfig, a)
		}
	}
	switch {
	case v.leeway == 0:
		v.leeway = defaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	case v.leeway > maxLeeway:
		v.leeway = maxLeeway
	}
	if v.maxSize <= 0 {
		v.maxSize = defaultMaxTokenSize
	}
	if v.now == nil {
		v.now = p.now
	}
	return v
}

// verify runs every check that does not depend on the token kind's extra
// rules, in an order that does the cheap and unauthenticated work first and
// decodes the claims only once the signature holds.
func (v *verifier) verify(ctx context.Context, raw string) (*Claims, error) {
	if v.cfgErr != nil {
		return nil, v.cfgErr
	}
	if len(raw) > v.maxSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTokenTooLarge, len(raw))
	}
	t, err := parseJWS(raw)
	if err != nil {
		return nil, err
	}
	alg := t.header.Alg
	if !(alg == RS256 && v.allowRS || alg == ES256 && v.allowES) {
		return nil, fmt.Errorf("%w: %.16q", ErrUnsupportedAlgorithm, alg)
	}
	if !v.typeOK(t.header.Typ) {
		return nil, fmt.Errorf("%w: typ %.32q", ErrInvalidType, t.header.Typ)
	}
	if t.header.Kid == "" {
		return nil, fmt.Errorf("%w: token has no kid", ErrUnknownKey)
	}
	key, err := v.keys.key(ctx, t.header.Kid, alg)
	if err != nil {
		return nil, err
	}
	if err := verifySignature(alg, key, t.signingInput, t.signature); err != nil {
		return nil, err
	}
	var cs claimSet
	if err := json.Unmarshal(t.payload, &cs); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrMalformedToken, err)
	}
	c, err := cs.toClaims(t.payload)
	if err != nil {
		return nil, err
	}
	if c.Issuer != v.issuer {
		return nil, fmt.Errorf("%w: %.128q", ErrInvalidIssuer, c.Issuer)
	}
	if !slices.Contains(c.Audience, v.audience) {
		return nil, fmt.Errorf("%w: %q not in aud", ErrInvalidAudience, v.audience)
	}
	now := v.now()
	if cs.Exp == nil {
		return nil, &MissingClaimError{Claim: "exp"}
	}
	if now.After(c.Expiry.Add(v.leeway)) {
		return nil, &TokenExpiredError{Expiry: c.Expiry}
	}
	if cs.Nbf != nil && now.Add(v.leeway).Before(c.NotBefore) {
		return nil, &TokenNotYetValidError{NotBefore: c.NotBefore}
	}
	if cs.Iat == nil {
		return nil, &MissingClaimError{Claim: "iat"}
	}
	if now.Add(v.leeway).Before(c.IssuedAt) {
		return nil, fmt.Errorf("%w: iat %s", ErrIssuedInFuture, c.IssuedAt.UTC().Format(time.RFC3339))
	}
	return c, nil
}

func (v *verifier) typeOK(typ string) bool {
	switch v.kind {
	case accessToken:
		// RFC 9068 §4: "at+jwt" or "application/at+jwt".
		return strings.EqualFold(typ, "at+jwt") || strings.EqualFold(typ, "application/at+jwt")
	case logoutToken:
		// Back-Channel Logout 1.0 §2.4: "logout+jwt".
		return strings.EqualFold(typ, "logout+jwt") || strings.EqualFold(typ, "application/logout+jwt")
	default:
		// ID tokens are untyped or "JWT" (RFC 7519 §5.1).
		return typ == "" || strings.EqualFold(typ, "JWT") || strings.EqualFold(typ, "application/jwt")
	}
}

// AccessTokenVerifier verifies JWT access tokens (RFC 9068) for a resource
// server. It is safe for concurrent use.
type AccessTokenVerifier struct{ v *verifier }

// AccessTokenVerifier returns a verifier for access tokens whose "aud"
// contains c.Audience (default c.ClientID).
func (p *Provider) AccessTokenVerifier(c *Config) *AccessTokenVerifier {
	return &AccessTokenVerifier{p.newVerifier(accessToken, c)}
}

// Verify checks raw as an RFC 9068 access token (§4): size, JWS form,
// allowed alg, typ "at+jwt", key, signature, iss, aud, exp, nbf, iat, and
// the required claims sub, client_id and jti (§2.2). The returned error
// wraps one of the package's sentinel errors or is one of its error types.
func (a *AccessTokenVerifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	c, err := a.v.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Subject == "":
		return nil, &MissingClaimError{Claim: "sub"}
	case c.ClientID == "":
		return nil, &MissingClaimError{Claim: "client_id"}
	case c.ID == "":
		return nil, &MissingClaimError{Claim: "jti"}
	}
	return c, nil
}

// IDTokenVerifier verifies OpenID Connect ID tokens for a client. It is safe
// for concurrent use.
type IDTokenVerifier struct{ v *verifier }

// IDTokenVerifier returns a verifier for ID tokens issued to c.ClientID.
func (p *Provider) IDTokenVerifier(c *Config) *IDTokenVerifier {
	return &IDTokenVerifier{p.newVerifier(idToken, c)}
}

// Verify checks raw as an ID token (OpenID Connect Core 1.0 §3.1.3.7): JWS
// form, allowed alg, untyped or typ "JWT", key, signature, iss, aud contains
// the client ID, azp (if present, or if there are several audiences) equals
// it, exp, iat, sub, and the nonce (§3.1.3.7 step 11) unless nonce is "",
// which is right only for ID tokens returned by a refresh (§12.2).
func (i *IDTokenVerifier) Verify(ctx context.Context, raw, nonce string) (*Claims, error) {
	c, err := i.v.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if c.hasLogoutEvent {
		return nil, fmt.Errorf("%w: logout token presented as ID token", ErrInvalidType)
	}
	if c.Subject == "" {
		return nil, &MissingClaimError{Claim: "sub"}
	}
	if (len(c.Audience) > 1 || c.AuthorizedParty != "") && c.AuthorizedParty != i.v.clientID {
		return nil, fmt.Errorf("%w: azp %.64q", ErrInvalidAudience, c.AuthorizedParty)
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(nonce)) != 1 {
		return nil, ErrInvalidNonce
	}
	return c, nil
}

// LogoutTokenVerifier verifies OpenID Connect Back-Channel Logout 1.0
// logout tokens for a client. It is stateless: replay of a token's "jti"
// is for the receiver to refuse (sdk/web does). It is safe for concurrent
// use.
type LogoutTokenVerifier struct{ v *verifier }

// LogoutTokenVerifier returns a verifier for logout tokens addressed to
// c.ClientID.
func (p *Provider) LogoutTokenVerifier(c *Config) *LogoutTokenVerifier {
	return &LogoutTokenVerifier{p.newVerifier(logoutToken, c)}
}

// Verify checks raw as a logout token (Back-Channel Logout 1.0 §2.6): JWS
// form, allowed alg, typ "logout+jwt", key, signature, iss, aud contains
// the client ID, exp, iat, jti, the back-channel logout member of "events"
// being a JSON object, no "nonce", and "sub" or "sid" present.
func (l *LogoutTokenVerifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	c, err := l.v.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	switch {
	case !c.hasLogoutEvent || !c.logoutEventIsObject:
		return nil, fmt.Errorf("%w: events claim lacks the back-channel logout event", ErrInvalidLogoutToken)
	case c.hasNonce:
		return nil, fmt.Errorf("%w: nonce present", ErrInvalidLogoutToken)
	case c.Subject == "" && c.SessionID == "":
		return nil, fmt.Errorf("%w: neither sub nor sid", ErrInvalidLogoutToken)
	case c.ID == "":
		return nil, &MissingClaimError{Claim: "jti"}
	}
	return c, nil
}
