package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sqldb"
)

// conflictPage is how many open phone conflicts a page or an API answer
// shows; they are settled oldest first.
const conflictPage = 50

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

func (c *Console) conflictsPage(ec echo.Context) error {
	ctx := ec.Request().Context()
	cs, err := c.Admin.PhoneConflicts(ctx, actorOf(ec).actor, conflictPage)
	if err != nil {
		return c.fail(ec, err)
	}
	views, err := c.conflictViews(ctx, cs)
	if err != nil {
		return err
	}
	d := c.base(ec, "待处理的手机号冲突")
	d["Conflicts"] = views
	d["More"] = len(views) == conflictPage
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
	limit := conflictPage
	if l := ec.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			return badRequest(ec, "limit 应为 1–200 的整数")
		}
		limit = n
	}
	ctx := ec.Request().Context()
	cs, err := c.Admin.PhoneConflicts(ctx, actorOf(ec).actor, limit)
	if err != nil {
		return apiFail(ec, err)
	}
	views, err := c.conflictViews(ctx, cs)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, map[string]any{"items": views})
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
