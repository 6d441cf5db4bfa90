package signin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/identity"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/idp/signin"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/internal/web"
)

// inbox is the SMS gateway of the tests: it keeps the last code per number.
type inbox struct {
	mu    sync.Mutex
	codes map[string]string
}

func (b *inbox) Send(_ context.Context, m sms.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.codes[m.Phone] = m.Code
	return nil
}

func (b *inbox) code(phone string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.codes[phone]
}

type env struct {
	srv      *httptest.Server
	sms      *inbox
	accounts *account.Store
	sessions *session.Store
}

// start runs just the sign-in part on httptest, over real stores.
func start(t *testing.T, db *sqldb.DB) *env {
	t.Helper()
	now := func() time.Time { return time.Unix(1_800_000_000, 0) }
	accounts := account.NewStore(db, now)
	sessions := session.NewStore(db, session.Config{Idle: time.Hour, Absolute: 12 * time.Hour}, now)
	box := &inbox{codes: map[string]string{}}
	codes := otp.New(otp.NewMemoryStore(now), box, otp.Config{Secret: []byte("test-secret"), MaxAttempts: 3, ResendInterval: -1, VerifyPerIPPerHour: 8}, now, nil)
	clients := client.NewStore(db, client.Hasher{Key: []byte("client-key")}, now, 0)
	cookie := idpweb.Cookie{Name: "xszz_session"}
	s := signin.New(signin.Deps{
		Flows:    &idpweb.Sealer{Key: []byte("0123456789abcdef0123456789abcdef"), Now: now},
		Browser:  &idpweb.Browser{Cookie: cookie, Sessions: sessions, Identities: &identity.Directory{Accounts: accounts}},
		Accounts: accounts, Sessions: sessions, OTP: codes, Clients: clients,
		Grants: oauthstore.New(db, nil, now), Now: now,
	})
	e := web.New(web.Site{Name: "test", Pages: idpweb.Pages()})
	s.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &env{srv: srv, sms: box, accounts: accounts, sessions: sessions}
}

func (e *env) account(t *testing.T, phone, status string) *account.Account {
	t.Helper()
	a, err := e.accounts.Create(context.Background(), account.Account{Phone: phone, Name: "张三", Role: account.RoleStaff, Status: status})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// post sends a JSON body and returns the status and decoded answer.
func post(t *testing.T, c *http.Client, url, body string) (int, map[string]any, http.Header) {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
	return resp.StatusCode, out, resp.Header
}

func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestSignInWithSMSCode(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		e.account(t, "+8613800000001", account.StatusActive)
		c := browser(t)

		status, out, _ := post(t, c, e.srv.URL+"/api/v1/sms/send", `{"phone":"13800000001"}`)
		if status != http.StatusOK || out["retry_after"] == nil {
			t.Fatalf("send: %d %v", status, out)
		}
		code := e.sms.code("+8613800000001")
		if code == "" {
			t.Fatal("no code was sent")
		}
		status, out, _ = post(t, c, e.srv.URL+"/api/v1/login", `{"phone":"13800000001","code":"`+code+`"}`)
		if status != http.StatusOK || out["redirect_to"] != "/" {
			t.Fatalf("login: %d %v", status, out)
		}
		resp, err := c.Get(e.srv.URL + "/api/v1/session")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sess map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&sess); err != nil {
			t.Fatal(err)
		}
		if sess["authenticated"] != true || sess["name"] != "张三" {
			t.Fatalf("session after sign-in: %v", sess)
		}
		status, out, _ = post(t, c, e.srv.URL+"/api/v1/login", `{"phone":"13800000001","code":"`+code+`"}`)
		if status != http.StatusUnauthorized || out["error"] != "code_expired" {
			t.Fatalf("a used code signed in again: %d %v", status, out)
		}
	})
}

// Refusals answer in the API's JSON with a machine code and a Chinese
// message, and no session cookie.
func TestSignInRefusals(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		e.account(t, "+8613800000002", account.StatusActive)
		e.account(t, "+8613800000003", account.StatusDisabled)
		cases := []struct {
			name, phone, code string
			status            int
			error             string
		}{
			{"no live code", "13800000002", "000000", http.StatusUnauthorized, "code_expired"},
			{"bad number", "12345", "123456", http.StatusBadRequest, "invalid_phone"},
			{"no account", "13800000009", "", http.StatusUnauthorized, "no_account"},
			{"disabled account", "13800000003", "", http.StatusForbidden, "account_disabled"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := browser(t)
				code := tc.code
				if code == "" {
					// The code is right, so the account is what refuses
					// (without idp.SMSGate wired, codes reach every number).
					post(t, c, e.srv.URL+"/api/v1/sms/send", `{"phone":"`+tc.phone+`"}`)
					code = e.sms.code("+86" + tc.phone)
				}
				status, out, _ := post(t, c, e.srv.URL+"/api/v1/login", `{"phone":"`+tc.phone+`","code":"`+code+`"}`)
				if status != tc.status || out["error"] != tc.error || out["error_description"] == "" {
					t.Fatalf("got %d %v, want %d %s", status, out, tc.status, tc.error)
				}
				if u, _ := http.NewRequest("GET", e.srv.URL, nil); len(c.Jar.Cookies(u.URL)) != 0 {
					t.Fatalf("a refused sign-in set cookies: %v", c.Jar.Cookies(u.URL))
				}
			})
		}
	})
}

// Wrong codes burn the code, and each answer says what happened; the
// number is never locked: a new code works. Too many attempts refuse the
// source, with Retry-After.
func TestSignInWrongCodes(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		e.account(t, "+8613800000004", account.StatusActive)
		c := browser(t)
		login := func(code string) (int, map[string]any, http.Header) {
			return post(t, c, e.srv.URL+"/api/v1/login", `{"phone":"13800000004","code":"`+code+`"}`)
		}
		post(t, c, e.srv.URL+"/api/v1/sms/send", `{"phone":"13800000004"}`)
		code := e.sms.code("+8613800000004")
		wrong := "999999"
		if code == wrong {
			wrong = "999998"
		}
		for _, want := range []struct {
			code, error, msg string
		}{
			{wrong, "invalid_code", "验证码错误"},
			{wrong, "invalid_code", "验证码错误"},
			{wrong, "code_burnt", "验证码错误次数过多，已失效，请重新获取"},
			{code, "code_expired", "验证码已失效，请重新获取"},
		} {
			status, out, _ := login(want.code)
			if status != http.StatusUnauthorized || out["error"] != want.error || out["error_description"] != want.msg {
				t.Fatalf("got %d %v, want 401 %s %q", status, out, want.error, want.msg)
			}
		}
		post(t, c, e.srv.URL+"/api/v1/sms/send", `{"phone":"13800000004"}`)
		if status, out, _ := login(e.sms.code("+8613800000004")); status != http.StatusOK {
			t.Fatalf("a new code after a burnt one: %d %v", status, out)
		}
		// 5 attempts so far; this address may make 8 an hour.
		for range 3 {
			login(wrong)
		}
		status, out, h := login(wrong)
		if status != http.StatusTooManyRequests || out["error"] != "too_many_attempts_ip" || h.Get("Retry-After") != "3600" ||
			out["error_description"] != "尝试次数过多，请 60 分钟后再试（来自本机地址）" {
			t.Fatalf("the 9th attempt: %d %v Retry-After=%q, want 429 too_many_attempts_ip", status, out, h.Get("Retry-After"))
		}
	})
}

// The JSON API refuses form posts and foreign origins: a foreign page can
// send either without a preflight.
func TestSignInAPIGuards(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db)
		resp, err := http.Post(e.srv.URL+"/api/v1/sms/send", "application/x-www-form-urlencoded", strings.NewReader("phone=13800000001"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Fatalf("form post to the API: %d, want 415", resp.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/login", strings.NewReader("phone=13800000001&code=123456"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("foreign-origin form post: %d, want 403", resp.StatusCode)
		}
	})
}
