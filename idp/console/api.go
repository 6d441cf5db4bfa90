package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/grant"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
)

// maxJSON bounds an admin API request body.
const maxJSON = 4 << 10

// apiError answers in the shape of RFC 6749 §5.2 errors, which the rest of
// the IdP's JSON API uses too.
func apiError(ec echo.Context, status int, code, desc string) error {
	h := ec.Response().Header()
	h.Set("Cache-Control", "no-store")
	switch {
	case status == http.StatusUnauthorized && code == "":
		// RFC 6750 §3.1: no credentials, no error code.
		h.Set("WWW-Authenticate", `Bearer realm="xszz", scope="admin"`)
		code = "invalid_token"
	case status == http.StatusUnauthorized || code == "insufficient_scope":
		h.Set("WWW-Authenticate", `Bearer realm="xszz", scope="admin", error="`+code+`"`)
	}
	return ec.JSON(status, map[string]string{"error": code, "error_description": desc})
}

// requireToken admits requests bearing an access token with the admin
// scope, issued to a trusted client for an account that is an active
// admin now. The account is loaded fresh: a token minted before the
// account was disabled or demoted opens nothing.
func (c *Console) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		ctx := ec.Request().Context()
		scheme, tok, _ := strings.Cut(ec.Request().Header.Get("Authorization"), " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return apiError(ec, http.StatusUnauthorized, "", "缺少访问令牌（Authorization: Bearer）")
		}
		use, ar, err := c.Tokens.IntrospectToken(ctx, tok, fosite.AccessToken, c.NewSession(), "admin")
		if err == nil && use != fosite.AccessToken {
			// The token use is only a hint to fosite, which falls back to
			// refresh tokens; a refresh token is no bearer credential
			// (it would open the API for 30 days without the client's
			// secret).
			err = fosite.ErrRequestUnauthorized
		}
		if err != nil {
			rfc := fosite.ErrorToRFC6749Error(err)
			switch {
			case rfc.ErrorField == fosite.ErrInvalidScope.ErrorField:
				return apiError(ec, http.StatusForbidden, "insufficient_scope", "访问令牌不含 admin 权限范围")
			case rfc.CodeField >= 500:
				return err
			}
			return apiError(ec, http.StatusUnauthorized, "invalid_token", "访问令牌无效或已过期")
		}
		sub := ar.GetSession().GetSubject()
		if sub == "" || sub == ar.GetClient().GetID() {
			return apiError(ec, http.StatusUnauthorized, "invalid_token", "访问令牌不代表任何账号")
		}
		// The scope is only granted at trusted clients; a client that has
		// lost its trust since loses the API with it.
		if cl, ok := ar.GetClient().(*client.Client); ok && !cl.Trusted {
			return apiError(ec, http.StatusForbidden, "insufficient_scope", "该应用无权使用管理接口")
		}
		acc, err := c.Accounts.Get(ctx, sub)
		if errors.Is(err, sqldb.ErrNotFound) {
			return apiError(ec, http.StatusUnauthorized, "invalid_token", "账号不存在")
		}
		if err != nil {
			return err
		}
		if !acc.Active() {
			return apiError(ec, http.StatusUnauthorized, "invalid_token", "账号已停用")
		}
		if !isAdmin(acc) {
			return apiError(ec, http.StatusForbidden, "insufficient_scope", "只有单位管理员可以使用管理接口")
		}
		ec.Set(actorKey, signedIn{actor: admin.Actor{Account: acc, IP: ec.RealIP(), UserAgent: ec.Request().UserAgent()}})
		return next(ec)
	}
}

// apiFail maps refusals to 4xx; anything else is the IdP's 500.
func apiFail(ec echo.Context, err error) error {
	var ae *admin.Error
	switch {
	case errors.As(err, &ae):
		code := ae.Code
		if code == "invalid" {
			code = "invalid_request"
		}
		return apiError(ec, statusOf(ae), code, ae.Msg)
	case errors.Is(err, sqldb.ErrNotFound):
		return apiError(ec, http.StatusNotFound, "not_found", "单位或账号不存在，或不在您的管辖范围内")
	}
	return err
}

func badRequest(ec echo.Context, desc string) error {
	return apiError(ec, http.StatusBadRequest, "invalid_request", desc)
}

// bind reads a small JSON body, answering a bad one itself (415, 413 or
// 400 in the API's error format); callers check Committed.
func bind(ec echo.Context, v any) error {
	err := web.DecodeJSON(ec, v, web.JSONBody{Max: maxJSON})
	var we *web.Error
	if errors.As(err, &we) {
		return apiError(ec, we.Status, we.Code, we.Message)
	}
	return err
}

// orgJSON is a unit as the API shows it.
type orgJSON struct {
	ID         string   `json:"id"`
	ParentID   string   `json:"parent_id,omitempty"`
	Name       string   `json:"name"`
	Level      string   `json:"level"`
	RegionCode string   `json:"region_code,omitempty"`
	Kind       string   `json:"kind"`
	Stages     []string `json:"stages"`
	Lines      []string `json:"lines"`
	Status     string   `json:"status"`
	Path       []string `json:"path"`
	// Units counts the unit and every unit below it.
	Units int `json:"units"`
}

func (c *Console) orgView(ec echo.Context, o *org.Org) (orgJSON, error) {
	n, err := c.Orgs.CountSubtree(ec.Request().Context(), o.ID)
	if err != nil {
		return orgJSON{}, err
	}
	nz := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	return orgJSON{
		ID: o.ID, ParentID: o.ParentID, Name: o.Name, Level: o.Level, RegionCode: o.RegionCode, Kind: o.Kind,
		Stages: nz(o.Stages), Lines: nz(o.Lines), Status: o.Status, Path: o.Path, Units: n,
	}, nil
}

// managedOrg loads a unit the caller manages; others are "not found".
func (c *Console) managedOrg(ec echo.Context) (*org.Org, error) {
	id := ec.Param("id")
	if !validID(id) {
		return nil, &admin.Error{Code: "not_found", Msg: "单位不存在或不在您的管辖范围内"}
	}
	ctx := ec.Request().Context()
	ok, err := c.Admin.Manages(ctx, actorOf(ec).actor, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &admin.Error{Code: "not_found", Msg: "单位不存在或不在您的管辖范围内"}
	}
	return c.Orgs.Get(ctx, id)
}

func (c *Console) apiOrg(ec echo.Context) error {
	o, err := c.managedOrg(ec)
	if err != nil {
		return apiFail(ec, err)
	}
	v, err := c.orgView(ec, o)
	if err != nil {
		return err
	}
	return ec.JSON(http.StatusOK, v)
}

func (c *Console) apiChildren(ec echo.Context) error {
	o, err := c.managedOrg(ec)
	if err != nil {
		return apiFail(ec, err)
	}
	kids, err := c.Orgs.Children(ec.Request().Context(), o.ID)
	if err != nil {
		return apiFail(ec, err)
	}
	items := make([]orgJSON, 0, len(kids))
	for i := range kids {
		v, err := c.orgView(ec, &kids[i])
		if err != nil {
			return err
		}
		items = append(items, v)
	}
	return ec.JSON(http.StatusOK, map[string]any{"items": items})
}

// accountJSON makes grants an empty list rather than null.
func accountJSON(v *admin.AccountView) *admin.AccountView {
	if v.Grants == nil {
		v.Grants = []string{}
	}
	return v
}

func (c *Console) apiSearch(ec echo.Context) error {
	q := admin.Query{
		Under: ec.QueryParam("under"), Text: strings.TrimSpace(ec.QueryParam("q")),
		Status: ec.QueryParam("status"), After: ec.QueryParam("after"), Limit: pageSize,
	}
	switch q.Status {
	case "", account.StatusPending, account.StatusActive, account.StatusDisabled:
	default:
		return badRequest(ec, "status 只能是 pending、active 或 disabled")
	}
	if l := ec.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			return badRequest(ec, "limit 应为 1–200 的整数")
		}
		q.Limit = n
	}
	if q.Under != "" && !validID(q.Under) || len(q.Text) > 100 || len(q.After) > 64 {
		return badRequest(ec, "查询条件无效")
	}
	items, err := c.Admin.Search(ec.Request().Context(), actorOf(ec).actor, q)
	if err != nil {
		return apiFail(ec, err)
	}
	out := map[string]any{"items": []admin.AccountView{}}
	if len(items) > 0 {
		for i := range items {
			accountJSON(&items[i])
		}
		out["items"] = items
	}
	if len(items) == q.Limit {
		out["next_after"] = items[len(items)-1].ID
	}
	return ec.JSON(http.StatusOK, out)
}

// accountID checks the :id parameter.
func accountID(ec echo.Context) (string, error) {
	id := ec.Param("id")
	if !validID(id) {
		return "", &admin.Error{Code: "not_found", Msg: "账号不存在或不在您的管辖范围内"}
	}
	return id, nil
}

// answerAccount replies with the account as it is after a change.
func (c *Console) answerAccount(ec echo.Context, status int, id string) error {
	v, err := c.Admin.Get(ec.Request().Context(), actorOf(ec).actor, id)
	if err != nil {
		return apiFail(ec, err)
	}
	return ec.JSON(status, accountJSON(v))
}

func (c *Console) apiAccount(ec echo.Context) error {
	id, err := accountID(ec)
	if err != nil {
		return apiFail(ec, err)
	}
	return c.answerAccount(ec, http.StatusOK, id)
}

type provisionRequest struct {
	Phone string `json:"phone"`
	Name  string `json:"name"`
	OrgID string `json:"org_id"`
	Role  string `json:"role"`
}

func (c *Console) apiProvision(ec echo.Context) error {
	var req provisionRequest
	if err := bind(ec, &req); err != nil || ec.Response().Committed {
		return err
	}
	if req.Role == "" {
		req.Role = account.RoleStaff
	}
	if !validID(req.OrgID) {
		return badRequest(ec, "org_id 无效")
	}
	acc, err := c.Admin.Provision(ec.Request().Context(), actorOf(ec).actor, req.Phone, req.Name, req.OrgID, req.Role)
	if err != nil {
		return apiFail(ec, err)
	}
	ec.Response().Header().Set("Location", "/api/v1/admin/accounts/"+acc.ID)
	return c.answerAccount(ec, http.StatusCreated, acc.ID)
}

func (c *Console) apiAction(ec echo.Context) error {
	id, err := accountID(ec)
	if err != nil {
		return apiFail(ec, err)
	}
	ctx, a := ec.Request().Context(), actorOf(ec).actor
	switch ec.Param("action") {
	case "approve":
		_, err = c.Admin.Approve(ctx, a, id)
	case "reject":
		_, err = c.Admin.Reject(ctx, a, id)
	case "disable":
		_, err = c.Admin.Disable(ctx, a, id)
	case "enable":
		_, err = c.Admin.Enable(ctx, a, id)
	default:
		return apiError(ec, http.StatusNotFound, "not_found", "未知的操作")
	}
	if err != nil {
		return apiFail(ec, err)
	}
	return c.answerAccount(ec, http.StatusOK, id)
}

// apiResetTOTP removes another account's authenticator. A bearer token
// alone is not enough: like the console's form, the request carries a
// fresh code from the admin's own authenticator (spent once), so a leaked
// token cannot strip someone's second factor.
func (c *Console) apiResetTOTP(ec echo.Context) error {
	id, err := accountID(ec)
	if err != nil {
		return apiFail(ec, err)
	}
	var req struct {
		Code string `json:"code"`
	}
	if err := bind(ec, &req); err != nil || ec.Response().Committed {
		return err
	}
	if len(req.Code) > 16 {
		return badRequest(ec, "code 应为 6 位动态口令")
	}
	if err := c.Admin.ResetTOTP(ec.Request().Context(), actorOf(ec).actor, id, req.Code); err != nil {
		return apiFail(ec, err)
	}
	return c.answerAccount(ec, http.StatusOK, id)
}

func (c *Console) apiSetRole(ec echo.Context) error {
	id, err := accountID(ec)
	if err != nil {
		return apiFail(ec, err)
	}
	var req struct {
		Role string `json:"role"`
	}
	if err := bind(ec, &req); err != nil || ec.Response().Committed {
		return err
	}
	if _, err := c.Admin.SetRole(ec.Request().Context(), actorOf(ec).actor, id, req.Role); err != nil {
		return apiFail(ec, err)
	}
	return c.answerAccount(ec, http.StatusOK, id)
}

func (c *Console) apiMove(ec echo.Context) error {
	id, err := accountID(ec)
	if err != nil {
		return apiFail(ec, err)
	}
	var req struct {
		OrgID string `json:"org_id"`
	}
	if err := bind(ec, &req); err != nil || ec.Response().Committed {
		return err
	}
	if !validID(req.OrgID) {
		return badRequest(ec, "org_id 无效")
	}
	if _, err := c.Admin.Move(ec.Request().Context(), actorOf(ec).actor, id, req.OrgID); err != nil {
		return apiFail(ec, err)
	}
	return c.answerAccount(ec, http.StatusOK, id)
}

func (c *Console) apiGrant(ec echo.Context) error {
	return c.changeGrant(ec, c.Admin.Grant)
}

func (c *Console) apiRevoke(ec echo.Context) error {
	return c.changeGrant(ec, c.Admin.Revoke)
}

func (c *Console) changeGrant(ec echo.Context, op func(context.Context, admin.Actor, string, string) error) error {
	id, err := accountID(ec)
	if err != nil {
		return apiFail(ec, err)
	}
	app := ec.Param("app")
	if !contains(grant.Apps, app) {
		return badRequest(ec, "未知的应用授权："+app)
	}
	if err := op(ec.Request().Context(), actorOf(ec).actor, id, app); err != nil {
		return apiFail(ec, err)
	}
	return c.answerAccount(ec, http.StatusOK, id)
}

func (c *Console) apiAudit(ec echo.Context) error {
	id, err := accountID(ec)
	if err != nil {
		return apiFail(ec, err)
	}
	ctx := ec.Request().Context()
	// The account must be in the caller's subtree before its trail is.
	if _, err := c.Admin.Get(ctx, actorOf(ec).actor, id); err != nil {
		return apiFail(ec, err)
	}
	q := audit.Query{SubjectID: id, Limit: audit.DefaultLimit}
	if l := ec.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			return badRequest(ec, "limit 应为 1–200 的整数")
		}
		q.Limit = n
	}
	if b := ec.QueryParam("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			return badRequest(ec, "before 应为正整数")
		}
		q.BeforeSeq = n
	}
	out := map[string]any{"items": []audit.Entry{}}
	if c.Audit != nil {
		entries, err := c.Audit.Search(ctx, q)
		if err != nil {
			return err
		}
		if len(entries) > 0 {
			out["items"] = entries
		}
		if len(entries) == q.Limit {
			out["next_before"] = entries[len(entries)-1].Seq
		}
	}
	return ec.JSON(http.StatusOK, out)
}
