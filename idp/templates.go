package idp

import (
	"embed"
	"html/template"

	"github.com/labstack/echo/v4"
)

//go:embed templates/*.html
var templateFS embed.FS

func parseTemplates() *template.Template {
	return template.Must(template.ParseFS(templateFS, "templates/*.html"))
}

// render writes a page; pages are never cached, since they carry flow
// state and personal data.
func (s *Server) render(c echo.Context, status int, name string, data map[string]any) error {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	c.Response().WriteHeader(status)
	if err := s.tmpl.ExecuteTemplate(c.Response(), name, data); err != nil {
		s.Log.ErrorContext(c.Request().Context(), "render page", "page", name, "err", err)
	}
	return nil
}
