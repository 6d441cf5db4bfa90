package sdk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/sdk/internal/fakeidp"
)

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyAccessToken(t *testing.T) {
	clk := newClock()
	idp, p := setup(t, clk)
	ec, rsaKey := idp.Key("ec-1"), idp.Key("rsa-1")
	sign := func(k *fakeidp.Key, typ string, over map[string]any) string {
		return fakeidp.Sign(t, k, typ, idp.AccessClaims("office", over))
	}
	good := sign(ec, "at+jwt", nil)
	parts := strings.Split(good, ".")
	// HS256 keyed with the RSA public key (algorithm confusion).
	pubDER, _ := x509.MarshalPKIXPublicKey(rsaKey.Public)
	hsInput := b64json(map[string]string{"alg": "HS256", "typ": "at+jwt", "kid": "rsa-1"}) + "." + parts[1]
	mac := hmac.New(sha256.New, pubDER)
	mac.Write([]byte(hsInput))
	hs256 := hsInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	tampered := parts[0] + "." + b64json(idp.AccessClaims("office", map[string]any{"roles": []string{"admin"}})) + "." + parts[2]
	withHeader := func(h map[string]any) string {
		return b64json(h) + "." + parts[1] + "." + parts[2]
	}
	unknown := fakeidp.Sign(t, &fakeidp.Key{KID: "forged", Alg: ec.Alg, Private: ec.Private}, "at+jwt", idp.AccessClaims("office", nil))

	tests := []struct {
		name    string
		token   string
		cfg     Config
		wantErr error
		wantAs  any
	}{
		{name: "good ES256", token: good},
		{name: "good RS256", token: sign(rsaKey, "at+jwt", nil)},
		{name: "typ application/at+jwt", token: sign(ec, "application/AT+JWT", nil)},
		{name: "scp array instead of scope", token: sign(ec, "at+jwt", map[string]any{"scope": nil, "scp": []string{"openid", "org", "cockpit"}})},
		{name: "aud as string", token: sign(ec, "at+jwt", map[string]any{"aud": "office"})},
		{name: "custom audience", token: sign(ec, "at+jwt", map[string]any{"aud": "https://office.example"}), cfg: Config{ClientID: "office", Audience: "https://office.example"}},
		{name: "no client id configured", token: good, cfg: Config{ClientID: "-"}, wantErr: ErrInvalidConfig},
		{name: "alg none", token: b64json(map[string]string{"alg": "none", "typ": "at+jwt"}) + "." + parts[1] + ".", wantErr: ErrMalformedToken},
		{name: "alg none with signature", token: withHeader(map[string]any{"alg": "none", "typ": "at+jwt", "kid": "ec-1"}), wantErr: ErrUnsupportedAlgorithm},
		{name: "HS256 with public key", token: hs256, wantErr: ErrUnsupportedAlgorithm},
		{name: "RS256 not allowed", token: sign(rsaKey, "at+jwt", nil), cfg: Config{ClientID: "office", Algorithms: []string{ES256}}, wantErr: ErrUnsupportedAlgorithm},
		{name: "alg/key mismatch", token: withHeader(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": "ec-1"}), wantErr: ErrUnknownKey},
		{name: "unknown kid", token: unknown, wantErr: ErrUnknownKey},
		{name: "no kid", token: withHeader(map[string]any{"alg": "ES256", "typ": "at+jwt"}), wantErr: ErrUnknownKey},
		{name: "jku header", token: withHeader(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ec-1", "jku": "https://evil/jwks"}), wantErr: ErrForbiddenHeader},
		{name: "x5u header", token: withHeader(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ec-1", "x5u": "https://evil/cert"}), wantErr: ErrForbiddenHeader},
		{name: "embedded jwk", token: withHeader(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ec-1", "jwk": map[string]string{"kty": "EC"}}), wantErr: ErrForbiddenHeader},
		{name: "crit header", token: withHeader(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "ec-1", "crit": []string{"exp"}}), wantErr: ErrForbiddenHeader},
		{name: "wrong issuer", token: sign(ec, "at+jwt", map[string]any{"iss": idp.Issuer + "/"}), wantErr: ErrInvalidIssuer},
		{name: "wrong audience", token: sign(ec, "at+jwt", map[string]any{"aud": []string{"cockpit"}}), wantErr: ErrInvalidAudience},
		{name: "no audience", token: sign(ec, "at+jwt", map[string]any{"aud": nil}), wantErr: ErrInvalidAudience},
		{name: "expired", token: sign(ec, "at+jwt", map[string]any{"exp": clk.Now().Add(-time.Minute).Unix()}), wantAs: new(*TokenExpiredError)},
		{name: "expired within leeway", token: sign(ec, "at+jwt", map[string]any{"exp": clk.Now().Add(-10 * time.Second).Unix()})},
		{name: "expired, no leeway", token: sign(ec, "at+jwt", map[string]any{"exp": clk.Now().Add(-10 * time.Second).Unix()}), cfg: Config{ClientID: "office", Leeway: -1}, wantAs: new(*TokenExpiredError)},
		{name: "nbf in future", token: sign(ec, "at+jwt", map[string]any{"nbf": clk.Now().Add(time.Minute).Unix()}), wantAs: new(*TokenNotYetValidError)},
		{name: "iat in future", token: sign(ec, "at+jwt", map[string]any{"iat": clk.Now().Add(time.Minute).Unix()}), wantErr: ErrIssuedInFuture},
		{name: "no exp", token: sign(ec, "at+jwt", map[string]any{"exp": nil}), wantAs: new(*MissingClaimError)},
		{name: "no iat", token: sign(ec, "at+jwt", map[string]any{"iat": nil}), wantAs: new(*MissingClaimError)},
		{name: "no jti", token: sign(ec, "at+jwt", map[string]any{"jti": nil}), wantAs: new(*MissingClaimError)},
		{name: "no client_id", token: sign(ec, "at+jwt", map[string]any{"client_id": nil}), wantAs: new(*MissingClaimError)},
		{name: "no sub", token: sign(ec, "at+jwt", map[string]any{"sub": nil}), wantAs: new(*MissingClaimError)},
		{name: "exp as string", token: sign(ec, "at+jwt", map[string]any{"exp": "tomorrow"}), wantErr: ErrMalformedToken},
		{name: "exp huge", token: sign(ec, "at+jwt", map[string]any{"exp": 1e300}), wantErr: ErrMalformedToken},
		{name: "ID token as access token", token: fakeidp.Sign(t, rsaKey, "JWT", idp.IDClaims("office", "n", nil)), wantErr: ErrInvalidType},
		{name: "untyped as access token", token: sign(ec, "", nil), wantErr: ErrInvalidType},
		{name: "logout token as access token", token: fakeidp.Sign(t, ec, "logout+jwt", idp.LogoutClaims("office", "acct-42", "", nil)), wantErr: ErrInvalidType},
		{name: "tampered payload", token: tampered, wantErr: ErrInvalidSignature},
		// One character off leaves a length no base64 has (4n+1): always
		// malformed. (Four characters off decode 1 time in 16, when the
		// dropped bits happen to be zero, and then fail as a bad signature.)
		{name: "truncated signature", token: good[:len(good)-1], wantErr: ErrMalformedToken},
		{name: "short signature", token: parts[0] + "." + parts[1] + "." + parts[2][:40], wantErr: ErrInvalidSignature},
		{name: "signature of other key", token: parts[0] + "." + parts[1] + "." + strings.Split(sign(rsaKey, "at+jwt", nil), ".")[2], wantErr: ErrInvalidSignature},
		{name: "oversized", token: good + strings.Repeat("A", 9000), wantErr: ErrTokenTooLarge},
		{name: "10000 dots", token: strings.Repeat(".", 10000), wantErr: ErrTokenTooLarge},
		{name: "5000 dots", token: strings.Repeat(".", 5000), cfg: Config{ClientID: "office", MaxTokenSize: 1 << 20}, wantErr: ErrMalformedToken},
		{name: "JWE shape", token: "a.b.c.d.e", wantErr: ErrMalformedToken},
		{name: "empty", token: "", wantErr: ErrMalformedToken},
		{name: "padding in base64", token: parts[0] + "=." + parts[1] + "." + parts[2], wantErr: ErrMalformedToken},
		{name: "header not JSON", token: "bm90IGpzb24." + parts[1] + "." + parts[2], wantErr: ErrMalformedToken},
		{name: "payload not JSON", token: parts[0] + ".bm90IGpzb24." + parts[2], wantErr: ErrInvalidSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.ClientID == "" {
				cfg.ClientID = "office"
			} else if cfg.ClientID == "-" {
				cfg.ClientID = ""
			}
			c, err := p.AccessTokenVerifier(&cfg).Verify(context.Background(), tt.token)
			switch {
			case tt.wantErr == nil && tt.wantAs == nil:
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Subject != "acct-42" || c.Org == nil || c.Org.ID != "320000" || !c.HasGrant("cockpit") || !c.HasScope("org") {
					t.Fatalf("claims = %+v", c)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			default:
				if !errors.As(err, tt.wantAs) {
					t.Fatalf("err = %v (%T), want %T", err, err, tt.wantAs)
				}
			}
		})
	}
}
