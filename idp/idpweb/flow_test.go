package idpweb_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/idpweb"
)

// A sealed flow opens on any replica with the same key until FlowTTL has
// passed; a changed, foreign, oversized or old token does not.
func TestFlowSealing(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	key := []byte("0123456789abcdef0123456789abcdef")
	sealer := &idpweb.Sealer{Key: key, Now: func() time.Time { return now }}
	f := idpweb.Flow{Query: "client_id=a&scope=openid", RequestedAt: now.Unix(), Stale: "sid-1"}
	tok := sealer.Seal(f)

	got, err := (&idpweb.Sealer{Key: key, Now: func() time.Time { return now.Add(idpweb.FlowTTL) }}).Open(tok)
	if err != nil || got != f {
		t.Fatalf("open on another replica at the deadline: %+v %v, want %+v", got, err, f)
	}
	payload, mac, _ := strings.Cut(tok, ".")
	refused := []struct {
		name   string
		sealer *idpweb.Sealer
		token  string
	}{
		{"empty", sealer, ""},
		{"no MAC", sealer, payload},
		{"changed payload", sealer, payload + "x." + mac},
		{"another key", &idpweb.Sealer{Key: []byte("another key, another deployment!"), Now: sealer.Now}, tok},
		{"too old", &idpweb.Sealer{Key: key, Now: func() time.Time { return now.Add(idpweb.FlowTTL + time.Second) }}, tok},
		{"oversized", sealer, strings.Repeat("a", idpweb.MaxFlowSize+1)},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.sealer.Open(tc.token); !errors.Is(err, idpweb.ErrBadFlow) {
				t.Fatalf("opened: err %v, want ErrBadFlow", err)
			}
		})
	}
}

// Each use of the key has its own label, so a MAC made for one use is
// worthless for another.
func TestSumSeparatesUses(t *testing.T) {
	s := &idpweb.Sealer{Key: []byte("0123456789abcdef0123456789abcdef")}
	if s.Sum("xszz-csrf:", "sid") == s.Sum("xszz-mfa:", "sid") || s.LogoutMAC("sid") == s.Sum("xszz-csrf:", "sid") {
		t.Fatal("two uses share a MAC")
	}
}

func TestSafeReturnAcceptsOnlyTheIdPsOwnPaths(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"/admin", "/admin", true},
		{"/admin/accounts/abc?ok=1", "/admin/accounts/abc?ok=1", true},
		{"/account", "/account", true},
		{"", "", false},
		{"admin", "", false},
		{"//evil.example/x", "", false},
		{"/\\evil.example", "", false},
		{"https://evil.example/admin", "", false},
		{"/\x00admin", "", false},
		{"/admin\r\nX: 1", "", false},
		{"/login", "", false},
		{"/login/totp", "", false},
	} {
		got, ok := idpweb.SafeReturn(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("SafeReturn(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestReturnFlowCarriesThePathSealed(t *testing.T) {
	s := &idpweb.Sealer{Key: make([]byte, 32), Now: time.Now}
	tok, ok := s.ReturnFlow("/admin/audit")
	if !ok {
		t.Fatal("a console path was refused")
	}
	f, err := s.Open(tok)
	if err != nil || f.Return != "/admin/audit" || f.Query != "" {
		t.Fatalf("opened %+v, %v", f, err)
	}
	if _, ok := s.ReturnFlow("//evil.example"); ok {
		t.Error("a protocol-relative URL was sealed")
	}
	if got := idpweb.LoginPath("https://evil.example"); got != "/login" {
		t.Errorf("LoginPath of a foreign URL = %q", got)
	}
	if got := idpweb.LoginPath("/account"); got != "/login?return=%2Faccount" {
		t.Errorf("LoginPath(/account) = %q", got)
	}
}
