package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	ptotp "github.com/pquerna/otp/totp"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/client"
)

// adminToolToken registers a trusted admin tool and signs p in there,
// returning the access token and the secret of the authenticator p bound
// on the way (admins must use one).
func (s *system) adminToolToken(t *testing.T, p person) (token, totpSecret string) {
	t.Helper()
	tool := s.newRP(t, func(sp *client.Spec) {
		sp.Name, sp.Trusted = "管理工具", true
		sp.Scopes = []string{"openid", "org", "admin"}
	})
	tool.oauth.Scopes = []string{oidc.ScopeOpenID, "org", "admin"}
	a := tool.authURL()
	q := callback(t, s.browser(t).authorizeMFA(a.url, p, &totpSecret), callbackURL)
	if q.Get("error") != "" {
		t.Fatalf("authorization failed: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	tok, err := tool.exchange(q.Get("code"), a)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if !slices.Contains(grantedScopes(tok), "admin") {
		t.Fatalf("the admin's token lacks the admin scope: %v", grantedScopes(tok))
	}
	return tok.AccessToken, totpSecret
}

// enrol binds an authenticator to p directly and returns its secret.
func (s *system) enrol(t *testing.T, p person) string {
	t.Helper()
	ctx := context.Background()
	e, err := s.app.TOTP.Begin(p.ID, "测试")
	if err != nil {
		t.Fatal(err)
	}
	code, _ := ptotp.GenerateCode(e.Secret, s.clock.Now())
	if _, err := s.app.TOTP.Confirm(ctx, p.ID, e.Token, code); err != nil {
		t.Fatal(err)
	}
	return e.Secret
}

// TestResetTOTPThroughAdminAPI: POST /accounts/{id}/totp/reset takes a
// fresh code from the admin's own authenticator, under the console's
// rules: only accounts the admin manages (not a peer admin of its unit,
// not itself, nothing outside its subtree), a wrong or spent code changes
// nothing, and a reset removes the authenticator, ends the person's
// sessions and tokens, is audited and is told by SMS.
func TestResetTOTPThroughAdminAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		ctx := context.Background()
		city, _, school := jiangsuTree(t, sys)
		boss := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role, a.Name = city, account.RoleAdmin, "南京管理员" })
		peer := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role, a.Name = city, account.RoleAdmin, "南京另一管理员" })
		teacher := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = school, "李老师" })
		outsider := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = "320000", "省里的人" })
		// The teacher is signed in at an application, whose tokens the
		// reset must end, and then bound an authenticator.
		rp := sys.newRP(t)
		ttok, _ := rp.signIn(sys.browser(t), teacher)
		sys.enrol(t, peer)
		sys.enrol(t, outsider)
		sys.enrol(t, teacher)
		at, secret := sys.adminToolToken(t, boss)

		fresh := func() string {
			sys.clock.Advance(30 * time.Second)
			return totpAt(t, secret, sys.clock.Now())
		}
		reset := func(id string, body any) reply {
			return sys.adminAPI(t, at, http.MethodPost, "/accounts/"+id+"/totp/reset", body)
		}
		refusals := []struct {
			name   string
			id     string
			body   any
			status int
			code   string
		}{
			{"a wrong code", teacher.ID, map[string]string{"code": "000000"}, http.StatusBadRequest, "invalid_request"},
			{"no code", teacher.ID, map[string]string{}, http.StatusBadRequest, "invalid_request"},
			{"a peer admin of the unit", peer.ID, map[string]string{"code": fresh()}, http.StatusForbidden, "forbidden"},
			{"oneself", boss.ID, map[string]string{"code": fresh()}, http.StatusForbidden, "forbidden"},
			{"an account above the subtree", outsider.ID, map[string]string{"code": fresh()}, http.StatusNotFound, "not_found"},
			{"an unknown account", "no-such-account", map[string]string{"code": fresh()}, http.StatusNotFound, "not_found"},
		}
		for _, c := range refusals {
			r := reset(c.id, c.body)
			if m := r.json(t); r.Status != c.status || m["error"] != c.code {
				t.Errorf("%s: %s, want %d %s", c.name, r, c.status, c.code)
			}
		}
		if r := sys.adminAPI(t, at, http.MethodPost, "/accounts/"+teacher.ID+"/totp/reset", nil); r.Status != http.StatusUnsupportedMediaType {
			t.Errorf("no JSON body: %s, want 415", r)
		}
		for _, p := range []person{peer, teacher, outsider} {
			if ok, _ := sys.app.TOTP.Enrolled(ctx, p.ID); !ok {
				t.Fatalf("a refused reset removed the authenticator of %s", p.ID)
			}
		}

		code := fresh()
		r := reset(teacher.ID, map[string]string{"code": code})
		if m := r.json(t); r.Status != http.StatusOK || m["id"] != teacher.ID || m["totp_enrolled"] == true {
			t.Fatalf("reset: %s", r)
		}
		if ok, _ := sys.app.TOTP.Enrolled(ctx, teacher.ID); ok {
			t.Errorf("the teacher's authenticator survived the reset")
		}
		if rp.active(ttok.AccessToken) {
			t.Errorf("the teacher's access token is active after the reset")
		}
		if _, err := rp.refresh(ttok.RefreshToken); oauthError(err) != "invalid_grant" {
			t.Errorf("refresh after the reset: %v, want invalid_grant", err)
		}
		if got := sys.sms.noticesTo(teacher.E164); !slices.Contains(got, "totp_reset") {
			t.Errorf("notices to the teacher: %v, want totp_reset", got)
		}
		entries, err := sys.app.Audit.Search(ctx, audit.Query{SubjectID: teacher.ID, Type: "totp.reset_by_admin"})
		if err != nil || len(entries) != 1 || entries[0].ActorID != boss.ID || !strings.HasSuffix(entries[0].OrgPath, "/"+school+"/") {
			t.Errorf("audit of the reset: %+v, %v", entries, err)
		}

		// The code is spent: the same one cannot reset anything again
		// (the peer's authenticator would otherwise be the next target).
		sys.enrol(t, teacher)
		if r := reset(teacher.ID, map[string]string{"code": code}); r.Status != http.StatusBadRequest {
			t.Errorf("a spent code: %s, want 400", r)
		}
		if ok, _ := sys.app.TOTP.Enrolled(ctx, teacher.ID); !ok {
			t.Errorf("a spent code reset the authenticator")
		}
	})
}
