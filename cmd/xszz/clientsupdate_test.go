package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/audit"
)

// TestClientsUpdate: `xszz clients update` changes only the fields whose
// flags are given, validates the result like a new registration (a refused
// change leaves nothing behind), audits each change and never prints the
// secret; a legacy relying party that cannot send PKCE signs in once it is
// updated with --allow-no-pkce, while a client not updated is still
// refused. `xszz clients rotate-secret` prints a new secret once: it
// works at the token endpoint and the old one no longer does.
func TestClientsUpdate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		env := newSharedEnv(t, be)
		sys := startNode(t, env)
		ctx := context.Background()
		clients := func(args ...string) (string, error) {
			return runCLI(t, env, (*cli).clientsCmd, args...)
		}
		withoutPKCE := func(c *rp) string {
			u, _ := url.Parse(c.authURL().url)
			q := u.Query()
			q.Del("code_challenge")
			q.Del("code_challenge_method")
			return "/oauth2/auth?" + q.Encode()
		}
		decode := func(out string) map[string]any {
			t.Helper()
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			return m
		}

		legacy, control := sys.newRP(t), sys.newRP(t)
		out, err := clients("update", legacy.id, "--allow-no-pkce", "--name", "旧版资助系统")
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		m := decode(out)
		if m["client_id"] != legacy.id || m["allow_no_pkce"] != true || m["client_name"] != "旧版资助系统" ||
			!slices.Equal(toStrings(m["redirect_uris"]), []string{callbackURL}) || m["trusted"] != true ||
			!slices.Equal(toStrings(m["post_logout_redirect_uris"]), []string{"https://rp.example.test/bye"}) {
			t.Errorf("after update: %s", out)
		}
		for _, secretish := range []string{`"client_secret"`, "secret_hash", legacy.secret} {
			if strings.Contains(out, secretish) {
				t.Errorf("update printed %q:\n%s", secretish, out)
			}
		}

		q := callback(t, sys.browser(t).authorize(withoutPKCE(legacy), sys.newAccount(t)), callbackURL)
		if q.Get("code") == "" {
			t.Fatalf("the updated legacy client without PKCE: %v", q)
		}
		if tok, err := legacy.oauth.Exchange(legacy.ctx, q.Get("code")); err != nil || tok.AccessToken == "" {
			t.Fatalf("exchange without a verifier: %v", err)
		}
		if q := callback(t, sys.browser(t).visit(withoutPKCE(control)), callbackURL); q.Get("error") != "invalid_request" {
			t.Errorf("a client not updated signed in without PKCE: %v", q)
		}

		refused := []struct {
			name string
			args []string
		}{
			{"no flag", []string{"update", legacy.id}},
			{"an http redirect URI", []string{"update", legacy.id, "--redirect-uri", "http://rp.example.test/cb"}},
			{"a redirect URI with a fragment", []string{"update", legacy.id, "--redirect-uri", "https://rp.example.test/cb#x"}},
			{"an unknown scope", []string{"update", legacy.id, "--scope", "openid everything"}},
			{"a directory root without the directory scope", []string{"update", legacy.id, "--directory-root", "320000"}},
			{"an empty name", []string{"update", legacy.id, "--name", " "}},
			{"an unknown client", []string{"update", "no-such-client", "--trusted=false"}},
			{"rotating the secret of an unknown client", []string{"rotate-secret", "no-such-client"}},
		}
		for _, r := range refused {
			if out, err := clients(r.args...); err == nil {
				t.Errorf("%s: accepted:\n%s", r.name, out)
			}
		}

		out, err = clients("update", legacy.id, "--redirect-uri", "https://rp.example.test/a", "--redirect-uri", "https://rp.example.test/b",
			"--allow-no-pkce=false", "--trusted=false", "--post-logout-redirect-uri", "https://rp.example.test/out")
		if err != nil {
			t.Fatalf("second update: %v", err)
		}
		m = decode(out)
		if !slices.Equal(toStrings(m["redirect_uris"]), []string{"https://rp.example.test/a", "https://rp.example.test/b"}) ||
			m["allow_no_pkce"] != nil || m["trusted"] != false || m["client_name"] != "旧版资助系统" ||
			!slices.Equal(toStrings(m["post_logout_redirect_uris"]), []string{"https://rp.example.test/out"}) {
			t.Errorf("after the second update: %s", out)
		}

		entries, err := sys.app.Audit.Search(ctx, audit.Query{SubjectID: legacy.id, Type: "client.updated"})
		if err != nil || len(entries) != 2 {
			t.Fatalf("audit of the updates: %d entries, %v (want 2: refusals are not recorded)", len(entries), err)
		}
		if got := entries[0].Detail["changed"]; got != "redirect_uris post_logout_redirect_uris trusted allow_no_pkce" {
			t.Errorf("the latest update records changed=%q", got)
		}
		if got := entries[1].Detail["changed"]; got != "client_name allow_no_pkce" || entries[1].ActorID != "cli" {
			t.Errorf("the first update records %+v", entries[1])
		}

		// A fresh client, not yet read by the server, gets a new secret.
		id, old := sys.newClient(t)
		out, err = clients("rotate-secret", id)
		if err != nil {
			t.Fatalf("rotate-secret: %v", err)
		}
		secret, _ := decode(out)["client_secret"].(string)
		if len(secret) < 40 || secret == old {
			t.Fatalf("rotate-secret printed %s", out)
		}
		form := func() url.Values { return url.Values{"grant_type": {"client_credentials"}} }
		if r := sys.postAs(t, id, secret, "/oauth2/token", form()); r.Status != http.StatusOK {
			t.Errorf("the new secret at the token endpoint: %s", r)
		}
		if r := sys.postAs(t, id, old, "/oauth2/token", form()); r.Status != http.StatusUnauthorized {
			t.Errorf("the old secret at the token endpoint: %s", r)
		}
		if entries, err := sys.app.Audit.Search(ctx, audit.Query{SubjectID: id, Type: "client.secret_rotated"}); err != nil || len(entries) != 1 {
			t.Errorf("audit of the rotation: %d entries, %v", len(entries), err)
		}
		list, err := clients("list")
		if err != nil || strings.Contains(list, secret) || strings.Contains(list, "secret_hash") {
			t.Errorf("list shows a secret or fails: %v", err)
		}
	})
}
