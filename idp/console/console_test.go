package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/console"
	"github.com/xszz/xszz/idp/grant"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/sqldb"
)

const issuer = "https://idp.example.test"

// units below the seeded tree: Jiangsu › Nanjing › Xuanwu › a school › a
// department. Zhejiang (330000) is seeded beside Jiangsu.
var units = []org.Org{
	{ID: "320100", ParentID: "320000", Name: "南京市学生资助管理中心", Level: org.LevelCity, RegionCode: "320100"},
	{ID: "320200", ParentID: "320000", Name: "无锡市学生资助管理中心", Level: org.LevelCity, RegionCode: "320200"},
	{ID: "320102", ParentID: "320100", Name: "玄武区学生资助管理中心", Level: org.LevelCounty, RegionCode: "320102"},
	{ID: "3132000001", ParentID: "320102", Name: "玄武区第一中学", Level: org.LevelSchool, RegionCode: "320102"},
	{ID: "3132000001-01", ParentID: "3132000001", Name: "学生处", Level: org.LevelDepartment},
}

// env is a console over a real database, with people in the tree.
type env struct {
	t        testing.TB
	orgs     *org.Store
	e        *echo.Echo
	db       *sqldb.DB
	accounts *account.Store
	grants   *grant.Store
	sessions *session.Store
	audit    *audit.Log
	tokens   fakeTokens
	people   map[string]*account.Account
}

// people: key → (unit, role, status, name)
var people = []struct{ key, org, role, status, name string }{
	{"adminJS", "320000", account.RoleAdmin, account.StatusActive, "江苏管理员"},
	{"adminZJ", "330000", account.RoleAdmin, account.StatusActive, "浙江管理员"},
	{"adminNJ", "320100", account.RoleAdmin, account.StatusActive, "南京管理员"},
	{"staffJS", "320000", account.RoleStaff, account.StatusActive, "江苏干部"},
	{"staffNJ", "320100", account.RoleStaff, account.StatusActive, "南京干部"},
	{"staffWX", "320200", account.RoleStaff, account.StatusActive, "无锡干部"},
	{"staffXW", "320102", account.RoleStaff, account.StatusActive, "玄武干部"},
	{"staffSchool", "3132000001", account.RoleStaff, account.StatusActive, "中学老师"},
	{"pendingXW", "320102", account.RoleStaff, account.StatusPending, "待审人员"},
	{"staffZJ", "330000", account.RoleStaff, account.StatusActive, "浙江干部"},
}

func newEnv(t testing.TB, db *sqldb.DB, edit ...func(*console.Config)) *env {
	t.Helper()
	ctx := context.Background()
	now := time.Now
	orgs := org.NewStore(db, org.WithClock(now))
	if err := orgs.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		if _, err := orgs.Create(ctx, u); err != nil {
			t.Fatalf("create %s: %v", u.ID, err)
		}
	}
	v := &env{
		t: t, db: db, orgs: orgs, accounts: account.NewStore(db, now), grants: grant.NewStore(db, now),
		sessions: session.NewStore(db, session.Config{Idle: time.Hour, Absolute: 12 * time.Hour}, now),
		audit:    audit.New(db, now, slog.New(slog.NewTextHandler(io.Discard, nil))),
		tokens:   fakeTokens{}, people: map[string]*account.Account{},
	}
	for i, p := range people {
		a, err := v.accounts.Create(ctx, account.Account{Phone: fmt.Sprintf("+86138%08d", 1000+i), Name: p.name, OrgID: p.org, Role: p.role, Status: p.status})
		if err != nil {
			t.Fatal(err)
		}
		v.people[p.key] = a
	}
	svc := &admin.Service{
		DB: db, Accounts: v.accounts, Orgs: orgs, Grants: v.grants, Sessions: v.sessions,
		OAuth: oauthstore.New(db, nil, now), Audit: v.audit, Now: now,
	}
	cfg := console.Config{Issuer: issuer, Key: []byte("0123456789abcdef0123456789abcdef")}
	for _, e := range edit {
		e(&cfg)
	}
	c, err := console.New(console.Deps{
		Config: cfg,
		Admin:  svc, Accounts: v.accounts, Sessions: v.sessions, Orgs: orgs, Audit: v.audit,
		Tokens: v.tokens, NewSession: func() fosite.Session { return &fosite.DefaultSession{} },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	v.e = echo.New()
	c.Register(v.e)
	return v
}

func (v *env) id(key string) string { return v.people[key].ID }

func (v *env) account(key string) *account.Account {
	v.t.Helper()
	a, err := v.accounts.Get(context.Background(), v.id(key))
	if err != nil {
		v.t.Fatal(err)
	}
	return a
}

func (v *env) hasGrant(key string) bool {
	v.t.Helper()
	g, err := v.grants.Grants(context.Background(), v.id(key))
	if err != nil {
		v.t.Fatal(err)
	}
	return slices.Contains(g, grant.Cockpit)
}

// browser is a signed-in browser: its session cookie.
type browser struct {
	v      *env
	key    string
	cookie string
}

func (v *env) signIn(key string, amr ...string) *browser {
	v.t.Helper()
	if len(amr) == 0 {
		amr = []string{"sms"}
	}
	tok, _, err := v.sessions.Create(context.Background(), v.id(key), amr, "127.0.0.1", "test")
	if err != nil {
		v.t.Fatal(err)
	}
	return &browser{v: v, key: key, cookie: tok}
}

func (v *env) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, req)
	return rec
}

func (b *browser) get(path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "xszz_session", Value: b.cookie})
	}
	return b.v.serve(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the token from a page, as the browser's form would carry it.
func (b *browser) csrf() string {
	b.v.t.Helper()
	rec := b.get("/admin/orgs/" + b.v.people[b.key].OrgID)
	m := csrfField.FindStringSubmatch(rec.Body.String())
	if m == nil {
		b.v.t.Fatalf("no CSRF token on the unit page (status %d)", rec.Code)
	}
	return m[1]
}

// post submits a form from the console's own origin with this session's
// CSRF token unless the form says otherwise.
func (b *browser) post(path string, form url.Values, origin string) *httptest.ResponseRecorder {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf())
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "xszz_session", Value: b.cookie})
	}
	return b.v.serve(req)
}

// fakeTokens stands in for fosite: token → what it was issued for.
type fakeTokens map[string]issued

type issued struct {
	sub     string
	scopes  []string
	trusted bool
}

func (f fakeTokens) IntrospectToken(_ context.Context, token string, _ fosite.TokenUse, sess fosite.Session, scopes ...string) (fosite.TokenUse, fosite.AccessRequester, error) {
	g, ok := f[token]
	if !ok {
		return "", nil, fosite.ErrInactiveToken
	}
	for _, s := range scopes {
		if !slices.Contains(g.scopes, s) {
			return "", nil, fosite.ErrInvalidScope
		}
	}
	sess.(*fosite.DefaultSession).Subject = g.sub
	ar := fosite.NewAccessRequest(sess)
	ar.Client = &client.Client{ID: "admin-app", Trusted: g.trusted}
	ar.GrantedScope = g.scopes
	return fosite.AccessToken, ar, nil
}

func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("not JSON (status %d): %v\n%s", rec.Code, err, rec.Body)
	}
	return m
}
