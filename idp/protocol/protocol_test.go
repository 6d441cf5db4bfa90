package protocol_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/identity"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/keys"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/idp/protocol"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/internal/web"
)

// nobodySignsOut: these tests never reach the logout that needs it.
type nobodySignsOut struct{}

func (nobodySignsOut) SignOut(echo.Context) (*session.Session, error) { return nil, nil }

type env struct {
	issuer       string
	clientID     string
	clientSecret string
}

// start runs just the protocol part on httptest, over real stores and
// keys, with one confidential client.
func start(t *testing.T, db *sqldb.DB) *env {
	t.Helper()
	ctx := context.Background()
	now := time.Now
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()

	k, err := keys.New(db, keys.Config{EncryptionKey: []byte("0123456789abcdef0123456789abcdef"), EncryptionKeyID: "test", RetainFor: time.Hour}, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	clients := client.NewStore(db, client.Hasher{Key: []byte("client-key")}, now, 0)
	store := oauthstore.New(db, oauth.ClientGetter(clients), now)
	provider, err := oauth.New(oauth.Config{
		Issuer: issuer, Secret: []byte("fosite-secret-fosite-secret-0123"),
		AccessTokenTTL: 10 * time.Minute, IDTokenTTL: 10 * time.Minute, RefreshTokenTTL: time.Hour, CodeTTL: time.Minute,
		AccessTokenAlg: "ES256", AllowHTTPLoopback: true,
	}, store, clients, k, clients.Hasher(), now)
	if err != nil {
		t.Fatal(err)
	}
	spec := client.Spec{Name: "测试应用", RedirectURIs: []string{"https://rp.example.test/cb"}, Trusted: true,
		GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"}}
	if err := spec.Validate(true); err != nil {
		t.Fatal(err)
	}
	cl, secret, err := clients.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	accounts := account.NewStore(db, now)
	sessions := session.NewStore(db, session.Config{Idle: time.Hour, Absolute: 12 * time.Hour}, now)
	dir := &identity.Directory{Accounts: accounts}
	cookie := idpweb.Cookie{Name: "xszz_session"}
	p := protocol.New(protocol.Deps{
		Issuer: issuer, Origin: issuer, Provider: provider, Keys: k, Clients: clients, Identities: dir,
		Browser: &idpweb.Browser{Cookie: cookie, Sessions: sessions, Identities: dir},
		SignOut: nobodySignsOut{}, Cookie: cookie, MFA: mfa.Policy{},
		Flows: &idpweb.Sealer{Key: []byte("0123456789abcdef0123456789abcdef"), Now: now},
	})
	e := web.New(web.Site{Name: "test", Pages: idpweb.Pages()})
	p.Register(e)
	srv.Config.Handler = e
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{issuer: issuer, clientID: cl.ID, clientSecret: secret}
}

func getJSON(t *testing.T, u string) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode %s: %v", u, err)
	}
	return resp, out
}

// Discovery names this issuer and its endpoints, and JWKS publishes the
// signing keys.
func TestDiscoveryAndJWKS(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		resp, doc := getJSON(t, e.issuer+"/.well-known/openid-configuration")
		if resp.StatusCode != http.StatusOK || doc["issuer"] != e.issuer || doc["token_endpoint"] != e.issuer+oauth.PathToken ||
			doc["jwks_uri"] != e.issuer+oauth.PathJWKS {
			t.Fatalf("discovery: %d %v", resp.StatusCode, doc)
		}
		if got := doc["acr_values_supported"].([]any); len(got) != 2 || got[1] != mfa.ACRTwoFactor {
			t.Fatalf("acr_values_supported %v", got)
		}
		resp, set := getJSON(t, e.issuer+oauth.PathJWKS)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/jwk-set+json" {
			t.Fatalf("jwks: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if ks, _ := set["keys"].([]any); len(ks) == 0 {
			t.Fatalf("jwks has no keys: %v", set)
		}
	})
}

// The token endpoint answers every refusal in RFC 6749 §5.2's format.
func TestTokenEndpointErrors(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		cases := []struct {
			name       string
			form       url.Values
			id, secret string
			status     int
			error      string
		}{
			{"unknown grant type", url.Values{"grant_type": {"password"}}, e.clientID, e.clientSecret, http.StatusBadRequest, "unsupported_grant_type"},
			{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, e.clientID, "wrong", http.StatusUnauthorized, "invalid_client"},
			{"unknown client", url.Values{"grant_type": {"client_credentials"}}, "nobody", "x", http.StatusUnauthorized, "invalid_client"},
			{"forged code", url.Values{"grant_type": {"authorization_code"}, "code": {"forged.code"}, "redirect_uri": {"https://rp.example.test/cb"}},
				e.clientID, e.clientSecret, http.StatusBadRequest, "invalid_grant"},
			{"user scope without a person", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, e.clientID, e.clientSecret, http.StatusBadRequest, "invalid_scope"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodPost, e.issuer+oauth.PathToken, strings.NewReader(tc.form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(url.QueryEscape(tc.id), url.QueryEscape(tc.secret))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var out map[string]any
				if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.status || out["error"] != tc.error {
					t.Fatalf("got %d %v, want %d %s", resp.StatusCode, out, tc.status, tc.error)
				}
			})
		}
	})
}

// An authorization request the IdP cannot tie to a registered redirect URI
// gets an error page, never a redirect; a good one without a session goes
// to the login page with the request sealed in the flow.
func TestAuthorizeBeforeSignIn(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		q := url.Values{"client_id": {e.clientID}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s-123456789"},
			"redirect_uri": {"https://evil.example/cb"},
			// Every client sends PKCE (S256 of a 43-character verifier).
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		resp, err := c.Get(e.issuer + oauth.PathAuthorize + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Fatalf("unregistered redirect_uri: %d Location=%q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
		}
		q.Set("redirect_uri", "https://rp.example.test/cb")
		resp, err = c.Get(e.issuer + oauth.PathAuthorize + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?flow=") {
			t.Fatalf("no session: %d Location=%q, want 303 to /login?flow=", resp.StatusCode, loc)
		}
	})
}

// userinfo wants a bearer token, never one in the query string.
func TestUserinfoWithoutToken(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		resp, out := getJSON(t, e.issuer+oauth.PathUserinfo)
		if resp.StatusCode != http.StatusUnauthorized || out["error"] != "invalid_token" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("no token: %d %v %q", resp.StatusCode, out, resp.Header.Get("WWW-Authenticate"))
		}
		resp, out = getJSON(t, e.issuer+oauth.PathUserinfo+"?access_token=x")
		if resp.StatusCode != http.StatusBadRequest || out["error"] != "invalid_request" {
			t.Fatalf("token in the query: %d %v", resp.StatusCode, out)
		}
	})
}

// A database outage is not an inactive token: introspection and userinfo
// answer server_error in their own JSON format (a resource server would
// otherwise cache "inactive" and sign the person out), whatever the
// client's Accept header.
func TestAnOutageIsNotAnInactiveToken(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		post := func(path string, form url.Values, bearer string) (*http.Response, map[string]any) {
			req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Accept", "text/html")
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			} else {
				req.SetBasicAuth(url.QueryEscape(e.clientID), url.QueryEscape(e.clientSecret))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatalf("%s: not JSON: %v", path, err)
			}
			return resp, out
		}
		resp, tok := post(oauth.PathToken, url.Values{"grant_type": {"client_credentials"}}, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("token: %d %v", resp.StatusCode, tok)
		}
		at, _ := tok["access_token"].(string)
		if resp, out := post(oauth.PathIntrospect, url.Values{"token": {at}}, ""); resp.StatusCode != http.StatusOK || out["active"] != true {
			t.Fatalf("introspection before the outage: %d %v", resp.StatusCode, out)
		}

		if _, err := db.ExecContext(context.Background(), `ALTER TABLE oauth_requests RENAME TO oauth_requests_gone`); err != nil {
			t.Fatal(err)
		}
		resp, out := post(oauth.PathIntrospect, url.Values{"token": {at}}, "")
		if resp.StatusCode != http.StatusInternalServerError || out["error"] != "server_error" {
			t.Fatalf("introspection during an outage: %d %v, want 500 server_error", resp.StatusCode, out)
		}
		resp, out = post(oauth.PathUserinfo, url.Values{}, at)
		if resp.StatusCode != http.StatusInternalServerError || out["error"] != "server_error" {
			t.Fatalf("userinfo during an outage: %d %v, want 500 server_error", resp.StatusCode, out)
		}
	})
}
