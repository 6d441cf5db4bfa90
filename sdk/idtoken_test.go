package sdk

import (
	"context"
	"errors"
	"testing"

	"github.com/xszz/xszz/sdk/internal/fakeidp"
)

func TestVerifyIDToken(t *testing.T) {
	clk := newClock()
	idp, p := setup(t, clk)
	rsaKey, ec := idp.Key("rsa-1"), idp.Key("ec-1")
	sign := func(k *fakeidp.Key, typ string, over map[string]any) string {
		return fakeidp.Sign(t, k, typ, idp.IDClaims("portal", "n-123", over))
	}
	tests := []struct {
		name, token, nonce string
		wantErr            error
	}{
		{"good RS256", sign(rsaKey, "JWT", nil), "n-123", nil},
		{"good ES256 untyped", sign(ec, "", nil), "n-123", nil},
		{"refresh: nonce not checked", sign(rsaKey, "JWT", map[string]any{"nonce": nil}), "", nil},
		{"nonce mismatch", sign(rsaKey, "JWT", nil), "n-456", ErrInvalidNonce},
		{"nonce missing", sign(rsaKey, "JWT", map[string]any{"nonce": nil}), "n-123", ErrInvalidNonce},
		{"wrong aud", sign(rsaKey, "JWT", map[string]any{"aud": "office"}), "n-123", ErrInvalidAudience},
		{"several aud, no azp", sign(rsaKey, "JWT", map[string]any{"aud": []string{"portal", "office"}}), "n-123", ErrInvalidAudience},
		{"several aud, azp ok", sign(rsaKey, "JWT", map[string]any{"aud": []string{"portal", "office"}, "azp": "portal"}), "n-123", nil},
		{"azp other client", sign(rsaKey, "JWT", map[string]any{"azp": "office"}), "n-123", ErrInvalidAudience},
		{"access token as ID token", fakeidp.Sign(t, ec, "at+jwt", idp.AccessClaims("portal", nil)), "", ErrInvalidType},
		{"logout token typed JWT", fakeidp.Sign(t, rsaKey, "JWT", idp.LogoutClaims("portal", "acct-42", "s", nil)), "", ErrInvalidType},
		{"wrong issuer", sign(rsaKey, "JWT", map[string]any{"iss": "https://evil.example"}), "n-123", ErrInvalidIssuer},
	}
	v := p.IDTokenVerifier(&Config{ClientID: "portal"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.token, tt.nonce)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if c.Phone != "+8613800138000" || !c.PhoneVerified || c.Name != "张三" || c.AuthTime.IsZero() {
					t.Fatalf("claims %+v", c)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
