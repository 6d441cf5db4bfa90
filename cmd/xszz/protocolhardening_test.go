package main

// Issue 13, items 1–6: who may present which token where, how clients
// authenticate, PKCE for everyone, and repeated parameters.

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/xszz/xszz/internal/testenv"
	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/introspect"

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

// clientCredentials gets a client_credentials access token for c.
func (c *rp) clientCredentials(t *testing.T, extra url.Values) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		form[k] = v
	}
	r := c.tokenEndpoint(form)
	if r.Status != http.StatusOK {
		t.Fatalf("client_credentials: %s", r)
	}
	return r.json(t)["access_token"].(string)
}

// postWith posts a form to the IdP with the given headers.
func (s *system) postWith(t *testing.T, path string, form url.Values, edit func(*http.Request)) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if edit != nil {
		edit(req)
	}
	return send(t, http.DefaultClient, req)
}

// Clients authenticate as RFC 6749 §2.3 allows: a secret by Basic or in
// the form, whichever the client library prefers, unless the client was
// registered strictly; no credentials at all is invalid_client (§5.2).
func TestClientAuthentication(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		basic := sys.newRP(t)
		post := sys.newRP(t, func(s *client.Spec) { s.AuthMethod = client.AuthSecretPost })
		strictPost := sys.newRP(t, func(s *client.Spec) { s.AuthMethod, s.StrictAuthMethod = client.AuthSecretPost, true })
		cc := url.Values{"grant_type": {"client_credentials"}}
		withPost := func(c *rp) url.Values {
			return url.Values{"grant_type": {"client_credentials"}, "client_id": {c.id}, "client_secret": {c.secret}}
		}
		for _, tc := range []struct {
			name      string
			form      url.Values
			basic     *rp
			status    int
			code      string
			challenge bool
		}{
			{"no client authentication at all", cc, nil, http.StatusUnauthorized, "invalid_client", false},
			{"a client_secret_basic client sends its secret in the form", withPost(basic), nil, http.StatusOK, "", false},
			{"a client_secret_post client sends its secret by Basic", cc, post, http.StatusOK, "", false},
			{"a strictly client_secret_post client tries Basic", cc, strictPost, http.StatusUnauthorized, "invalid_client", true},
			{"a strictly client_secret_post client sends its secret in the form", withPost(strictPost), nil, http.StatusOK, "", false},
			{"Basic and the form in one request", withPost(basic), basic, http.StatusBadRequest, "invalid_request", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := sys.postWith(t, "/oauth2/token", tc.form, func(req *http.Request) {
					if tc.basic != nil {
						req.SetBasicAuth(url.QueryEscape(tc.basic.id), url.QueryEscape(tc.basic.secret))
					}
				})
				if tc.status == http.StatusOK {
					if r.Status != http.StatusOK {
						t.Fatalf("want a token: %s", r)
					}
					return
				}
				wantOAuthError(t, r, tc.status, tc.code)
				if got := r.Header.Get("WWW-Authenticate"); tc.challenge != strings.HasPrefix(got, "Basic") {
					t.Errorf("WWW-Authenticate %q, want a Basic challenge: %v", got, tc.challenge)
				}
			})
		}
		t.Run("a wrong secret by Basic is 401 with a Basic challenge", func(t *testing.T) {
			r := sys.postAs(t, basic.id, "wrong", "/oauth2/token", url.Values{"grant_type": {"client_credentials"}})
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
			if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("no Basic challenge: %v", r.Header)
			}
		})
		t.Run("discovery advertises both ways of sending a secret", func(t *testing.T) {
			d := sys.browser(t).get("/.well-known/openid-configuration").json(t)
			for _, key := range []string{"token_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported", "revocation_endpoint_auth_methods_supported"} {
				got := toStrings(d[key])
				if !slices.Contains(got, client.AuthSecretBasic) || !slices.Contains(got, client.AuthSecretPost) {
					t.Errorf("%s = %v", key, got)
				}
			}
		})
	})
}

// Introspection (RFC 7662): a caller that fails to authenticate hears
// 401 invalid_client, not "inactive"; an authenticated caller learns only
// about tokens issued to it or meant for it, with aud, token_type and
// client_id.
func TestIntrospectionIsForTheTokensAudience(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		resource := sys.newRP(t, func(s *client.Spec) { s.Name = "资源服务" })
		// plain's tokens are for itself (the default audience), caller's
		// for the resource server.
		plain := sys.newRP(t)
		caller := sys.newRP(t, func(s *client.Spec) { s.Audience = []string{resource.id} })
		bystander := sys.newRP(t)
		own := plain.clientCredentials(t, nil)
		forResource := caller.clientCredentials(t, url.Values{"audience": {resource.id}})

		t.Run("a wrong or missing secret is 401 invalid_client", func(t *testing.T) {
			for _, tc := range []struct {
				name      string
				id, sec   string
				challenge bool
			}{
				{"wrong secret", caller.id, "wrong-secret", true},
				{"unknown client", "no-such-client", caller.secret, true},
				{"no client authentication", "", "", false},
			} {
				r := sys.postAs(t, tc.id, tc.sec, "/oauth2/introspect", url.Values{"token": {forResource}})
				wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
				if got := r.Header.Get("WWW-Authenticate"); tc.challenge != strings.HasPrefix(got, "Basic") {
					t.Errorf("%s: WWW-Authenticate %q", tc.name, got)
				}
			}
		})
		t.Run("a public client cannot introspect", func(t *testing.T) {
			pub := sys.newRP(t, func(s *client.Spec) { s.Public = true })
			wantOAuthError(t, sys.postAs(t, pub.id, "", "/oauth2/introspect", url.Values{"token": {own}}), http.StatusUnauthorized, "invalid_client")
		})
		t.Run("the client the token was issued to, by Basic or in the form", func(t *testing.T) {
			for _, r := range []reply{
				sys.postAs(t, plain.id, plain.secret, "/oauth2/introspect", url.Values{"token": {own}}),
				sys.postAs(t, plain.id, "", "/oauth2/introspect", url.Values{"token": {own}, "client_secret": {plain.secret}}),
			} {
				m := r.json(t)
				if r.Status != http.StatusOK || m["active"] != true || m["client_id"] != plain.id || m["token_type"] != "Bearer" ||
					!slices.Equal(toStrings(m["aud"]), []string{plain.id}) {
					t.Errorf("own token: %s", r)
				}
			}
		})
		t.Run("the resource server in the token's audience", func(t *testing.T) {
			m := resource.introspect(forResource)
			if m["active"] != true || m["client_id"] != caller.id || !slices.Equal(toStrings(m["aud"]), []string{resource.id}) {
				t.Errorf("token for the resource: %v", m)
			}
		})
		t.Run("any other client learns nothing", func(t *testing.T) {
			for name, tok := range map[string]string{"plain's own token": own, "token for the resource": forResource} {
				if m := bystander.introspect(tok); len(m) != 1 || m["active"] != false {
					t.Errorf("%s introspected by a bystander: %v", name, m)
				}
			}
			if m := resource.introspect(own); m["active"] != false {
				t.Errorf("plain's own token introspected by the resource: %v", m)
			}
		})
		t.Run("a refresh token only to its own client", func(t *testing.T) {
			c := sys.newRP(t, func(s *client.Spec) { s.Audience = []string{resource.id} })
			tok, _ := c.signIn(sys.browser(t), sys.newAccount(t))
			if m := c.introspect(tok.RefreshToken); m["active"] != true || m["token_type"] != "refresh_token" || m["client_id"] != c.id {
				t.Errorf("own refresh token: %v", m)
			}
			if m := resource.introspect(tok.RefreshToken); m["active"] != false {
				t.Errorf("refresh token introspected by the resource: %v", m)
			}
		})
	})
}

// PKCE is required of every client (OAuth 2.1, SECURITY.md #19), not only
// public ones; a legacy confidential client registered with
// --allow-no-pkce is the one exception.
func TestPKCEForEveryClient(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		withoutPKCE := func(c *rp) string {
			u, _ := url.Parse(c.authURL().url)
			q := u.Query()
			q.Del("code_challenge")
			q.Del("code_challenge_method")
			return "/oauth2/auth?" + q.Encode()
		}
		t.Run("a confidential client without a code_challenge is refused", func(t *testing.T) {
			c := sys.newRP(t)
			q := callback(t, sys.browser(t).visit(withoutPKCE(c)), callbackURL)
			if q.Get("error") != "invalid_request" || q.Get("code") != "" {
				t.Fatalf("authorization without PKCE: %v", q)
			}
		})
		t.Run("a client registered with allow-no-pkce signs in without it", func(t *testing.T) {
			c := sys.newRP(t, func(s *client.Spec) { s.AllowNoPKCE = true })
			q := callback(t, sys.browser(t).authorize(withoutPKCE(c), sys.newAccount(t)), callbackURL)
			if q.Get("code") == "" {
				t.Fatalf("no code: %v", q)
			}
			tok, err := c.oauth.Exchange(c.ctx, q.Get("code"))
			if err != nil || tok.AccessToken == "" {
				t.Fatalf("exchange without a verifier: %v", err)
			}
		})
		t.Run("a public client cannot be exempted", func(t *testing.T) {
			spec := client.Spec{Name: "x", RedirectURIs: []string{callbackURL}, Public: true, AllowNoPKCE: true}
			if err := spec.Validate(true); err == nil {
				t.Fatal("a public client without PKCE was accepted")
			}
		})
	})
}

// Token, introspection and revocation requests (RFC 6749 §3.1: "Request
// and response parameters MUST NOT be included more than once") and
// logout requests with a parameter given twice are refused, not decided
// by whichever copy a parser happens to read.
func TestRepeatedParametersAreRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		c := sys.newRP(t)
		tok := c.clientCredentials(t, nil)
		for _, tc := range []struct {
			name, path string
			form       url.Values
		}{
			{"grant_type twice", "/oauth2/token", url.Values{"grant_type": {"client_credentials", "client_credentials"}}},
			{"grant_type twice, differently", "/oauth2/token", url.Values{"grant_type": {"client_credentials", "authorization_code"}}},
			{"scope twice", "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"", "directory"}}},
			{"token twice at introspection", "/oauth2/introspect", url.Values{"token": {tok, "other"}}},
			{"token twice at revocation", "/oauth2/revoke", url.Values{"token": {"other", tok}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantOAuthError(t, c.sys.postAs(t, c.id, c.secret, tc.path, tc.form), http.StatusBadRequest, "invalid_request")
			})
		}
		t.Run("a parameter in both the query and the body", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, sys.url+"/oauth2/token?grant_type=authorization_code", strings.NewReader("grant_type=client_credentials"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
			wantOAuthError(t, send(t, http.DefaultClient, req), http.StatusBadRequest, "invalid_request")
		})
		if !c.active(tok) {
			t.Errorf("the token was revoked by a request with the token parameter twice")
		}
		t.Run("consent with decision twice", func(t *testing.T) {
			u := sys.newRP(t, func(s *client.Spec) { s.Trusted = false })
			b := sys.browser(t)
			_, flow := flowOf(b.visit(u.authURL().url))
			page, flow := flowOf(b.visit(b.signIn(sys.newAccount(t), flow)))
			if page != "/consent" {
				t.Fatalf("want the consent page, got %q", page)
			}
			r := b.postForm("/consent", url.Values{"flow": {flow}, "decision": {"deny", "allow"}})
			if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
				t.Fatalf("consent with a repeated decision: %s", r)
			}
		})
		t.Run("logout with post_logout_redirect_uri twice", func(t *testing.T) {
			r := sys.browser(t).get("/oauth2/logout?" + url.Values{"client_id": {c.id},
				"post_logout_redirect_uri": {"https://rp.example.test/bye", "https://evil.example/"}}.Encode())
			if r.Status != http.StatusBadRequest || r.Header.Get("Location") != "" {
				t.Fatalf("logout with a repeated parameter: %s", r)
			}
		})
	})
}

// zeros is an endless body of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A protocol endpoint refuses a huge body by its declared length before
// reading it, and never parses multipart, so nothing is spooled to disk.
// The test runs alone (not in parallel) because it watches TMPDIR.
func TestProtocolBodiesAreSmall(t *testing.T) {
	for _, be := range []backend{sqliteBackend, postgresBackend} {
		t.Run(string(be), func(t *testing.T) {
			if be == postgresBackend {
				testenv.Postgres(t)
			}
			sys := sharedSystem(t, be)
			c := sys.newRP(t)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			const huge = 64 << 20
			for _, path := range []string{"/userinfo", "/oauth2/token", "/oauth2/introspect", "/oauth2/revoke", "/oauth2/auth"} {
				t.Run("a 64 MiB multipart upload to "+path, func(t *testing.T) {
					head := "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n"
					req, _ := http.NewRequest(http.MethodPost, sys.url+path, io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, huge)))
					req.ContentLength = int64(len(head)) + huge
					req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
					req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
					if r := send(t, http.DefaultClient, req); r.Status != http.StatusRequestEntityTooLarge {
						t.Errorf("status %d, want 413: %s", r.Status, r)
					}
				})
				t.Run("a small multipart form to "+path, func(t *testing.T) {
					body := "--b\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--b--\r\n"
					req, _ := http.NewRequest(http.MethodPost, sys.url+path, strings.NewReader(body))
					req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
					req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
					if r := send(t, http.DefaultClient, req); r.Status != http.StatusBadRequest {
						t.Errorf("status %d, want 400: %s", r.Status, r)
					}
				})
			}
			t.Run("a streamed body over the limit", func(t *testing.T) {
				// On a raw connection: the IdP answers 413 as soon as the
				// body passes the limit and closes, and an HTTP client still
				// writing would report its failed write instead of the
				// answer. Here the writing goes on beside the reading.
				conn, err := net.Dial("tcp", strings.TrimPrefix(sys.url, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(30 * time.Second))
				auth := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.id) + ":" + url.QueryEscape(c.secret)))
				go func() {
					w := bufio.NewWriter(conn)
					fmt.Fprintf(w, "POST /oauth2/token HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n", strings.TrimPrefix(sys.url, "http://"), auth)
					chunk := strings.Repeat("0", 32<<10)
					fmt.Fprintf(w, "%x\r\ngrant_type=client_credentials&x=\r\n", len("grant_type=client_credentials&x="))
					for range 32 { // 1 MiB, far past the 64 KiB limit
						if _, err := fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
							return // the IdP stopped reading: expected
						}
					}
					fmt.Fprint(w, "0\r\n\r\n")
					w.Flush()
				}()
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("read the answer: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Errorf("status %d, want 413", resp.StatusCode)
				}
			})
			if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
				t.Errorf("the temporary directory holds %d entries (%v): request bodies were spooled to disk", len(left), err)
			}
		})
	}
}

// The SDK's introspection client against the real IdP: its own tokens are
// active; a typo'd secret is an error the integrator sees, not every token
// reported inactive.
func TestSDKIntrospectionAgainstTheIdP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := sharedSystem(t, be)
		c := sys.newRP(t)
		tok := c.clientCredentials(t, nil)
		p, err := sdk.NewProvider(context.Background(), sys.url)
		if err != nil {
			t.Fatal(err)
		}
		good, err := introspect.New(p, &introspect.Config{ClientID: c.id, ClientSecret: c.secret})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := good.Introspect(context.Background(), tok); err != nil || !res.Active || res.ClientID != c.id || res.TokenType != "Bearer" {
			t.Errorf("own token: %+v %v", res, err)
		}
		bad, err := introspect.New(p, &introspect.Config{ClientID: c.id, ClientSecret: c.secret + "x"})
		if err != nil {
			t.Fatal(err)
		}
		if res, err := bad.Introspect(context.Background(), tok); err == nil {
			t.Errorf("a wrong secret answered %+v, want an error", res)
		}
	})
}
