package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sqldb"
)

// conflictHolder is the account holding a number someone else asked for.
type conflictHolder struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Role    string `json:"role"`
	OrgID   string `json:"org_id,omitempty"`
	OrgName string `json:"org_name,omitempty"`
}

// conflictView is a phone conflict with the names the admin needs to
// decide it. The service lists only conflicts whose resolving unit lies in
// the admin's subtree, so both sides are the admin's to see.
type conflictView struct {
	ID     string `json:"id"`
	Source string `json:"source"`
	// Phone is the number asked for (the holder's), masked.
	Phone string `json:"phone"`
	// Name, OrgID and Role are what was asked for: who, in which unit.
	Name    string `json:"name"`
	OrgID   string `json:"org_id"`
	OrgName string `json:"org_name,omitempty"`
	Role    string `json:"role"`
	// RequestedBy is the provisioning admin ("cli" for the command line;
	// empty for a registration).
	RequestedBy     string         `json:"requested_by,omitempty"`
	RequestedByName string         `json:"requested_by_name,omitempty"`
	ResolveOrgID    string         `json:"resolve_org_id"`
	ResolveOrgName  string         `json:"resolve_org_name,omitempty"`
	CreatedAt       time.Time      `json:"created_at"`
	Holder          conflictHolder `json:"holder"`
}

func (c *Console) conflictViews(ctx context.Context, cs []admin.PhoneConflict) ([]conflictView, error) {
	orgNames := map[string]string{}
	orgName := func(id string) string {
		if id == "" {
			return ""
		}
		if n, ok := orgNames[id]; ok {
			return n
		}
		n := id
		if o, err := c.Orgs.Get(ctx, id); err == nil {
			n = o.Name
		}
		orgNames[id] = n
		return n
	}
	out := make([]conflictView, 0, len(cs))
	for _, pc := range cs {
		v := conflictView{
			ID: pc.ID, Source: pc.Source, Name: pc.Name, OrgID: pc.OrgID, OrgName: orgName(pc.OrgID), Role: pc.Role,
			RequestedBy: pc.RequestedBy, ResolveOrgID: pc.ResolveOrgID, ResolveOrgName: orgName(pc.ResolveOrgID), CreatedAt: pc.CreatedAt,
			Phone: "***********", Holder: conflictHolder{ID: pc.AccountID},
		}
		switch pc.RequestedBy {
		case "":
		case "cli":
			v.RequestedByName = "系统（命令行）"
		default:
			if a, err := c.Accounts.Get(ctx, pc.RequestedBy); err == nil {
				v.RequestedByName = a.Name
			}
		}
		h, err := c.Accounts.Get(ctx, pc.AccountID)
		switch {
		case err == nil:
			v.Phone = phone.Mask(h.Phone)
			v.Holder = conflictHolder{ID: h.ID, Name: h.Name, Status: h.Status, Role: h.Role, OrgID: h.OrgID, OrgName: orgName(h.OrgID)}
		case !errors.Is(err, sqldb.ErrNotFound):
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// conflictBadge counts the open conflicts for the navigation; a failure
// only hides the badge.
func (c *Console) conflictBadge(ctx context.Context, a admin.Actor) int {
	n, err := c.Admin.PhoneConflictCount(ctx, a)
	if err != nil {
		c.Log.WarnContext(ctx, "count phone conflicts", "err", err)
		return 0
	}
	return n
}

// conflictsAfter reads the cursor of a queue page (none: the first),
// which must be one given to this admin.
func (c *Console) conflictsAfter(ec echo.Context, a admin.Actor) (*admin.ConflictPosition, error) {
	raw := ec.QueryParam("cursor")
	if raw == "" {
		return nil, nil
	}
	var pos admin.ConflictPosition
	if err := c.conflictCursors.Decode(raw, &pos, conflictScope(a)...); err != nil {
		return nil, err
	}
	return &pos, nil
}

// conflictScope binds a cursor to the admin and their unit (an admin
// moved elsewhere starts again).
func conflictScope(a admin.Actor) []string {
	if a.Account == nil {
		return []string{a.ID()}
	}
	return []string{a.Account.ID, a.Account.OrgID}
}

func (c *Console) conflictsPage(ec echo.Context) error {
	ctx := ec.Request().Context()
	a := actorOf(ec).actor
	after, err := c.conflictsAfter(ec, a)
	if err != nil {
		return c.errorPage(ec, http.StatusBadRequest, "翻页链接无效，请从第一页重新查看。")
	}
	cs, next, err := c.Admin.PhoneConflicts(ctx, a, after, admin.DefaultConflictPage)
	if err != nil {
		return c.fail(ec, err)
	}
	views, err := c.conflictViews(ctx, cs)
	if err != nil {
		return err
	}
	d := c.base(ec, "待处理的手机号冲突")
	d["Conflicts"] = views
	d["Paged"] = after != nil
	if next != nil {
		cur, err := c.conflictCursors.Encode(next, conflictScope(a)...)
		if err != nil {
			return err
		}
		d["Next"] = "/admin/conflicts?" + url.Values{"cursor": {cur}}.Encode()
	}
	return c.render(ec, http.StatusOK, "conflicts.html", d)
}

func (c *Console) resolveConflictForm(ec echo.Context) error {
	id := ec.Param("id")
	if !validID(id) {
		return c.errorPage(ec, http.StatusNotFound, "该核实事项不存在或不在您的管辖范围内。")
	}
	err := c.Admin.ResolvePhoneConflict(ec.Request().Context(), actorOf(ec).actor, id, ec.Request().PostForm.Get("outcome"))
	if err != nil {
		return c.fail(ec, err)
	}
	return ec.Redirect(http.StatusSeeOther, "/admin/conflicts?ok=conflict_resolved")
}

func (c *Console) apiConflicts(ec echo.Context) error {
	limit := admin.DefaultConflictPage
	if l := ec.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > admin.MaxConflictPage {
			return badRequest(ec, fmt.Sprintf("limit 应为 1–%d 的整数", admin.MaxConflictPage))
		}
		limit = n
	}
	ctx, a := ec.Request().Context(), actorOf(ec).actor
	after, err := c.conflictsAfter(ec, a)
	if err != nil {
		return badRequest(ec, "cursor 无效，请从第一页重新查询")
	}
	cs, next, err := c.Admin.PhoneConflicts(ctx, a, after, limit)
	if err != nil {
		return apiFail(ec, err)
	}
	views, err := c.conflictViews(ctx, cs)
	if err != nil {
		return err
	}
	out := map[string]any{"items": views}
	if next != nil {
		if out["next_cursor"], err = c.conflictCursors.Encode(next, conflictScope(a)...); err != nil {
			return err
		}
	}
	return ec.JSON(http.StatusOK, out)
}

func (c *Console) apiResolveConflict(ec echo.Context) error {
	id := ec.Param("id")
	if !validID(id) {
		return apiError(ec, http.StatusNotFound, "not_found", "该核实事项不存在或不在您的管辖范围内")
	}
	var req struct {
		Outcome string `json:"outcome"`
	}
	if err := bind(ec, &req); err != nil || ec.Response().Committed {
		return err
	}
	if err := c.Admin.ResolvePhoneConflict(ec.Request().Context(), actorOf(ec).actor, id, req.Outcome); err != nil {
		return apiFail(ec, err)
	}
	return ec.NoContent(http.StatusNoContent)
}
