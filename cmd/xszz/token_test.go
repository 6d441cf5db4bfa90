package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/xszz/xszz/idp/client"
)

// The token endpoint, refresh tokens, and the tokens themselves:
// SECURITY.md cases 13–29 and 32.

// issued is a code ready to be redeemed, with what redeems it.
type issued struct {
	code string
	a    authRequest
}

func (c *rp) newCode(t *testing.T) issued {
	t.Helper()
	a := c.authURL()
	return issued{code: c.code(c.sys.browser(t), a, c.sys.newAccount(t)), a: a}
}

// codeForm is the token request that redeems a code.
func codeForm(i issued) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {i.code}, "redirect_uri": {callbackURL}, "code_verifier": {i.a.verifier}}
}

// wantOAuthError checks a token endpoint error answer.
func wantOAuthError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r)
	}
	if got := r.json(t)["error"]; got != code {
		t.Fatalf("error %v, want %q: %s", got, code, r)
	}
	if strings.Contains(r.Body, "access_token") {
		t.Fatalf("an error answer carries a token: %s", r)
	}
	noLeak(t, r)
}

func TestTokenEndpoint(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		c := sys.newRP(t)
		other := sys.newRP(t)

		t.Run("a reused code fails and revokes the tokens of its first use", func(t *testing.T) {
			t.Parallel()
			i := c.newCode(t)
			first := c.tokenEndpoint(codeForm(i))
			if first.Status != http.StatusOK {
				t.Fatalf("first redemption: %s", first)
			}
			tok := first.json(t)
			wantOAuthError(t, c.tokenEndpoint(codeForm(i)), http.StatusBadRequest, "invalid_grant")
			if c.active(tok["access_token"].(string)) || c.active(tok["refresh_token"].(string)) {
				t.Fatalf("tokens of the first redemption survive a reuse of the code")
			}
		})

		t.Run("two parallel redemptions of one code: exactly one succeeds", func(t *testing.T) {
			t.Parallel()
			i := c.newCode(t)
			const n = 4
			var wg sync.WaitGroup
			statuses := make([]int, n)
			for k := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[k] = c.tokenEndpoint(codeForm(i)).Status
				}()
			}
			wg.Wait()
			ok := 0
			for _, s := range statuses {
				switch {
				case s == http.StatusOK:
					ok++
				case s >= 500:
					t.Fatalf("a parallel redemption answered %d (statuses %v)", s, statuses)
				}
			}
			if ok != 1 {
				t.Fatalf("%d redemptions succeeded, want exactly 1 (statuses %v)", ok, statuses)
			}
		})

		t.Run("a parallel double redemption revokes the tokens of the one that won", func(t *testing.T) {
			t.Parallel()
			// The two requests meet at different points of the exchange
			// from run to run; several rounds cover more of them.
			for round := range 5 {
				i := c.newCode(t)
				var wg sync.WaitGroup
				replies := make([]reply, 2)
				for k := range replies {
					wg.Add(1)
					go func() {
						defer wg.Done()
						replies[k] = c.tokenEndpoint(codeForm(i))
					}()
				}
				wg.Wait()
				var won map[string]any
				for _, r := range replies {
					if r.Status == http.StatusOK {
						won = r.json(t)
						continue
					}
					wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
				}
				if won == nil {
					t.Fatalf("round %d: neither redemption succeeded: %v", round, replies)
				}
				if c.active(won["access_token"].(string)) {
					t.Errorf("round %d: the access token of the winning redemption is still active", round)
				}
				if c.active(won["refresh_token"].(string)) {
					t.Errorf("round %d: the refresh token of the winning redemption is still active", round)
				}
			}
		})

		for _, tc := range []struct {
			name   string
			as     *rp
			mutate func(url.Values)
			status int
			want   string
		}{
			{"code redeemed by another client", other, nil, http.StatusBadRequest, "invalid_grant"},
			{"code with another redirect_uri", c, set("redirect_uri", "https://rp.example.test/cb2"), http.StatusBadRequest, "invalid_grant"},
			{"code without its redirect_uri", c, del("redirect_uri"), http.StatusBadRequest, "invalid_grant"},
			{"PKCE verifier missing", c, del("code_verifier"), http.StatusBadRequest, "invalid_grant"},
			{"PKCE verifier wrong", c, set("code_verifier", oauth2.GenerateVerifier()), http.StatusBadRequest, "invalid_grant"},
			{"PKCE verifier too short", c, set("code_verifier", strings.Repeat("a", 42)), http.StatusBadRequest, "invalid_grant"},
			{"PKCE verifier too long", c, set("code_verifier", strings.Repeat("a", 129)), http.StatusBadRequest, "invalid_grant"},
			{"unknown code", c, set("code", "ory_ac_nonsense.nonsense"), http.StatusBadRequest, "invalid_grant"},
			{"empty code", c, set("code", ""), http.StatusBadRequest, "invalid_grant"},
			{"grant_type=password", c, func(q url.Values) { q.Set("grant_type", "password"); q.Set("username", "u"); q.Set("password", "p") }, http.StatusBadRequest, "unsupported_grant_type"},
			{"grant_type=implicit", c, set("grant_type", "implicit"), http.StatusBadRequest, "unsupported_grant_type"},
			{"grant_type=jwt-bearer", c, set("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), http.StatusBadRequest, "unsupported_grant_type"},
			{"grant_type missing", c, del("grant_type"), http.StatusBadRequest, "invalid_request"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				form := codeForm(c.newCode(t))
				if tc.mutate != nil {
					tc.mutate(form)
				}
				wantOAuthError(t, tc.as.tokenEndpoint(form), tc.status, tc.want)
			})
		}

		t.Run("a failed redemption with the wrong verifier burns nothing for an attacker", func(t *testing.T) {
			t.Parallel()
			i := c.newCode(t)
			form := codeForm(i)
			form.Set("code_verifier", oauth2.GenerateVerifier())
			wantOAuthError(t, c.tokenEndpoint(form), http.StatusBadRequest, "invalid_grant")
		})

		t.Run("a verifier without a challenge is refused (PKCE downgrade)", func(t *testing.T) {
			t.Parallel()
			// Only a client exempted from PKCE gets a code without a
			// challenge at all.
			c := sys.newRP(t, func(s *client.Spec) { s.AllowNoPKCE = true })
			a := c.authURL()
			u, _ := url.Parse(a.url)
			q := u.Query()
			q.Del("code_challenge")
			q.Del("code_challenge_method")
			got := callback(t, sys.browser(t).authorize("/oauth2/auth?"+q.Encode(), sys.newAccount(t)), callbackURL)
			form := codeForm(issued{code: got.Get("code"), a: a})
			r := c.tokenEndpoint(form)
			if r.Status == http.StatusOK {
				t.Fatalf("a code_verifier for a code issued without a challenge was accepted")
			}
			wantOAuthError(t, r, http.StatusBadRequest, r.json(t)["error"].(string))
		})

		t.Run("valid PKCE from a confidential client with client_secret_post", func(t *testing.T) {
			t.Parallel()
			pc := sys.newRP(t, func(s *client.Spec) { s.AuthMethod = client.AuthSecretPost })
			form := codeForm(pc.newCode(t))
			form.Set("client_secret", pc.secret)
			if r := sys.postAs(t, pc.id, "", "/oauth2/token", form); r.Status != http.StatusOK {
				t.Fatalf("client_secret_post: %s", r)
			}
		})

		for _, tc := range []struct {
			name       string
			id, secret string
		}{
			{"wrong secret", c.id, "wrong-" + c.secret},
			{"another client's secret", c.id, other.secret},
			{"unknown client", "no-such-client", c.secret},
			{"empty secret", c.id, ""},
		} {
			t.Run("client authentication: "+tc.name, func(t *testing.T) {
				t.Parallel()
				r := sys.postAs(t, tc.id, tc.secret, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
				wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
			})
		}

		t.Run("client authentication: a strictly basic client may not send its secret in the body", func(t *testing.T) {
			t.Parallel()
			strict := sys.newRP(t, func(s *client.Spec) { s.StrictAuthMethod = true })
			r := sys.postAs(t, strict.id, "", "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_secret": {strict.secret}})
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		})

		t.Run("private_key_jwt: an assertion works once, its replay is refused", func(t *testing.T) {
			t.Parallel()
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
			id, _ := sys.newClient(t, func(s *client.Spec) { s.JWKS = pub; s.AuthMethod = client.AuthPrivateKeyJWT })
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().Unix()
			claims := mustJSON(map[string]any{"iss": id, "sub": id, "aud": sys.url + "/oauth2/token", "jti": randomString(), "iat": now, "exp": now + 60})
			jws, err := signer.Sign([]byte(claims))
			if err != nil {
				t.Fatal(err)
			}
			assertion, _ := jws.CompactSerialize()
			form := func() url.Values {
				return url.Values{"grant_type": {"client_credentials"}, "client_id": {id},
					"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
			}
			if r := sys.postAs(t, "", "", "/oauth2/token", form()); r.Status != http.StatusOK {
				t.Fatalf("private_key_jwt: %s", r)
			}
			wantOAuthError(t, sys.postAs(t, "", "", "/oauth2/token", form()), http.StatusUnauthorized, "invalid_client")
		})

		t.Run("a grant the client is not registered for", func(t *testing.T) {
			t.Parallel()
			nocc := sys.newRP(t, func(s *client.Spec) { s.GrantTypes = []string{"authorization_code", "refresh_token"} })
			r := nocc.tokenEndpoint(url.Values{"grant_type": {"client_credentials"}})
			wantOAuthError(t, r, http.StatusBadRequest, "unauthorized_client")
		})

		t.Run("the token endpoint refuses GET", func(t *testing.T) {
			t.Parallel()
			r := sys.browser(t).get("/oauth2/token?grant_type=client_credentials&client_id=" + c.id + "&client_secret=" + c.secret)
			if r.Status != http.StatusMethodNotAllowed || strings.Contains(r.Body, "access_token") {
				t.Fatalf("GET /oauth2/token: %s", r)
			}
		})

		t.Run("token answers are not cached", func(t *testing.T) {
			t.Parallel()
			for _, r := range []reply{
				c.tokenEndpoint(url.Values{"grant_type": {"client_credentials"}}),
				c.tokenEndpoint(url.Values{"grant_type": {"password"}}),
				sys.postAs(t, c.id, "wrong", "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}),
			} {
				if !strings.Contains(r.Header.Get("Cache-Control"), "no-store") {
					t.Errorf("Cache-Control %q on %s", r.Header.Get("Cache-Control"), r)
				}
			}
		})

		t.Run("a refresh token is bound to its client", func(t *testing.T) {
			t.Parallel()
			tok, _ := c.signIn(sys.browser(t), sys.newAccount(t))
			r := other.tokenEndpoint(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
			wantOAuthError(t, r, http.StatusBadRequest, "invalid_grant")
			if _, err := c.refresh(tok.RefreshToken); err != nil {
				t.Fatalf("the owner's refresh after another client tried: %v", err)
			}
		})

		t.Run("refresh may narrow the scope but not widen it", func(t *testing.T) {
			t.Parallel()
			narrow := sys.newRP(t)
			narrow.oauth.Scopes = []string{"openid", "profile", "offline_access"}
			tok, _ := narrow.signIn(sys.browser(t), sys.newAccount(t))
			r := narrow.tokenEndpoint(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid profile phone offline_access"}})
			wantOAuthError(t, r, http.StatusBadRequest, "invalid_scope")
			r = narrow.tokenEndpoint(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "scope": {"openid offline_access"}})
			if r.Status != http.StatusOK {
				t.Fatalf("narrowing refresh: %s", r)
			}
			body := r.json(t)
			_, claims := jwtParts(t, body["access_token"].(string))
			if claims["scope"] != "openid offline_access" {
				t.Fatalf("narrowed access token scope %q", claims["scope"])
			}
			_, id := jwtParts(t, body["id_token"].(string))
			if _, ok := id["name"]; ok {
				t.Fatalf("the ID token of a refresh narrowed to openid still carries name: %v", id)
			}
		})

		t.Run("a disabled account cannot sign in, refresh, introspect or call userinfo", func(t *testing.T) {
			t.Parallel()
			p := sys.newAccount(t)
			tok, _ := c.signIn(sys.browser(t), p)
			sys.disable(t, p)

			b := sys.browser(t)
			before := sys.sms.count(p.E164)
			if r := b.postJSON("/api/v1/sms/send", map[string]string{"phone": p.Phone}); r.Status != http.StatusOK {
				t.Fatalf("sms send for a disabled account: %s", r)
			}
			if sys.sms.count(p.E164) != before {
				t.Fatalf("a code was sent to a disabled account")
			}
			if r := b.postJSON("/api/v1/login", map[string]string{"phone": p.Phone, "code": "000000"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("login of a disabled account: %s", r)
			}
			if c.active(tok.AccessToken) {
				t.Errorf("introspection: a disabled account's access token is active")
			}
			if r := sys.userinfo(t, http.MethodGet, tok.AccessToken); r.Status != http.StatusUnauthorized {
				t.Errorf("userinfo for a disabled account: %s", r)
			}
			if _, err := c.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Errorf("refresh for a disabled account: %v", err)
			}
		})
	})
}

func TestTokensSayWhatTheSpecsRequire(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		c := sys.newRP(t)
		p := sys.newAccount(t)
		tok, _ := c.signIn(sys.browser(t), p, oauth2.SetAuthURLParam("max_age", "600"))
		now := time.Now().Unix()

		var jwks jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(sys.browser(t).get("/.well-known/jwks.json").Body), &jwks); err != nil {
			t.Fatalf("jwks: %v", err)
		}
		verify := func(t *testing.T, raw string, alg jose.SignatureAlgorithm) {
			t.Helper()
			jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{alg})
			if err != nil {
				t.Fatalf("parse %s token: %v", alg, err)
			}
			keys := jwks.Key(jws.Signatures[0].Header.KeyID)
			if len(keys) != 1 {
				t.Fatalf("kid %q is not in the JWKS", jws.Signatures[0].Header.KeyID)
			}
			if _, err := jws.Verify(keys[0]); err != nil {
				t.Fatalf("signature does not verify with the JWKS key: %v", err)
			}
		}
		near := func(v any, want int64, slack int64) bool {
			f, ok := v.(float64)
			return ok && int64(f) >= want-slack && int64(f) <= want+slack
		}

		t.Run("ID token", func(t *testing.T) {
			raw := tok.Extra("id_token").(string)
			verify(t, raw, jose.RS256)
			h, cl := jwtParts(t, raw)
			if h["alg"] != "RS256" || h["kid"] == nil {
				t.Errorf("header %v", h)
			}
			if cl["iss"] != sys.url || cl["sub"] != p.ID {
				t.Errorf("iss/sub %v %v", cl["iss"], cl["sub"])
			}
			if aud, _ := cl["aud"].([]any); !(cl["aud"] == c.id || len(aud) == 1 && aud[0] == c.id) {
				t.Errorf("aud %v, want [%s]", cl["aud"], c.id)
			}
			if !near(cl["iat"], now, 30) || !near(cl["exp"], now+600, 30) {
				t.Errorf("iat %v exp %v, want about %d and %d", cl["iat"], cl["exp"], now, now+600)
			}
			if !near(cl["auth_time"], now, 30) {
				t.Errorf("auth_time %v with max_age", cl["auth_time"])
			}
			if cl["nonce"] == nil || cl["at_hash"] == nil {
				t.Errorf("nonce %v at_hash %v", cl["nonce"], cl["at_hash"])
			}
		})

		t.Run("access token (RFC 9068)", func(t *testing.T) {
			verify(t, tok.AccessToken, jose.ES256)
			h, cl := jwtParts(t, tok.AccessToken)
			if h["typ"] != "at+jwt" || h["alg"] != "ES256" {
				t.Errorf("header %v", h)
			}
			aud, _ := cl["aud"].([]any)
			if !slices.Contains(aud, any(c.id)) {
				t.Errorf("aud %v lacks the client", cl["aud"])
			}
			if cl["iss"] != sys.url || cl["sub"] != p.ID || cl["client_id"] != c.id || cl["jti"] == nil || cl["jti"] == "" {
				t.Errorf("claims %v", cl)
			}
			if !strings.Contains(" "+cl["scope"].(string)+" ", " openid ") {
				t.Errorf("scope %v", cl["scope"])
			}
			if !near(cl["iat"], now, 30) || !near(cl["exp"], now+600, 30) {
				t.Errorf("iat %v exp %v", cl["iat"], cl["exp"])
			}
		})
	})
}

func TestUserinfoBearerRules(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		c := sys.newRP(t)
		tok, _ := c.signIn(sys.browser(t), sys.newAccount(t))
		idToken := tok.Extra("id_token").(string)
		cc := c.tokenEndpoint(url.Values{"grant_type": {"client_credentials"}}).json(t)["access_token"].(string)

		for _, tc := range []struct {
			name   string
			req    func() *http.Request
			status int
		}{
			{"token in the query string", func() *http.Request {
				r, _ := http.NewRequest(http.MethodGet, sys.url+"/userinfo?access_token="+url.QueryEscape(tok.AccessToken), nil)
				return r
			}, http.StatusBadRequest},
			{"no token", func() *http.Request {
				r, _ := http.NewRequest(http.MethodGet, sys.url+"/userinfo", nil)
				return r
			}, http.StatusUnauthorized},
			{"garbage token", bearer(sys, "garbage"), http.StatusUnauthorized},
			{"the ID token as a bearer token", bearer(sys, idToken), http.StatusUnauthorized},
			{"the refresh token as a bearer token", bearer(sys, tok.RefreshToken), http.StatusUnauthorized},
			{"a token with its signature changed", bearer(sys, tok.AccessToken[:len(tok.AccessToken)-4]+"AAAA"), http.StatusUnauthorized},
			{"a client_credentials token (no person)", bearer(sys, cc), http.StatusForbidden},
			{"a token with thousands of dots", bearer(sys, strings.Repeat(".", 5000)), http.StatusUnauthorized},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				r := send(t, http.DefaultClient, tc.req())
				if r.Status != tc.status || r.Header.Get("WWW-Authenticate") == "" || strings.Contains(r.Body, `"sub"`) {
					t.Fatalf("status %d with WWW-Authenticate %q, want %d: %s", r.Status, r.Header.Get("WWW-Authenticate"), tc.status, r)
				}
			})
		}
	})
}

func bearer(sys *system, token string) func() *http.Request {
	return func() *http.Request {
		r, _ := http.NewRequest(http.MethodGet, sys.url+"/userinfo", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		return r
	}
}
