package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/web"
)

// A service whose policy the fields cannot express sends its own, whole.
func TestPolicyCSPReplacesTheBuiltOne(t *testing.T) {
	const own = "default-src 'none'; form-action 'self' *"
	e := web.New(web.Site{Name: "测试系统", Policy: web.Policy{CSP: own, Scripts: true}})
	e.GET("/", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if got := rec.Header().Get("Content-Security-Policy"); got != own {
		t.Fatalf("CSP %q, want %q", got, own)
	}
}
