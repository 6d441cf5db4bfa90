package web

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIPBelievesOnlyTrustedProxies(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("2001:db8::/64")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies configured: a forged header is ignored", nil, "203.0.113.7:4000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"an untrusted peer's forged header is ignored", lb, "203.0.113.7:4000", []string{"198.51.100.1"}, "203.0.113.7"},
		{"a private peer is not trusted unless configured", lb, "192.168.1.5:4000", []string{"198.51.100.1"}, "192.168.1.5"},
		{"a loopback peer is not trusted unless configured", lb, "127.0.0.1:4000", []string{"198.51.100.1"}, "127.0.0.1"},
		{"from the balancer: the address it appended", lb, "10.0.0.2:4000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"from the balancer: the client's own prefix is not believed", lb, "10.0.0.2:4000", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops are skipped", lb, "10.0.0.2:4000", []string{"1.2.3.4, 198.51.100.1, 10.0.0.9"}, "198.51.100.1"},
		{"several headers are read as one list", lb, "10.0.0.2:4000", []string{"1.2.3.4", "198.51.100.1"}, "198.51.100.1"},
		{"IPv6 balancer and client", lb, "[2001:db8::1]:4000", []string{"2001:db8:ffff::5"}, "2001:db8:ffff::5"},
		{"from the balancer without a header", lb, "10.0.0.2:4000", nil, "10.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(tc.trusted)(r); got != tc.want {
				t.Errorf("client IP %q, want %q", got, tc.want)
			}
		})
	}
}
