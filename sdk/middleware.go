package sdk

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// BearerError is an authentication or authorization failure of a Guard, as
// RFC 6750 §3.1 describes it. Err is the cause, for logs only; clients see
// Code and Description.
type BearerError struct {
	Status      int    // 400, 401, 403 or 503
	Code        string // "invalid_request", "invalid_token", "insufficient_scope" or "" (no credentials)
	Description string // fixed text, safe for the header
	Scope       string // the scope needed, for insufficient_scope
	Err         error
}

func (e *BearerError) Error() string {
	if e.Err != nil {
		return "sdk: bearer: " + e.Code + ": " + e.Err.Error()
	}
	return "sdk: bearer: " + e.Code + ": " + e.Description
}

func (e *BearerError) Unwrap() error { return e.Err }

// GuardOption adds a requirement or setting to a Guard.
type GuardOption func(*Guard)

// RequireGrant demands the account grant g, for example "cockpit";
// otherwise the Guard answers 403 insufficient_scope.
func RequireGrant(g string) GuardOption {
	return func(gd *Guard) {
		gd.checks = append(gd.checks, func(c *Claims) *BearerError {
			if !c.HasGrant(g) {
				return forbidden("grant "+g+" required", "")
			}
			return nil
		})
	}
}

// RequireScope demands the token carry scope s (RFC 6750 §3.1
// insufficient_scope, with scope="s" in the challenge).
func RequireScope(s string) GuardOption {
	return func(gd *Guard) {
		gd.checks = append(gd.checks, func(c *Claims) *BearerError {
			if !c.HasScope(s) {
				return forbidden("scope "+s+" required", s)
			}
			return nil
		})
	}
}

// RequireLevel demands the account's organisation be at level l or higher
// (see Org.AtLeast). Tokens without an org fail.
func RequireLevel(l Level) GuardOption {
	return func(gd *Guard) {
		gd.checks = append(gd.checks, func(c *Claims) *BearerError {
			if !c.Org.AtLeast(l) {
				return forbidden("organisation level "+string(l)+" or higher required", "")
			}
			return nil
		})
	}
}

// RequireRole demands the account have role r, for example "admin".
func RequireRole(r string) GuardOption {
	return func(gd *Guard) {
		gd.checks = append(gd.checks, func(c *Claims) *BearerError {
			if !c.HasRole(r) {
				return forbidden("role "+r+" required", "")
			}
			return nil
		})
	}
}

// WithRealm sets the realm of the WWW-Authenticate challenge (default
// "xszz").
func WithRealm(realm string) GuardOption { return func(g *Guard) { g.realm = headerSafe(realm) } }

// WithIntrospection makes the Guard also ask the IdP, through i and its
// short cache, whether the token is still active, so that revocation and
// disabled accounts take effect before the token expires. If the IdP cannot
// be asked, the request is refused with 503. If the introspection response
// carries "grants", they replace the token's grants.
func WithIntrospection(i *Introspector) GuardOption { return func(g *Guard) { g.intro = i } }

// Guard protects resource-server endpoints with bearer access tokens
// (RFC 6750 §2.1: Authorization header only).
type Guard struct {
	v      *AccessTokenVerifier
	realm  string
	checks []func(*Claims) *BearerError
	intro  *Introspector
}

// NewGuard returns a Guard that verifies tokens with v and applies opts.
func NewGuard(v *AccessTokenVerifier, opts ...GuardOption) *Guard {
	g := &Guard{v: v, realm: "xszz"}
	for _, o := range opts {
		o(g)
	}
	return g
}

func forbidden(desc, scope string) *BearerError {
	return &BearerError{Status: http.StatusForbidden, Code: "insufficient_scope", Description: headerSafe(desc), Scope: headerSafe(scope)}
}

// Authenticate extracts, verifies and checks the request's bearer token. On
// failure the error is a *BearerError.
func (g *Guard) Authenticate(r *http.Request) (*Claims, error) {
	if g.v == nil {
		return nil, &BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "token invalid", Err: ErrInvalidConfig}
	}
	if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return nil, &BearerError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "access token in query string refused"}
	}
	hs := r.Header.Values("Authorization")
	if len(hs) == 0 {
		return nil, &BearerError{Status: http.StatusUnauthorized}
	}
	if len(hs) > 1 {
		return nil, &BearerError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "more than one Authorization header"}
	}
	scheme, raw, ok := strings.Cut(hs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, &BearerError{Status: http.StatusUnauthorized}
	}
	raw = strings.TrimLeft(raw, " ")
	if raw == "" {
		return nil, &BearerError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "empty bearer token"}
	}
	c, err := g.v.Verify(r.Context(), raw)
	if err != nil {
		return nil, invalidToken(err)
	}
	if g.intro != nil {
		res, err := g.intro.Introspect(r.Context(), raw)
		if err != nil {
			return nil, &BearerError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "token status unavailable", Err: err}
		}
		if !res.Active {
			return nil, &BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: "token revoked", Err: errors.New("introspection: inactive")}
		}
		if res.Grants != nil {
			c.Grants = res.Grants
		}
	}
	for _, check := range g.checks {
		if e := check(c); e != nil {
			return nil, e
		}
	}
	return c, nil
}

func invalidToken(err error) *BearerError {
	desc := "token invalid"
	var exp *TokenExpiredError
	switch {
	case errors.As(err, &exp):
		desc = "token expired"
	case errors.Is(err, ErrKeySetUnavailable):
		return &BearerError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", Description: "signing keys unavailable", Err: err}
	case errors.Is(err, ErrInvalidAudience):
		desc = "token not for this resource"
	case errors.Is(err, ErrInvalidType):
		desc = "not an access token"
	case errors.Is(err, ErrInvalidSignature), errors.Is(err, ErrUnknownKey):
		desc = "token signature invalid"
	}
	return &BearerError{Status: http.StatusUnauthorized, Code: "invalid_token", Description: desc, Err: err}
}

// WriteError answers a failed request: the status, a WWW-Authenticate
// challenge (RFC 6750 §3) and a small JSON body. Errors other than
// *BearerError become 401 invalid_token.
func (g *Guard) WriteError(w http.ResponseWriter, err error) {
	var be *BearerError
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

func (e *BearerError) challenge(realm string) string {
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

// ContextWithClaims returns ctx carrying c.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the claims a Guard put in ctx.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}
