package guard_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/guard"
	"github.com/xszz/xszz/sdk/internal/fakeidp"
	"github.com/xszz/xszz/sdk/internal/sdktest"
)

// BenchmarkMiddleware measures the net/http Guard around a no-op handler.
func BenchmarkMiddleware(b *testing.B) {
	clk := sdktest.NewClock()
	idp, p := sdktest.Setup(b, clk)
	v := p.AccessTokenVerifier(&sdk.Config{ClientID: "cockpit"})
	tok := fakeidp.Sign(b, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", nil))
	h := guard.New(v, guard.RequireGrant("cockpit"), guard.RequireLevel(sdk.LevelCounty)).Middleware(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest("GET", "/api/overview", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	before := idp.JWKSRequests.Load()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
	if n := idp.JWKSRequests.Load() - before; n != 0 {
		b.Fatalf("%d JWKS requests in steady state", n)
	}
}
