package sdk

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/xszz/xszz/sdk/internal/fakeidp"
)

// benchToken returns a warmed-up verifier, a token signed with kid, and the
// IdP (to count JWKS requests).
func benchToken(b *testing.B, kid string) (*AccessTokenVerifier, string, *fakeidp.IdP) {
	clk := newClock()
	idp, p := setup(b, clk)
	v := p.AccessTokenVerifier(&Config{ClientID: "cockpit"})
	tok := fakeidp.Sign(b, idp.Key(kid), "at+jwt", idp.AccessClaims("cockpit", nil))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	return v, tok, idp
}

// BenchmarkVerify measures full access-token verification (parse, header
// checks, cached key lookup, signature, claims, every check) in steady
// state, and the bare signature check of the same token, so that the ratio
// can be read from one run.
func BenchmarkVerify(b *testing.B) {
	for _, kid := range []string{"ec-1", "rsa-1"} {
		alg := map[string]string{"ec-1": "ES256", "rsa-1": "RS256"}[kid]
		b.Run(alg+"/full", func(b *testing.B) {
			v, tok, idp := benchToken(b, kid)
			before := idp.JWKSRequests.Load()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			if n := idp.JWKSRequests.Load() - before; n != 0 {
				b.Fatalf("%d JWKS requests in steady state", n)
			}
		})
		b.Run(alg+"/signature-only", func(b *testing.B) {
			_, tok, idp := benchToken(b, kid)
			i := strings.LastIndexByte(tok, '.')
			input := tok[:i]
			sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
			key := idp.Key(kid).Public
			b.ReportAllocs()
			for b.Loop() {
				// crypto/ecdsa or crypto/rsa over SHA-256 of the signing input.
				if err := verifySignature(alg, key, input, sig); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/parse-and-claims", func(b *testing.B) {
			// Everything Verify does besides the signature check: the
			// overhead the SDK adds.
			_, tok, _ := benchToken(b, kid)
			b.ReportAllocs()
			for b.Loop() {
				t, err := parseJWS(tok)
				if err != nil {
					b.Fatal(err)
				}
				var cs claimSet
				if err := json.Unmarshal(t.payload, &cs); err != nil {
					b.Fatal(err)
				}
				if _, err := cs.toClaims(t.payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/go-jose", func(b *testing.B) {
			_, tok, idp := benchToken(b, kid)
			var key any = idp.Key(kid).Public
			switch k := key.(type) {
			case *ecdsa.PublicKey, *rsa.PublicKey:
				_ = k
			}
			algs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}
			b.ReportAllocs()
			for b.Loop() {
				// go-jose parse + verify, no claim checks: for comparison.
				obj, err := jose.ParseSigned(tok, algs)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := obj.Verify(key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyRatio interleaves full verification and the bare signature
// check of the same token in one loop, so both see the same machine load,
// and reports their ratio (the goal is at most 1.5).
func BenchmarkVerifyRatio(b *testing.B) {
	for _, kid := range []string{"ec-1", "rsa-1"} {
		alg := map[string]string{"ec-1": "ES256", "rsa-1": "RS256"}[kid]
		b.Run(alg, func(b *testing.B) {
			v, tok, idp := benchToken(b, kid)
			i := strings.LastIndexByte(tok, '.')
			input := tok[:i]
			sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
			key := idp.Key(kid).Public
			ctx := context.Background()
			before := idp.JWKSRequests.Load()
			var full, bare time.Duration
			for b.Loop() {
				t0 := time.Now()
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := verifySignature(alg, key, input, sig); err != nil {
					b.Fatal(err)
				}
				full += t1.Sub(t0)
				bare += time.Since(t1)
			}
			if n := idp.JWKSRequests.Load() - before; n != 0 {
				b.Fatalf("%d JWKS requests in steady state", n)
			}
			n := float64(b.N)
			b.ReportMetric(float64(full.Nanoseconds())/n, "verify-ns/op")
			b.ReportMetric(float64(bare.Nanoseconds())/n, "signature-ns/op")
			b.ReportMetric(float64(full)/float64(bare), "ratio")
		})
	}
}
