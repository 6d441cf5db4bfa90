package web

import (
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// Origin returns the scheme://host[:port] of an absolute http(s) URL, or
// "" for anything else.
func Origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// AllowFormAction adds origins to the form-action directive of the
// response's Content-Security-Policy. Browsers apply form-action to every
// redirect that follows a form submission (Chromium does), so a page whose
// form leads through the service to another site must name that site:
// the IdP's login and consent pages name the one redirect URI in play,
// not every site ('*').
func AllowFormAction(c echo.Context, origins ...string) {
	h := c.Response().Header()
	csp := h.Get("Content-Security-Policy")
	if csp == "" {
		return
	}
	var add []string
	for _, o := range origins {
		// An origin is a single source expression; anything with a space,
		// a quote or a semicolon would add directives of its own.
		if o != "" && !strings.ContainsAny(o, " ;,'\"\t\r\n") {
			add = append(add, o)
		}
	}
	if len(add) == 0 {
		return
	}
	parts := strings.Split(csp, ";")
	for i, p := range parts {
		d := strings.TrimSpace(p)
		if d == "form-action" || strings.HasPrefix(d, "form-action ") {
			have := strings.Fields(d)
			for _, o := range add {
				if !slices.Contains(have, o) {
					have = append(have, o)
				}
			}
			parts[i] = " " + strings.Join(have, " ")
			if i == 0 {
				parts[i] = strings.TrimSpace(parts[i])
			}
			h.Set("Content-Security-Policy", strings.Join(parts, ";"))
			return
		}
	}
}
