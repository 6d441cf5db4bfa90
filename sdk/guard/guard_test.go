package guard_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/guard"
	"github.com/xszz/xszz/sdk/internal/fakeidp"
	"github.com/xszz/xszz/sdk/internal/sdktest"
	"github.com/xszz/xszz/sdk/introspect"
)

func TestGuard(t *testing.T) {
	clk := sdktest.NewClock()
	idp, p := sdktest.Setup(t, clk)
	v := p.AccessTokenVerifier(&sdk.Config{ClientID: "cockpit"})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := guard.ClaimsFromContext(r.Context())
		io.WriteString(w, c.Org.ID)
	})
	good := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", nil))
	school := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", map[string]any{
		"org": map[string]any{"id": "320102001", "level": "school", "path": []string{"000000", "320000", "320100", "320102", "320102001"}},
	}))
	noGrant := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", map[string]any{"grants": []string{}}))
	office := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("office", nil))
	ec := idp.Key("ec-1")
	idToken := fakeidp.Sign(t, ec, "JWT", idp.IDClaims("cockpit", "n", nil))
	untypedID := fakeidp.Sign(t, ec, "", idp.IDClaims("cockpit", "n", nil))
	logoutToken := fakeidp.Sign(t, ec, "logout+jwt", idp.LogoutClaims("cockpit", "acct-42", "sid-1", nil))
	jwtRefresh := fakeidp.Sign(t, ec, "JWT", idp.AccessClaims("cockpit", nil)) // access-token claims, wrong typ
	otherIssuer := fakeidp.Sign(t, ec, "at+jwt", idp.AccessClaims("cockpit", map[string]any{"iss": "https://id.other.example"}))
	expired := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", map[string]any{"exp": clk.Now().Add(-time.Hour).Unix()}))
	h := guard.New(v, guard.RequireGrant("cockpit"), guard.RequireScope("cockpit"), guard.RequireLevel(sdk.LevelCounty), guard.WithRealm("cockpit\r\nX: y")).Middleware(ok)

	tests := []struct {
		name, auth, query string
		status            int
		challenge         string
	}{
		{"good", "Bearer " + good, "", 200, ""},
		{"lowercase scheme", "bearer " + good, "", 200, ""},
		{"no token", "", "", 401, `Bearer realm="cockpitX: y"`},
		{"basic auth", "Basic dXNlcjpwdw==", "", 401, `Bearer realm="cockpitX: y"`},
		{"query token", "", "access_token=" + good, 400, `error="invalid_request"`},
		{"query and header", "Bearer " + good, "access_token=" + good, 400, `error="invalid_request"`},
		{"garbage", "Bearer abc", "", 401, `error="invalid_token", error_description="token invalid"`},
		{"expired", "Bearer " + expired, "", 401, `error_description="token expired"`},
		{"office token at cockpit", "Bearer " + office, "", 401, `error_description="token not for this resource"`},
		{"ID token", "Bearer " + idToken, "", 401, `error="invalid_token", error_description="not an access token"`},
		{"untyped ID token", "Bearer " + untypedID, "", 401, `error="invalid_token", error_description="not an access token"`},
		{"logout token", "Bearer " + logoutToken, "", 401, `error="invalid_token", error_description="not an access token"`},
		{"opaque refresh token", "Bearer ory_rt_3kVb9xQ0Zc7w1yJm2nP4sT6uW8aD5fH", "", 401, `error="invalid_token", error_description="token invalid"`},
		{"JWT refresh token", "Bearer " + jwtRefresh, "", 401, `error="invalid_token", error_description="not an access token"`},
		{"other issuer", "Bearer " + otherIssuer, "", 401, `error="invalid_token", error_description="token not from this issuer"`},
		{"no grant", "Bearer " + noGrant, "", 403, `error="insufficient_scope", error_description="grant cockpit required"`},
		{"school level", "Bearer " + school, "", 403, `error="insufficient_scope", error_description="organisation level county or higher required"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/api?"+tt.query, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			ch := w.Header().Get("WWW-Authenticate")
			if !strings.Contains(ch, tt.challenge) || strings.ContainsAny(ch, "\r\n") {
				t.Fatalf("WWW-Authenticate = %q, want %q", ch, tt.challenge)
			}
			if tt.status == 200 && w.Body.String() != "320000" {
				t.Fatalf("body = %q", w.Body)
			}
		})
	}
	// Missing scope names the scope.
	noScope := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", map[string]any{"scope": "openid"}))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+noScope)
	w := httptest.NewRecorder()
	guard.New(v, guard.RequireScope("cockpit")).Middleware(ok).ServeHTTP(w, r)
	if w.Code != 403 || !strings.Contains(w.Header().Get("WWW-Authenticate"), `scope="cockpit"`) {
		t.Fatalf("%d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

// TestGuardWithIntrospection: a token the IdP has revoked is refused as
// soon as the cached answer expires, though its signature still holds.
func TestGuardWithIntrospection(t *testing.T) {
	clk := sdktest.NewClock()
	idp, p := sdktest.Setup(t, clk)
	idp.RegisterClient(fakeidp.Client{ID: "cockpit", Secret: "s"})
	in, err := introspect.New(p, &introspect.Config{ClientID: "cockpit", ClientSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	tok := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", nil))
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "cockpit"}), guard.WithIntrospection(in))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	if _, err := g.Authenticate(r); err != nil {
		t.Fatalf("active token: %v", err)
	}
	idp.Revoke(tok)
	clk.Advance(31 * time.Second)
	w := httptest.NewRecorder()
	g.Middleware(http.NotFoundHandler()).ServeHTTP(w, r)
	if w.Code != 401 || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error_description="token revoked"`) {
		t.Fatalf("revoked token: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

// countingIntrospector answers active and counts the questions.
type countingIntrospector struct{ n int }

func (c *countingIntrospector) Introspect(context.Context, string) (*introspect.Result, error) {
	c.n++
	return &introspect.Result{Active: true}, nil
}

// TestGuardRefusesOnTheTokenBeforeAskingTheIdP: a token without the scope
// or role demanded is refused from its own claims; only a token that
// passes them costs an introspection, and the grant is checked on the
// introspection's answer.
func TestGuardRefusesOnTheTokenBeforeAskingTheIdP(t *testing.T) {
	clk := sdktest.NewClock()
	idp, p := sdktest.Setup(t, clk)
	in := &countingIntrospector{}
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "cockpit"}),
		guard.RequireScope("cockpit"), guard.RequireGrant("cockpit"), guard.WithIntrospection(in))
	ask := func(claims map[string]any) int {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", claims)))
		w := httptest.NewRecorder()
		g.Middleware(http.NotFoundHandler()).ServeHTTP(w, r)
		return w.Code
	}
	if code := ask(map[string]any{"scope": "openid"}); code != 403 || in.n != 0 {
		t.Fatalf("token without the scope: %d after %d introspections, want 403 after none", code, in.n)
	}
	// The scope holds; the introspection answer carries no grants, so the
	// token's own (none) decide.
	if code := ask(map[string]any{"scope": "openid cockpit", "grants": nil}); code != 403 || in.n != 1 {
		t.Fatalf("token without the grant: %d after %d introspections, want 403 after one", code, in.n)
	}
}
