package guard_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/guard"
	"github.com/xszz/xszz/sdk/internal/sdktest"
	"github.com/xszz/xszz/sdk/introspect"
)

func ExampleNew() {
	issuer, raw := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}), guard.RequireLevel(sdk.LevelProvince))
	r := httptest.NewRequest("GET", "/api/notices", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	c, err := g.Authenticate(r)
	fmt.Println(c.Org.ID, err)
	// Output: 320000 <nil>
}

func ExampleGuard() {
	issuer, _ := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}))
	w := httptest.NewRecorder()
	g.Middleware(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output: 401 Bearer realm="xszz"
}

func ExampleGuard_Middleware() {
	issuer, raw := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}), guard.RequireGrant("cockpit"))
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := guard.ClaimsFromContext(r.Context())
		fmt.Fprint(w, c.Org.Name)
	}))
	r := httptest.NewRequest("GET", "/api/overview", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body)
	// Output: 200 江苏省学生资助管理中心
}

func ExampleGuard_Authenticate() {
	issuer, raw := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}))
	r := httptest.NewRequest("GET", "/api?access_token="+raw, nil) // never in the query string
	_, err := g.Authenticate(r)
	var be *guard.Error
	errors.As(err, &be)
	fmt.Println(be.Status, be.Code)
	// Output: 400 invalid_request
}

func ExampleGuard_WriteError() {
	g := guard.New(nil, guard.WithRealm("cockpit"))
	w := httptest.NewRecorder()
	g.WriteError(w, &guard.Error{Status: 403, Code: "insufficient_scope", Description: "grant cockpit required"})
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output: 403 Bearer realm="cockpit", error="insufficient_scope", error_description="grant cockpit required"
}

func ExampleError() {
	g := guard.New(nil)
	w := httptest.NewRecorder()
	g.WriteError(w, &guard.Error{Status: 401, Code: "invalid_token", Description: "token expired\r\nSet-Cookie: x"})
	fmt.Println(w.Header().Get("WWW-Authenticate"))
	// Output: Bearer realm="xszz", error="invalid_token", error_description="token expiredSet-Cookie: x"
}

func ExampleOption() {
	opts := []guard.Option{guard.RequireGrant("cockpit"), guard.RequireLevel(sdk.LevelCounty), guard.WithRealm("cockpit")}
	fmt.Println(len(opts))
	// Output: 3
}

func ExampleRequireGrant() {
	issuer, raw := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}), guard.RequireGrant("audit"))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	_, err := g.Authenticate(r)
	fmt.Println(err)
	// Output: guard: insufficient_scope: grant audit required
}

func ExampleRequireScope() {
	w := httptest.NewRecorder()
	guard.New(nil).WriteError(w, &guard.Error{Status: 403, Code: "insufficient_scope", Description: "scope cockpit required", Scope: "cockpit"})
	fmt.Println(w.Header().Get("WWW-Authenticate"))
	_ = guard.RequireScope("cockpit") // produces exactly this challenge
	// Output: Bearer realm="xszz", error="insufficient_scope", error_description="scope cockpit required", scope="cockpit"
}

func ExampleRequireLevel() {
	// The data cockpit serves ministry, province, city and county only.
	_ = guard.RequireLevel(sdk.LevelCounty)
	fmt.Println((&sdk.Org{Level: sdk.LevelSchool}).AtLeast(sdk.LevelCounty))
	// Output: false
}

func ExampleRequireRole() {
	issuer, raw := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}), guard.RequireRole("admin"))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	_, err := g.Authenticate(r)
	fmt.Println(err)
	// Output: guard: insufficient_scope: role admin required
}

func ExampleWithRealm() {
	w := httptest.NewRecorder()
	guard.New(nil, guard.WithRealm("office")).WriteError(w, &guard.Error{Status: 401})
	fmt.Println(w.Header().Get("WWW-Authenticate"))
	// Output: Bearer realm="office"
}

func ExampleWithIntrospection() {
	issuer, _ := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	in, err := introspect.New(p, &introspect.Config{ClientID: "cockpit", ClientSecret: os.Getenv("COCKPIT_SECRET") + "x"})
	if err != nil {
		log.Fatal(err)
	}
	// Revocation-sensitive routes ask the IdP (cached for 30 s).
	_ = guard.New(p.AccessTokenVerifier(&sdk.Config{ClientID: "cockpit"}), guard.RequireGrant("cockpit"), guard.WithIntrospection(in))
	fmt.Println("ok")
	// Output: ok
}

func ExampleContextWithClaims() {
	ctx := guard.ContextWithClaims(context.Background(), &sdk.Claims{Subject: "acct-42"})
	c, ok := guard.ClaimsFromContext(ctx)
	fmt.Println(c.Subject, ok)
	// Output: acct-42 true
}

func ExampleClaimsFromContext() {
	_, ok := guard.ClaimsFromContext(context.Background())
	fmt.Println(ok)
	// Output: false
}

func ExampleError_Error() {
	fmt.Println(&guard.Error{Status: 401, Code: "invalid_token", Err: sdk.ErrInvalidSignature})
	// Output: guard: invalid_token: sdk: invalid signature
}

func ExampleError_Unwrap() {
	err := error(&guard.Error{Status: 401, Code: "invalid_token", Err: &sdk.TokenExpiredError{}})
	var exp *sdk.TokenExpiredError
	fmt.Println(errors.As(err, &exp))
	// Output: true
}

func ExampleIntrospector() {
	issuer, _ := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	in, err := introspect.New(p, &introspect.Config{ClientID: "cockpit", ClientSecret: "s"})
	if err != nil {
		log.Fatal(err)
	}
	var i guard.Introspector = in // *introspect.Client is one
	fmt.Println(i != nil)
	// Output: true
}
