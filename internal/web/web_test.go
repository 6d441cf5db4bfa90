package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/web"
)

func newSite() *echo.Echo {
	e := web.New(web.Site{Name: "测试系统", BodyLimit: 16, Policy: web.Policy{FormAction: []string{"https://id.example"}}})
	e.GET("/boom", func(echo.Context) error { panic("secret detail") })
	e.POST("/api/v1/echo", func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, string(b))
	}, web.CrossOrigin())
	e.GET("/api/v1/refuse", func(echo.Context) error {
		return web.Errorf(http.StatusConflict, "taken", "已被占用")
	})
	return e
}

func TestErrorsAnswerInTheRightFormatAndHideCauses(t *testing.T) {
	e := newSite()
	cases := []struct {
		name, method, path, body, accept string
		header                           map[string]string
		wantStatus                       int
		wantBody                         string
	}{
		{name: "panic on a page", method: "GET", path: "/boom", wantStatus: 500, wantBody: "服务暂时不可用"},
		{name: "unknown page", method: "GET", path: "/nope", wantStatus: 404, wantBody: "页面不存在"},
		{name: "unknown API path", method: "GET", path: "/api/v1/nope", wantStatus: 404, wantBody: `"error":"not_found"`},
		{name: "service error", method: "GET", path: "/api/v1/refuse", wantStatus: 409, wantBody: `"error_description":"已被占用"`},
		{name: "declared body too large", method: "POST", path: "/api/v1/echo", body: strings.Repeat("x", 17), wantStatus: 413, wantBody: `"too_large"`},
		{name: "body within the limit", method: "POST", path: "/api/v1/echo", body: "hello", wantStatus: 200, wantBody: "hello"},
		{name: "cross-site post", method: "POST", path: "/api/v1/echo", body: "x", header: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantStatus: 403, wantBody: `"cross_origin"`},
		{name: "same-origin post", method: "POST", path: "/api/v1/echo", body: "x", header: map[string]string{"Sec-Fetch-Site": "same-origin"}, wantStatus: 200, wantBody: "x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Fatalf("got %d %q, want %d containing %q", rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody)
			}
			if strings.Contains(rec.Body.String(), "secret detail") {
				t.Fatal("the panic's detail reached the client")
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	newSite().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/refuse", nil))
	h := rec.Header()
	for k, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"form-action 'self' https://id.example;", "script-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
}
