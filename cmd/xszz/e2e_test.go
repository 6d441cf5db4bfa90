package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/org"
)

// TestRelyingParty drives the IdP with a relying party built on go-oidc and
// x/oauth2, as the office system and the cockpit will: discovery, SMS
// sign-in through the JSON API, code + PKCE, ID token, userinfo, refresh,
// introspection, revocation, client credentials and logout.
func TestRelyingParty(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)

		t.Run("sign-in with code and PKCE yields a verified ID token", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			p := sys.newAccount(t, func(a *account.Account) { a.Name = "张三" })
			tok, idt := c.signIn(sys.browser(t), p)
			if idt.Subject != p.ID || idt.Issuer != sys.url || !slices.Equal(idt.Audience, []string{c.id}) {
				t.Fatalf("ID token sub=%q iss=%q aud=%v, want %q %q [%s]", idt.Subject, idt.Issuer, idt.Audience, p.ID, sys.url, c.id)
			}
			var claims struct {
				Name          string `json:"name"`
				Phone         string `json:"phone_number"`
				PhoneVerified bool   `json:"phone_number_verified"`
				AuthTime      int64  `json:"auth_time"`
				SID           string `json:"sid"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if claims.Name != "张三" || claims.Phone != p.E164 || !claims.PhoneVerified || claims.AuthTime == 0 || claims.SID == "" {
				t.Fatalf("ID token claims %+v", claims)
			}
			if tok.RefreshToken == "" || tok.TokenType != "bearer" && tok.TokenType != "Bearer" {
				t.Fatalf("token response: type %q, refresh %q", tok.TokenType, tok.RefreshToken)
			}
		})

		t.Run("userinfo answers GET, POST with the header and POST with the form body", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			p := sys.newAccount(t, func(a *account.Account) { a.Name = "李四" })
			tok, _ := c.signIn(sys.browser(t), p)

			ui, err := c.provider.UserInfo(c.ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("go-oidc userinfo: %v", err)
			}
			if ui.Subject != p.ID {
				t.Fatalf("userinfo sub %q, want %q", ui.Subject, p.ID)
			}
			body := url.Values{"access_token": {tok.AccessToken}}.Encode()
			for name, r := range map[string]reply{
				"GET with header":  sys.userinfo(t, http.MethodGet, tok.AccessToken),
				"POST with header": sys.userinfo(t, http.MethodPost, tok.AccessToken),
				"POST with body": sys.browser(t).do(http.MethodPost, "/userinfo", strings.NewReader(body),
					map[string]string{"Content-Type": "application/x-www-form-urlencoded"}),
			} {
				if r.Status != http.StatusOK {
					t.Errorf("%s: %s", name, r)
					continue
				}
				m := r.json(t)
				if m["sub"] != p.ID || m["name"] != "李四" || m["phone_number"] != p.E164 {
					t.Errorf("%s: %v", name, m)
				}
			}
		})

		t.Run("refresh rotates, and a replayed refresh token revokes the family", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			tok1, _ := c.signIn(sys.browser(t), sys.newAccount(t))
			tok2, err := c.refresh(tok1.RefreshToken)
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if tok2.RefreshToken == "" || tok2.RefreshToken == tok1.RefreshToken || tok2.AccessToken == tok1.AccessToken {
				t.Fatalf("refresh did not rotate the tokens")
			}
			if raw, _ := tok2.Extra("id_token").(string); raw != "" {
				if _, err := c.verifier.Verify(c.ctx, raw); err != nil {
					t.Fatalf("refreshed ID token: %v", err)
				}
			}
			if !c.active(tok2.AccessToken) {
				t.Fatalf("the refreshed access token is not active")
			}
			if c.active(tok1.AccessToken) {
				t.Errorf("the access token issued with the rotated refresh token is still active")
			}

			_, err = c.refresh(tok1.RefreshToken)
			if got := oauthError(err); got != "invalid_grant" {
				t.Fatalf("replayed refresh token: %q, want invalid_grant", got)
			}
			_, err = c.refresh(tok2.RefreshToken)
			if got := oauthError(err); got != "invalid_grant" {
				t.Fatalf("after reuse, the newest refresh token: %q, want invalid_grant (family revoked)", got)
			}
			if c.active(tok2.AccessToken) {
				t.Errorf("after reuse, the newest access token is still active")
			}
		})

		t.Run("introspection shows org claims and turns inactive after revocation", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			p := sys.newAccount(t, func(a *account.Account) { a.OrgID = org.RootID })
			tok, _ := c.signIn(sys.browser(t), p)

			got := c.introspect(tok.AccessToken)
			if got["active"] != true || got["sub"] != p.ID || got["client_id"] != c.id {
				t.Fatalf("introspection: %v", got)
			}
			o, _ := got["org"].(map[string]any)
			if o["id"] != org.RootID {
				t.Fatalf("introspection org claim %v, want id %s", got["org"], org.RootID)
			}
			if !strings.Contains(" "+got["scope"].(string)+" ", " org ") {
				t.Errorf("introspection scope %q lacks org", got["scope"])
			}
			if !c.active(tok.RefreshToken) {
				t.Fatalf("refresh token not active")
			}

			r := sys.postAs(t, c.id, c.secret, "/oauth2/revoke", url.Values{"token": {tok.RefreshToken}})
			if r.Status != http.StatusOK {
				t.Fatalf("revoke: %s", r)
			}
			if c.active(tok.RefreshToken) || c.active(tok.AccessToken) {
				t.Fatalf("tokens still active after revoking the refresh token")
			}
			if _, err := c.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh after revocation: %v", err)
			}
			if r := sys.userinfo(t, http.MethodGet, tok.AccessToken); r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("userinfo with a revoked token: %s", r)
			}
		})

		t.Run("revoking an access token deactivates it", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			tok, _ := c.signIn(sys.browser(t), sys.newAccount(t))
			if r := sys.postAs(t, c.id, c.secret, "/oauth2/revoke", url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}); r.Status != http.StatusOK {
				t.Fatalf("revoke: %s", r)
			}
			if c.active(tok.AccessToken) {
				t.Fatalf("access token still active")
			}
		})

		t.Run("client credentials", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			cc := clientcredentials.Config{ClientID: c.id, ClientSecret: c.secret, TokenURL: c.oauth.Endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}
			tok, err := cc.Token(c.ctx)
			if err != nil {
				t.Fatalf("client_credentials: %v", err)
			}
			if tok.RefreshToken != "" || tok.Extra("id_token") != nil {
				t.Errorf("client_credentials issued a refresh or ID token")
			}
			h, claims := jwtParts(t, tok.AccessToken)
			if h["typ"] != "at+jwt" || claims["sub"] != c.id || claims["client_id"] != c.id {
				t.Errorf("client_credentials access token: %v %v", h, claims)
			}
			if got := c.introspect(tok.AccessToken); got["active"] != true || got["client_id"] != c.id {
				t.Errorf("introspection: %v", got)
			}
			cc.Scopes = []string{"openid"}
			if _, err := cc.Token(c.ctx); oauthError(err) != "invalid_scope" {
				t.Errorf("client_credentials with openid: %v, want invalid_scope", err)
			}
		})

		t.Run("a public client signs in with PKCE and no secret", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t, func(s *client.Spec) { s.Public = true })
			tok, _ := c.signIn(sys.browser(t), sys.newAccount(t))
			if _, err := c.refresh(tok.RefreshToken); err != nil {
				t.Fatalf("public client refresh: %v", err)
			}
		})

		t.Run("RP-initiated logout ends the session and the grants", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			b := sys.browser(t)
			tok, _ := c.signIn(b, sys.newAccount(t))
			hint := tok.Extra("id_token").(string)
			q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://rp.example.test/bye"}, "state": {"logout-state-1"}}
			r := b.get("/oauth2/logout?" + q.Encode())
			if r.Status != http.StatusSeeOther {
				t.Fatalf("logout: %s", r)
			}
			if loc := r.location(); loc.String() != "https://rp.example.test/bye?state=logout-state-1" {
				t.Fatalf("logout redirect %s", loc)
			}
			if _, err := c.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh after logout: %v, want invalid_grant", err)
			}
			if c.active(tok.AccessToken) {
				t.Errorf("access token active after logout")
			}
			a := c.authURL(oauth2.SetAuthURLParam("prompt", "none"))
			if e := callback(t, b.visit(a.url), callbackURL).Get("error"); e != "login_required" {
				t.Fatalf("prompt=none after logout: %q, want login_required", e)
			}
		})

		t.Run("a second client in the same browser signs in without a new SMS code (SSO)", func(t *testing.T) {
			t.Parallel()
			c1, c2 := sys.newRP(t), sys.newRP(t)
			b := sys.browser(t)
			p := sys.newAccount(t)
			_, id1 := c1.signIn(b, p)
			sent := sys.sms.count(p.E164)
			_, id2 := c2.signIn(b, person{}) // no person: a sign-in request fails the test
			if sys.sms.count(p.E164) != sent || id2.Subject != id1.Subject {
				t.Fatalf("SSO: sub %q vs %q, SMS sent %d→%d", id1.Subject, id2.Subject, sent, sys.sms.count(p.E164))
			}
			var a1, a2 struct {
				AuthTime int64  `json:"auth_time"`
				SID      string `json:"sid"`
			}
			_ = id1.Claims(&a1)
			_ = id2.Claims(&a2)
			if a1 != a2 {
				t.Errorf("SSO: auth_time/sid differ: %+v vs %+v", a1, a2)
			}
		})

		t.Run("prompt=none without a session answers login_required to the client", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			a := c.authURL(oauth2.SetAuthURLParam("prompt", "none"))
			q := callback(t, sys.browser(t).visit(a.url), callbackURL)
			if q.Get("error") != "login_required" || q.Get("state") != a.state || q.Get("iss") != sys.url {
				t.Fatalf("prompt=none: %v", q)
			}
		})

		t.Run("prompt=none with a session answers a code silently", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			b := sys.browser(t)
			p := sys.newAccount(t)
			c.signIn(b, p)
			a := c.authURL(oauth2.SetAuthURLParam("prompt", "none"))
			tok, err := c.exchange(c.code(b, a, person{}), a)
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if idt := c.verify(tok, a.nonce); idt.Subject != p.ID {
				t.Fatalf("sub %q", idt.Subject)
			}
		})

		t.Run("a request without a nonce succeeds", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			verifier := oauth2.GenerateVerifier()
			u := c.oauth.AuthCodeURL("state-without-nonce", oauth2.S256ChallengeOption(verifier))
			q := callback(t, sys.browser(t).authorize(u, sys.newAccount(t)), callbackURL)
			tok, err := c.oauth.Exchange(c.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if _, err := c.verifier.Verify(c.ctx, tok.Extra("id_token").(string)); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("consent page for a third-party client: allow, remembered; deny", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t, func(s *client.Spec) { s.Trusted = false })
			b := sys.browser(t)
			p := sys.newAccount(t)

			// Deny first.
			a := c.authURL()
			r := b.visit(a.url)
			page, flow := flowOf(r)
			if page != "/login" {
				t.Fatalf("want the login page, got %s", r)
			}
			r = b.visit(b.signIn(p, flow))
			page, flow = flowOf(r)
			if page != "/consent" {
				t.Fatalf("want the consent page, got %s", r)
			}
			cp := b.get("/consent?flow=" + url.QueryEscape(flow))
			if cp.Status != http.StatusOK || !strings.Contains(cp.Body, "测试应用") || !strings.Contains(cp.Body, "手机号") {
				t.Fatalf("consent page: %s", cp)
			}
			r = b.postForm("/consent", url.Values{"flow": {flow}, "decision": {"deny"}})
			q := callback(t, r, callbackURL)
			if q.Get("error") != "access_denied" || q.Get("state") != a.state || q.Get("iss") != sys.url {
				t.Fatalf("deny: %v", q)
			}

			// Allow, then the consent is remembered.
			c.signIn(b, person{})
			a = c.authURL()
			if _, flow := flowOf(b.visit(a.url)); flow != "" {
				t.Fatalf("consent was not remembered")
			}
		})
	})
}

// TestTimeRules covers what depends on the clock, on a system of its own:
// prompt=login and max_age force a new SMS sign-in and auth_time tells the
// client when it happened; a code older than its TTL (60 s) is refused.
func TestTimeRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		c := sys.newRP(t)
		b := sys.browser(t)
		p := sys.newAccount(t)
		_, first := c.signIn(b, p)
		t1 := authTime(t, first)

		sys.clock.Advance(2 * time.Second)
		a := c.authURL(oauth2.SetAuthURLParam("prompt", "login"))
		if page, _ := flowOf(b.visit(a.url)); page != "/login" {
			t.Fatalf("prompt=login did not ask for a sign-in")
		}
		tok, err := c.exchange(c.code(b, a, p), a)
		if err != nil {
			t.Fatal(err)
		}
		t2 := authTime(t, c.verify(tok, a.nonce))
		if t2 <= t1 {
			t.Fatalf("prompt=login: auth_time %d did not advance past %d", t2, t1)
		}

		sys.clock.Advance(3 * time.Second)
		a = c.authURL(oauth2.SetAuthURLParam("max_age", "1"))
		if page, _ := flowOf(b.visit(a.url)); page != "/login" {
			t.Fatalf("max_age=1 on a 3 s old session did not ask for a sign-in")
		}
		_, idt := c.signIn(b, person{}, oauth2.SetAuthURLParam("max_age", "10000"))
		if idt.Subject != p.ID || authTime(t, idt) != t2 {
			t.Fatalf("max_age=10000: sub %q auth_time %d, want %q %d", idt.Subject, authTime(t, idt), p.ID, t2)
		}

		i := c.newCode(t)
		sys.clock.Advance(61 * time.Second)
		wantOAuthError(t, c.tokenEndpoint(codeForm(i)), http.StatusBadRequest, "invalid_grant")
	})
}

func authTime(t *testing.T, idt *oidc.IDToken) int64 {
	t.Helper()
	var c struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idt.Claims(&c); err != nil || c.AuthTime == 0 {
		t.Fatalf("no auth_time in the ID token (%v)", err)
	}
	return c.AuthTime
}
