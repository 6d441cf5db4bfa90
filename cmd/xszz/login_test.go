package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// The SMS sign-in pages and JSON API: SECURITY.md 11, 41, 46, 47 and the
// "Bad input" section of issue 2.

func TestLoginAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)

		t.Run("the SMS answer does not tell registered, unregistered and disabled numbers apart", func(t *testing.T) {
			t.Parallel()
			registered := sys.newAccount(t)
			disabled := sys.newAccount(t)
			sys.disable(t, disabled)
			var replies []reply
			for _, ph := range []string{registered.Phone, newPhone(), disabled.Phone} {
				replies = append(replies, sys.browser(t).postJSON("/api/v1/sms/send", map[string]string{"phone": ph, "purpose": "login"}))
			}
			for i, r := range replies {
				if r.Status != http.StatusOK || r.Body != replies[0].Body {
					t.Fatalf("answer %d differs: %s vs %s", i, r, replies[0])
				}
			}
			if sys.sms.count(registered.E164) != 1 || sys.sms.count(disabled.E164) != 0 {
				t.Fatalf("codes sent: registered %d, disabled %d", sys.sms.count(registered.E164), sys.sms.count(disabled.E164))
			}
		})

		for _, ph := range []string{
			"138001380001", "1380013800", "13800138000\r\nX-Injected: 1",
			"138\u200b00138000", "+1 415 555 0100", "+44 7700 900123", "23800138000", "", "abcdefghijk", strings.Repeat("1", 5000),
		} {
			t.Run("invalid number "+strings.ToValidUTF8(strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(truncateName(ph)), "?"), func(t *testing.T) {
				t.Parallel()
				r := sys.browser(t).postJSON("/api/v1/sms/send", map[string]string{"phone": ph})
				want := http.StatusBadRequest
				if len(ph) > 4<<10 { // past the sign-in API's body limit
					want = http.StatusRequestEntityTooLarge
				}
				if r.Status != want {
					t.Fatalf("status %d, want %d: %s", r.Status, want, r)
				}
				if r.json(t)["error"] == nil {
					t.Fatalf("no error code: %s", r)
				}
			})
		}

		t.Run("0086, +86, spaces and full-width digits are normalised to E.164", func(t *testing.T) {
			t.Parallel()
			p := sys.newAccount(t)
			spellings := []string{"+86" + p.Phone, "+86 " + p.Phone[:3] + " " + p.Phone[3:7] + " " + p.Phone[7:], "0086" + p.Phone, fullWidth(p.Phone)}
			for _, spelling := range spellings {
				if r := sys.browser(t).postJSON("/api/v1/sms/send", map[string]string{"phone": spelling}); r.Status != http.StatusOK {
					t.Fatalf("%q: %s", spelling, r)
				}
			}
			if n := sys.sms.count(p.E164); n != len(spellings) {
				t.Fatalf("%d codes sent to %s, want %d", n, p.E164, len(spellings))
			}
		})

		t.Run("wrong, reused and cross-number codes are refused with 401", func(t *testing.T) {
			t.Parallel()
			p, q := sys.newAccount(t), sys.newAccount(t)
			b := sys.browser(t)
			code := b.sendCode(p)
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			if r := b.postJSON("/api/v1/login", map[string]string{"phone": p.Phone, "code": wrong}); r.Status != http.StatusUnauthorized {
				t.Fatalf("wrong code: %s", r)
			}
			if r := b.postJSON("/api/v1/login", map[string]string{"phone": q.Phone, "code": code}); r.Status != http.StatusUnauthorized {
				t.Fatalf("another number's code: %s", r)
			}
			if r := b.postJSON("/api/v1/login", map[string]string{"phone": p.Phone, "code": code}); r.Status != http.StatusOK {
				t.Fatalf("right code after one wrong try: %s", r)
			}
			if r := b.postJSON("/api/v1/login", map[string]string{"phone": p.Phone, "code": code}); r.Status != http.StatusUnauthorized {
				t.Fatalf("reused code: %s", r)
			}
		})

		t.Run("a resent code kills the old one", func(t *testing.T) {
			t.Parallel()
			p := sys.newAccount(t)
			b := sys.browser(t)
			old := b.sendCode(p)
			fresh := b.sendCode(p)
			if old != fresh {
				if r := b.postJSON("/api/v1/login", map[string]string{"phone": p.Phone, "code": old}); r.Status != http.StatusUnauthorized {
					t.Fatalf("old code after a resend: %s", r)
				}
			}
			if r := b.postJSON("/api/v1/login", map[string]string{"phone": p.Phone, "code": fresh}); r.Status != http.StatusOK {
				t.Fatalf("fresh code: %s", r)
			}
		})

		t.Run("the session cookie is HttpOnly, SameSite=Lax and renewed at every sign-in", func(t *testing.T) {
			t.Parallel()
			p := sys.newAccount(t)
			b := sys.browser(t)
			var cookies []string
			for range 2 {
				code := b.sendCode(p)
				r := b.postJSON("/api/v1/login", map[string]string{"phone": p.Phone, "code": code})
				sc := r.Header.Get("Set-Cookie")
				if r.Status != http.StatusOK || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Lax") {
					t.Fatalf("login Set-Cookie %q: %s", sc, r)
				}
				cookies = append(cookies, strings.SplitN(sc, ";", 2)[0])
			}
			if cookies[0] == cookies[1] {
				t.Fatalf("the session id was not renewed at sign-in")
			}
			if r := b.get("/api/v1/session"); r.json(t)["authenticated"] != true {
				t.Fatalf("session: %s", r)
			}
		})

		for _, tc := range []struct {
			name   string
			header map[string]string
			body   string
			status int
		}{
			{"cross-site Origin", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, `{"phone":"13800138000"}`, http.StatusForbidden},
			{"null Origin", map[string]string{"Content-Type": "application/json", "Origin": "null"}, `{"phone":"13800138000"}`, http.StatusForbidden},
			{"form content type", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, `phone=13800138000`, http.StatusUnsupportedMediaType},
			{"text/plain (a simple CORS request)", map[string]string{"Content-Type": "text/plain"}, `{"phone":"13800138000"}`, http.StatusUnsupportedMediaType},
			{"no content type", nil, `{"phone":"13800138000"}`, http.StatusUnsupportedMediaType},
			{"malformed JSON", map[string]string{"Content-Type": "application/json"}, `{"phone":`, http.StatusBadRequest},
			{"two JSON objects", map[string]string{"Content-Type": "application/json"}, `{"phone":"13800138000"}{"phone":"13800138001"}`, http.StatusBadRequest},
			{"JSON array", map[string]string{"Content-Type": "application/json"}, `[1,2]`, http.StatusBadRequest},
			{"huge body", map[string]string{"Content-Type": "application/json"}, `{"phone":"` + strings.Repeat("1", 100000) + `"}`, http.StatusBadRequest},
			{"unknown purpose", map[string]string{"Content-Type": "application/json"}, `{"phone":"13800138000","purpose":"change_phone"}`, http.StatusBadRequest},
		} {
			for _, path := range []string{"/api/v1/sms/send", "/api/v1/login"} {
				if tc.name == "unknown purpose" && path == "/api/v1/login" {
					continue
				}
				t.Run(tc.name+" at "+path, func(t *testing.T) {
					t.Parallel()
					r := sys.browser(t).do(http.MethodPost, path, strings.NewReader(tc.body), tc.header)
					if r.Status != tc.status && !(tc.name == "huge body" && r.Status == http.StatusRequestEntityTooLarge) {
						t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r)
					}
					if r.Header.Get("Set-Cookie") != "" {
						t.Fatalf("a refused request set a cookie")
					}
					noLeak(t, r)
				})
			}
		}

		t.Run("the same-origin Origin is accepted", func(t *testing.T) {
			t.Parallel()
			r := sys.browser(t).do(http.MethodPost, "/api/v1/sms/send", strings.NewReader(`{"phone":"`+newPhone()+`"}`),
				map[string]string{"Content-Type": "application/json; charset=utf-8", "Origin": sys.url})
			if r.Status != http.StatusOK {
				t.Fatalf("same-origin send: %s", r)
			}
		})

		t.Run("pages refuse framing and the credential POST redirects with 303", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			b := sys.browser(t)
			p := sys.newAccount(t)
			_, flow := flowOf(b.visit(c.authURL().url))
			page := b.get("/login?flow=" + url.QueryEscape(flow))
			for _, r := range []reply{page, b.get("/"), b.get("/oauth2/auth?client_id=x")} {
				if r.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
					t.Fatalf("framing headers missing: %v", r.Header)
				}
			}
			if page.Status != http.StatusOK || !strings.Contains(page.Body, "测试应用") {
				t.Fatalf("login page: %s", page)
			}
			if r := b.postForm("/login/send", url.Values{"phone": {p.Phone}, "flow": {flow}}); r.Status != http.StatusOK {
				t.Fatalf("send form: %s", r)
			}
			r := b.postForm("/login", url.Values{"phone": {p.Phone}, "code": {sys.sms.last(p.E164)}, "flow": {flow}})
			if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/oauth2/auth/resume?") {
				t.Fatalf("credential POST: %s", r)
			}
			if q := callback(t, b.visit(r.Header.Get("Location")), callbackURL); q.Get("code") == "" {
				t.Fatalf("no code after the form sign-in: %v", q)
			}
			if r := b.postForm("/login", url.Values{"phone": {p.Phone}, "code": {"000000"}}); r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "验证码") {
				t.Fatalf("wrong code in the form: %s", r)
			}
		})

		t.Run("the authorization endpoint sends no CORS headers", func(t *testing.T) {
			t.Parallel()
			c := sys.newRP(t)
			r := sys.browser(t).do(http.MethodGet, c.authURL().url, nil, map[string]string{"Origin": "https://evil.example"})
			if r.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("CORS header on the authorization endpoint")
			}
		})

		t.Run("a forged login flow is not followed", func(t *testing.T) {
			t.Parallel()
			p := sys.newAccount(t)
			next := sys.browser(t).signIn(p, "forged.flow")
			if next != "/" {
				t.Fatalf("a forged flow led to %q", next)
			}
		})
	})
}

func fullWidth(s string) string {
	return strings.Map(func(r rune) rune { return r - '0' + '０' }, s)
}

func truncateName(s string) string {
	if len(s) > 24 {
		return s[:24] + "…"
	}
	return s
}

// TestSMSRateLimitAnswer: a second send within the resend interval gets
// 429 with Retry-After (the limits themselves are tested in idp/otp).
func TestSMSRateLimitAnswer(t *testing.T) {
	sys := startSystem(t, sqliteBackend, func(c *Config) { c.SMS.ResendInterval = 60e9 })
	p := sys.newAccount(t)
	b := sys.browser(t)
	r := b.postJSON("/api/v1/sms/send", map[string]string{"phone": p.Phone})
	if r.Status != http.StatusOK || r.json(t)["retry_after"] != float64(60) {
		t.Fatalf("first send: %s", r)
	}
	r = b.postJSON("/api/v1/sms/send", map[string]string{"phone": p.Phone})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("second send: %s", r)
	}
}

// TestLogoutRules: RP-initiated logout redirects only where the client
// registered, only with a valid hint, and never signs out on a foreign
// page's say-so (SECURITY.md 37, 39).
func TestLogoutRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		c := sys.newRP(t)
		other := sys.newRP(t)

		signedIn := func(t *testing.T) (*browser, string) {
			b := sys.browser(t)
			tok, _ := c.signIn(b, sys.newAccount(t))
			return b, tok.Extra("id_token").(string)
		}
		tamper := func(raw string) string {
			parts := strings.Split(raw, ".")
			_, claims := jwtParts(t, raw)
			claims["sub"] = "someone-else"
			return parts[0] + "." + b64(mustJSON(claims)) + "." + parts[2]
		}
		algNone := func(raw string) string {
			parts := strings.Split(raw, ".")
			return b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + "."
		}

		for _, tc := range []struct {
			name string
			q    func(hint string) url.Values
		}{
			{"unregistered post_logout_redirect_uri", func(h string) url.Values {
				return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {"https://evil.example/bye"}}
			}},
			{"another client's post_logout_redirect_uri via client_id", func(h string) url.Values {
				return url.Values{"client_id": {other.id}, "id_token_hint": {h}, "post_logout_redirect_uri": {"https://rp.example.test/bye"}}
			}},
			{"registered URI with a trailing slash", func(h string) url.Values {
				return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {"https://rp.example.test/bye/"}}
			}},
			{"tampered hint", func(h string) url.Values {
				return url.Values{"id_token_hint": {tamper(h)}, "post_logout_redirect_uri": {"https://rp.example.test/bye"}}
			}},
			{"alg:none hint", func(h string) url.Values {
				return url.Values{"id_token_hint": {algNone(h)}, "post_logout_redirect_uri": {"https://rp.example.test/bye"}}
			}},
			{"garbage hint", func(string) url.Values {
				return url.Values{"id_token_hint": {strings.Repeat("a.", 3000)}, "post_logout_redirect_uri": {"https://rp.example.test/bye"}}
			}},
			{"redirect without any client", func(string) url.Values {
				return url.Values{"post_logout_redirect_uri": {"https://rp.example.test/bye"}}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				b, hint := signedIn(t)
				r := b.get("/oauth2/logout?" + tc.q(hint).Encode())
				if r.Status < 400 || r.Status >= 500 || r.Header.Get("Location") != "" {
					t.Fatalf("want an error page without redirect, got %s", r)
				}
				noLeak(t, r)
				if got := b.get("/api/v1/session").json(t)["authenticated"]; got != true {
					t.Fatalf("a refused logout signed the browser out")
				}
			})
		}

		t.Run("logout without a valid hint asks the person first", func(t *testing.T) {
			t.Parallel()
			b, _ := signedIn(t)
			r := b.get("/oauth2/logout?client_id=" + c.id + "&post_logout_redirect_uri=" + url.QueryEscape("https://rp.example.test/bye"))
			if r.Status != http.StatusOK || r.Header.Get("Location") != "" || b.get("/api/v1/session").json(t)["authenticated"] != true {
				t.Fatalf("logout without hint: %s", r)
			}
		})

		t.Run("id_token_hint of another person answers login_required", func(t *testing.T) {
			t.Parallel()
			_, otherHint := signedIn(t)
			b, _ := signedIn(t)
			a := c.authURL(oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", otherHint))
			q := callback(t, b.visit(a.url), callbackURL)
			if q.Get("error") != "login_required" || q.Get("code") != "" {
				t.Fatalf("hint of another person: %v", q)
			}
		})

		t.Run("id_token_hint of the signed-in person passes", func(t *testing.T) {
			t.Parallel()
			b, hint := signedIn(t)
			a := c.authURL(oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", hint))
			if q := callback(t, b.visit(a.url), callbackURL); q.Get("code") == "" {
				t.Fatalf("own hint: %v", q)
			}
		})

		for name, forge := range map[string]func(string) string{"tampered": tamper, "alg:none": algNone} {
			t.Run(name+" id_token_hint at the authorization endpoint issues no code", func(t *testing.T) {
				t.Parallel()
				b, hint := signedIn(t)
				a := c.authURL(oauth2.SetAuthURLParam("id_token_hint", forge(hint)))
				r := b.visit(a.url)
				if loc := r.location(); loc != nil && loc.Query().Get("code") != "" {
					t.Fatalf("a forged hint got a code: %s", r)
				}
				if r.Status >= 500 {
					t.Fatalf("forged hint: %s", r)
				}
			})
		}
	})
}
