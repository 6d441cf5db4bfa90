package idpweb

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/web"
)

// MaxBody bounds what the sign-in, registration and account-centre
// endpoints read.
const MaxBody = 4 << 10

// SameOrigin refuses cross-site state-changing requests: a browser always
// sends Origin on POST, so a foreign or "null" origin is a forgery. Clients
// that are not browsers send no Origin and are let through. origin is the
// issuer's scheme://host.
//
// It differs from web.CrossOrigin (which also trusts Sec-Fetch-Site and
// compares with Host): the IdP compares with its configured issuer.
func SameOrigin(origin string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Method == http.MethodGet {
				return next(c)
			}
			o := c.Request().Header.Get("Origin")
			if o == "" {
				return next(c)
			}
			if o != origin {
				return web.Errorf(http.StatusForbidden, "cross_origin", "请求来源不被允许")
			}
			return next(c)
		}
	}
}

// JSONOnly makes the JSON API refuse form posts, which a foreign page can
// send without a CORS preflight.
func JSONOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodGet {
			ct := c.Request().Header.Get("Content-Type")
			if ct != "application/json" && !strings.HasPrefix(ct, "application/json;") {
				return web.Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "请求必须为 application/json")
			}
		}
		return next(c)
	}
}

// LimitBody caps the request body at MaxBody.
func LimitBody(c echo.Context) {
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, MaxBody)
}

// BindJSON reads exactly one JSON value of at most MaxBody bytes, under
// any content type (the sign-in pages' scripts and forms post alike;
// cross-origin posts are refused before this).
func BindJSON(c echo.Context, v any) error {
	return web.DecodeJSON(c, v, web.JSONBody{Max: MaxBody, AnyType: true})
}
