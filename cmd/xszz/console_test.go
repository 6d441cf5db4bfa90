package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/testenv"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	ptotp "github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/backchannel"
	"github.com/xszz/xszz/idp/client"
)

// logoutReceiver is a relying party's back-channel logout endpoint: it
// hands every logout token it receives to the test.
type logoutReceiver struct {
	*httptest.Server
	tokens chan string
}

func newLogoutReceiver(t *testing.T) *logoutReceiver {
	t.Helper()
	r := &logoutReceiver{tokens: make(chan string, 16)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.ParseForm() != nil || req.PostForm.Get("logout_token") == "" {
			http.Error(w, "bad logout request", http.StatusBadRequest)
			return
		}
		r.tokens <- req.PostForm.Get("logout_token")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.Close)
	return r
}

// next waits, at most `within`, for the next logout token.
func (r *logoutReceiver) next(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case tok := <-r.tokens:
		return tok
	case <-time.After(within):
		t.Fatalf("no logout token within %s", within)
		return ""
	}
}

// adminAPI calls the admin API with a bearer token.
func (s *system) adminAPI(t *testing.T, token, method, path string, body any) reply {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.url+"/api/v1/admin"+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return send(t, http.DefaultClient, req)
}

// checkLogoutToken verifies a logout token as Back-Channel Logout 1.0 §2.6
// asks a relying party to: signature by a key of the IdP's JWKS, typ,
// iss, aud, iat, the event, sub, and no nonce.
func checkLogoutToken(t *testing.T, sys *system, raw, clientID, sub string) {
	t.Helper()
	ctx := context.Background()
	keys := oidc.NewRemoteKeySet(ctx, sys.url+"/.well-known/jwks.json")
	payload, err := keys.VerifySignature(ctx, raw)
	if err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	header, _ := jwtParts(t, raw)
	if header["typ"] != "logout+jwt" {
		t.Errorf("logout token typ %v, want logout+jwt", header["typ"])
	}
	var c struct {
		Iss    string                     `json:"iss"`
		Aud    any                        `json:"aud"`
		Sub    string                     `json:"sub"`
		Iat    int64                      `json:"iat"`
		Exp    int64                      `json:"exp"`
		Jti    string                     `json:"jti"`
		Nonce  *string                    `json:"nonce"`
		Events map[string]json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatalf("logout token claims: %v", err)
	}
	now := sys.clock.Now().Unix()
	aud := c.Aud
	if l, ok := aud.([]any); ok && len(l) == 1 {
		aud = l[0]
	}
	switch {
	case c.Iss != sys.url:
		t.Errorf("iss %q, want %q", c.Iss, sys.url)
	case aud != clientID:
		t.Errorf("aud %v, want %q", c.Aud, clientID)
	case c.Sub != sub:
		t.Errorf("sub %q, want %q", c.Sub, sub)
	case c.Iat < now-60 || c.Iat > now+5 || c.Exp <= now:
		t.Errorf("iat %d exp %d, now %d", c.Iat, c.Exp, now)
	case c.Jti == "":
		t.Errorf("no jti")
	case c.Nonce != nil:
		t.Errorf("a logout token must not carry a nonce")
	}
	if ev, ok := c.Events[backchannel.Event]; !ok || strings.TrimSpace(string(ev)) != "{}" {
		t.Errorf("events %v, want {%q: {}}", c.Events, backchannel.Event)
	}
}

func grantedScopes(tok *oauth2.Token) []string {
	s, _ := tok.Extra("scope").(string)
	return strings.Fields(s)
}

// An admin revokes an account's cockpit grant through the admin API while
// the cockpit holds live tokens: the access token introspects inactive at
// once, the refresh token is dead, the cockpit's back-channel endpoint gets
// a valid logout token within seconds, and the next sign-in carries no
// cockpit scope and no grants claim. Disabling the account does the same.
func TestRevocationReachesRelyingParties(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		recv := newLogoutReceiver(t)
		cockpit := sys.newRP(t, func(s *client.Spec) {
			s.Name = "数字驾驶舱"
			s.Scopes = []string{"openid", "profile", "org", "offline_access", "cockpit"}
			s.BackchannelLogoutURI = recv.URL + "/backchannel"
		})
		cockpit.oauth.Scopes = []string{oidc.ScopeOpenID, "org", oidc.ScopeOfflineAccess, "cockpit"}
		console := sys.newRP(t, func(s *client.Spec) {
			s.Name = "管理工具"
			s.Scopes = []string{"openid", "org", "admin"}
		})
		console.oauth.Scopes = []string{oidc.ScopeOpenID, "org", "admin"}

		boss := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role, a.Name = "320000", account.RoleAdmin, "江苏管理员" })
		user := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = "320000", "驾驶舱用户" })
		adminTok := console.signInAdmin(sys.browser(t), boss)
		if !slices.Contains(grantedScopes(adminTok), "admin") {
			t.Fatalf("the admin's token lacks the admin scope: %v", grantedScopes(adminTok))
		}
		at := adminTok.AccessToken
		if r := sys.adminAPI(t, at, http.MethodPut, "/accounts/"+user.ID+"/grants/cockpit", nil); r.Status != http.StatusOK {
			t.Fatalf("grant: %s", r)
		}

		b := sys.browser(t)
		tok, _ := cockpit.signIn(b, user)
		if !slices.Contains(grantedScopes(tok), "cockpit") {
			t.Fatalf("granted scopes %v lack cockpit", grantedScopes(tok))
		}
		if _, claims := jwtParts(t, tok.AccessToken); !slices.Equal(toStrings(claims["grants"]), []string{"cockpit"}) {
			t.Fatalf("access token grants %v, want [cockpit]", claims["grants"])
		}
		if !cockpit.active(tok.AccessToken) {
			t.Fatalf("fresh access token is inactive")
		}

		start := time.Now()
		if r := sys.adminAPI(t, at, http.MethodDelete, "/accounts/"+user.ID+"/grants/cockpit", nil); r.Status != http.StatusOK {
			t.Fatalf("revoke: %s", r)
		}
		if cockpit.active(tok.AccessToken) {
			t.Errorf("access token still active after the grant was revoked")
		}
		if _, err := cockpit.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("refresh after revocation: %v, want invalid_grant", err)
		}
		checkLogoutToken(t, sys, recv.next(t, 5*time.Second), cockpit.id, user.ID)
		t.Logf("revocation reached the back-channel receiver in %s", time.Since(start).Round(time.Millisecond))

		// The browser's session ended with the grant; signing in again
		// yields tokens without the cockpit.
		tok, _ = cockpit.signIn(b, user)
		if slices.Contains(grantedScopes(tok), "cockpit") {
			t.Errorf("granted scopes %v still hold cockpit", grantedScopes(tok))
		}
		if _, claims := jwtParts(t, tok.AccessToken); claims["grants"] != nil {
			t.Errorf("access token still carries grants %v", claims["grants"])
		}

		// Disabling the account through the API ends the new tokens too.
		if r := sys.adminAPI(t, at, http.MethodPost, "/accounts/"+user.ID+"/disable", nil); r.Status != http.StatusOK {
			t.Fatalf("disable: %s", r)
		}
		if cockpit.active(tok.AccessToken) {
			t.Errorf("access token of a disabled account is active")
		}
		if _, err := cockpit.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("refresh of a disabled account: %v, want invalid_grant", err)
		}
		checkLogoutToken(t, sys, recv.next(t, 5*time.Second), cockpit.id, user.ID)

		// And the admin API itself answers with the new state.
		r := sys.adminAPI(t, at, http.MethodGet, "/accounts/"+user.ID, nil)
		if m := r.json(t); r.Status != http.StatusOK || m["status"] != account.StatusDisabled {
			t.Errorf("account after disable: %s", r)
		}
		if r := sys.adminAPI(t, "forged", http.MethodGet, "/accounts/"+user.ID, nil); r.Status != http.StatusUnauthorized {
			t.Errorf("forged token: %s", r)
		}
	})
}

// signInAdmin signs an admin in (SMS, then enrolling the authenticator
// app the IdP demands of admins) and returns the tokens.
func (c *rp) signInAdmin(b *browser, p person) *oauth2.Token {
	c.t.Helper()
	a := c.authURL()
	var secret string
	q := callback(c.t, b.authorizeMFA(a.url, p, &secret), callbackURL)
	if q.Get("error") != "" {
		c.t.Fatalf("authorization failed: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	tok, err := c.exchange(q.Get("code"), a)
	if err != nil {
		c.t.Fatalf("exchange: %v", err)
	}
	c.verify(tok, a.nonce)
	return tok
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestConsoleInBrowser drives the console with headless Chromium: an admin
// signs in through the real login pages (SMS code, then binding the
// authenticator app the IdP demands of admins), opens an account in the
// console and grants it cockpit access with the button; the grant is then
// in the database and in the account's audit trail.
func TestConsoleInBrowser(t *testing.T) {
	browser := testenv.Browser(t)
	sys := startSystem(t, sqliteBackend)
	boss := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role, a.Name = "320000", account.RoleAdmin, "江苏管理员" })
	user := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = "320000", "驾驶舱用户" })
	ctx, cancel := context.WithTimeout(browser, 20*time.Second)
	defer cancel()

	// The SMS step: the code comes from the capturing sender.
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	for i, step := range []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(sys.url + "/login"),
		chromedp.WaitVisible(css(`#phone`)),
		chromedp.SendKeys(css(`#phone`), boss.Phone),
		chromedp.Click(css(`form[action="/login/send"] button`)),
		chromedp.WaitVisible(css(`#code`)),
	} {
		if err := chromedp.Do(ctx, step); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			body, _ := chromedp.Run(ctx, chromedp.Text(css(`body`)))
			t.Fatalf("SMS step %d: %v\nat %s:\n%s", i, err, loc, body)
		}
	}
	var err error
	code := sys.sms.last(boss.E164)
	if code == "" {
		t.Fatalf("no SMS code went to %s", boss.E164)
	}
	err = chromedp.Do(ctx,
		// The login page echoes the number masked in its hidden field
		// (idp/login.go); put the real one back as a person would retype it.
		chromedp.SetValue(css(`form[action="/login"] input[name="phone"]`), boss.Phone),
		chromedp.SendKeys(css(`#code`), code),
		chromedp.Submit(css(`#code`)),
		// Admins must bind an authenticator app before they get in.
		chromedp.WaitVisible(css(`img[alt="动态口令绑定二维码"]`)),
	)
	if err != nil {
		t.Fatalf("login step: %v", err)
	}
	secret, err := chromedp.Run(ctx, chromedp.Text(css(`code`)))
	if err != nil {
		t.Fatalf("read the authenticator secret: %v", err)
	}
	otpCode, err := ptotp.GenerateCode(strings.ReplaceAll(strings.TrimSpace(secret), " ", ""), sys.clock.Now())
	if err != nil {
		t.Fatalf("authenticator code from %q: %v", secret, err)
	}
	err = chromedp.Do(ctx,
		chromedp.SendKeys(css(`#code`), otpCode),
		chromedp.Submit(css(`#code`)),
		chromedp.WaitNotPresent(css(`#code`)),
		chromedp.Navigate(sys.url+"/admin/accounts/"+user.ID),
		chromedp.WaitVisible(css(`#grant-cockpit`)),
		chromedp.Click(css(`#grant-cockpit`)),
		chromedp.WaitVisible(css(`#revoke-cockpit`)),
	)
	if err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(css(`body`)))
		t.Fatalf("console step: %v\nat %s:\n%s", err, loc, body)
	}
	notice, err := chromedp.Run(ctx, chromedp.Text(css(`p.msg.ok`)))
	if err != nil || !strings.Contains(notice, "已授予数字驾驶舱访问权限") {
		t.Errorf("page after the grant says %q (%v)", notice, err)
	}
	got, err := sys.app.Grants.Grants(context.Background(), user.ID)
	if err != nil || !slices.Equal(got, []string{"cockpit"}) {
		t.Fatalf("grants in the database: %v, %v", got, err)
	}
	entries, err := sys.app.Audit.Search(context.Background(), audit.Query{SubjectID: user.ID, Type: "grant.added"})
	if err != nil || len(entries) != 1 || entries[0].ActorID != boss.ID || entries[0].IP == "" {
		t.Fatalf("audit trail of the grant: %+v, %v", entries, err)
	}
}
