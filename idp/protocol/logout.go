package protocol

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/internal/web"
)

// logout is OpenID Connect RP-Initiated Logout 1.0. A valid id_token_hint
// for the signed-in person logs out at once; otherwise the person confirms
// on a page, so a foreign page cannot sign anyone out. A redirect happens
// only to a post_logout_redirect_uri registered for the client.
func (s *Protocol) logout(c echo.Context) error {
	ctx := c.Request().Context()
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "退出请求格式错误", Cause: err}
	}
	hint, clientID := r.Form.Get("id_token_hint"), r.Form.Get("client_id")
	redirect, state := r.Form.Get("post_logout_redirect_uri"), r.Form.Get("state")

	var hintSub string
	if hint != "" {
		claims, header, err := s.Provider.Signer.Verify(ctx, hint)
		if err != nil && !errors.Is(err, oauth.ErrExpired) {
			return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "退出请求无效（id_token_hint 无法验证）", Cause: err}
		}
		// Only an ID token is a hint: an access token in a resource
		// server's hands must not sign its holder out.
		if typ, _ := header["typ"].(string); typ != "" && !strings.EqualFold(typ, "JWT") {
			return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "退出请求无效（id_token_hint 不是 ID 令牌）"}
		}
		if iss, _ := claims["iss"].(string); iss != s.Issuer {
			return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "退出请求无效（id_token_hint 非本系统签发）"}
		}
		hintSub, _ = claims["sub"].(string)
		aud := audienceOf(claims["aud"])
		if clientID == "" && len(aud) == 1 {
			clientID = aud[0]
		}
		if clientID != "" && !slices.Contains(aud, clientID) {
			return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "退出请求无效（client_id 与 id_token_hint 不符）"}
		}
	}
	var cl *client.Client
	if redirect != "" {
		if clientID == "" {
			return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "退出后跳转地址需要 client_id 或 id_token_hint"}
		}
		var err error
		cl, err = s.Clients.Get(ctx, clientID)
		if err != nil {
			return &web.Error{Status: http.StatusBadRequest, Code: "invalid_client", Message: "未知的应用（client_id 无效）", Cause: err}
		}
		if !cl.AllowsPostLogoutRedirect(redirect) {
			return &web.Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "退出后跳转地址未在该应用登记，已拒绝跳转"}
		}
	}

	if cl != nil {
		// The confirmation form leads to the registered post-logout URI;
		// the browser checks that redirect against form-action.
		web.AllowFormAction(c, web.Origin(redirect))
	}
	sso, _ := s.Browser.Current(c)
	confirmed := r.Method == http.MethodPost && r.Form.Get("confirm") != "" && s.checkConfirm(c, r.Form.Get("confirm"))
	if sso != nil && !confirmed && (hintSub == "" || hintSub != sso.AccountID) {
		return idpweb.Render(c, http.StatusOK, "logout.html", map[string]any{
			"Title": "退出登录", "Confirm": s.confirmToken(c), "ClientID": clientID, "Redirect": redirect, "State": state,
		})
	}
	if _, err := s.SignOut.SignOut(c); err != nil {
		return web.Internal(err)
	}
	if cl != nil {
		u, _ := url.Parse(redirect)
		if state != "" {
			q := u.Query()
			q.Set("state", state)
			u.RawQuery = q.Encode()
		}
		return c.Redirect(http.StatusSeeOther, u.String())
	}
	links := []idpweb.Link{{Href: "/login", Text: "重新登录", Primary: true}}
	// An application that asked for the logout is named, with a way back
	// to the page it registered for after logout.
	if clientID != "" {
		if back, err := s.Clients.Get(ctx, clientID); err == nil && len(back.PostLogoutRedirectURIs) > 0 {
			links = append(links, idpweb.Link{Href: back.PostLogoutRedirectURIs[0], Text: "返回「" + back.Name + "」"})
		}
	}
	return idpweb.Render(c, http.StatusOK, "done.html", map[string]any{"Title": "已退出登录", "Message": "您已安全退出全国学生资助统一身份认证。", "Links": links})
}

// confirmToken binds the logout confirmation to the session cookie, so only
// the page the IdP served can confirm.
func (s *Protocol) confirmToken(c echo.Context) string {
	ck, err := c.Cookie(s.Cookie.Name)
	if err != nil {
		return ""
	}
	return s.Flows.LogoutMAC(ck.Value)
}

func (s *Protocol) checkConfirm(c echo.Context, got string) bool {
	want := s.confirmToken(c)
	return want != "" && got == want
}

func audienceOf(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
