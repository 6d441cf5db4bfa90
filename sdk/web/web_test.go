package web

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/internal/fakeidp"
	"github.com/xszz/xszz/sdk/internal/sdktest"
)

// rp is a relying party under test: a Web mounted on an httptest server.
type rp struct {
	web    *Auth
	srv    *httptest.Server
	client *http.Client
}

func newRP(t *testing.T, idp *fakeidp.IdP, p *sdk.Provider, clk *sdktest.Clock) *rp {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	idp.RegisterClient(fakeidp.Client{ID: "portal", Secret: "portal-secret", RedirectURI: srv.URL + "/callback"})
	web, err := New(p, &Config{
		ClientID: "portal", ClientSecret: "portal-secret", RedirectURL: srv.URL + "/callback",
		CookieKey: make([]byte, 32), PostLogoutRedirectURL: srv.URL + "/", Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/login", web.Login)
	mux.HandleFunc("/callback", web.Callback)
	mux.HandleFunc("/logout", web.Logout)
	mux.HandleFunc("/backchannel", web.BackChannelLogout)
	mux.Handle("/me", web.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := SessionFromContext(r.Context())
		io.WriteString(w, s.Claims.Name+" "+s.Claims.Org.Name)
	})))
	jar, _ := cookiejar.New(nil)
	return &rp{web: web, srv: srv, client: &http.Client{Jar: jar}}
}

func (r *rp) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, err := r.client.Get(r.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestWebSignInFlow(t *testing.T) {
	clk := sdktest.NewClock()
	idp, p := sdktest.Setup(t, clk)
	rp := newRP(t, idp, p, clk)

	// Not signed in: /me goes to the IdP and back, then shows the org.
	resp, body := rp.get(t, "/me")
	if resp.StatusCode != 200 || body != "张三 江苏省学生资助管理中心" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if resp.Request.URL.Path != "/me" {
		t.Fatalf("landed on %s", resp.Request.URL)
	}
	// The session cookie is HttpOnly, SameSite=Lax, and holds no token.
	u, _ := url.Parse(rp.srv.URL)
	cks := rp.client.Jar.Cookies(u)
	if len(cks) != 1 || cks[0].Name != "xszz-session" || strings.Count(cks[0].Value, ".") != 0 || len(cks[0].Value) > 200 {
		t.Fatalf("cookies = %v", cks)
	}

	// Silent refresh when the access token nears expiry.
	clk.Advance(59*time.Minute + 45*time.Second)
	if resp, _ := rp.get(t, "/me"); resp.StatusCode != 200 || idp.RefreshRequests.Load() != 1 {
		t.Fatalf("refresh: %d, refreshes %d", resp.StatusCode, idp.RefreshRequests.Load())
	}
	// Concurrent requests refresh once (rotating refresh tokens).
	clk.Advance(59*time.Minute + 45*time.Second)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", rp.srv.URL+"/me", nil)
			for _, c := range cks {
				req.AddCookie(c)
			}
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("concurrent refresh: %d", resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	if n := idp.RefreshRequests.Load(); n != 2 {
		t.Fatalf("refreshes = %d, want 2", n)
	}

	// RP-initiated logout: POST only, redirects to end_session with the hint.
	if resp, _ := rp.get(t, "/logout"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /logout = %d", resp.StatusCode)
	}
	noRedirect := *rp.client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	// The answer is a page, not a redirect: form-action would block a
	// redirect to the IdP after the form POST.
	resp, err := noRedirect.Post(rp.srv.URL+"/logout", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
		resp.Header.Get("Referrer-Policy") != "no-referrer" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("logout: %d %v", resp.StatusCode, resp.Header)
	}
	m := regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]+)">`).FindSubmatch(page)
	a := regexp.MustCompile(`<a id="continue-logout" href="([^"]+)">`).FindSubmatch(page)
	if m == nil || a == nil || string(m[1]) != string(a[1]) {
		t.Fatalf("logout page lacks the refresh and the link:\n%s", page)
	}
	loc, _ := url.Parse(html.UnescapeString(string(m[1])))
	if loc.Path != "/end_session" || loc.Query().Get("id_token_hint") == "" || loc.Query().Get("client_id") != "portal" ||
		loc.Query().Get("post_logout_redirect_uri") != rp.srv.URL+"/" || loc.Query().Get("state") == "" {
		t.Fatalf("end-session URL %s", loc)
	}
	// Logging out again, without a session, just goes home.
	resp, err = noRedirect.Post(rp.srv.URL+"/logout", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != rp.srv.URL+"/" {
		t.Fatalf("second logout: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := rp.web.Session(cookieReq(cks)); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after logout: %v", err)
	}
}

func cookieReq(cks []*http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range cks {
		r.AddCookie(c)
	}
	return r
}

func TestWebCallbackRefusals(t *testing.T) {
	clk := sdktest.NewClock()
	idp, p := sdktest.Setup(t, clk)
	rp := newRP(t, idp, p, clk)
	noRedirect := *rp.client
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := func() url.Values {
		resp, err := noRedirect.Get(rp.srv.URL + "/login?return_to=//evil.example")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		q := loc.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
			t.Fatalf("authorize URL %s", loc)
		}
		return q
	}
	// State mismatch.
	start()
	resp, _ := rp.get(t, "/callback?code=x&state=forged")
	if resp.StatusCode != 400 {
		t.Fatalf("state mismatch: %d", resp.StatusCode)
	}
	// No login cookie at all (callback replayed in another browser).
	resp, err := http.Get(rp.srv.URL + "/callback?code=x&state=y")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("no cookie: %d", resp.StatusCode)
	}
	// An ID token with another nonce is refused: the IdP replays a nonce.
	q := start()
	resp, err = noRedirect.Get(idp.Issuer + "/authorize?" + url.Values{"client_id": {"portal"}, "redirect_uri": {rp.srv.URL + "/callback"},
		"response_type": {"code"}, "state": {q.Get("state")}, "nonce": {"other"}, "code_challenge": {q.Get("code_challenge")},
		"code_challenge_method": {"S256"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = noRedirect.Get(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("nonce mismatch: %d", resp.StatusCode)
	}
	// A full sign-in ignores a foreign return_to.
	resp, _ = rp.get(t, "/login?return_to=//evil.example")
	if resp.Request.URL.Host != strings.TrimPrefix(rp.srv.URL, "http://") || resp.Request.URL.Path != "/" {
		t.Fatalf("landed on %s", resp.Request.URL)
	}
}

func TestBackChannelLogout(t *testing.T) {
	clk := sdktest.NewClock()
	idp, p := sdktest.Setup(t, clk)
	rp := newRP(t, idp, p, clk)
	if resp, _ := rp.get(t, "/me"); resp.StatusCode != 200 {
		t.Fatal("sign-in failed")
	}
	u, _ := url.Parse(rp.srv.URL)
	cks := rp.client.Jar.Cookies(u)
	sid := idp.LastSID()
	post := func(tok string) int {
		resp, err := http.PostForm(rp.srv.URL+"/backchannel", url.Values{"logout_token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatal("no Cache-Control: no-store")
		}
		return resp.StatusCode
	}
	rsaKey := idp.Key("rsa-1")
	for name, tok := range map[string]string{
		"no events":     fakeidp.Sign(t, rsaKey, "logout+jwt", idp.LogoutClaims("portal", "", sid, map[string]any{"events": nil})),
		"events wrong":  fakeidp.Sign(t, rsaKey, "logout+jwt", idp.LogoutClaims("portal", "", sid, map[string]any{"events": map[string]any{"x": map[string]any{}}})),
		"event not obj": fakeidp.Sign(t, rsaKey, "logout+jwt", idp.LogoutClaims("portal", "", sid, map[string]any{"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": "yes"}})),
		"nonce":         fakeidp.Sign(t, rsaKey, "logout+jwt", idp.LogoutClaims("portal", "", sid, map[string]any{"nonce": "n"})),
		"no sub or sid": fakeidp.Sign(t, rsaKey, "logout+jwt", idp.LogoutClaims("portal", "", "", nil)),
		"no jti":        fakeidp.Sign(t, rsaKey, "logout+jwt", idp.LogoutClaims("portal", "", sid, map[string]any{"jti": nil})),
		"wrong aud":     fakeidp.Sign(t, rsaKey, "logout+jwt", idp.LogoutClaims("office", "", sid, nil)),
		"wrong typ":     fakeidp.Sign(t, rsaKey, "JWT", idp.LogoutClaims("portal", "", sid, nil)),
		"ID token":      fakeidp.Sign(t, rsaKey, "JWT", idp.IDClaims("portal", "", map[string]any{"sid": sid})),
		"expired":       fakeidp.Sign(t, rsaKey, "logout+jwt", idp.LogoutClaims("portal", "", sid, map[string]any{"exp": clk.Now().Add(-time.Hour).Unix()})),
		"garbage":       "x.y.z",
	} {
		if code := post(tok); code != 400 {
			t.Errorf("%s: status %d", name, code)
		}
	}
	if _, err := rp.web.Session(cookieReq(cks)); err != nil {
		t.Fatalf("session ended by a bad token: %v", err)
	}
	good := fakeidp.Sign(t, rsaKey, "logout+jwt", idp.LogoutClaims("portal", "acct-42", sid, nil))
	if code := post(good); code != 200 {
		t.Fatalf("good logout token: %d", code)
	}
	if _, err := rp.web.Session(cookieReq(cks)); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after back-channel logout: %v", err)
	}
	if code := post(good); code != 400 {
		t.Fatalf("replayed logout token: %d", code)
	}
	if _, err := rp.web.VerifyLogoutToken(context.Background(), good); !errors.Is(err, sdk.ErrReplayedToken) {
		t.Fatalf("replay: %v", err)
	}
	issued := clk.Now()
	clk.Advance(2 * time.Second)
	resp, _ := rp.get(t, "/me") // signs in again
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	// A logout issued before this session began (a delivery retried late)
	// is accepted but leaves the session alone.
	late := fakeidp.Sign(t, rsaKey, "logout+jwt", idp.LogoutClaims("portal", "acct-42", "", map[string]any{"iat": issued.Unix()}))
	if code := post(late); code != 200 {
		t.Fatalf("late logout token: %d", code)
	}
	if _, err := rp.web.Session(cookieReq(rp.client.Jar.Cookies(u))); err != nil {
		t.Fatalf("a logout issued before the session began ended it: %v", err)
	}
	// Logout by sub only ends every session of the account.
	if code := post(fakeidp.Sign(t, idp.Key("ec-1"), "logout+jwt", idp.LogoutClaims("portal", "acct-42", "", nil))); code != 200 {
		t.Fatal(code)
	}
	if _, err := rp.web.Session(cookieReq(rp.client.Jar.Cookies(u))); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after sub logout: %v", err)
	}
}

func TestSealerRefusesTampering(t *testing.T) {
	s, _ := newSealer(make([]byte, 32))
	v := s.seal("a", []byte("session-id"))
	if b, err := s.open("a", v); err != nil || string(b) != "session-id" {
		t.Fatal(err)
	}
	if _, err := s.open("b", v); err == nil {
		t.Fatal("cookie accepted under another name")
	}
	raw := []byte(v)
	raw[len(raw)/2] ^= 1
	if _, err := s.open("a", string(raw)); err == nil {
		t.Fatal("tampered cookie accepted")
	}
	if _, err := newSealer(make([]byte, 16)); !errors.Is(err, sdk.ErrInvalidConfig) {
		t.Fatal("short key accepted")
	}
}

// Two relying parties on one host name (ports do not separate cookies)
// keep their sessions apart by cookie name.
func TestCookieNameKeepsRelyingPartiesOnOneHostApart(t *testing.T) {
	clk := sdktest.NewClock()
	_, p := sdktest.Setup(t, clk)
	for _, tc := range []struct {
		name    string
		wantErr bool
	}{
		{"xszz-office", false},
		{"xszz_cockpit", false},
		{"bad name;", true},
	} {
		w, err := New(p, &Config{ClientID: "c", ClientSecret: "s", RedirectURL: "http://127.0.0.1:8081/callback", CookieKey: make([]byte, 32), CookieName: tc.name})
		if tc.wantErr {
			if err == nil || !errors.Is(err, sdk.ErrInvalidConfig) {
				t.Errorf("CookieName %q: %v, want ErrInvalidConfig", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		w.Login(rec, httptest.NewRequest("GET", "/login", nil))
		if got := rec.Result().Cookies(); len(got) != 1 || got[0].Name != tc.name+"-login" {
			t.Errorf("CookieName %q: login sets %v", tc.name, got)
		}
	}
}

// A relying party answers failed sign-ins with its own page (in its
// users' language); the SDK hands it the status and its reason.
func ExampleConfig_errorPage() {
	_ = &Config{ErrorPage: func(rw http.ResponseWriter, r *http.Request, status int, reason string) {
		rw.WriteHeader(status)
		io.WriteString(rw, "登录未完成，请重新登录")
	}}
}

func TestErrorPageAnswersFailedSignIns(t *testing.T) {
	clk := sdktest.NewClock()
	_, p := sdktest.Setup(t, clk)
	var gotStatus int
	var gotReason string
	w, err := New(p, &Config{ClientID: "c", ClientSecret: "s", RedirectURL: "http://127.0.0.1:8081/callback", CookieKey: make([]byte, 32),
		ErrorPage: func(rw http.ResponseWriter, _ *http.Request, status int, reason string) {
			gotStatus, gotReason = status, reason
			rw.WriteHeader(status)
			io.WriteString(rw, "登录未完成")
		}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	w.Callback(rec, httptest.NewRequest("GET", "/callback?code=x&state=y", nil))
	if rec.Code != http.StatusBadRequest || rec.Body.String() != "登录未完成" || gotStatus != http.StatusBadRequest || gotReason == "" {
		t.Fatalf("stale callback: %d %q (page got %d %q)", rec.Code, rec.Body.String(), gotStatus, gotReason)
	}
	rec = httptest.NewRecorder()
	w.Require(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("POST", "/x", nil))
	if rec.Code != http.StatusUnauthorized || rec.Body.String() != "登录未完成" {
		t.Fatalf("a post without a session: %d %q", rec.Code, rec.Body.String())
	}
}
