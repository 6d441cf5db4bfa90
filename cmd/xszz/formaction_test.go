package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/internal/testenv"
)

// formAction returns the form-action sources of a response's CSP.
func formAction(t *testing.T, r reply) []string {
	t.Helper()
	for _, d := range strings.Split(r.Header.Get("Content-Security-Policy"), ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "form-action" {
			return f[1:]
		}
	}
	t.Fatalf("no form-action in %q", r.Header.Get("Content-Security-Policy"))
	return nil
}

// The IdP's forms post to the IdP; a page whose form leads on to a relying
// party (Chromium checks form-action on the redirects after a submission)
// names that party's registered redirect origin, and no other.
func TestFormActionFollowsTheFlow(t *testing.T) {
	const rpOrigin = "https://rp.example.test"
	onlySelf := []string{"'self'"}
	withRP := []string{"'self'", rpOrigin}
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		c := sys.newRP(t, func(s *client.Spec) { s.Trusted = false })
		b := sys.browser(t)
		p := sys.newAccount(t)

		if got := formAction(t, b.get("/login")); !slices.Equal(got, onlySelf) {
			t.Errorf("login page without a flow: form-action %v, want %v", got, onlySelf)
		}
		if got := formAction(t, b.get("/login?flow=forged")); !slices.Equal(got, onlySelf) {
			t.Errorf("login page with a forged flow: form-action %v, want %v", got, onlySelf)
		}
		r := b.visit(c.authURL().url)
		page, flow := flowOf(r)
		if page != "/login" {
			t.Fatalf("want the login page: %s", r)
		}
		login := b.get("/login?flow=" + url.QueryEscape(flow))
		if got := formAction(t, login); !slices.Equal(got, withRP) {
			t.Errorf("login page of the flow: form-action %v, want %v", got, withRP)
		}
		if r := b.postForm("/login", url.Values{"flow": {flow}, "phone": {p.Phone}, "code": {"000000"}}); !slices.Equal(formAction(t, r), withRP) {
			t.Errorf("login page re-rendered after a wrong code: form-action %v, want %v", formAction(t, r), withRP)
		}
		r = b.visit(b.signIn(p, flow))
		page, flow = flowOf(r)
		if page != "/consent" {
			t.Fatalf("want the consent page: %s", r)
		}
		if got := formAction(t, b.get("/consent?flow="+url.QueryEscape(flow))); !slices.Equal(got, withRP) {
			t.Errorf("consent page: form-action %v, want %v", got, withRP)
		}
		if got := formAction(t, b.get("/account")); !slices.Equal(got, onlySelf) {
			t.Errorf("account centre: form-action %v, want %v", got, onlySelf)
		}
		bye := b.get("/oauth2/logout?" + url.Values{"client_id": {c.id}, "post_logout_redirect_uri": {rpOrigin + "/bye"}}.Encode())
		if bye.Status != http.StatusOK || !slices.Equal(formAction(t, bye), withRP) {
			t.Errorf("logout confirmation: %d, form-action %v, want %v", bye.Status, formAction(t, bye), withRP)
		}

		t.Run("the second-factor page of a flow", func(t *testing.T) {
			boss := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Role = "320000", account.RoleAdmin })
			b := sys.browser(t)
			_, flow := flowOf(b.visit(c.authURL().url))
			if m := b.smsLogin(boss, flow); m["mfa_required"] != true {
				t.Fatalf("no second factor asked: %v", m)
			}
			if got := formAction(t, b.get("/login/totp/enrol")); !slices.Equal(got, withRP) {
				t.Errorf("second-factor enrolment page: form-action %v, want %v", got, withRP)
			}
		})
	})
}

// TestConsentInBrowser signs a person in to a relying party that asks for
// consent, through the IdP's login and consent pages in Chromium: both
// forms end in a redirect to the relying party's callback, which the
// browser allows only because those pages' form-action names its origin
// (the IdP's default is 'self').
func TestConsentInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(testenv.Browser(t), 30*time.Second)
	defer cancel()
	sys := startSystem(t, sqliteBackend)
	person := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = "320000", "门户用户" })
	base, _ := startPortal(t, sys, func(s *client.Spec) { s.Trusted = false })
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for _, a := range actions {
			if err := chromedp.Do(ctx, a); err != nil {
				loc, _ := chromedp.Run(ctx, chromedp.Location())
				body, _ := chromedp.Run(ctx, chromedp.Text(css(`body`)))
				t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
			}
		}
	}
	run("open the portal and start sign-in",
		chromedp.Navigate(base+"/"),
		chromedp.Click(css(`#login`)),
		chromedp.WaitVisible(css(`#phone`)),
		chromedp.SendKeys(css(`#phone`), person.Phone),
		chromedp.Click(css(`form[action="/login/send"] button`)),
		chromedp.WaitVisible(css(`#code`)),
	)
	run("sign in with the code",
		chromedp.SetValue(css(`form[action="/login"] input[name="phone"]`), person.Phone),
		chromedp.SendKeys(css(`#code`), sys.sms.last(person.E164)),
		chromedp.Submit(css(`#code`)),
		chromedp.WaitVisible(css(`form[action="/consent"]`)),
	)
	run("consent", chromedp.Click(css(`button[value="allow"]`)), chromedp.WaitVisible(css(`#who`)))
	who, err := chromedp.Run(ctx, chromedp.Text(css(`#who`)))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if err != nil || who != "门户用户" || loc != base+"/" {
		t.Fatalf("after consent: %q %v at %s", who, err, loc)
	}
}
