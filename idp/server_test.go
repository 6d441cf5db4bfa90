package idp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/keys"
	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// The assembled IdP mounts every part and answers with its own headers.
// Its CSP is pinned: forms post to the IdP only (issue 13 item 18; pages
// of a flow add the one redirect URI in play, tested in cmd/xszz), and
// HSTS is sent when the issuer is https.
func TestAssembledHeadersAndRoutes(t *testing.T) {
	s := newTestServer(t, "http://127.0.0.1:8080/")
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	for path, status := range map[string]int{
		"/.well-known/openid-configuration": http.StatusOK, // protocol
		"/login":                            http.StatusOK, // signin
		"/register":                         http.StatusOK, // registration
		"/account":                          http.StatusSeeOther,
		"/healthz":                          http.StatusOK,
		"/metrics":                          http.StatusNotFound, // on ops.listen only
		"/nowhere":                          http.StatusNotFound,
	} {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, status)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != csp {
			t.Errorf("GET %s: CSP %q", path, got)
		}
		if resp.Header.Get("Referrer-Policy") != "same-origin" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("GET %s: HSTS %q from an http issuer", path, got)
		}
	}
	// Scripts only from the IdP's own files (countdown, unit
	// suggestions), which may call the IdP's own JSON API.
	const want = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if csp != want {
		t.Fatalf("the IdP's CSP changed: %q", csp)
	}

	rec := httptest.NewRecorder()
	newTestServer(t, "https://id.xszz.example").Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://id.xszz.example/healthz", nil))
	if got := rec.Header().Get("Strict-Transport-Security"); got != "max-age=31536000; includeSubDomains" {
		t.Errorf("https issuer: HSTS %q", got)
	}
}

func newTestServer(t *testing.T, issuer string) *Server {
	t.Helper()
	db := sqldbtest.OpenSQLite(t)
	ctx := context.Background()
	now := time.Now
	k, err := keys.New(db, keys.Config{EncryptionKey: []byte("0123456789abcdef0123456789abcdef"), EncryptionKeyID: "test", RetainFor: time.Hour}, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	clients := client.NewStore(db, client.Hasher{Key: []byte("client-key")}, now, 0)
	provider, err := oauth.New(oauth.Config{Issuer: "http://127.0.0.1:8080", Secret: []byte("fosite-secret-fosite-secret-0123"),
		AccessTokenTTL: time.Minute, IDTokenTTL: time.Minute, RefreshTokenTTL: time.Hour, CodeTTL: time.Minute, AccessTokenAlg: "ES256", AllowHTTPLoopback: true},
		oauthstore.New(db, oauth.ClientGetter(clients), now), clients, k, clients.Hasher(), now)
	if err != nil {
		t.Fatal(err)
	}
	accounts := account.NewStore(db, now)
	s, err := New(Deps{
		Config:   Config{Issuer: issuer, FlowKey: []byte("0123456789abcdef0123456789abcdef")},
		Provider: provider, Keys: k, Accounts: accounts, Clients: clients,
		Sessions: session.NewStore(db, session.Config{Idle: time.Hour, Absolute: time.Hour}, now),
		OTP:      otp.New(otp.NewMemoryStore(now), nil, otp.Config{}, now, nil), Identities: &Directory{Accounts: accounts},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
