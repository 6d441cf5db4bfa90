package accountcentre_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/accountcentre"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/identity"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/internal/web"
)

// storeEnder ends a session in the store, as the sign-in part does
// without the grants and back-channel logout.
type storeEnder struct{ s *session.Store }

func (e storeEnder) EndSession(ctx context.Context, sid, _ string) error { return e.s.Delete(ctx, sid) }

type storeSignOut struct{ s *session.Store }

func (o storeSignOut) SignOutEverywhere(ctx context.Context, accountID string) error {
	_, err := o.s.DeleteByAccount(ctx, accountID)
	return err
}

// noCodes: these tests change no phone number.
type noCodes struct{}

func (noCodes) SendCode(echo.Context, string, otp.Purpose) (string, time.Duration, error) {
	return "", 0, otp.ErrRateLimited
}

type env struct {
	srv      *httptest.Server
	sessions *session.Store
	person   *account.Account
}

// start runs just the account centre on httptest over real stores, with
// one person in a unit.
func start(t *testing.T, db *sqldb.DB) *env {
	t.Helper()
	ctx := context.Background()
	now := time.Now
	orgs := org.NewStore(db, org.WithClock(now))
	if err := orgs.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	accounts := account.NewStore(db, now)
	person, err := accounts.Create(ctx, account.Account{Phone: "+8613700000001", Name: "陈七", OrgID: "320000", Role: account.RoleStaff, Status: account.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	sessions := session.NewStore(db, session.Config{Idle: time.Hour, Absolute: 12 * time.Hour}, now)
	cookie := idpweb.Cookie{Name: "xszz_session"}
	c := accountcentre.New(accountcentre.Deps{
		Browser:  &idpweb.Browser{Cookie: cookie, Sessions: sessions, Identities: &identity.Directory{Accounts: accounts}},
		Cookie:   cookie,
		Flows:    &idpweb.Sealer{Key: []byte("0123456789abcdef0123456789abcdef"), Now: now},
		Sessions: sessions, Ender: storeEnder{sessions}, SignOuter: storeSignOut{sessions},
		Consents: oauthstore.New(db, nil, now), Clients: client.NewStore(db, client.Hasher{Key: []byte("k")}, now, 0),
		Orgs: orgs, OTP: otp.New(otp.NewMemoryStore(now), nil, otp.Config{}, now, nil), Codes: noCodes{}, Accounts: accounts, Now: now,
	})
	e := web.New(web.Site{Name: "test", Pages: idpweb.Pages()})
	c.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &env{srv: srv, sessions: sessions, person: person}
}

// signIn starts a session for the person and returns its cookie.
func (e *env) signIn(t *testing.T) *http.Cookie {
	t.Helper()
	token, _, err := e.sessions.Create(context.Background(), e.person.ID, []string{"sms"}, "192.0.2.1", "Mozilla/5.0 (iPhone) Safari/604.1")
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: "xszz_session", Value: token}
}

func (e *env) do(t *testing.T, method, path string, ck *http.Cookie, form url.Values) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// Without a session the page sends the browser to sign in, and a change
// is refused outright.
func TestAccountCentreRequiresSession(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		status, h, _ := e.do(t, http.MethodGet, "/account", nil, nil)
		if status != http.StatusSeeOther || h.Get("Location") != "/login?return=%2Faccount" {
			t.Fatalf("no session: %d %q, want 303 to /login?return=%%2Faccount", status, h.Get("Location"))
		}
		status, _, body := e.do(t, http.MethodPost, "/account/sessions/end-all", nil, url.Values{"csrf": {"x"}})
		if status != http.StatusUnauthorized || !strings.Contains(body, "登录已过期") {
			t.Fatalf("change without a session: %d %s", status, body)
		}
	})
}

// The page shows who is signed in (the number masked), the unit and the
// devices, and is never cached.
func TestAccountCentreShowsProfile(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		status, h, body := e.do(t, http.MethodGet, "/account", e.signIn(t), nil)
		if status != http.StatusOK || h.Get("Cache-Control") != "no-store" {
			t.Fatalf("account page: %d Cache-Control=%q", status, h.Get("Cache-Control"))
		}
		for _, want := range []string{"陈七", "137****0001", "工作人员", "Safari · iOS"} {
			if !strings.Contains(body, want) {
				t.Errorf("account page lacks %q", want)
			}
		}
		if strings.Contains(body, "13700000001") {
			t.Error("account page shows the full phone number")
		}
	})
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// A change needs the CSRF token of the person's own page.
func TestAccountCentreChangesNeedCSRF(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		ck := e.signIn(t)
		status, _, _ := e.do(t, http.MethodPost, "/account/sessions/end-all", ck, url.Values{"csrf": {"forged"}})
		if status != http.StatusForbidden {
			t.Fatalf("forged CSRF token: %d, want 403", status)
		}
		_, _, page := e.do(t, http.MethodGet, "/account", ck, nil)
		m := csrfField.FindStringSubmatch(page)
		if m == nil {
			t.Fatal("account page carries no CSRF token")
		}
		status, h, _ := e.do(t, http.MethodPost, "/account/sessions/end-all", ck, url.Values{"csrf": {m[1]}})
		if status != http.StatusSeeOther || h.Get("Location") != "/login" {
			t.Fatalf("sign out everywhere: %d %q", status, h.Get("Location"))
		}
		if status, _, _ := e.do(t, http.MethodGet, "/account", ck, nil); status != http.StatusSeeOther {
			t.Fatalf("the session survived signing out everywhere: %d", status)
		}
	})
}
