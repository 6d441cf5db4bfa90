// Package guard protects net/http resource servers with the xszz IdP's
// bearer access tokens (RFC 6750, RFC 9068).
//
//	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "cockpit"}),
//		guard.RequireGrant("cockpit"), guard.RequireLevel(sdk.LevelCounty))
//	mux.Handle("/api/", g.Middleware(api))
//
// Only access tokens pass: ID tokens, logout tokens and refresh tokens
// (opaque, or any JWT whose typ is not at+jwt) are refused, as are tokens
// for another audience or issuer and expired tokens, each with 401 and an
// RFC 6750 WWW-Authenticate challenge.
package guard

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/introspect"
)

// Error is an authentication or authorization failure of a Guard, as
// RFC 6750 §3.1 describes it. Err is the cause, for logs only; clients see
// Code and Description.
type Error struct {
	Status      int    // 400, 401, 403 or 503
	Code        string // "invalid_request", "invalid_token", "insufficient_scope" or "" (no credentials)
	Description string // fixed text, safe for the header
	Scope       string // the scope needed, for insufficient_scope
	Err         error
}

// Error returns the code and the cause, for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		return "guard: " + e.Code + ": " + e.Err.Error()
	}
	return "guard: " + e.Code + ": " + e.Description
}

// Unwrap returns the cause, so errors.Is and errors.As see the verifier's
// error.
func (e *Error) Unwrap() error { return e.Err }

// Option adds a requirement or setting to a Guard.
type Option func(*Guard)

// RequireGrant demands the account grant g, for example "cockpit";
// otherwise the Guard answers 403 insufficient_scope.
func RequireGrant(g string) Option {
	return func(gd *Guard) {
		gd.grantChecks = append(gd.grantChecks, func(c *sdk.Claims) *Error {
			if !c.HasGrant(g) {
				return forbidden("grant "+g+" required", "")
			}
			return nil
		})
	}
}

// RequireScope demands the token carry scope s (RFC 6750 §3.1
// insufficient_scope, with scope="s" in the challenge).
func RequireScope(s string) Option {
	return func(gd *Guard) {
		gd.checks = append(gd.checks, func(c *sdk.Claims) *Error {
			if !c.HasScope(s) {
				return forbidden("scope "+s+" required", s)
			}
			return nil
		})
	}
}

// RequireLevel demands the account's organisation be at level l or higher
// (see sdk.Org.AtLeast). Tokens without an org fail.
func RequireLevel(l sdk.Level) Option {
	return func(gd *Guard) {
		gd.checks = append(gd.checks, func(c *sdk.Claims) *Error {
			if !c.Org.AtLeast(l) {
				return forbidden("organisation level "+string(l)+" or higher required", "")
			}
			return nil
		})
	}
}

// RequireRole demands the account have role r, for example "admin".
func RequireRole(r string) Option {
	return func(gd *Guard) {
		gd.checks = append(gd.checks, func(c *sdk.Claims) *Error {
			if !c.HasRole(r) {
				return forbidden("role "+r+" required", "")
			}
			return nil
		})
	}
}

// WithRealm sets the realm of the WWW-Authenticate challenge (default
// "xszz").
func WithRealm(realm string) Option { return func(g *Guard) { g.realm = headerSafe(realm) } }

// Introspector is what WithIntrospection needs: *introspect.Client has
// it.
type Introspector interface {
	Introspect(ctx context.Context, token string) (*introspect.Result, error)
}

// WithIntrospection makes the Guard also ask the IdP, through i and its
// short cache, whether the token is still active, so that revocation and
// disabled accounts take effect before the token expires. If the IdP cannot
// be asked, the request is refused with 503. If the introspection response
// carries "grants", they replace the token's grants.
func WithIntrospection(i Introspector) Option { return func(g *Guard) { g.intro = i } }

// Guard protects resource-server endpoints with bearer access tokens
// (RFC 6750 §2.1: Authorization header only).
type Guard struct {
	v     *sdk.AccessTokenVerifier
	realm string
	// checks read only the token; grantChecks read grants, which
	// introspection may replace, so they run after it.
	checks, grantChecks []func(*sdk.Claims) *Error
	intro               Introspector
}

// New returns a Guard that verifies tokens with v and applies opts. A nil
// v refuses every request.
func New(v *sdk.AccessTokenVerifier, opts ...Option) *Guard {
	g := &Guard{v: v, realm: "xszz"}
	for _, o := range opts {
		o(g)
	}
	return g
}

func forbidden(desc, scope string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "insufficient_scope", Description: headerSafe(desc), Scope: headerSafe(scope)}
}

// Authenticate extracts, verifies and checks the request's bearer token. On
// failure the error is an *Error.
func (g *Guard) Authenticate(r *http.Request) (*sdk.Claims, error) {
	if g.v == nil {
		return nil, &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "token invalid", Err: sdk.ErrInvalidConfig}
	}
	if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: "access token in query string refused"}
	}
	hs := r.Header.Values("Authorization")
	if len(hs) == 0 {
		return nil, &Error{Status: http.StatusUnauthorized}
	}
	if len(hs) > 1 {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: "more than one Authorization header"}
	}
	scheme, raw, ok := strings.Cut(hs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, &Error{Status: http.StatusUnauthorized}
	}
	raw = strings.TrimLeft(raw, " ")
	if raw == "" {
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: "empty bearer token"}
	}
	c, err := g.v.Verify(r.Context(), raw)
	if err != nil {
		return nil, invalidToken(err)
	}
	// A token refused on its own claims costs the IdP no round trip.
	for _, check := range g.checks {
		if e := check(c); e != nil {
			return nil, e
		}
	}
	if g.intro != nil {
		res, err := g.intro.Introspect(r.Context(), raw)
		if err != nil {
			return nil, &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "token status unavailable", Err: err}
		}
		if !res.Active {
			return nil, &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "token revoked", Err: errors.New("introspection: inactive")}
		}
		if res.Grants != nil {
			c.Grants = res.Grants
		}
	}
	for _, check := range g.grantChecks {
		if e := check(c); e != nil {
			return nil, e
		}
	}
	return c, nil
}

func invalidToken(err error) *Error {
	desc := "token invalid"
	var exp *sdk.TokenExpiredError
	switch {
	case errors.As(err, &exp):
		desc = "token expired"
	case errors.Is(err, sdk.ErrKeySetUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "signing keys unavailable", Err: err}
	case errors.Is(err, sdk.ErrInvalidAudience):
		desc = "token not for this resource"
	case errors.Is(err, sdk.ErrInvalidIssuer):
		desc = "token not from this issuer"
	case errors.Is(err, sdk.ErrInvalidType):
		// ID and logout tokens end here, and JWT refresh tokens, which
		// lack typ at+jwt; opaque refresh tokens fail as malformed.
		desc = "not an access token"
	case errors.Is(err, sdk.ErrInvalidSignature), errors.Is(err, sdk.ErrUnknownKey):
		desc = "token signature invalid"
	}
	return &Error{Status: http.StatusUnauthorized, Code: "invalid_token", Description: desc, Err: err}
}

// WriteError answers a failed request: the status, a WWW-Authenticate
// challenge (RFC 6750 §3) and a small JSON body. Errors other than
// *Error become 401 invalid_token.
func (g *Guard) WriteError(w http.ResponseWriter, err error) {
	var be *Error
	if !errors.As(err, &be) {
		be = invalidToken(err)
	}
	h := w.Header()
	if be.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	} else {
		h.Set("WWW-Authenticate", be.challenge(g.realm))
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(be.Status)
	if be.Code != "" {
		w.Write([]byte(`{"error":"` + headerSafe(be.Code) + `","error_description":"` + headerSafe(be.Description) + `"}`))
	}
}

func (e *Error) challenge(realm string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(realm)
	b.WriteByte('"')
	if e.Code != "" {
		b.WriteString(`, error="` + headerSafe(e.Code) + `"`)
		if e.Description != "" {
			b.WriteString(`, error_description="` + headerSafe(e.Description) + `"`)
		}
		if e.Scope != "" {
			b.WriteString(`, scope="` + headerSafe(e.Scope) + `"`)
		}
	}
	return b.String()
}

// headerSafe keeps only the characters RFC 6750 §3 allows inside quoted
// attribute values (%x20-21 / %x23-5B / %x5D-7E): no CR, LF, quote or
// backslash.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 0x20 || r == 0x21 || (r >= 0x23 && r <= 0x5B) || (r >= 0x5D && r <= 0x7E) {
			return r
		}
		return -1
	}, s)
}

type claimsKey struct{}

// Middleware verifies every request with g and passes it on with the claims
// in its context (see ClaimsFromContext), or answers with WriteError.
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := g.Authenticate(r)
		if err != nil {
			g.WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), c)))
	})
}

// ContextWithClaims returns ctx carrying c, as Middleware does; adapters
// for other routers (sdk/echomw) use it.
func ContextWithClaims(ctx context.Context, c *sdk.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the claims a Guard put in ctx.
func ClaimsFromContext(ctx context.Context) (*sdk.Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*sdk.Claims)
	return c, ok && c != nil
}
