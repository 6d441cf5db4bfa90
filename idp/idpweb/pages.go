// Package idpweb holds what the IdP's parts (protocol, sign-in,
// registration, account centre) share on the web: their page templates,
// the sealed flow state, the SSO session cookie and its lookup, the
// same-origin and JSON-only guards, audit recording and the SMS-code
// error wording. HTTP basics that are not IdP-specific are in
// internal/web.
package idpweb

import (
	"embed"
	"html/template"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Pages returns the IdP's page templates (they carry their own layout).
func Pages() *template.Template { return pages }

// Render writes one of the IdP's pages; pages are never cached, since
// they carry flow state and personal data.
func Render(c echo.Context, status int, name string, data map[string]any) error {
	web.Render(c, pages, status, name, data)
	return nil
}

// Link is a way onward from a page that ends a step (signed in, signed
// out), so no page is a dead end.
type Link struct {
	Href, Text string
	Primary    bool
}
