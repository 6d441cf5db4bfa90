package main

import (
	"net/http"
	"net/url"
	"testing"
)

// An access token is no id_token_hint: a resource server holding one must
// not be able to sign its holder out, at the logout endpoint or through
// the authorization endpoint.
func TestAccessTokenIsNoIDTokenHint(t *testing.T) {
	sys := startSystem(t, sqliteBackend)
	c := sys.newRP(t)
	b := sys.browser(t)
	p := sys.newAccount(t)
	tok, _ := c.signIn(b, p)

	r := b.get("/oauth2/logout?" + url.Values{
		"id_token_hint": {tok.AccessToken}, "post_logout_redirect_uri": {"https://rp.example.test/bye"}, "client_id": {c.id},
	}.Encode())
	if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
		t.Fatalf("logout with an access token as hint: %s", r)
	}
	if r := b.get("/api/v1/session"); r.json(t)["authenticated"] != true {
		t.Fatal("the browser was signed out by an access token")
	}
	a := c.authURL()
	q := callback(t, b.visit(a.url+"&"+url.Values{"id_token_hint": {tok.AccessToken}}.Encode()), callbackURL)
	if q.Get("code") != "" || q.Get("error") == "" {
		t.Fatalf("authorize with an access token as hint: %v", q)
	}
}

// Every API answer is no-store, the successful ones included.
func TestAPIAnswersAreNotCached(t *testing.T) {
	sys := startSystem(t, sqliteBackend)
	p := sys.newAccount(t)
	b := sys.browser(t)
	for name, r := range map[string]reply{
		"sms send": b.postJSON("/api/v1/sms/send", map[string]string{"phone": p.Phone}),
		"session":  b.get("/api/v1/session"),
	} {
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, r.Header.Get("Cache-Control"))
		}
	}
}
