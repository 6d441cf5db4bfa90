package introspect_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/xszz/xszz/sdk/internal/fakeidp"
	"github.com/xszz/xszz/sdk/internal/sdktest"
	"github.com/xszz/xszz/sdk/introspect"
)

func TestCache(t *testing.T) {
	clk := sdktest.NewClock()
	idp, p := sdktest.Setup(t, clk)
	idp.RegisterClient(fakeidp.Client{ID: "cockpit", Secret: "s3cret&="})
	in, err := introspect.New(p, &introspect.Config{ClientID: "cockpit", ClientSecret: "s3cret&="})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := fakeidp.Sign(t, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("cockpit", nil))
	for range 5 {
		res, err := in.Introspect(ctx, tok)
		if err != nil || !res.Active || res.ClientID != "cockpit" || !slices.Contains(res.Scopes, "cockpit") {
			t.Fatalf("%+v %v", res, err)
		}
	}
	if n := idp.IntrospectionRequests.Load(); n != 1 {
		t.Fatalf("introspection requests = %d, want 1", n)
	}
	// Revoked: still cached until the TTL passes, then inactive.
	idp.Revoke(tok)
	clk.Advance(31 * time.Second)
	if res, err := in.Introspect(ctx, tok); err != nil || res.Active {
		t.Fatalf("after revocation: %+v %v", res, err)
	}
	// Wrong secret: an error, never "active".
	bad, _ := introspect.New(p, &introspect.Config{ClientID: "cockpit", ClientSecret: "wrong"})
	if res, err := bad.Introspect(ctx, tok+"x"); err == nil {
		t.Fatalf("wrong secret: %+v", res)
	}
}
