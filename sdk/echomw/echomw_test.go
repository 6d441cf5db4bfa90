package echomw_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/echomw"
	"github.com/xszz/xszz/sdk/guard"
	"github.com/xszz/xszz/sdk/internal/fakeidp"
)

func TestMiddleware(t *testing.T) {
	idp := fakeidp.New(t)
	p, err := sdk.NewProvider(context.Background(), idp.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "cockpit"}), guard.RequireGrant("cockpit"))
	e := echo.New()
	e.GET("/api/overview", func(c echo.Context) error {
		return c.String(http.StatusOK, echomw.Claims(c).Org.RegionCode)
	}, echomw.Middleware(g))

	good := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", nil))
	noGrant := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", map[string]any{"grants": nil}))
	for _, tt := range []struct {
		auth      string
		status    int
		challenge string
	}{
		{"Bearer " + good, 200, ""},
		{"", 401, `Bearer realm="xszz"`},
		{"Bearer " + noGrant, 403, `error="insufficient_scope"`},
		{"Bearer x.y.z", 401, `error="invalid_token"`},
	} {
		r := httptest.NewRequest("GET", "/api/overview", nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != tt.status || !strings.Contains(w.Header().Get("WWW-Authenticate"), tt.challenge) {
			t.Fatalf("%d %q %s", w.Code, w.Header().Get("WWW-Authenticate"), w.Body)
		}
		if tt.status == 200 && w.Body.String() != "320000" {
			t.Fatalf("body %q", w.Body)
		}
	}
}
