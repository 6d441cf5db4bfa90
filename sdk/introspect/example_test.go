package introspect_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/internal/sdktest"
	"github.com/xszz/xszz/sdk/introspect"
)

func ExampleNew() {
	p, _ := (&sdk.ProviderConfig{Endpoints: sdk.Endpoints{Issuer: "https://id.xszz.example", JWKSURI: "https://id.xszz.example/jwks"}}).NewProvider(context.Background())
	_, err := introspect.New(p, &introspect.Config{ClientID: "cockpit", ClientSecret: "s"})
	fmt.Println(err)
	// Output: introspect: provider has no introspection_endpoint
}

func ExampleClient() {
	issuer, raw := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	in, _ := introspect.New(p, &introspect.Config{ClientID: "cockpit", ClientSecret: "wrong"})
	_, err := in.Introspect(context.Background(), raw)
	fmt.Println(err != nil) // an error is never "active"
	// Output: true
}

func ExampleClient_Introspect() {
	ctx := context.Background()
	p, err := sdk.NewProvider(ctx, "https://id.xszz.example")
	if err != nil {
		log.Print(err)
		return
	}
	in, _ := introspect.New(p, &introspect.Config{ClientID: "cockpit", ClientSecret: os.Getenv("COCKPIT_SECRET")})
	res, err := in.Introspect(ctx, "eyJ...")
	if err != nil || !res.Active {
		log.Print("refuse: revoked or unknown")
	}
}

func ExampleConfig() {
	c := &introspect.Config{ClientID: "cockpit", ClientSecret: "…", CacheTTL: 10 * time.Second}
	fmt.Println(c.CacheTTL)
	// Output: 10s
}

func ExampleResult() {
	res := &introspect.Result{Active: true, Grants: []string{}}
	fmt.Println(res.Active, res.Grants != nil) // grants reported, and empty: the grant was revoked
	// Output: true true
}
