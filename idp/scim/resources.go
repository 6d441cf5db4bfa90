package scim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xszz/xszz/idp/account"

	"github.com/labstack/echo/v4"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/xszz/xszz/internal/phone"
)

// User is an account as SCIM shows it (RFC 7643 §4.1).
type User struct {
	Schemas      []string      `json:"schemas"`
	ID           string        `json:"id"`
	UserName     string        `json:"userName"`
	Name         Name          `json:"name"`
	DisplayName  string        `json:"displayName"`
	Active       bool          `json:"active"`
	PhoneNumbers []PhoneNumber `json:"phoneNumbers,omitempty"`
	Roles        []Value       `json:"roles,omitempty"`
	Groups       []GroupRef    `json:"groups,omitempty"`
	Org          *UserOrg      `json:"urn:xszz:params:scim:schemas:extension:org:2.0:User,omitempty"`
	Meta         Meta          `json:"meta"`
}

// Name is a person's name; Chinese names are not split into given and
// family parts, so only formatted is set.
type Name struct {
	Formatted string `json:"formatted"`
}

// PhoneNumber is one number (RFC 7643 §4.1.2).
type PhoneNumber struct {
	Value   string `json:"value"`
	Type    string `json:"type"`
	Primary bool   `json:"primary"`
}

// Value is a multi-valued attribute's entry.
type Value struct {
	Value   string `json:"value"`
	Primary bool   `json:"primary,omitempty"`
}

// GroupRef names the unit the account belongs to.
type GroupRef struct {
	Value   string `json:"value"`
	Ref     string `json:"$ref"`
	Display string `json:"display"`
	Type    string `json:"type"`
}

// UserOrg is xszz's user extension: the unit, its path and status detail.
type UserOrg struct {
	OrgID   string `json:"orgId"`
	OrgPath string `json:"orgPath"`
	Status  string `json:"status"`
	// PhoneMasked says whether phoneNumbers and userName are masked.
	PhoneMasked bool `json:"phoneMasked"`
}

// Group is a unit as SCIM shows it (RFC 7643 §4.2). Members are not
// listed: a province has hundreds of thousands; read Users instead.
type Group struct {
	Schemas     []string  `json:"schemas"`
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Org         *GroupOrg `json:"urn:xszz:params:scim:schemas:extension:org:2.0:Group"`
	Meta        Meta      `json:"meta"`
}

// GroupOrg is xszz's group extension.
type GroupOrg struct {
	Parent     string `json:"parent,omitempty"`
	Level      string `json:"level"`
	Path       string `json:"path"`
	RegionCode string `json:"regionCode,omitempty"`
	Kind       string `json:"kind"`
	Active     bool   `json:"active"`
}

// query is a parsed list request.
type query struct {
	since      int64 // exclusive lower bound of updated_at, or -1
	startIndex int
	count      int
}

func badRequest(c echo.Context, scimType, detail string) error {
	return scimError(c, http.StatusBadRequest, scimType, detail)
}

// parseQuery reads filter, startIndex and count (RFC 7644 §3.4.2). Only
// the filter incremental sync needs is supported: meta.lastModified with
// gt or ge; anything else is refused as invalidFilter rather than ignored,
// so a client never mistakes a partial answer for a filtered one.
func parseQuery(c echo.Context) (query, string, string) {
	q := query{since: -1, startIndex: 1, count: DefaultCount}
	if v := c.QueryParam("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return q, "invalidValue", "startIndex must be an integer"
		}
		// RFC 7644 §3.4.2.4: values below 1 are read as 1.
		q.startIndex = max(n, 1)
	}
	if v := c.QueryParam("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return q, "invalidValue", "count must be an integer"
		}
		q.count = min(max(n, 0), MaxCount)
	}
	if v := strings.TrimSpace(c.QueryParam("filter")); v != "" {
		expr, err := filter.ParseFilter([]byte(v))
		if err != nil {
			return q, "invalidFilter", "the filter is not valid SCIM filter syntax"
		}
		ae, ok := expr.(*filter.AttributeExpression)
		if !ok || !strings.EqualFold(ae.AttributePath.AttributeName, "meta") ||
			!strings.EqualFold(ae.AttributePath.SubAttributeName(), "lastModified") {
			return q, "invalidFilter", `only meta.lastModified gt|ge "<time>" is supported`
		}
		raw, ok := ae.CompareValue.(string)
		if !ok {
			return q, "invalidFilter", "meta.lastModified is compared with a quoted date-time"
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return q, "invalidValue", "meta.lastModified must be an RFC 3339 date-time"
		}
		switch strings.ToLower(string(ae.Operator)) {
		case "gt":
			q.since = t.Unix()
		case "ge":
			q.since = t.Unix() - 1
			if t.Nanosecond() > 0 {
				q.since = t.Unix()
			}
		default:
			return q, "invalidFilter", `only meta.lastModified gt|ge "<time>" is supported`
		}
	}
	return q, "", ""
}

var userSelect = `SELECT ` + account.Columns("a") + `, o.id, o.name, o.path
FROM accounts a JOIN orgs o ON o.id = a.org_id`

func (s *Server) scanUser(rows interface{ Scan(...any) error }, cl *caller) (*User, error) {
	var (
		u                       User
		orgID, orgName, orgPath string
	)
	acc, err := s.Accounts.Scan(rows, &orgID, &orgName, &orgPath)
	if err != nil {
		return nil, err
	}
	u.ID, u.DisplayName = acc.ID, acc.Name
	ph, status, role := acc.Phone, acc.Status, acc.Role
	created, updated := acc.CreatedAt.Unix(), acc.UpdatedAt.Unix()
	masked := !cl.client.DirectoryFullPhones
	if masked {
		ph = phone.Mask(ph)
	}
	u.Schemas = []string{SchemaUser, SchemaOrgUser}
	u.UserName = ph
	u.Name = Name{Formatted: u.DisplayName}
	u.Active = status == "active"
	u.PhoneNumbers = []PhoneNumber{{Value: ph, Type: "work", Primary: true}}
	u.Roles = []Value{{Value: role, Primary: true}}
	u.Groups = []GroupRef{{Value: orgID, Ref: s.base + "/Groups/" + orgID, Display: orgName, Type: "direct"}}
	u.Org = &UserOrg{OrgID: orgID, OrgPath: orgPath, Status: status, PhoneMasked: masked}
	u.Meta = Meta{ResourceType: "User", Created: timeString(time.Unix(created, 0)), LastModified: timeString(time.Unix(updated, 0)), Location: s.base + "/Users/" + u.ID}
	return &u, nil
}

func (s *Server) listUsers(c echo.Context) error {
	q, typ, detail := parseQuery(c)
	if typ != "" {
		return badRequest(c, typ, detail)
	}
	cl := callerOf(c)
	ctx := c.Request().Context()
	where := ` WHERE o.path >= $1 AND o.path < $2 AND a.updated_at > $3`
	total, err := s.count(ctx, `SELECT COUNT(*) FROM accounts a JOIN orgs o ON o.id = a.org_id`+where, cl.lo, cl.hi, q.since)
	if err != nil {
		return fmt.Errorf("scim: count users: %w", err)
	}
	out := ListResponse{Schemas: []string{SchemaListResponse}, TotalResults: total, StartIndex: q.startIndex, Resources: []any{}}
	if q.count > 0 {
		rows, err := s.DB.QueryContext(ctx, userSelect+where+` ORDER BY a.updated_at, a.id LIMIT $4 OFFSET $5`, cl.lo, cl.hi, q.since, q.count, q.startIndex-1)
		if err != nil {
			return fmt.Errorf("scim: list users: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			u, err := s.scanUser(rows, cl)
			if err != nil {
				return fmt.Errorf("scim: list users: %w", err)
			}
			out.Resources = append(out.Resources, u)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("scim: list users: %w", err)
		}
	}
	out.ItemsPerPage = len(out.Resources)
	return writeJSON(c, http.StatusOK, out)
}

func (s *Server) getUser(c echo.Context) error {
	cl := callerOf(c)
	row := s.DB.QueryRowContext(c.Request().Context(), userSelect+` WHERE a.id = $1 AND o.path >= $2 AND o.path < $3`, c.Param("id"), cl.lo, cl.hi)
	u, err := s.scanUser(row, cl)
	if errors.Is(err, sql.ErrNoRows) {
		// Outside the subtree and unknown look the same.
		return scimError(c, http.StatusNotFound, "", "no such user")
	}
	if err != nil {
		return fmt.Errorf("scim: get user: %w", err)
	}
	return writeJSON(c, http.StatusOK, u)
}

const groupSelect = `SELECT id, parent_id, name, level, region_code, kind, status, path, created_at, updated_at FROM orgs`

func (s *Server) scanGroup(row interface{ Scan(...any) error }, cl *caller) (*Group, error) {
	var (
		g                Group
		o                GroupOrg
		parent           sql.NullString
		status           string
		created, updated int64
	)
	if err := row.Scan(&g.ID, &parent, &g.DisplayName, &o.Level, &o.RegionCode, &o.Kind, &status, &o.Path, &created, &updated); err != nil {
		return nil, err
	}
	// The root of the client's subtree has a parent it cannot see; it is
	// still named, so the client can tell its root from an orphan.
	o.Parent = parent.String
	o.Active = status == "active"
	g.Schemas = []string{SchemaGroup, SchemaOrgGroup}
	g.Org = &o
	g.Meta = Meta{ResourceType: "Group", Created: timeString(time.Unix(created, 0)), LastModified: timeString(time.Unix(updated, 0)), Location: s.base + "/Groups/" + g.ID}
	return &g, nil
}

func (s *Server) listGroups(c echo.Context) error {
	q, typ, detail := parseQuery(c)
	if typ != "" {
		return badRequest(c, typ, detail)
	}
	cl := callerOf(c)
	ctx := c.Request().Context()
	where := ` WHERE path >= $1 AND path < $2 AND updated_at > $3`
	total, err := s.count(ctx, `SELECT COUNT(*) FROM orgs`+where, cl.lo, cl.hi, q.since)
	if err != nil {
		return fmt.Errorf("scim: count groups: %w", err)
	}
	out := ListResponse{Schemas: []string{SchemaListResponse}, TotalResults: total, StartIndex: q.startIndex, Resources: []any{}}
	if q.count > 0 {
		// Parents before children among equal times (depth), so a sync
		// that applies rows in order never sees a child before its parent.
		rows, err := s.DB.QueryContext(ctx, groupSelect+where+` ORDER BY updated_at, depth, id LIMIT $4 OFFSET $5`, cl.lo, cl.hi, q.since, q.count, q.startIndex-1)
		if err != nil {
			return fmt.Errorf("scim: list groups: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			g, err := s.scanGroup(rows, cl)
			if err != nil {
				return fmt.Errorf("scim: list groups: %w", err)
			}
			out.Resources = append(out.Resources, g)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("scim: list groups: %w", err)
		}
	}
	out.ItemsPerPage = len(out.Resources)
	return writeJSON(c, http.StatusOK, out)
}

func (s *Server) getGroup(c echo.Context) error {
	cl := callerOf(c)
	row := s.DB.QueryRowContext(c.Request().Context(), groupSelect+` WHERE id = $1 AND path >= $2 AND path < $3`, c.Param("id"), cl.lo, cl.hi)
	g, err := s.scanGroup(row, cl)
	if errors.Is(err, sql.ErrNoRows) {
		return scimError(c, http.StatusNotFound, "", "no such group")
	}
	if err != nil {
		return fmt.Errorf("scim: get group: %w", err)
	}
	return writeJSON(c, http.StatusOK, g)
}

func (s *Server) count(ctx context.Context, q string, args ...any) (int, error) {
	var n int
	err := s.DB.QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}
