package office

import (
	"html/template"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/web"
)

func (s *Service) pages() *template.Template { return web.Layout() }

func (s *Service) mountPages(e *echo.Echo, pages *template.Template) {}
