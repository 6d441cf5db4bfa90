package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/internal/fakeidp"
)

// panicT lets the examples use the test IdP outside a test.
type panicT struct{}

func (panicT) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (panicT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (panicT) Cleanup(func())                    {}

// demoIdP stands in for `xszz serve` in the examples: an in-process IdP
// and an access token it issued to the "office" client.
func demoIdP() (issuer, accessToken string) {
	demoOnce.Do(func() {
		idp := fakeidp.New(panicT{})
		demoIssuer, demoToken = idp.Issuer, fakeidp.Sign(panicT{}, idp.Key("ec-1"), "at+jwt", idp.AccessClaims("office", nil))
	})
	return demoIssuer, demoToken
}

var (
	demoOnce              sync.Once
	demoIssuer, demoToken string
)

// A resource server verifies an access token and reads the xszz claims.
func Example() {
	ctx := context.Background()
	issuer, raw := demoIdP()

	p, err := sdk.NewProvider(ctx, issuer)
	if err != nil {
		log.Fatal(err)
	}
	v := p.AccessTokenVerifier(&sdk.Config{ClientID: "office"})
	claims, err := v.Verify(ctx, raw)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.Org.Name, claims.Org.Level)
	fmt.Println("within 320000:", claims.Org.Within("320000"), "county or above:", claims.Org.AtLeast(sdk.LevelCounty))
	fmt.Println("cockpit:", claims.HasGrant("cockpit"))
	// Output:
	// acct-42 江苏省学生资助管理中心 province
	// within 320000: true county or above: true
	// cockpit: true
}

func ExampleNewProvider() {
	ctx := context.Background()
	// Discovery reads https://id.xszz.example/.well-known/openid-configuration
	// and insists its "issuer" is exactly this string.
	p, err := sdk.NewProvider(ctx, "https://id.xszz.example")
	if err != nil {
		log.Print(err)
		return
	}
	fmt.Println(p.Endpoints().JWKSURI)
}

func ExampleProvider() {
	issuer, _ := demoIdP()
	p, err := sdk.NewProvider(context.Background(), issuer)
	if err != nil {
		log.Fatal(err)
	}
	// One Provider per issuer, shared by every verifier of the process.
	fmt.Println(p.Issuer() == issuer)
	// Output: true
}

func ExampleProviderConfig() {
	// Without discovery, with a slower refetch limit.
	p, err := (&sdk.ProviderConfig{
		Endpoints:          sdk.Endpoints{Issuer: "https://id.xszz.example", JWKSURI: "https://id.xszz.example/jwks"},
		MinRefreshInterval: 5 * time.Minute,
	}).NewProvider(context.Background())
	fmt.Println(p.Issuer(), err)
	// Output: https://id.xszz.example <nil>
}

func ExampleProviderConfig_NewProvider() {
	_, err := (&sdk.ProviderConfig{
		Endpoints: sdk.Endpoints{Issuer: "http://id.xszz.example", JWKSURI: "http://id.xszz.example/jwks"},
	}).NewProvider(context.Background())
	fmt.Println(err) // plain http is refused except on loopback
	// Output: sdk: provider metadata: "http://id.xszz.example" is not an https URL
}

func ExampleEndpoints() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	ep := p.Endpoints()
	fmt.Println(ep.IntrospectionEndpoint == issuer+"/introspect", ep.EndSessionEndpoint == issuer+"/end_session")
	// Output: true true
}

func ExampleProvider_Endpoints() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	fmt.Println(p.Endpoints().TokenEndpoint == issuer+"/token")
	// Output: true
}

func ExampleProvider_Issuer() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	fmt.Println(p.Issuer() == issuer)
	// Output: true
}

func ExampleProvider_OAuth2Endpoint() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	fmt.Println(p.OAuth2Endpoint().AuthURL == issuer+"/authorize")
	// Output: true
}

func ExampleConfig() {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	// The cockpit API accepts only tokens whose aud names it.
	v := p.AccessTokenVerifier(&sdk.Config{ClientID: "cockpit", Leeway: 10 * time.Second})
	_, err := v.Verify(context.Background(), raw) // a token for "office"
	fmt.Println(errors.Is(err, sdk.ErrInvalidAudience))
	// Output: true
}

func ExampleProvider_AccessTokenVerifier() {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	v := p.AccessTokenVerifier(&sdk.Config{ClientID: "office"})
	c, err := v.Verify(context.Background(), raw)
	fmt.Println(c.ClientID, c.Scopes, err)
	// Output: office [openid profile org cockpit] <nil>
}

func ExampleAccessTokenVerifier() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	v := p.AccessTokenVerifier(&sdk.Config{}) // no ClientID: fails closed
	_, err := v.Verify(context.Background(), "x.y.z")
	fmt.Println(errors.Is(err, sdk.ErrInvalidConfig))
	// Output: true
}

func ExampleAccessTokenVerifier_Verify() {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	v := p.AccessTokenVerifier(&sdk.Config{ClientID: "office"})
	for _, tok := range []string{raw, raw[:len(raw)-8] + "AAAAAAAA", "eyJhbGciOiJub25lIn0.e30."} {
		_, err := v.Verify(context.Background(), tok)
		fmt.Println(err == nil, errors.Is(err, sdk.ErrInvalidSignature), errors.Is(err, sdk.ErrMalformedToken))
	}
	// Output:
	// true false false
	// false true false
	// false false true
}

func ExampleProvider_IDTokenVerifier() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	idv := p.IDTokenVerifier(&sdk.Config{ClientID: "portal"})
	_, err := idv.Verify(context.Background(), "not-a-token", "nonce-from-login")
	fmt.Println(errors.Is(err, sdk.ErrMalformedToken))
	// Output: true
}

func ExampleIDTokenVerifier() {
	issuer, accessToken := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	// An access token is not an ID token (typ "at+jwt").
	_, err := p.IDTokenVerifier(&sdk.Config{ClientID: "office"}).Verify(context.Background(), accessToken, "")
	fmt.Println(errors.Is(err, sdk.ErrInvalidType))
	// Output: true
}

func ExampleIDTokenVerifier_Verify() {
	// Web does this in its callback; by hand it is:
	//   claims, err := idv.Verify(ctx, rawIDToken, nonceSentInAuthRequest)
	//   if errors.Is(err, sdk.ErrInvalidNonce) { ... replayed or injected response ... }
	fmt.Println(sdk.ErrInvalidNonce)
	// Output: sdk: invalid nonce
}

func exampleClaims() *sdk.Claims {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	c, err := p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}).Verify(context.Background(), raw)
	if err != nil {
		panic(err)
	}
	return c
}

func ExampleClaims() {
	c := exampleClaims()
	fmt.Println(c.Subject, c.Org.RegionCode, c.Org.Path, c.Roles, c.Grants)
	// Output: acct-42 320000 [000000 320000] [staff] [cockpit]
}

func ExampleClaims_HasScope() {
	fmt.Println(exampleClaims().HasScope("cockpit"), exampleClaims().HasScope("offline_access"))
	// Output: true false
}

func ExampleClaims_HasGrant() {
	fmt.Println(exampleClaims().HasGrant("cockpit"))
	// Output: true
}

func ExampleClaims_HasRole() {
	fmt.Println(exampleClaims().HasRole("admin"), exampleClaims().HasRole("staff"))
	// Output: false true
}

func ExampleClaims_HasAudience() {
	fmt.Println(exampleClaims().HasAudience("office"))
	// Output: true
}

func ExampleClaims_Decode() {
	var extra struct {
		JTI string `json:"jti"`
	}
	err := exampleClaims().Decode(&extra)
	fmt.Println(extra.JTI != "", err)
	// Output: true <nil>
}

func ExampleOrg() {
	o := &sdk.Org{ID: "320102001", Level: sdk.LevelSchool, Path: []string{"000000", "320000", "320100", "320102", "320102001"}}
	fmt.Println(o.Within("320100"), o.Within("330000"), o.AtLeast(sdk.LevelCounty))
	// Output: true false false
}

func ExampleOrg_Within() {
	o := &sdk.Org{ID: "320000", Path: []string{"000000", "320000"}}
	fmt.Println(o.Within("320000"), o.Within("000000"), o.Within("320100"))
	// Output: true true false
}

func ExampleOrg_AtLeast() {
	o := &sdk.Org{Level: sdk.LevelCity}
	fmt.Println(o.AtLeast(sdk.LevelProvince), o.AtLeast(sdk.LevelCity), o.AtLeast(sdk.LevelCounty))
	dalian := &sdk.Org{ID: "210200", Level: sdk.LevelCity, Kind: "planned-city"}
	fmt.Println(dalian.AtLeast(sdk.LevelProvince))
	// Output:
	// false true true
	// true
}

func ExampleLevel() {
	for _, l := range []sdk.Level{sdk.LevelMinistry, sdk.LevelProvince, sdk.LevelCity, sdk.LevelCounty, sdk.LevelSchool, sdk.LevelDepartment} {
		fmt.Print(l, " ")
	}
	fmt.Println()
	// Output: ministry province city county school department
}

func ExampleTokenExpiredError() {
	err := error(&sdk.TokenExpiredError{Expiry: time.Unix(1_800_000_000, 0)})
	var exp *sdk.TokenExpiredError
	if errors.As(err, &exp) {
		fmt.Println("expired at", exp.Expiry.UTC())
	}
	// Output: expired at 2027-01-15 08:00:00 +0000 UTC
}

func ExampleTokenNotYetValidError() {
	var nyv *sdk.TokenNotYetValidError
	fmt.Println(errors.As(error(&sdk.TokenNotYetValidError{}), &nyv))
	// Output: true
}

func ExampleMissingClaimError() {
	var m *sdk.MissingClaimError
	if errors.As(error(&sdk.MissingClaimError{Claim: "jti"}), &m) {
		fmt.Println(m.Claim)
	}
	// Output: jti
}

func ExampleRS256() {
	issuer, raw := demoIdP() // the demo token is ES256
	p, _ := sdk.NewProvider(context.Background(), issuer)
	v := p.AccessTokenVerifier(&sdk.Config{ClientID: "office", Algorithms: []string{sdk.RS256}})
	_, err := v.Verify(context.Background(), raw)
	fmt.Println(errors.Is(err, sdk.ErrUnsupportedAlgorithm))
	// Output: true
}

func ExampleES256() {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	v := p.AccessTokenVerifier(&sdk.Config{ClientID: "office", Algorithms: []string{sdk.ES256}})
	_, err := v.Verify(context.Background(), raw)
	fmt.Println(err)
	// Output: <nil>
}

func ExampleLevelMinistry() {
	fmt.Println((&sdk.Org{Level: sdk.LevelMinistry}).AtLeast(sdk.LevelProvince))
	// Output: true
}

func ExampleErrInvalidConfig() {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	_, err := p.AccessTokenVerifier(&sdk.Config{ClientID: "office", Algorithms: []string{"HS256"}}).Verify(context.Background(), raw)
	fmt.Println(err)
	// Output: sdk: invalid verifier configuration: algorithm "HS256" is not supported
}

func ExampleTokenExpiredError_Error() {
	fmt.Println(&sdk.TokenExpiredError{Expiry: time.Unix(1_800_000_000, 0)})
	// Output: sdk: token expired at 2027-01-15T08:00:00Z
}

func ExampleTokenNotYetValidError_Error() {
	fmt.Println(&sdk.TokenNotYetValidError{NotBefore: time.Unix(1_800_000_000, 0)})
	// Output: sdk: token not valid before 2027-01-15T08:00:00Z
}

func ExampleMissingClaimError_Error() {
	fmt.Println(&sdk.MissingClaimError{Claim: "client_id"})
	// Output: sdk: missing required claim client_id
}

func ExampleProvider_LogoutTokenVerifier() {
	issuer, raw := demoIdP() // an access token, not a logout token
	p, _ := sdk.NewProvider(context.Background(), issuer)
	_, err := p.LogoutTokenVerifier(&sdk.Config{ClientID: "office"}).Verify(context.Background(), raw)
	fmt.Println(errors.Is(err, sdk.ErrInvalidType))
	// Output: true
}

func ExampleLogoutTokenVerifier() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	v := p.LogoutTokenVerifier(&sdk.Config{ClientID: "office"})
	// sdk/web's BackChannelLogout uses it and refuses replayed jti values.
	_, err := v.Verify(context.Background(), "not-a-jwt")
	fmt.Println(errors.Is(err, sdk.ErrMalformedToken))
	// Output: true
}

func ExampleLogoutTokenVerifier_Verify() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	v := p.LogoutTokenVerifier(&sdk.Config{ClientID: "office"})
	_, err := v.Verify(context.Background(), "a.b.c")
	fmt.Println(err != nil)
	// Output: true
}

func ExampleProvider_HTTPClient() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	fmt.Println(p.HTTPClient().Timeout)
	// Output: 10s
}

func ExampleProvider_Now() {
	fixed := time.Unix(1_800_000_000, 0)
	p, _ := (&sdk.ProviderConfig{
		Endpoints: sdk.Endpoints{Issuer: "https://id.xszz.example", JWKSURI: "https://id.xszz.example/jwks"},
		Now:       func() time.Time { return fixed },
	}).NewProvider(context.Background())
	fmt.Println(p.Now().Equal(fixed))
	// Output: true
}
