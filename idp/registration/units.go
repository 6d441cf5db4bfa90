package registration

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/web"
)

// A person finds the unit to apply to by part of its name ("玄武区第1小学",
// "玄武区") or a region code, and picks it from a short list that shows
// the code and the unit above. The list is public, as the register page
// is: unit names are no secret, and the answer is capped.

const (
	maxUnitQuery = 40
	unitMatches  = 10
)

// unitMatch is one unit offered to choose from.
type unitMatch struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Level  string `json:"level"`
	Parent string `json:"parent,omitempty"` // the name of the unit above
}

// findUnits searches active units; queries shorter than two characters
// find nothing, so a single keystroke does not scan the tree.
func (s *Registration) findUnits(ctx context.Context, q string) ([]unitMatch, error) {
	q = strings.TrimSpace(q)
	if s.Orgs == nil || utf8.RuneCountInString(q) < 2 || utf8.RuneCountInString(q) > maxUnitQuery {
		return nil, nil
	}
	found, err := s.Orgs.Search(ctx, org.RootID, q, unitMatches*2)
	if err != nil {
		return nil, err
	}
	parents := map[string]string{}
	out := []unitMatch{}
	for _, o := range found {
		if o.Status != org.StatusActive || len(out) == unitMatches {
			continue
		}
		m := unitMatch{ID: o.ID, Name: o.Name, Level: o.Level}
		if o.ParentID != "" {
			name, ok := parents[o.ParentID]
			if !ok {
				if p, err := s.Orgs.Get(ctx, o.ParentID); err == nil {
					name = p.Name
				}
				parents[o.ParentID] = name
			}
			m.Parent = name
		}
		out = append(out, m)
	}
	return out, nil
}

// apiOrgSearch answers GET /api/v1/orgs/search?q=… for the register
// page's suggestions (static/orgsearch.js).
func (s *Registration) apiOrgSearch(c echo.Context) error {
	if s.Orgs == nil {
		return &web.Error{Status: http.StatusNotFound, Code: "not_found", Message: "本系统未开放自助注册"}
	}
	q := c.QueryParam("q")
	if utf8.RuneCountInString(q) > maxUnitQuery {
		return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "查询内容过长"}
	}
	found, err := s.findUnits(c.Request().Context(), q)
	if err != nil {
		return web.Internal(err)
	}
	if found == nil {
		found = []unitMatch{}
	}
	return c.JSON(http.StatusOK, map[string]any{"units": found})
}
