package echomw_test

import (
	"context"
	"log"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/echomw"
	"github.com/xszz/xszz/sdk/guard"
)

func ExampleMiddleware() {
	ctx := context.Background()
	p, err := sdk.NewProvider(ctx, "https://id.xszz.example")
	if err != nil {
		log.Print(err)
		return
	}
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "cockpit"}),
		guard.RequireGrant("cockpit"), guard.RequireLevel(sdk.LevelCounty))
	e := echo.New()
	api := e.Group("/api", echomw.Middleware(g))
	api.GET("/overview", func(c echo.Context) error {
		return c.JSON(200, map[string]string{"region": echomw.Claims(c).Org.RegionCode})
	})
}

func ExampleClaims() {
	handler := func(c echo.Context) error {
		claims := echomw.Claims(c) // set by echomw.Middleware
		if !claims.Org.Within("320000") {
			return echo.ErrForbidden
		}
		return c.String(200, claims.Org.Name)
	}
	_ = handler
}
