// Package contacts is 通讯录: the staff directory by org tree, as a viewer
// may see it — their own unit and subtree, and the contact points of the
// units above — with phone numbers masked unless the person chose to show
// theirs or an admin of their unit or above reveals it, which is recorded.
package contacts

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/directory"
)

// Entry is a person as the contacts list shows them.
type Entry struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	OrgID   string `json:"org_id"`
	OrgName string `json:"org_name"`
	Role    string `json:"role"`
	// Phone is masked (138****8000) unless the person shows it.
	Phone string `json:"phone"`
	// CanReveal says whether the viewer may see the full number.
	CanReveal bool `json:"can_reveal"`
}

// Service answers contact questions.
type Service struct {
	Dir *directory.Store
	Now func() time.Time
}

func (s *Service) entry(ctx context.Context, v directory.Viewer, p directory.Person, names map[string]string) (Entry, error) {
	e := Entry{ID: p.ID, Name: p.Name, OrgID: p.OrgID, Role: p.Role, Phone: phone.Mask(p.Phone)}
	if p.ShowPhone {
		e.Phone = p.Phone
	}
	e.CanReveal = !p.ShowPhone && v.Admin() && v.Covers(p.OrgPath)
	name, ok := names[p.OrgID]
	if !ok {
		u, err := s.Dir.Unit(ctx, p.OrgID)
		if err != nil && !errors.Is(err, directory.ErrNotFound) {
			return e, err
		}
		name = u.Name
		names[p.OrgID] = name
	}
	e.OrgName = name
	return e, nil
}

// Query selects contacts.
type Query struct {
	OrgID string // a unit in the viewer's subtree; "" for the whole subtree
	Text  string
	// After is where the page starts (nil: the first page); Limit is at
	// most directory.MaxPage.
	After *directory.Position
	Limit int
}

// List returns a page of the viewer's subtree (or of what the text finds
// in it) and the position the next page starts after, nil on the last
// page. The subtree bounds every page, wherever the position points.
func (s *Service) List(ctx context.Context, v directory.Viewer, q Query) ([]Entry, *directory.Position, error) {
	if q.OrgID != "" {
		u, err := s.Dir.Unit(ctx, q.OrgID)
		if errors.Is(err, directory.ErrNotFound) || (err == nil && !v.Covers(u.Path)) {
			return nil, nil, web.Errorf(http.StatusNotFound, "not_found", "单位不存在或不在本单位之下")
		}
		if err != nil {
			return nil, nil, err
		}
	}
	ps, next, err := s.Dir.People(ctx, directory.PersonQuery{Under: v.Path, OrgID: q.OrgID, Text: q.Text, After: q.After, Limit: q.Limit})
	if errors.Is(err, directory.ErrBadPosition) {
		return nil, nil, BadCursor()
	}
	if err != nil {
		return nil, nil, err
	}
	names, err := s.unitNames(ctx, ps)
	if err != nil {
		return nil, nil, err
	}
	out := []Entry{}
	for _, p := range ps {
		e, err := s.entry(ctx, v, p, names)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, e)
	}
	return out, next, nil
}

// unitNames names the units of a page's people in one query.
func (s *Service) unitNames(ctx context.Context, ps []directory.Person) (map[string]string, error) {
	names := map[string]string{}
	var ids []string
	for _, p := range ps {
		if _, seen := names[p.OrgID]; !seen {
			names[p.OrgID] = "" // a unit gone from the directory stays unnamed
			ids = append(ids, p.OrgID)
		}
	}
	units, err := s.Dir.Units(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, u := range units {
		names[u.ID] = u.Name
	}
	return names, nil
}

// BadCursor answers a page asked for with a cursor that is not one of
// this query's (made up, altered, or from another query or person).
func BadCursor() error {
	return web.Errorf(http.StatusBadRequest, "invalid_request", "翻页位置无效，请从第一页重新查询")
}

// Point is a unit above the viewer with its contact people (admins).
type Point struct {
	Unit   directory.Unit `json:"unit"`
	People []Entry        `json:"people"`
}

// Above returns the units above the viewer, top down, with their admins.
func (s *Service) Above(ctx context.Context, v directory.Viewer) ([]Point, error) {
	ids := directory.PathIDs(v.Path)
	if len(ids) < 2 {
		return []Point{}, nil
	}
	units, err := s.Dir.Units(ctx, ids[:len(ids)-1])
	if err != nil {
		return nil, err
	}
	out := []Point{}
	names := map[string]string{}
	for _, u := range units {
		admins, err := s.Dir.Admins(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		pt := Point{Unit: u, People: []Entry{}}
		for _, a := range admins {
			e, err := s.entry(ctx, v, a, names)
			if err != nil {
				return nil, err
			}
			pt.People = append(pt.People, e)
		}
		out = append(out, pt)
	}
	return out, nil
}

// Reveal returns a person's full number to an admin of their unit or
// above, and records that it was shown.
func (s *Service) Reveal(ctx context.Context, v directory.Viewer, personID string) (string, error) {
	p, err := s.Dir.Person(ctx, personID)
	if errors.Is(err, directory.ErrNotFound) || (err == nil && !v.Covers(p.OrgPath)) {
		return "", web.Errorf(http.StatusNotFound, "not_found", "联系人不存在或不在本单位之下")
	}
	if err != nil {
		return "", err
	}
	if p.ShowPhone {
		return p.Phone, nil
	}
	if !v.Admin() {
		return "", web.Errorf(http.StatusForbidden, "forbidden", "只有本单位或上级单位管理员可以查看完整号码")
	}
	// Recorded before it is shown: a reveal that cannot be recorded is
	// not made.
	if err := s.Dir.RecordReveal(ctx, v.Sub, p.ID, s.Now().Unix()); err != nil {
		return "", err
	}
	return p.Phone, nil
}

// WriteCSV writes the viewer's subtree directory (admins only). Numbers
// stay masked as in the list: an export is a copy that leaves the system.
func (s *Service) WriteCSV(ctx context.Context, v directory.Viewer, w io.Writer) error {
	if !v.Admin() {
		return web.Errorf(http.StatusForbidden, "forbidden", "只有单位管理员可以导出通讯录")
	}
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"姓名", "单位", "角色", "手机号"}); err != nil {
		return err
	}
	var after *directory.Position
	for {
		page, next, err := s.List(ctx, v, Query{After: after, Limit: directory.MaxPage})
		if err != nil {
			return err
		}
		for _, e := range page {
			role := "工作人员"
			if e.Role == "admin" {
				role = "管理员"
			}
			if err := cw.Write([]string{cell(e.Name), cell(e.OrgName), role, e.Phone}); err != nil {
				return fmt.Errorf("contacts csv: %w", err)
			}
		}
		if next == nil {
			break
		}
		after = next
	}
	cw.Flush()
	return cw.Error()
}

func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
