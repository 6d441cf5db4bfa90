package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite/token/jwt"

	"github.com/xszz/xszz/idp/keys"
)

// The IdP's own JWT parser (id_token_hint, logout hints, access tokens at
// introspection) against hostile tokens: SECURITY.md #30–31. Every one is
// refused with ErrMalformed or ErrSignature, never accepted, never a panic.

// Test keys live in testdata so the fuzz seed corpus can hold tokens they
// signed.
const (
	rsaKID = "rsa-test-key"
	ecKID  = "ec-test-key"
)

// testNow is the signer's clock; seed tokens expire long after it.
var testNow = time.Unix(1_800_000_000, 0)

// fakeKeys is a fixed key set: one RS256 and one ES256 key.
type fakeKeys map[string]*keys.Key

func (f fakeKeys) Active(_ context.Context, alg string) (*keys.Key, error) {
	for _, k := range f {
		if k.Alg == alg {
			return k, nil
		}
	}
	return nil, fmt.Errorf("no %s key", alg)
}

func (f fakeKeys) PublicKey(_ context.Context, kid string) (*keys.Key, error) {
	if k, ok := f[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("no key %q", kid)
}

func loadKey(t testing.TB, file string) crypto.Signer {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatalf("%s: no PEM block", file)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return k.(crypto.Signer)
}

func testKeys(t testing.TB) fakeKeys {
	rsaKey := loadKey(t, "testdata/rsa_test_key.pem")
	ecKey := loadKey(t, "testdata/ec_test_key.pem")
	return fakeKeys{
		rsaKID: {ID: rsaKID, Alg: "RS256", Signer: rsaKey, Public: rsaKey.Public()},
		ecKID:  {ID: ecKID, Alg: "ES256", Signer: ecKey, Public: ecKey.Public()},
	}
}

func testSigner(t testing.TB) (*Signer, fakeKeys) {
	k := testKeys(t)
	return NewSigner(k, "RS256", func() time.Time { return testNow }), k
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

func claims() map[string]any {
	return map[string]any{"iss": "https://idp.example.test", "sub": "someone", "aud": "rp", "iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix()}
}

// forge builds a compact JWS by hand, so any header can be set; sign
// returns the signature of the signing input.
func forge(t testing.TB, header, payload map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	input := b64JSON(t, header) + "." + b64JSON(t, payload)
	return input + "." + b64(sign([]byte(input)))
}

func rs256(key crypto.Signer) func([]byte) []byte {
	return func(input []byte) []byte {
		sum := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		return sig
	}
}

func es256(key crypto.Signer) func([]byte) []byte {
	return func(input []byte) []byte {
		sum := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), sum[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

func hs256(key []byte) func([]byte) []byte {
	return func(input []byte) []byte {
		m := hmac.New(sha256.New, key)
		m.Write(input)
		return m.Sum(nil)
	}
}

func none([]byte) []byte { return nil }

// hostileTokens are the tokens every parser of the IdP must refuse, with
// the error each must be refused with.
func hostileTokens(t testing.TB, s *Signer, k fakeKeys) []struct {
	name, token string
	want        error
} {
	rsaKey, ecKey := k[rsaKID].Signer, k[ecKID].Signer
	pubDER, err := x509.MarshalPKIXPublicKey(rsaKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubJWK, err := jose.JSONWebKey{Key: rsaKey.Public(), KeyID: rsaKID, Algorithm: "RS256", Use: "sig"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	attackerJWK := map[string]any{"kty": "RSA", "kid": "attacker", "n": b64(attacker.N.Bytes()), "e": b64(big.NewInt(int64(attacker.E)).Bytes())}

	valid, err := s.Sign(context.Background(), "RS256", "JWT", claims())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(valid, ".")
	other := claims()
	other["sub"] = "someone-else"

	return []struct {
		name, token string
		want        error
	}{
		{"alg none, no signature", forge(t, map[string]any{"alg": "none", "kid": rsaKID}, claims(), none), ErrMalformed},
		{"alg None, no signature", forge(t, map[string]any{"alg": "None", "kid": rsaKID}, claims(), none), ErrMalformed},
		{"alg none with our RS256 signature", forge(t, map[string]any{"alg": "none", "kid": rsaKID}, claims(), rs256(rsaKey)), ErrMalformed},
		{"no alg at all", forge(t, map[string]any{"kid": rsaKID}, claims(), rs256(rsaKey)), ErrMalformed},
		{"HS256 keyed with the RSA public key (PEM)", forge(t, map[string]any{"alg": "HS256", "kid": rsaKID, "typ": "JWT"}, claims(), hs256(pubPEM)), ErrMalformed},
		{"HS256 keyed with the RSA public key (DER)", forge(t, map[string]any{"alg": "HS256", "kid": rsaKID}, claims(), hs256(pubDER)), ErrMalformed},
		{"HS256 keyed with the RSA public key (JWK)", forge(t, map[string]any{"alg": "HS256", "kid": rsaKID}, claims(), hs256(pubJWK)), ErrMalformed},
		{"HS256 without a kid", forge(t, map[string]any{"alg": "HS256"}, claims(), hs256(pubPEM)), ErrMalformed},
		{"unknown kid", forge(t, map[string]any{"alg": "RS256", "kid": "no-such-kid"}, claims(), rs256(rsaKey)), ErrSignature},
		{"no kid", forge(t, map[string]any{"alg": "RS256"}, claims(), rs256(rsaKey)), ErrSignature},
		{"unknown kid, signed by an attacker", forge(t, map[string]any{"alg": "RS256", "kid": "attacker"}, claims(), rs256(attacker)), ErrSignature},
		{"our kid, signed by an attacker", forge(t, map[string]any{"alg": "RS256", "kid": rsaKID}, claims(), rs256(attacker)), ErrSignature},
		{"ES256 header on the RSA key", forge(t, map[string]any{"alg": "ES256", "kid": rsaKID}, claims(), es256(ecKey)), ErrSignature},
		{"RS256 header on the EC key", forge(t, map[string]any{"alg": "RS256", "kid": ecKID}, claims(), rs256(rsaKey)), ErrSignature},
		{"jku header", forge(t, map[string]any{"alg": "RS256", "kid": rsaKID, "jku": "https://evil.example/jwks.json"}, claims(), rs256(rsaKey)), ErrMalformed},
		{"x5u header", forge(t, map[string]any{"alg": "RS256", "kid": rsaKID, "x5u": "https://evil.example/cert.pem"}, claims(), rs256(rsaKey)), ErrMalformed},
		{"embedded jwk of the attacker", forge(t, map[string]any{"alg": "RS256", "kid": "attacker", "jwk": attackerJWK}, claims(), rs256(attacker)), ErrMalformed},
		{"embedded jwk naming our key", forge(t, map[string]any{"alg": "RS256", "kid": rsaKID, "jwk": json.RawMessage(pubJWK)}, claims(), rs256(rsaKey)), ErrMalformed},
		{"tampered payload", parts[0] + "." + b64JSON(t, other) + "." + parts[2], ErrSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + b64([]byte(strings.Repeat("x", 256))), ErrSignature},
		{"signature removed", parts[0] + "." + parts[1] + ".", ErrSignature},
		{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(forge(t, map[string]any{"alg": "RS256", "kid": rsaKID}, other, rs256(rsaKey)), ".")[2], ErrSignature},
		{"10,000 dots", strings.Repeat(".", 10_000), ErrMalformed},
		{"a token followed by 10,000 dots", valid + strings.Repeat(".", 10_000), ErrMalformed},
		{"10,000 dot-separated parts", strings.Repeat("eyJ9.", 10_000) + "x", ErrMalformed},
		{"oversized but well-signed", oversized(t, s), ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"four parts", valid + ".x", ErrMalformed},
		{"empty", "", ErrMalformed},
		{"not base64", "!!.!!.!!", ErrMalformed},
		{"header not JSON", b64([]byte("not json")) + "." + parts[1] + "." + parts[2], ErrMalformed},
		{"JSON serialisation instead of compact", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, ErrMalformed},
		{"payload not JSON, well signed", forgeRaw(parts[0], b64([]byte("[1,2")), rs256(rsaKey)), ErrMalformed},
	}
}

func forgeRaw(header, payload string, sign func([]byte) []byte) string {
	input := header + "." + payload
	return input + "." + b64(sign([]byte(input)))
}

// oversized is a correctly signed token larger than MaxTokenSize.
func oversized(t testing.TB, s *Signer) string {
	c := claims()
	c["padding"] = strings.Repeat("a", MaxTokenSize)
	tok, err := s.Sign(context.Background(), "ES256", "JWT", c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyRefusesHostileTokens(t *testing.T) {
	s, k := testSigner(t)
	ctx := context.Background()
	for _, tc := range hostileTokens(t, s, k) {
		t.Run(tc.name, func(t *testing.T) {
			claims, header, err := s.Verify(ctx, tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
			if claims != nil || header != nil {
				t.Fatalf("Verify returned claims %v and header %v with its error", claims, header)
			}
			tok, err := s.Decode(ctx, tc.token)
			var ve *jwt.ValidationError
			if !errors.As(err, &ve) || tok != nil {
				t.Fatalf("Decode: token %v, error %v; want no token and a validation error", tok, err)
			}
			if sig, err := s.Validate(ctx, tc.token); err == nil || sig != "" {
				t.Fatalf("Validate: %q, %v; want an error", sig, err)
			}
		})
	}
}

// The same signer accepts what it signed, so the refusals above are not
// a signer that refuses everything.
func TestVerifyAcceptsItsOwnTokens(t *testing.T) {
	s, _ := testSigner(t)
	ctx := context.Background()
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			tok, err := s.Sign(ctx, alg, "at+jwt", claims())
			if err != nil {
				t.Fatal(err)
			}
			c, h, err := s.Verify(ctx, tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c["sub"] != "someone" || h["alg"] != alg || h["typ"] != "at+jwt" {
				t.Fatalf("claims %v, header %v", c, h)
			}
		})
	}
	t.Run("expired: ErrExpired with the claims", func(t *testing.T) {
		c := claims()
		c["exp"] = testNow.Add(-time.Second).Unix()
		tok, err := s.Sign(ctx, "ES256", "JWT", c)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := s.Verify(ctx, tok)
		if !errors.Is(err, ErrExpired) || got["sub"] != "someone" {
			t.Fatalf("Verify: %v, %v; want ErrExpired with the claims", got, err)
		}
	})
}

// FuzzVerify feeds arbitrary strings to the parser. Whatever comes in,
// Verify and Decode return (no panic), and a token is accepted only if it
// carries a valid signature of a known key: nothing a mutation produces
// from the seeds. `go test` replays the seeds in testdata/fuzz/FuzzVerify
// and these; `go test -fuzz FuzzVerify ./idp/oauth` explores further.
func FuzzVerify(f *testing.F) {
	s, k := testSigner(f)
	for _, tc := range hostileTokens(f, s, k) {
		if len(tc.token) <= 4096 {
			f.Add(tc.token)
		}
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, token string) {
		claims, _, err := s.Verify(ctx, token)
		switch {
		case err == nil, errors.Is(err, ErrExpired):
			// Only a token one of the keys signed gets here: check the
			// signature independently of Verify.
			jws, perr := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
			if perr != nil {
				t.Fatalf("Verify accepted what go-jose cannot parse: %v", perr)
			}
			key, kerr := k.PublicKey(ctx, jws.Signatures[0].Header.KeyID)
			if kerr != nil {
				t.Fatalf("Verify accepted an unknown kid")
			}
			if _, verr := jws.Verify(key.Public); verr != nil {
				t.Fatalf("Verify accepted a bad signature: %v", verr)
			}
			if claims == nil {
				t.Fatalf("accepted without claims")
			}
		case errors.Is(err, ErrMalformed), errors.Is(err, ErrSignature):
		default:
			t.Fatalf("Verify: unexpected error %v", err)
		}
		if _, err := s.Decode(ctx, token); err != nil {
			var ve *jwt.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Decode: %T %v, want a *jwt.ValidationError", err, err)
			}
		}
	})
}
