package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/xszz/xszz/idp/client"
)

// The authorization endpoint: SECURITY.md cases 1–12 and 34. A request the
// IdP cannot tie to a registered redirect URI gets an error page and never
// a redirect; any other bad request goes back to the client with error,
// state and iss.

const (
	loopbackCallback = "http://127.0.0.1:9000/cb"
	queryCallback    = "https://rp.example.test/cb2?tenant=1"
)

// authParams is a valid authorization request of client id.
func authParams(id string) url.Values {
	return url.Values{
		"client_id": {id}, "redirect_uri": {callbackURL}, "response_type": {"code"},
		"scope": {"openid profile"}, "state": {"state-" + randomString()}, "nonce": {"nonce-" + randomString()},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}
}

func TestAuthorizeRedirectURIMustMatchExactly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		id, _ := sys.newClient(t, func(s *client.Spec) {
			s.RedirectURIs = []string{callbackURL, loopbackCallback, queryCallback}
		})
		other, _ := sys.newClient(t, func(s *client.Spec) { s.RedirectURIs = []string{"https://other.example.test/cb"} })

		for _, tc := range []struct {
			name   string
			mutate func(q url.Values)
		}{
			{"trailing slash", set("redirect_uri", callbackURL+"/")},
			{"scheme in upper case", set("redirect_uri", "HTTPS://rp.example.test/cb")},
			{"host in upper case", set("redirect_uri", "https://RP.example.test/cb")},
			{"path in upper case", set("redirect_uri", "https://rp.example.test/CB")},
			{"explicit :443", set("redirect_uri", "https://rp.example.test:443/cb")},
			{"added query", set("redirect_uri", callbackURL+"?x=1")},
			{"changed query", set("redirect_uri", "https://rp.example.test/cb2?tenant=2")},
			{"dropped query", set("redirect_uri", "https://rp.example.test/cb2")},
			{"percent-encoded path", set("redirect_uri", "https://rp.example.test/%63b")},
			{"dot segments", set("redirect_uri", "https://rp.example.test/cb/../cb")},
			{"encoded dot segments", set("redirect_uri", "https://rp.example.test/cb/%2E%2E/cb")},
			{"double-encoded dot segments", set("redirect_uri", "https://rp.example.test/cb/%252E%252E/cb")},
			{"fragment", set("redirect_uri", callbackURL+"#x")},
			{"javascript scheme", set("redirect_uri", "javascript:alert(1)")},
			{"file scheme", set("redirect_uri", "file:///etc/passwd")},
			{"relative path", set("redirect_uri", "/cb")},
			{"user info pointing elsewhere", set("redirect_uri", "https://rp.example.test@evil.example/cb")},
			{"loopback with another port", set("redirect_uri", "http://127.0.0.1:9001/cb")},
			{"loopback without port", set("redirect_uri", "http://127.0.0.1/cb")},
			{"loopback by another name", set("redirect_uri", "http://localhost:9000/cb")},
			{"loopback over IPv6", set("redirect_uri", "http://[::1]:9000/cb")},
			{"loopback with https", set("redirect_uri", "https://127.0.0.1:9000/cb")},
			{"another client's URI", set("redirect_uri", "https://other.example.test/cb")},
			{"missing redirect_uri", del("redirect_uri")},
			{"empty redirect_uri", set("redirect_uri", "")},
			{"redirect_uri twice", add("redirect_uri", callbackURL)},
			{"unknown client", set("client_id", "no-such-client")},
			{"missing client_id", del("client_id")},
			{"client_id twice", add("client_id", other)},
			{"another client's id with this URI", set("client_id", other)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				q := authParams(id)
				tc.mutate(q)
				for _, method := range []string{http.MethodGet, http.MethodPost} {
					r := authorizeRequest(t, sys, method, q)
					wantErrorPage(t, r)
				}
			})
		}

		t.Run("the registered loopback URI with its port works", func(t *testing.T) {
			q := authParams(id)
			q.Set("redirect_uri", loopbackCallback)
			q.Set("prompt", "none")
			if got := callback(t, authorizeRequest(t, sys, http.MethodGet, q), loopbackCallback); got.Get("error") != "login_required" {
				t.Fatalf("want login_required at the loopback URI, got %v", got)
			}
		})
		t.Run("the registered URI with its query works, and keeps the query", func(t *testing.T) {
			q := authParams(id)
			q.Set("redirect_uri", queryCallback)
			q.Set("prompt", "none")
			got := callback(t, authorizeRequest(t, sys, http.MethodGet, q), "https://rp.example.test/cb2")
			if got.Get("tenant") != "1" || got.Get("error") != "login_required" {
				t.Fatalf("got %v", got)
			}
		})
	})
}

// wantErrorPage checks the answer to an untrustworthy request: a Chinese
// HTML error page with 400 and no Location header.
func wantErrorPage(t *testing.T, r reply) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
		t.Fatalf("want an error page (400, no Location), got %s", r)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("error page Content-Type %q", ct)
	}
	if !strings.Contains(r.Body, "出错了") {
		t.Fatalf("error page is not the Chinese error page: %s", r)
	}
	noLeak(t, r)
}

// noLeak fails when a response shows internals.
func noLeak(t *testing.T, r reply) {
	t.Helper()
	for _, s := range []string{"goroutine ", "panic", ".go:", "sql:", "SQLSTATE", "runtime error"} {
		if strings.Contains(r.Body, s) {
			t.Fatalf("response leaks internals (%q): %s", s, r)
		}
	}
}

func set(k, v string) func(url.Values) { return func(q url.Values) { q.Set(k, v) } }
func add(k, v string) func(url.Values) { return func(q url.Values) { q.Add(k, v) } }
func del(k string) func(url.Values)    { return func(q url.Values) { q.Del(k) } }

// authorizeRequest sends an authorization request from a browser without
// a session, by GET or as a form POST.
func authorizeRequest(t *testing.T, sys *system, method string, q url.Values) reply {
	t.Helper()
	b := sys.browser(t)
	if method == http.MethodPost {
		return b.postForm("/oauth2/auth", q)
	}
	return b.get("/oauth2/auth?" + q.Encode())
}

func TestAuthorizeErrorsGoBackToTheClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		id, _ := sys.newClient(t)
		public, _ := sys.newClient(t, func(s *client.Spec) { s.Public = true })

		var fetched atomic.Int32
		internalSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fetched.Add(1)
			w.Write([]byte("eyJhbGciOiJub25lIn0.eyJyZWRpcmVjdF91cmkiOiJodHRwczovL2V2aWwuZXhhbXBsZSJ9."))
		}))
		defer internalSrv.Close()

		unsignedRequestObject := "eyJhbGciOiJub25lIn0." + b64(`{"redirect_uri":"https://evil.example/cb","client_id":"`+id+`","response_type":"code","scope":"openid"}`) + "."

		for _, tc := range []struct {
			name    string
			client  string
			mutate  func(q url.Values)
			wantErr string
		}{
			{"response_type missing", id, del("response_type"), "unsupported_response_type"},
			{"response_type=token (implicit)", id, set("response_type", "token"), "unsupported_response_type"},
			{"response_type=id_token", id, set("response_type", "id_token"), "unsupported_response_type"},
			{"hybrid code id_token", id, set("response_type", "code id_token"), "unsupported_response_type"},
			{"hybrid code token", id, set("response_type", "code token"), "unsupported_response_type"},
			{"response_type=none", id, set("response_type", "none"), "unsupported_response_type"},
			{"unknown scope", id, set("scope", "openid unknown"), "invalid_scope"},
			{"scope the client may not ask for", id, set("scope", "openid admin"), "invalid_scope"},
			{"state given twice", id, add("state", "another-state-value"), "invalid_request"},
			{"scope given twice", id, add("scope", "openid"), "invalid_request"},
			{"nonce given twice", id, add("nonce", "another-nonce-value"), "invalid_request"},
			{"prompt=none combined with login", id, set("prompt", "none login"), "invalid_request"},
			{"unknown prompt value", id, set("prompt", "bogus"), "invalid_request"},
			{"plain PKCE method", id, set("code_challenge_method", "plain"), "invalid_request"},
			{"unknown PKCE method", id, set("code_challenge_method", "S512"), "invalid_request"},
			{"PKCE method without a challenge", id, del("code_challenge"), "invalid_request"},
			{"challenge that is not a SHA-256 hash", id, set("code_challenge", "too-short"), "invalid_request"},
			{"public client without PKCE", public, func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request"},
			{"state too short", id, set("state", "abc"), "invalid_state"},
			{"unsigned request object", id, set("request", unsignedRequestObject), "request_not_supported"},
			{"request_uri aimed at an internal server", id, set("request_uri", internalSrv.URL), "request_uri_not_supported"},
			{"request_uri without openid scope", id, func(q url.Values) { q.Set("scope", "profile"); q.Set("request_uri", internalSrv.URL) }, "request_uri_not_supported"},
			{"response_mode=fragment", id, set("response_mode", "fragment"), "unsupported_response_mode"},
			{"response_mode=form_post", id, set("response_mode", "form_post"), "unsupported_response_mode"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				q := authParams(tc.client)
				tc.mutate(q)
				state := q["state"][0]
				for _, method := range []string{http.MethodGet, http.MethodPost} {
					r := authorizeRequest(t, sys, method, q)
					got := callback(t, r, callbackURL)
					if got.Get("error") != tc.wantErr || got.Get("code") != "" {
						t.Fatalf("%s: error %q (%s), want %q", method, got.Get("error"), got.Get("error_description"), tc.wantErr)
					}
					if got.Get("state") != state || got.Get("iss") != sys.url {
						t.Fatalf("%s: state %q iss %q, want %q %q", method, got.Get("state"), got.Get("iss"), state, sys.url)
					}
					if strings.ContainsAny(got.Get("error_description"), "\r\n\t") {
						t.Fatalf("error_description has CR, LF or TAB: %q", got.Get("error_description"))
					}
				}
			})
		}
		t.Run("request_uri is never fetched", func(t *testing.T) {
			t.Parallel()
			q := authParams(id)
			q.Set("request_uri", internalSrv.URL)
			authorizeRequest(t, sys, http.MethodGet, q)
			if n := fetched.Load(); n != 0 {
				t.Fatalf("the IdP fetched request_uri %d times", n)
			}
		})
	})
}

func TestAuthorizeAcceptsHarmlessVariations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		c := sys.newRP(t)
		for _, tc := range []struct {
			name   string
			method string
			mutate func(q url.Values)
		}{
			{"unknown parameter", http.MethodGet, set("xszz_unknown", "1")},
			{"scopes reordered", http.MethodGet, set("scope", "profile phone openid")},
			{"POSTed request", http.MethodPost, func(url.Values) {}},
			{"login_hint, ui_locales, claims_locales, acr_values, display", http.MethodGet, func(q url.Values) {
				q.Set("login_hint", "13800138000")
				q.Set("ui_locales", "zh-CN en")
				q.Set("claims_locales", "zh-CN")
				q.Set("acr_values", "1 2")
				q.Set("display", "popup")
			}},
			{"no nonce", http.MethodGet, del("nonce")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				b := sys.browser(t)
				p := sys.newAccount(t)
				a := c.authURL()
				u, _ := url.Parse(a.url)
				q := u.Query()
				tc.mutate(q)
				var r reply
				if tc.method == http.MethodPost {
					r = b.postForm("/oauth2/auth", q)
				} else {
					r = b.get("/oauth2/auth?" + q.Encode())
				}
				page, flow := flowOf(r)
				if page != "/login" {
					t.Fatalf("want the login page, got %s", r)
				}
				got := callback(t, b.visit(b.signIn(p, flow)), callbackURL)
				if got.Get("code") == "" {
					t.Fatalf("no code: %v", got)
				}
				tok, err := c.exchange(got.Get("code"), a)
				if err != nil {
					t.Fatalf("exchange: %v", err)
				}
				idt, err := c.verifier.Verify(c.ctx, tok.Extra("id_token").(string))
				if err != nil || idt.Subject != p.ID {
					t.Fatalf("ID token: %v", err)
				}
			})
		}
	})
}
