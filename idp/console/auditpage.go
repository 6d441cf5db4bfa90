package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/audit"
)

// auditPage lists the audit trail of the admin's whole subtree, newest
// first: every event whose subject sits at or under the admin's unit
// (admins search their subtree's audit trail).
func (c *Console) auditPage(ec echo.Context) error {
	ctx := ec.Request().Context()
	s := actorOf(ec)
	if c.Audit == nil {
		return c.errorPage(ec, http.StatusNotFound, "审计日志未启用。")
	}
	o, err := c.Orgs.Get(ctx, s.actor.Account.OrgID)
	if err != nil {
		return err
	}
	typ := strings.TrimSpace(ec.QueryParam("type"))
	if len(typ) > 64 {
		return c.errorPage(ec, http.StatusBadRequest, "查询条件无效。")
	}
	var before int64
	if b := ec.QueryParam("before"); b != "" {
		if before, err = strconv.ParseInt(b, 10, 64); err != nil || before <= 0 {
			return c.errorPage(ec, http.StatusBadRequest, "查询条件无效。")
		}
	}
	entries, err := c.Audit.Search(ctx, audit.Query{
		OrgPathPrefix: "/" + strings.Join(o.Path, "/") + "/",
		Type:          typ, BeforeSeq: before, Limit: pageSize + 1,
	})
	if err != nil {
		return err
	}
	d := c.base(ec, "审计日志")
	d["Type"], d["Types"] = typ, audit.EventTypes()
	if len(entries) > pageSize {
		entries = entries[:pageSize]
		q := url.Values{"before": {strconv.FormatInt(entries[len(entries)-1].Seq, 10)}}
		if typ != "" {
			q.Set("type", typ)
		}
		d["Next"] = "/admin/audit?" + q.Encode()
	}
	d["Trail"] = c.trail(ec, entries)
	return c.render(ec, http.StatusOK, "audit.html", d)
}
