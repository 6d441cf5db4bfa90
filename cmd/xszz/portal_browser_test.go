package main

import (
	"context"
	"crypto/rand"
	"errors"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/testenv"

	"github.com/chromedp/chromedp"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/sdk"
	"github.com/xszz/xszz/sdk/web"
)

// portalPage is the SDK example portal's page (sdk/examples/portal) in
// miniature, under the same strict Content-Security-Policy: the sign-out
// button is a form POST to the relying party's own /logout.
var portalPage = template.Must(template.New("portal").Parse(`<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><title>学生资助工作门户</title>
{{if .}}<p id="who">{{.Claims.Name}}</p>
<form method="post" action="/logout"><button id="logout">退出</button></form>
{{else}}<p><a id="login" href="/login?return_to=/">统一身份认证登录</a></p>{{end}}
</html>`))

// recordingStore is the SDK's MemoryStore that remembers every session it
// saved, so the test can ask afterwards whether they are gone.
type recordingStore struct {
	*web.MemoryStore
	mu  sync.Mutex
	ids []string
}

func (s *recordingStore) Save(ctx context.Context, v *web.Session) error {
	s.mu.Lock()
	s.ids = append(s.ids, v.ID)
	s.mu.Unlock()
	return s.MemoryStore.Save(ctx, v)
}

// startPortal serves a relying party built on sdk/web, registered at the
// IdP with its redirect, post-logout and back-channel URIs. It listens on
// "localhost", the IdP on 127.0.0.1: another site, as in production.
func startPortal(t *testing.T, sys *system, edit ...func(*client.Spec)) (base string, store *recordingStore) {
	t.Helper()
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	base = strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	id, secret := sys.newClient(t, func(s *client.Spec) {
		s.Name = "学生资助工作门户"
		s.RedirectURIs = []string{base + "/callback"}
		s.PostLogoutRedirectURIs = []string{base + "/"}
		s.BackchannelLogoutURI = base + "/backchannel-logout"
		for _, e := range edit {
			e(s)
		}
	})
	p, err := sdk.NewProvider(context.Background(), sys.url)
	if err != nil {
		t.Fatalf("discover the IdP: %v", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	store = &recordingStore{MemoryStore: web.NewMemoryStore()}
	auth, err := web.New(p, &web.Config{
		ClientID: id, ClientSecret: secret, RedirectURL: base + "/callback",
		PostLogoutRedirectURL: base + "/", CookieKey: key, Store: store,
	})
	if err != nil {
		t.Fatalf("sdk web: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", auth.Login)
	mux.HandleFunc("GET /callback", auth.Callback)
	mux.HandleFunc("POST /logout", auth.Logout)
	mux.HandleFunc("POST /backchannel-logout", auth.BackChannelLogout)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, err := auth.Session(r)
		if err != nil && !errors.Is(err, web.ErrNoSession) {
			http.Error(w, "sign-in service unavailable", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
		if err := portalPage.Execute(w, s); err != nil {
			t.Errorf("render portal page: %v", err)
		}
	})
	h = mux
	return base, store
}

// TestPortalSignOutInBrowser signs a person in to an sdk/web relying party
// through the IdP's SMS login page in Chromium, presses the portal's
// sign-out button, and checks that both sessions ended: the relying
// party's (its stored session is gone) and the IdP's (signing in again
// shows the IdP's login page instead of returning silently). The portal
// sends "form-action 'self'", which blocks a redirect to the IdP after the
// sign-out form's POST; sdk/web's Logout must get there anyway.
func TestPortalSignOutInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(testenv.Browser(t), 30*time.Second)
	defer cancel()
	sys := startSystem(t, sqliteBackend)
	person := sys.newAccount(t, func(a *account.Account) { a.OrgID, a.Name = "320000", "门户用户" })
	base, store := startPortal(t, sys)

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for _, a := range actions {
			if err := chromedp.Do(ctx, a); err != nil {
				loc, _ := chromedp.Run(ctx, chromedp.Location())
				body, _ := chromedp.Run(ctx, chromedp.Text(css(`body`)))
				t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
			}
		}
	}
	location := func() string {
		t.Helper()
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatalf("location: %v", err)
		}
		return loc
	}

	// Sign in: portal → IdP login page → SMS code → back at the portal.
	run("open the portal and start sign-in",
		chromedp.Navigate(base+"/"),
		chromedp.Click(css(`#login`)),
		chromedp.WaitVisible(css(`#phone`)),
	)
	if loc := location(); !strings.HasPrefix(loc, sys.url+"/login") {
		t.Fatalf("sign-in did not reach the IdP's login page: %s", loc)
	}
	before := sys.sms.count(person.E164)
	run("ask for the SMS code",
		chromedp.SendKeys(css(`#phone`), person.Phone),
		chromedp.Click(css(`form[action="/login/send"] button`)),
		chromedp.WaitVisible(css(`#code`)),
	)
	if sys.sms.count(person.E164) != before+1 {
		t.Fatalf("no SMS code went to %s", person.E164)
	}
	run("sign in with the code",
		// The login page echoes the number masked in its hidden field
		// (idp/login.go); put the real one back as a person would retype it.
		chromedp.SetValue(css(`form[action="/login"] input[name="phone"]`), person.Phone),
		chromedp.SendKeys(css(`#code`), sys.sms.last(person.E164)),
		chromedp.Submit(css(`#code`)),
		chromedp.WaitVisible(css(`#who`)),
	)
	who, err := chromedp.Run(ctx, chromedp.Text(css(`#who`)))
	if err != nil || who != "门户用户" || location() != base+"/" {
		t.Fatalf("after sign-in: %q %v at %s", who, err, location())
	}

	// Sign out with the portal's button.
	run("sign out", chromedp.Click(css(`#logout`)), chromedp.WaitVisible(css(`#login`)))
	// The IdP returns to the post-logout URI with the state the portal
	// sent: proof that the browser went through the IdP's end_session.
	if loc, err := url.Parse(location()); err != nil || loc.Scheme+"://"+loc.Host+loc.Path != base+"/" || loc.Query().Get("state") == "" {
		t.Fatalf("sign-out ended at %s, want the portal's home page back from the IdP", loc)
	}

	// (a) The relying party's session is gone, not just its cookie.
	store.mu.Lock()
	ids := append([]string(nil), store.ids...)
	store.mu.Unlock()
	if len(ids) == 0 {
		t.Fatal("the portal never saved a session")
	}
	for _, id := range ids {
		if _, err := store.Load(context.Background(), id); !errors.Is(err, web.ErrNoSession) {
			t.Fatalf("portal session %s outlived sign-out: %v", id, err)
		}
	}

	// (b) The IdP's session is gone: signing in again asks for the phone
	// number rather than returning to the portal signed in.
	run("sign in again", chromedp.Click(css(`#login`)), chromedp.WaitVisible(css(`#phone`)))
	if loc := location(); !strings.HasPrefix(loc, sys.url+"/login") {
		t.Fatalf("second sign-in did not show the IdP's login page: %s", loc)
	}
}
