package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/web"
)

// The SDK against the real IdP: a relying party built on it signs a person
// in, verifies access tokens across a key rotation, and loses its session
// when the IdP signs the person out by back-channel logout.

type sdkRP struct {
	sys      *system
	srv      *httptest.Server
	web      *web.Auth
	provider *sdk.Provider
	store    *web.MemoryStore
	id       string
	secret   string
}

func newSDKRP(t *testing.T, sys *system) *sdkRP {
	t.Helper()
	rp := &sdkRP{sys: sys, store: web.NewMemoryStore()}
	mux := http.NewServeMux()
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	id, secret := sys.newClient(t, func(s *client.Spec) {
		s.RedirectURIs = []string{rp.srv.URL + "/callback", callbackURL}
		s.BackchannelLogoutURI = rp.srv.URL + "/backchannel"
		s.PostLogoutRedirectURIs = []string{rp.srv.URL + "/"}
	})
	rp.id, rp.secret = id, secret
	var err error
	// The SDK runs on the IdP's test clock so that rotation can be fast-forwarded.
	rp.provider, err = (&sdk.ProviderConfig{
		Endpoints: sdk.Endpoints{Issuer: sys.url, JWKSURI: sys.url + "/.well-known/jwks.json",
			AuthorizationEndpoint: sys.url + "/oauth2/auth", TokenEndpoint: sys.url + "/oauth2/token",
			EndSessionEndpoint: sys.url + "/oauth2/logout", IntrospectionEndpoint: sys.url + "/oauth2/introspect"},
		Now: sys.clock.Now,
	}).NewProvider(context.Background())
	if err != nil {
		t.Fatalf("sdk provider: %v", err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	rp.web, err = web.New(rp.provider, &web.Config{
		ClientID: id, ClientSecret: secret, RedirectURL: rp.srv.URL + "/callback",
		CookieKey: key, Store: rp.store, PostLogoutRedirectURL: rp.srv.URL + "/",
	})
	if err != nil {
		t.Fatalf("sdk web: %v", err)
	}
	mux.HandleFunc("/login", rp.web.Login)
	mux.HandleFunc("/callback", rp.web.Callback)
	mux.HandleFunc("/backchannel", rp.web.BackChannelLogout)
	mux.Handle("/me", rp.web.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := web.SessionFromContext(r.Context())
		w.Write([]byte(s.Claims.Org.ID))
	})))
	return rp
}

// signIn runs the SDK's login in browser b and returns the RP's page.
func (rp *sdkRP) signIn(t *testing.T, b *browser, p person) reply {
	t.Helper()
	r := b.get(rp.srv.URL + "/login")
	if r.Status != http.StatusFound && r.Status != http.StatusSeeOther {
		t.Fatalf("RP login: %s", r)
	}
	back := b.authorize(r.Header.Get("Location"), p)
	loc := back.location()
	if loc == nil || !strings.HasPrefix(loc.String(), rp.srv.URL+"/callback") {
		t.Fatalf("IdP did not return to the RP: %s", back)
	}
	cb := b.get(loc.String())
	if cb.Status >= 400 {
		t.Fatalf("RP callback: %s", cb)
	}
	return b.get(rp.srv.URL + "/me")
}

func TestSDKAgainstTheIdP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		ctx := context.Background()
		if _, err := sys.app.Orgs.Get(ctx, "320000"); err != nil {
			t.Fatalf("seeded org: %v", err)
		}
		p := sys.newAccount(t, func(a *account.Account) { a.OrgID = "320000" })
		rp := newSDKRP(t, sys)

		t.Run("web sign-in puts the org claim in the session", func(t *testing.T) {
			b := sys.browser(t)
			me := rp.signIn(t, b, p)
			if me.Status != http.StatusOK || me.Body != "320000" {
				t.Fatalf("RP page after sign-in: %s", me)
			}
		})

		t.Run("back-channel logout ends the RP session", func(t *testing.T) {
			b := sys.browser(t)
			if me := rp.signIn(t, b, p); me.Status != http.StatusOK {
				t.Fatalf("sign-in: %s", me)
			}
			if _, err := sys.app.Admin.Disable(ctx, admin.Actor{System: true}, p.ID); err != nil {
				t.Fatalf("disable: %v", err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				me := b.get(rp.srv.URL + "/me")
				if me.Status != http.StatusOK {
					break // Require sends the visitor to sign in again
				}
				if time.Now().After(deadline) {
					t.Fatal("the RP session outlived the account by 10 s: no back-channel logout arrived")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
		t.Run("access tokens verify across a key rotation", func(t *testing.T) {
			// Last: it moves the clock past the new keys' publication.
			p2 := sys.newAccount(t, func(a *account.Account) { a.OrgID = "320000" })
			b := sys.browser(t)
			verifier := rp.provider.AccessTokenVerifier(&sdk.Config{ClientID: rp.id})
			before := accessTokenFor(t, sys, b, p2, rp)
			if _, err := verifier.Verify(ctx, before); err != nil {
				t.Fatalf("verify before rotation: %v", err)
			}
			if _, err := sys.app.Keys.Rotate(ctx); err != nil {
				t.Fatalf("rotate: %v", err)
			}
			// The new keys sign once every replica and every JWKS cache has
			// seen them; the SDK's refetch interval has passed by then too.
			sys.clock.Advance(2 * time.Minute)
			after := accessTokenFor(t, sys, b, p2, rp)
			if kidOf(t, after) == kidOf(t, before) {
				t.Fatal("the rotation did not change the signing key")
			}
			for name, tok := range map[string]string{"old key": before, "new key": after} {
				claims, err := verifier.Verify(ctx, tok)
				if err != nil {
					t.Fatalf("verify token signed with the %s: %v", name, err)
				}
				if claims.Org == nil || claims.Org.ID != "320000" || !claims.Org.Within("000000") {
					t.Fatalf("org claim of %s token: %+v", name, claims.Org)
				}
			}
		})

	})
}

// accessTokenFor signs p in at the RP's client with PKCE and returns the
// access token.
func accessTokenFor(t *testing.T, sys *system, b *browser, p person, rp *sdkRP) string {
	t.Helper()
	c := sys.rpFor(t, rp.id, rp.secret)
	a := c.authURL()
	r := b.authorize(a.url, p)
	loc := r.location()
	if loc == nil {
		t.Fatalf("authorize: %s", r)
	}
	tok, err := c.exchange(loc.Query().Get("code"), a)
	if err != nil {
		t.Fatalf("exchange: %v (redirect %s)", err, loc)
	}
	return tok.AccessToken
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	h, _, ok := strings.Cut(tok, ".")
	if !ok {
		t.Fatal("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("header: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("header: %v", err)
	}
	kid, _ := m["kid"].(string)
	return kid
}
