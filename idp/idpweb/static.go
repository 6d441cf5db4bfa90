package idpweb

import (
	"embed"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/web"
)

//go:embed static/*.js
var staticFS embed.FS

// MountStatic serves the IdP's few scripts under /static/. They are small
// enhancements (a countdown, unit suggestions); every page works without
// them. The CSP allows scripts from 'self' only, so nothing inline runs.
func MountStatic(e *echo.Echo) {
	e.GET("/static/:name", func(c echo.Context) error {
		b, err := staticFS.ReadFile("static/" + c.Param("name"))
		if err != nil {
			return web.Errorf(http.StatusNotFound, "not_found", "页面不存在")
		}
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", b)
	})
}
