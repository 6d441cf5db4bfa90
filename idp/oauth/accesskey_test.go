package oauth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
)

// Access tokens are stored under jti + "." + JWS signature, the jti
// ordered by time of issue; the key is derived from the token again at
// introspection and revocation.
func TestAccessTokenKey(t *testing.T) {
	s, _ := testSigner(t)
	ctx := context.Background()
	ts := &TokenStrategy{Signer: s, Issuer: "https://idp.example.test", Alg: "ES256", Now: func() time.Time { return testNow }}
	req := fosite.NewAccessRequest(NewSession())
	req.Client = &fosite.DefaultClient{ID: "rp"}
	req.Session.(*Session).Subject = "rp"
	req.Session.SetExpiresAt(fosite.AccessToken, testNow.Add(10*time.Minute))

	tok, key, err := ts.GenerateAccessToken(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sig := signatureOf(tok)
	if got := ts.AccessTokenSignature(ctx, tok); got != key {
		t.Fatalf("key at issue %q, derived from the token %q", key, got)
	}
	jti, rest, ok := strings.Cut(key, ".")
	if !ok || rest != sig || !orderedJTI(jti) {
		t.Fatalf("key %q is not jti.signature", key)
	}
	claims, _, err := s.Verify(ctx, tok)
	if err != nil || claims["jti"] != jti {
		t.Fatalf("token jti %v (%v), key jti %q", claims["jti"], err, jti)
	}

	// A payload with another jti and the real signature gives a key no
	// row has; so does anything malformed, without a panic.
	parts := strings.Split(tok, ".")
	other, _ := newJTI(testNow)
	forged := parts[0] + "." + b64JSON(t, map[string]any{"jti": other}) + "." + parts[2]
	for name, tc := range map[string]struct{ token, want string }{
		"forged jti":                     {forged, other + "." + sig},
		"token from before ordered jtis": {parts[0] + "." + b64JSON(t, map[string]any{"jti": "c2l4dGVlbiByYW5kb20gYnk"}) + "." + parts[2], sig},
		"jti not hex":                    {parts[0] + "." + b64JSON(t, map[string]any{"jti": strings.Repeat("z", 32)}) + "." + parts[2], sig},
		"jti not a string":               {parts[0] + "." + b64JSON(t, map[string]any{"jti": 7}) + "." + parts[2], sig},
		"payload not base64":             {parts[0] + ".!!!." + parts[2], sig},
		"two parts":                      {parts[0] + "." + parts[1], parts[1]},
		"no dot":                         {"nodot", ""},
		"empty":                          {"", ""},
	} {
		if got := ts.AccessTokenSignature(ctx, tc.token); got != tc.want {
			t.Errorf("%s: key %q, want %q", name, got, tc.want)
		}
	}
	if forgedKey := ts.AccessTokenSignature(ctx, forged); forgedKey == key {
		t.Errorf("a forged payload maps to the real token's key")
	}

	// Later tokens sort after earlier ones.
	a, _ := newJTI(testNow)
	b, _ := newJTI(testNow.Add(time.Millisecond))
	if !(a < b) {
		t.Errorf("jti %q issued before %q sorts after it", a, b)
	}
}
