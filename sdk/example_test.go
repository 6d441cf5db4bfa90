package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
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

func ExampleNewGuard() {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := sdk.NewGuard(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}), sdk.RequireLevel(sdk.LevelProvince))
	r := httptest.NewRequest("GET", "/api/notices", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	c, err := g.Authenticate(r)
	fmt.Println(c.Org.ID, err)
	// Output: 320000 <nil>
}

func ExampleGuard() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := sdk.NewGuard(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}))
	w := httptest.NewRecorder()
	g.Middleware(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output: 401 Bearer realm="xszz"
}

func ExampleGuard_Middleware() {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := sdk.NewGuard(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}), sdk.RequireGrant("cockpit"))
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := sdk.ClaimsFromContext(r.Context())
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
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := sdk.NewGuard(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}))
	r := httptest.NewRequest("GET", "/api?access_token="+raw, nil) // never in the query string
	_, err := g.Authenticate(r)
	var be *sdk.BearerError
	errors.As(err, &be)
	fmt.Println(be.Status, be.Code)
	// Output: 400 invalid_request
}

func ExampleGuard_WriteError() {
	g := sdk.NewGuard(nil, sdk.WithRealm("cockpit"))
	w := httptest.NewRecorder()
	g.WriteError(w, &sdk.BearerError{Status: 403, Code: "insufficient_scope", Description: "grant cockpit required"})
	fmt.Println(w.Code, w.Header().Get("WWW-Authenticate"))
	// Output: 403 Bearer realm="cockpit", error="insufficient_scope", error_description="grant cockpit required"
}

func ExampleBearerError() {
	g := sdk.NewGuard(nil)
	w := httptest.NewRecorder()
	g.WriteError(w, &sdk.BearerError{Status: 401, Code: "invalid_token", Description: "token expired\r\nSet-Cookie: x"})
	fmt.Println(w.Header().Get("WWW-Authenticate"))
	// Output: Bearer realm="xszz", error="invalid_token", error_description="token expiredSet-Cookie: x"
}

func ExampleGuardOption() {
	opts := []sdk.GuardOption{sdk.RequireGrant("cockpit"), sdk.RequireLevel(sdk.LevelCounty), sdk.WithRealm("cockpit")}
	fmt.Println(len(opts))
	// Output: 3
}

func ExampleRequireGrant() {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := sdk.NewGuard(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}), sdk.RequireGrant("audit"))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	_, err := g.Authenticate(r)
	fmt.Println(err)
	// Output: sdk: bearer: insufficient_scope: grant audit required
}

func ExampleRequireScope() {
	w := httptest.NewRecorder()
	sdk.NewGuard(nil).WriteError(w, &sdk.BearerError{Status: 403, Code: "insufficient_scope", Description: "scope cockpit required", Scope: "cockpit"})
	fmt.Println(w.Header().Get("WWW-Authenticate"))
	_ = sdk.RequireScope("cockpit") // produces exactly this challenge
	// Output: Bearer realm="xszz", error="insufficient_scope", error_description="scope cockpit required", scope="cockpit"
}

func ExampleRequireLevel() {
	// The data cockpit serves ministry, province, city and county only.
	_ = sdk.RequireLevel(sdk.LevelCounty)
	fmt.Println((&sdk.Org{Level: sdk.LevelSchool}).AtLeast(sdk.LevelCounty))
	// Output: false
}

func ExampleRequireRole() {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	g := sdk.NewGuard(p.AccessTokenVerifier(&sdk.Config{ClientID: "office"}), sdk.RequireRole("admin"))
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	_, err := g.Authenticate(r)
	fmt.Println(err)
	// Output: sdk: bearer: insufficient_scope: role admin required
}

func ExampleWithRealm() {
	w := httptest.NewRecorder()
	sdk.NewGuard(nil, sdk.WithRealm("office")).WriteError(w, &sdk.BearerError{Status: 401})
	fmt.Println(w.Header().Get("WWW-Authenticate"))
	// Output: Bearer realm="office"
}

func ExampleWithIntrospection() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	in, err := p.Introspector(&sdk.IntrospectionConfig{ClientID: "cockpit", ClientSecret: os.Getenv("COCKPIT_SECRET") + "x"})
	if err != nil {
		log.Fatal(err)
	}
	// Revocation-sensitive routes ask the IdP (cached for 30 s).
	_ = sdk.NewGuard(p.AccessTokenVerifier(&sdk.Config{ClientID: "cockpit"}), sdk.RequireGrant("cockpit"), sdk.WithIntrospection(in))
	fmt.Println("ok")
	// Output: ok
}

func ExampleContextWithClaims() {
	ctx := sdk.ContextWithClaims(context.Background(), &sdk.Claims{Subject: "acct-42"})
	c, ok := sdk.ClaimsFromContext(ctx)
	fmt.Println(c.Subject, ok)
	// Output: acct-42 true
}

func ExampleClaimsFromContext() {
	_, ok := sdk.ClaimsFromContext(context.Background())
	fmt.Println(ok)
	// Output: false
}

func ExampleProvider_Introspector() {
	p, _ := (&sdk.ProviderConfig{Endpoints: sdk.Endpoints{Issuer: "https://id.xszz.example", JWKSURI: "https://id.xszz.example/jwks"}}).NewProvider(context.Background())
	_, err := p.Introspector(&sdk.IntrospectionConfig{ClientID: "cockpit", ClientSecret: "s"})
	fmt.Println(err)
	// Output: sdk: provider has no introspection_endpoint
}

func ExampleIntrospector() {
	issuer, raw := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	in, _ := p.Introspector(&sdk.IntrospectionConfig{ClientID: "cockpit", ClientSecret: "wrong"})
	_, err := in.Introspect(context.Background(), raw)
	fmt.Println(err != nil) // an error is never "active"
	// Output: true
}

func ExampleIntrospector_Introspect() {
	ctx := context.Background()
	p, err := sdk.NewProvider(ctx, "https://id.xszz.example")
	if err != nil {
		log.Print(err)
		return
	}
	in, _ := p.Introspector(&sdk.IntrospectionConfig{ClientID: "cockpit", ClientSecret: os.Getenv("COCKPIT_SECRET")})
	res, err := in.Introspect(ctx, "eyJ...")
	if err != nil || !res.Active {
		log.Print("refuse: revoked or unknown")
	}
}

func ExampleIntrospectionConfig() {
	c := &sdk.IntrospectionConfig{ClientID: "cockpit", ClientSecret: "…", CacheTTL: 10 * time.Second}
	fmt.Println(c.CacheTTL)
	// Output: 10s
}

func ExampleIntrospection() {
	res := &sdk.Introspection{Active: true, Grants: []string{}}
	fmt.Println(res.Active, res.Grants != nil) // grants reported, and empty: the grant was revoked
	// Output: true true
}

func ExampleNewWeb() {
	ctx := context.Background()
	p, err := sdk.NewProvider(ctx, "https://id.xszz.example")
	if err != nil {
		log.Print(err)
		return
	}
	web, err := sdk.NewWeb(p, &sdk.WebConfig{
		ClientID: "portal", ClientSecret: os.Getenv("PORTAL_SECRET"),
		RedirectURL: "https://portal.xszz.example/callback",
		CookieKey:   []byte(os.Getenv("PORTAL_COOKIE_KEY")), // 32 bytes
	})
	if err != nil {
		log.Print(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", web.Login)
	mux.HandleFunc("GET /callback", web.Callback)
	mux.HandleFunc("POST /logout", web.Logout)
	mux.HandleFunc("POST /backchannel-logout", web.BackChannelLogout)
	mux.Handle("/", web.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := sdk.SessionFromContext(r.Context())
		fmt.Fprintln(w, s.Claims.Name, s.Claims.Org.Name)
	})))
}

func exampleWeb() (*sdk.Web, string) {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	web, err := sdk.NewWeb(p, &sdk.WebConfig{ClientID: "portal", ClientSecret: "s", RedirectURL: "http://localhost:8090/callback", CookieKey: make([]byte, 32)})
	if err != nil {
		panic(err)
	}
	return web, issuer
}

func ExampleWeb() {
	web, _ := exampleWeb()
	_, err := web.Session(httptest.NewRequest("GET", "/", nil))
	fmt.Println(err)
	// Output: sdk: no session
}

func ExampleWebConfig() {
	issuer, _ := demoIdP()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	_, err := sdk.NewWeb(p, &sdk.WebConfig{ClientID: "portal", ClientSecret: "s", RedirectURL: "http://localhost:8090/callback", CookieKey: []byte("short")})
	fmt.Println(err)
	// Output: sdk: invalid verifier configuration: CookieKey must be 32 bytes, got 5
}

func ExampleWeb_Login() {
	web, issuer := exampleWeb()
	w := httptest.NewRecorder()
	web.Login(w, httptest.NewRequest("GET", "/login?return_to=/notices", nil))
	loc := w.Header().Get("Location")
	fmt.Println(w.Code, loc[:len(issuer)+len("/authorize")] == issuer+"/authorize", len(w.Result().Cookies()))
	// Output: 302 true 1
}

func ExampleWeb_Callback() {
	web, _ := exampleWeb()
	w := httptest.NewRecorder()
	web.Callback(w, httptest.NewRequest("GET", "/callback?code=c&state=s", nil)) // no login cookie
	fmt.Println(w.Code)
	// Output: 400
}

func ExampleWeb_Session() {
	web, _ := exampleWeb()
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "xszz-session", Value: "forged"})
	_, err := web.Session(r)
	fmt.Println(errors.Is(err, sdk.ErrNoSession))
	// Output: true
}

func ExampleWeb_Require() {
	web, _ := exampleWeb()
	w := httptest.NewRecorder()
	web.Require(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", "/notices?page=2", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output: 302 /login?return_to=%2Fnotices%3Fpage%3D2
}

func ExampleWeb_Logout() {
	web, _ := exampleWeb()
	w := httptest.NewRecorder()
	web.Logout(w, httptest.NewRequest("GET", "/logout", nil))
	fmt.Println(w.Code) // POST only
	// Output: 405
}

func ExampleWeb_BackChannelLogout() {
	web, _ := exampleWeb()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/backchannel-logout", nil)
	r.PostForm = map[string][]string{"logout_token": {"forged"}}
	web.BackChannelLogout(w, r)
	fmt.Println(w.Code, w.Body)
	// Output: 400 {"error":"invalid_request"}
}

func ExampleWeb_VerifyLogoutToken() {
	web, _ := exampleWeb()
	_, err := web.VerifyLogoutToken(context.Background(), "a.b")
	fmt.Println(errors.Is(err, sdk.ErrMalformedToken))
	// Output: true
}

func ExampleSessionFromContext() {
	_, ok := sdk.SessionFromContext(context.Background())
	fmt.Println(ok)
	// Output: false
}

func ExampleSession() {
	s := &sdk.Session{ID: "opaque", Subject: "acct-42", SID: "sid-1", Expires: time.Now().Add(8 * time.Hour)}
	fmt.Println(s.Subject, s.SID)
	// Output: acct-42 sid-1
}

func ExampleSessionStore() {
	var store sdk.SessionStore = sdk.NewMemoryStore() // or a Redis-backed store shared by replicas
	_, err := store.Load(context.Background(), "unknown")
	fmt.Println(err)
	// Output: sdk: no session
}

func ExampleNewMemoryStore() {
	s := sdk.NewMemoryStore()
	ctx := context.Background()
	s.Save(ctx, &sdk.Session{ID: "a", Subject: "acct-42", SID: "sid-1", Expires: time.Now().Add(time.Hour)})
	got, _ := s.Load(ctx, "a")
	fmt.Println(got.Subject)
	// Output: acct-42
}

func ExampleMemoryStore() {
	s := sdk.NewMemoryStore()
	ctx := context.Background()
	s.Save(ctx, &sdk.Session{ID: "a", SID: "sid-1"})
	s.Delete(ctx, "a")
	_, err := s.Load(ctx, "a")
	fmt.Println(err)
	// Output: sdk: no session
}

func ExampleMemoryStore_EndSessions() {
	s := sdk.NewMemoryStore()
	ctx := context.Background()
	s.Save(ctx, &sdk.Session{ID: "a", Subject: "acct-42", SID: "sid-1"})
	s.Save(ctx, &sdk.Session{ID: "b", Subject: "acct-42", SID: "sid-2"})
	n, _ := s.EndSessions(ctx, "", "sid-1")   // one IdP session
	m, _ := s.EndSessions(ctx, "acct-42", "") // every session of the account
	fmt.Println(n, m)
	// Output: 1 1
}

func ExampleMemoryStore_Load() {
	_, err := sdk.NewMemoryStore().Load(context.Background(), "x")
	fmt.Println(errors.Is(err, sdk.ErrNoSession))
	// Output: true
}

func ExampleMemoryStore_Save() {
	s := sdk.NewMemoryStore()
	fmt.Println(s.Save(context.Background(), &sdk.Session{ID: "a"}))
	// Output: <nil>
}

func ExampleMemoryStore_Delete() {
	fmt.Println(sdk.NewMemoryStore().Delete(context.Background(), "a"))
	// Output: <nil>
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

func ExampleErrNoSession() {
	web, _ := exampleWeb()
	if _, err := web.Session(httptest.NewRequest("GET", "/", nil)); errors.Is(err, sdk.ErrNoSession) {
		fmt.Println("show the sign-in link")
	}
	// Output: show the sign-in link
}

func ExampleBearerError_Error() {
	fmt.Println(&sdk.BearerError{Status: 401, Code: "invalid_token", Err: sdk.ErrInvalidSignature})
	// Output: sdk: bearer: invalid_token: sdk: invalid signature
}

func ExampleBearerError_Unwrap() {
	err := error(&sdk.BearerError{Status: 401, Code: "invalid_token", Err: &sdk.TokenExpiredError{}})
	var exp *sdk.TokenExpiredError
	fmt.Println(errors.As(err, &exp))
	// Output: true
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
