package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/audit"
)

// signInFrom signs p in through the JSON API with an X-Forwarded-For
// header and returns the address the audit log recorded for the sign-in.
func signInFrom(t *testing.T, sys *system, xff string) string {
	t.Helper()
	b := sys.browser(t)
	p := sys.newAccount(t)
	code := b.sendCode(p)
	r := b.do(http.MethodPost, "/api/v1/login", jsonBody(map[string]string{"phone": p.Phone, "code": code}),
		map[string]string{"Content-Type": "application/json", "X-Forwarded-For": xff})
	if r.Status != http.StatusOK {
		t.Fatalf("login: %s", r)
	}
	entries, err := sys.app.Audit.Search(context.Background(), audit.Query{ActorID: p.ID, Type: "login.success"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit entries %v, %v", entries, err)
	}
	return entries[0].IP
}

// Behind a load balancer (http.trusted_proxies) the client's address is
// the right-most one in X-Forwarded-For that is not a trusted proxy;
// without one configured, the header is ignored, so a client cannot pick
// its own address for rate limits and the audit log.
func TestClientAddressBehindTrustedProxies(t *testing.T) {
	const forged = "203.0.113.9, 198.51.100.23"
	forEachBackend(t, func(t *testing.T, be backend) {
		t.Run("no trusted proxies: the header is ignored", func(t *testing.T) {
			if ip := signInFrom(t, sharedSystem(t, be), forged); ip != "127.0.0.1" {
				t.Errorf("audit records %q, want the peer 127.0.0.1", ip)
			}
		})
		t.Run("from a trusted proxy: the right-most untrusted address", func(t *testing.T) {
			sys := startSystem(t, be, func(c *Config) { c.HTTP.TrustedProxies = []string{"127.0.0.0/8"} })
			if ip := signInFrom(t, sys, forged+", 127.0.0.5"); ip != "198.51.100.23" {
				t.Errorf("audit records %q, want 198.51.100.23", ip)
			}
		})
		t.Run("the peer is not one of the trusted proxies", func(t *testing.T) {
			sys := startSystem(t, be, func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8"} })
			if ip := signInFrom(t, sys, forged); ip != "127.0.0.1" {
				t.Errorf("audit records %q, want the peer 127.0.0.1", ip)
			}
		})
	})
}

func TestTrustedProxiesFromTheEnvironment(t *testing.T) {
	t.Setenv("XSZZ_HTTP_TRUSTED_PROXIES", "10.0.0.0/8, 2001:db8::/32,192.0.2.7")
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.TrustedProxies()
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	if err != nil || !slices.Equal(s, []string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"}) {
		t.Fatalf("trusted proxies %v, %v", s, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "load-balancer", "0.0.0.0/0"} {
		t.Setenv("XSZZ_HTTP_TRUSTED_PROXIES", bad)
		if _, err := loadConfig(""); err == nil || !strings.Contains(err.Error(), "http.trusted_proxies") {
			t.Errorf("%q: %v, want an error naming http.trusted_proxies", bad, err)
		}
	}
}
