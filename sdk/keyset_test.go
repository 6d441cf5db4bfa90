package sdk

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/xszz/xszz/sdk/internal/fakeidp"
)

func TestKeyRotationWhileTokensInFlight(t *testing.T) {
	clk := newClock()
	idp, p := setup(t, clk)
	v := p.AccessTokenVerifier(&Config{ClientID: "office"})
	ctx := context.Background()
	old := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("office", nil))
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	// The IdP publishes a new key and signs with it; the old key stays.
	clk.Advance(2 * time.Minute)
	idp.AddKey(t, "ec-2", jose.ES256)
	fresh := fakeidp.Sign(t, idp.Key("ec-2"), "at+jwt", idp.AccessClaims("office", nil))
	for _, tok := range []string{fresh, old, fresh} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("during rotation: %v", err)
		}
	}
	if n := idp.JWKSRequests.Load(); n != 2 {
		t.Fatalf("JWKS requests = %d, want 2", n)
	}
	// The old key leaves the JWKS: after the next refetch its tokens fail.
	idp.RemoveKey("ec-1")
	clk.Advance(2 * time.Hour) // past MaxKeyAge: a background refetch starts
	fresh = fakeidp.Sign(t, idp.Key("ec-2"), "at+jwt", idp.AccessClaims("office", nil))
	if _, err := v.Verify(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		p.keys.mu.Lock()
		defer p.keys.mu.Unlock()
		return idp.JWKSRequests.Load() == 3 && p.keys.inflight == nil
	})
	old = fakeidp.Sign(t, &fakeidp.Key{KID: "ec-1", Alg: jose.ES256, Private: idp.Key("ec-2").Private}, "at+jwt", idp.AccessClaims("office", nil))
	if _, err := v.Verify(ctx, old); !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("retired key: err = %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

func TestRefetchRateLimited(t *testing.T) {
	clk := newClock()
	idp, p := setup(t, clk)
	v := p.AccessTokenVerifier(&Config{ClientID: "office"})
	ctx := context.Background()
	ec := idp.Key("ec-1")
	// A flood of tokens with forged kids.
	for i := range 1000 {
		forged := fakeidp.Sign(t, &fakeidp.Key{KID: fmt.Sprint("forged-", i), Alg: ec.Alg, Private: ec.Private}, "at+jwt", idp.AccessClaims("office", nil))
		if _, err := v.Verify(ctx, forged); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("forged kid: %v", err)
		}
	}
	if n := idp.JWKSRequests.Load(); n != 1 {
		t.Fatalf("JWKS requests after flood = %d, want 1", n)
	}
	clk.Advance(61 * time.Second)
	forged := fakeidp.Sign(t, &fakeidp.Key{KID: "forged-x", Alg: ec.Alg, Private: ec.Private}, "at+jwt", idp.AccessClaims("office", nil))
	v.Verify(ctx, forged)
	v.Verify(ctx, forged)
	if n := idp.JWKSRequests.Load(); n != 2 {
		t.Fatalf("JWKS requests after interval = %d, want 2", n)
	}
}

func TestConcurrentRefetchMerged(t *testing.T) {
	clk := newClock()
	idp, p := setup(t, clk)
	v := p.AccessTokenVerifier(&Config{ClientID: "office"})
	gate := make(chan struct{})
	idp.SetJWKSGate(gate)
	tok := fakeidp.Sign(t, idp.Key("rsa-1"), "at+jwt", idp.AccessClaims("office", nil))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		})
	}
	waitFor(t, func() bool { return idp.JWKSRequests.Load() >= 1 })
	time.Sleep(20 * time.Millisecond) // let the other goroutines join the flight
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := idp.JWKSRequests.Load(); n != 1 {
		t.Fatalf("JWKS requests = %d, want 1", n)
	}
}

func TestJWKSFailures(t *testing.T) {
	for _, mode := range []int{fakeidp.JWKS500, fakeidp.JWKSGarbage} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			clk := newClock()
			idp, p := setup(t, clk)
			idp.SetJWKSMode(mode)
			v := p.AccessTokenVerifier(&Config{ClientID: "office"})
			tok := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("office", nil))
			for range 20 {
				if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrKeySetUnavailable) {
					t.Fatalf("err = %v", err)
				}
			}
			if n := idp.JWKSRequests.Load(); n != 1 {
				t.Fatalf("JWKS requests = %d, want 1", n)
			}
			// The IdP recovers; after the short failure back-off it works.
			idp.SetJWKSMode(fakeidp.JWKSOK)
			clk.Advance(6 * time.Second)
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestJWKSSkipsUnusableKeys(t *testing.T) {
	keys, err := parseJWKS([]byte(`{"keys":[
		{"kty":"oct","kid":"h","k":"c2VjcmV0"},
		{"kty":"OKP","kid":"ed","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
		{"kty":"EC","kid":"enc","use":"enc","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
		{"kty":"EC","kid":"ec","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
		{"kty":"EC","kid":"ec-rs","alg":"RS256","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
		{"kty":"weird"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys["ec"] == nil {
		t.Fatalf("keys = %v", keys)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	clk := newClock()
	idp := fakeidp.New(t)
	_, err := (&ProviderConfig{Endpoints: Endpoints{Issuer: idp.Issuer + "/"}, Now: clk.Now}).discover(context.Background())
	if !errors.Is(err, ErrInvalidIssuer) {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewProvider(context.Background(), "http://example.com"); err == nil {
		t.Fatal("plain http issuer accepted")
	}
}
