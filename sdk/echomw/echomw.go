// Package echomw adapts the xszz SDK's bearer Guard (sdk/guard) to the
// echo web framework (github.com/labstack/echo/v4). It is its own Go
// module, so that relying parties that do not use echo never download it
// and the SDK's module graph stays small.
package echomw

import (
	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/guard"
)

const claimsKey = "xszz.claims"

// Middleware verifies each request's bearer token with g. On success the
// claims are available through Claims(c) and guard.ClaimsFromContext on the
// request context; on failure the response is g's RFC 6750 challenge (401,
// 403, 400 or 503) and the chain stops.
func Middleware(g *guard.Guard) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			claims, err := g.Authenticate(c.Request())
			if err != nil {
				g.WriteError(c.Response(), err)
				return nil
			}
			c.Set(claimsKey, claims)
			c.SetRequest(c.Request().WithContext(guard.ContextWithClaims(c.Request().Context(), claims)))
			return next(c)
		}
	}
}

// Claims returns the claims Middleware stored in c, or nil.
func Claims(c echo.Context) *sdk.Claims {
	claims, _ := c.Get(claimsKey).(*sdk.Claims)
	return claims
}
