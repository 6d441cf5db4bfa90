package web_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/internal/sdktest"
	"github.com/xszz/xszz/sdk/web"
)

func ExampleNew() {
	ctx := context.Background()
	p, err := sdk.NewProvider(ctx, "https://id.xszz.example")
	if err != nil {
		log.Print(err)
		return
	}
	auth, err := web.New(p, &web.Config{
		ClientID: "portal", ClientSecret: os.Getenv("PORTAL_SECRET"),
		RedirectURL: "https://portal.xszz.example/callback",
		CookieKey:   []byte(os.Getenv("PORTAL_COOKIE_KEY")), // 32 bytes
	})
	if err != nil {
		log.Print(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", auth.Login)
	mux.HandleFunc("GET /callback", auth.Callback)
	mux.HandleFunc("POST /logout", auth.Logout)
	mux.HandleFunc("POST /backchannel-logout", auth.BackChannelLogout)
	mux.Handle("/", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := web.SessionFromContext(r.Context())
		fmt.Fprintln(w, s.Claims.Name, s.Claims.Org.Name)
	})))
}

func exampleWeb() (*web.Auth, string) {
	issuer, _ := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	auth, err := web.New(p, &web.Config{ClientID: "portal", ClientSecret: "s", RedirectURL: "http://localhost:8090/callback", CookieKey: make([]byte, 32)})
	if err != nil {
		panic(err)
	}
	return auth, issuer
}

func ExampleAuth() {
	auth, _ := exampleWeb()
	_, err := auth.Session(httptest.NewRequest("GET", "/", nil))
	fmt.Println(err)
	// Output: web: no session
}

func ExampleConfig() {
	issuer, _ := sdktest.Demo()
	p, _ := sdk.NewProvider(context.Background(), issuer)
	_, err := web.New(p, &web.Config{ClientID: "portal", ClientSecret: "s", RedirectURL: "http://localhost:8090/callback", CookieKey: []byte("short")})
	fmt.Println(err)
	// Output: sdk: invalid verifier configuration: CookieKey must be 32 bytes, got 5
}

func ExampleAuth_Login() {
	auth, issuer := exampleWeb()
	w := httptest.NewRecorder()
	auth.Login(w, httptest.NewRequest("GET", "/login?return_to=/notices", nil))
	loc := w.Header().Get("Location")
	fmt.Println(w.Code, loc[:len(issuer)+len("/authorize")] == issuer+"/authorize", len(w.Result().Cookies()))
	// Output: 302 true 1
}

func ExampleAuth_Callback() {
	auth, _ := exampleWeb()
	w := httptest.NewRecorder()
	auth.Callback(w, httptest.NewRequest("GET", "/callback?code=c&state=s", nil)) // no login cookie
	fmt.Println(w.Code)
	// Output: 400
}

func ExampleAuth_Session() {
	auth, _ := exampleWeb()
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "xszz-session", Value: "forged"})
	_, err := auth.Session(r)
	fmt.Println(errors.Is(err, web.ErrNoSession))
	// Output: true
}

func ExampleAuth_Require() {
	auth, _ := exampleWeb()
	w := httptest.NewRecorder()
	auth.Require(http.NotFoundHandler()).ServeHTTP(w, httptest.NewRequest("GET", "/notices?page=2", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output: 302 /login?return_to=%2Fnotices%3Fpage%3D2
}

func ExampleAuth_Logout() {
	auth, _ := exampleWeb()
	w := httptest.NewRecorder()
	auth.Logout(w, httptest.NewRequest("GET", "/logout", nil))
	fmt.Println(w.Code) // POST only
	// Output: 405
}

func ExampleAuth_BackChannelLogout() {
	auth, _ := exampleWeb()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/backchannel-logout", nil)
	r.PostForm = map[string][]string{"logout_token": {"forged"}}
	auth.BackChannelLogout(w, r)
	fmt.Println(w.Code, w.Body)
	// Output: 400 {"error":"invalid_request"}
}

func ExampleAuth_VerifyLogoutToken() {
	auth, _ := exampleWeb()
	_, err := auth.VerifyLogoutToken(context.Background(), "a.b")
	fmt.Println(errors.Is(err, sdk.ErrMalformedToken))
	// Output: true
}

func ExampleSessionFromContext() {
	_, ok := web.SessionFromContext(context.Background())
	fmt.Println(ok)
	// Output: false
}

func ExampleSession() {
	s := &web.Session{ID: "opaque", Subject: "acct-42", SID: "sid-1", Expires: time.Now().Add(8 * time.Hour)}
	fmt.Println(s.Subject, s.SID)
	// Output: acct-42 sid-1
}

func ExampleSessionStore() {
	var store web.SessionStore = web.NewMemoryStore() // or a Redis-backed store shared by replicas
	_, err := store.Load(context.Background(), "unknown")
	fmt.Println(err)
	// Output: web: no session
}

func ExampleNewMemoryStore() {
	s := web.NewMemoryStore()
	ctx := context.Background()
	s.Save(ctx, &web.Session{ID: "a", Subject: "acct-42", SID: "sid-1", Expires: time.Now().Add(time.Hour)})
	got, _ := s.Load(ctx, "a")
	fmt.Println(got.Subject)
	// Output: acct-42
}

func ExampleMemoryStore() {
	s := web.NewMemoryStore()
	ctx := context.Background()
	s.Save(ctx, &web.Session{ID: "a", SID: "sid-1"})
	s.Delete(ctx, "a")
	_, err := s.Load(ctx, "a")
	fmt.Println(err)
	// Output: web: no session
}

func ExampleMemoryStore_EndSessions() {
	s := web.NewMemoryStore()
	ctx := context.Background()
	s.Save(ctx, &web.Session{ID: "a", Subject: "acct-42", SID: "sid-1"})
	s.Save(ctx, &web.Session{ID: "b", Subject: "acct-42", SID: "sid-2"})
	n, _ := s.EndSessions(ctx, "", "sid-1", time.Time{})   // one IdP session
	m, _ := s.EndSessions(ctx, "acct-42", "", time.Time{}) // every session of the account
	fmt.Println(n, m)
	// Output: 1 1
}

func ExampleMemoryStore_Load() {
	_, err := web.NewMemoryStore().Load(context.Background(), "x")
	fmt.Println(errors.Is(err, web.ErrNoSession))
	// Output: true
}

func ExampleMemoryStore_Save() {
	s := web.NewMemoryStore()
	fmt.Println(s.Save(context.Background(), &web.Session{ID: "a"}))
	// Output: <nil>
}

func ExampleMemoryStore_Delete() {
	fmt.Println(web.NewMemoryStore().Delete(context.Background(), "a"))
	// Output: <nil>
}

func ExampleErrNoSession() {
	auth, _ := exampleWeb()
	if _, err := auth.Session(httptest.NewRequest("GET", "/", nil)); errors.Is(err, web.ErrNoSession) {
		fmt.Println("show the sign-in link")
	}
	// Output: show the sign-in link
}

func ExampleAuth_EndSessionURL() {
	auth, issuer := exampleWeb()
	u := auth.EndSessionURL("eyJ...") // the session's ID token
	fmt.Println(strings.HasPrefix(u, issuer+"/end_session?"), strings.Contains(u, "id_token_hint=eyJ..."))
	fmt.Println(auth.EndSessionURL("") == "") // no ID token, no IdP logout
	// Output:
	// true true
	// true
}

func ExampleAuth_EndSessions() {
	auth, _ := exampleWeb()
	// The office ends a person's sessions when it learns of a sign-out
	// some other way than back-channel logout.
	n, err := auth.EndSessions(context.Background(), "acct-42", "")
	fmt.Println(n, err)
	// Output: 0 <nil>
}
