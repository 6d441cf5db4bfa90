package main

import (
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// prompt=login asks for a new sign-in even when the browser's session began
// in the same second as the request (sign-in times have one-second
// resolution), and the session the request found cannot answer it when it
// comes back from the login page.
func TestPromptLoginWithinTheSameSecond(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		c := sys.newRP(t)
		b := sys.browser(t)
		p := sys.newAccount(t)
		c.signIn(b, p)

		a := c.authURL(oauth2.SetAuthURLParam("prompt", "login"))
		page, flow := flowOf(b.visit(a.url))
		if page != "/login" {
			t.Fatalf("prompt=login right after a sign-in went to %q, want the login page", page)
		}
		if page, _ := flowOf(b.visit("/oauth2/auth/resume?flow=" + url.QueryEscape(flow))); page != "/login" {
			t.Fatalf("the old session answered a prompt=login request (went to %q)", page)
		}
		next := b.signIn(p, flow)
		q := callback(t, b.visit(next), callbackURL)
		if q.Get("code") == "" || q.Get("state") != a.state {
			t.Fatalf("a fresh sign-in did not complete the request: %v", q)
		}
	})
}
