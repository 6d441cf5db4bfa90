package main

// Issue 13, items 1–6: who may present which token where, how clients
// authenticate, PKCE for everyone, and repeated parameters.

import (
	"net/http"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
)

// A resource endpoint takes access tokens only: a refresh token, which
// lives 30 days and is meant for the token endpoint with the client's
// secret, opens neither the admin API nor userinfo.
func TestBearerEndpointsRefuseRefreshTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		console := sys.newRP(t, func(s *client.Spec) {
			s.Name = "管理工具"
			s.Scopes = []string{"openid", "org", "admin", "offline_access"}
		})
		console.oauth.Scopes = []string{oidc.ScopeOpenID, "org", "admin", oidc.ScopeOfflineAccess}
		boss := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role, a.Name = "320000", account.RoleAdmin, "江苏管理员" })
		tok := console.signInAdmin(sys.browser(t), boss)
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token issued")
		}
		if r := sys.adminAPI(t, tok.AccessToken, http.MethodGet, "/accounts/"+boss.ID, nil); r.Status != http.StatusOK {
			t.Fatalf("admin API with the access token: %s", r)
		}
		r := sys.adminAPI(t, tok.RefreshToken, http.MethodGet, "/accounts/"+boss.ID, nil)
		if r.Status != http.StatusUnauthorized || r.json(t)["error"] != "invalid_token" {
			t.Errorf("admin API with the refresh token: %s, want 401 invalid_token", r)
		}
		if r := sys.userinfo(t, http.MethodGet, tok.RefreshToken); r.Status != http.StatusUnauthorized {
			t.Errorf("userinfo with the refresh token: %s, want 401", r)
		}
	})
}
