package main

// The harness starts the whole system (build → prepare → serve) on a
// loopback listener, the way `xszz serve` runs it, and drives it over real
// HTTP: a browser with a cookie jar for the IdP's pages and JSON API, and
// relying parties built on go-oidc and x/oauth2.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/testenv"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/xszz/xszz/cmd/internal/pgschema"
	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

const envRedis = "XSZZ_TEST_REDIS_URL"

// backend names a storage set-up the system runs on.
type backend string

const (
	sqliteBackend   backend = "sqlite"
	postgresBackend backend = "postgres" // with Redis when XSZZ_TEST_REDIS_URL is set
)

// forEachBackend runs fn on SQLite, and on PostgreSQL (+ Redis) when the
// test servers are configured; the subtests run in parallel.
func forEachBackend(t *testing.T, fn func(t *testing.T, be backend)) {
	t.Helper()
	for _, be := range []backend{sqliteBackend, postgresBackend} {
		t.Run(string(be), func(t *testing.T) {
			t.Parallel()
			if be == postgresBackend {
				testenv.Postgres(t)
			}
			fn(t, be)
		})
	}
}

// testClock is the wall clock shifted by an offset that tests advance,
// never backwards. Fosite reads the wall clock in places: a sign-in made
// while the clock is more than 5 s ahead gets an auth_time fosite calls
// "in the future" (server_error), so move the clock after the last
// sign-in of a system, or by less than 5 s before one.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// outbox captures the SMS codes the system sends, per phone, and apart
// from them the notices (messages without a code) by purpose.
type outbox struct {
	mu      sync.Mutex
	codes   map[string][]string
	notices map[string][]string
}

func (o *outbox) Send(_ context.Context, m sms.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.codes == nil {
		o.codes, o.notices = map[string][]string{}, map[string][]string{}
	}
	if m.Code == "" {
		o.notices[m.Phone] = append(o.notices[m.Phone], m.Purpose)
		return nil
	}
	o.codes[m.Phone] = append(o.codes[m.Phone], m.Code)
	return nil
}

// noticesTo returns the purposes of the notices sent to an E.164 number.
func (o *outbox) noticesTo(e164 string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.notices[e164])
}

// count returns how many codes went to an E.164 number.
func (o *outbox) count(e164 string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.codes[e164])
}

func (o *outbox) last(e164 string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.codes[e164]
	if len(c) == 0 {
		return ""
	}
	return c[len(c)-1]
}

// system is one running node. Its helpers take the calling test's t, since
// subtests share one system.
type system struct {
	app   *App
	url   string // the issuer
	clock *testClock
	sms   *outbox
	// cockpitURL is where the cockpit listens, when sharedEnv.cockpit
	// asked for it (see cockpit_browser_test.go).
	cockpitURL string
}

// sharedEnv is what several nodes of one deployment share.
type sharedEnv struct {
	dbURL, redisURL, otpPrefix string
	secret, encKey             string
	dir                        string
	// cockpit also serves the data cockpit on a listener of its own.
	cockpit bool
}

func newSharedEnv(t testing.TB, be backend) sharedEnv {
	t.Helper()
	env := baseEnv(t.TempDir())
	switch be {
	case sqliteBackend:
		env.dbURL = "sqlite://" + filepath.Join(env.dir, "xszz.db")
	case postgresBackend:
		env.dbURL = sqldbtest.PostgresURL(t)
		env.redisURL = os.Getenv(envRedis)
	}
	return env
}

func baseEnv(dir string) sharedEnv {
	return sharedEnv{
		secret:    base64.StdEncoding.EncodeToString(randomBytes(32)),
		encKey:    base64.StdEncoding.EncodeToString(randomBytes(32)),
		dir:       dir,
		otpPrefix: "xszz-test:" + hex.EncodeToString(randomBytes(6)) + ":",
	}
}

// startSystem builds and serves one node on a fresh database.
func startSystem(t testing.TB, be backend, edit ...func(*Config)) *system {
	t.Helper()
	return startNode(t, newSharedEnv(t, be), edit...)
}

// startNode builds and serves one node of a deployment.
func startNode(t testing.TB, env sharedEnv, edit ...func(*Config)) *system {
	t.Helper()
	sys, stop, err := launch(env, edit...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return sys
}

// launch builds, prepares and serves one node; stop shuts it down.
func launch(env sharedEnv, edit ...func(*Config)) (sys *system, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	issuer := "http://" + ln.Addr().String()
	cfg, err := loadConfig("")
	if err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("default config: %w", err)
	}
	cfg.Database.URL = env.dbURL
	cfg.Redis.URL = env.redisURL
	cfg.IdP.Issuer = issuer
	cfg.IdP.Listen = ln.Addr().String()
	cfg.IdP.Secret = env.secret
	cfg.Keys.EncryptionKey = env.encKey
	cfg.Audit.ArchiveDir = filepath.Join(env.dir, "audit")
	cfg.SMS.Outbox = filepath.Join(env.dir, "outbox.jsonl")
	// One loopback address signs everybody in: the per-number and per-IP
	// budgets (tested in idp/otp) would only get in the way here.
	cfg.SMS.ResendInterval, cfg.SMS.PerHour, cfg.SMS.PerDay = -1, -1, -1
	cfg.SMS.PerIPPerHour, cfg.SMS.PerNetPerHour = -1, -1
	cfg.SMS.VerifyPerIPPerHour, cfg.SMS.VerifyPerNetPerHour = -1, -1
	// The shared systems deliver many codes a minute; the challenge that
	// turns on at half the global budget is tested where it is asked for.
	cfg.SMS.Challenge = "off"
	var cockpitLn net.Listener
	if env.cockpit {
		if cockpitLn, err = listenCockpit(cfg); err != nil {
			ln.Close()
			return nil, nil, err
		}
	}
	for _, e := range edit {
		e(cfg)
	}
	if err := cfg.Validate(); err != nil {
		ln.Close()
		closeListener(cockpitLn)
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	var logw io.Writer = io.Discard
	if os.Getenv("XSZZ_TEST_LOG") != "" {
		logw = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := &testClock{}
	box := &outbox{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := build(ctx, cfg, log, buildOptions{now: clock.Now, sender: box, otpPrefix: env.otpPrefix,
		challengeAnswers: func() string { return challengeAnswer }})
	if err != nil {
		cancel()
		ln.Close()
		closeListener(cockpitLn)
		return nil, nil, fmt.Errorf("build: %w", err)
	}
	if cockpitLn != nil {
		if err := a.testCockpit(cfg, log); err != nil {
			cancel()
			ln.Close()
			cockpitLn.Close()
			a.Close()
			return nil, nil, fmt.Errorf("cockpit: %w", err)
		}
	}
	if err := a.Prepare(ctx); err != nil {
		cancel()
		ln.Close()
		a.Close()
		closeListener(cockpitLn)
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, listeners{idp: ln, cockpit: cockpitLn}) }()
	stop = func() error {
		// Idle keep-alive connections would hold the graceful shutdown.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		cancel()
		err := <-done
		a.Close()
		return err
	}
	sys = &system{app: a, url: issuer, clock: clock, sms: box}
	if cockpitLn != nil {
		sys.cockpitURL = cfg.Cockpit.URL
	}
	return sys, stop, nil
}

// The shared systems serve every test that needs no configuration of its
// own and does not move the clock: one node per backend for the whole
// package, so PostgreSQL migrations (serialised server-wide by an advisory
// lock) run once rather than once per test. Tests on them use fresh
// clients and accounts, so they cannot see each other.
var shared struct {
	mu      sync.Mutex
	systems map[backend]*system
	errs    map[backend]error
	stops   []func()
}

// sharedSystem returns the package's system for be, started on first use.
func sharedSystem(t testing.TB, be backend) *system {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.systems == nil {
		shared.systems, shared.errs = map[backend]*system{}, map[backend]error{}
	}
	if sys, ok := shared.systems[be]; ok {
		return sys
	}
	if err, ok := shared.errs[be]; ok {
		t.Fatalf("shared %s system: %v", be, err)
	}
	sys, err := startShared(be)
	if err != nil {
		shared.errs[be] = err
		t.Fatalf("shared %s system: %v", be, err)
	}
	shared.systems[be] = sys
	return sys
}

func startShared(be backend) (*system, error) {
	dir, err := os.MkdirTemp("", "xszz-test-")
	if err != nil {
		return nil, err
	}
	shared.stops = append(shared.stops, func() { os.RemoveAll(dir) })
	env := baseEnv(dir)
	switch be {
	case sqliteBackend:
		env.dbURL = "sqlite://" + filepath.Join(dir, "xszz.db")
	case postgresBackend:
		u, drop, err := pgschema.Fresh(context.Background(), os.Getenv(sqldbtest.EnvPostgres), "bench_")
		if err != nil {
			return nil, err
		}
		shared.stops = append(shared.stops, drop)
		env.dbURL, env.redisURL = u, os.Getenv(envRedis)
	}
	sys, stop, err := launch(env)
	if err != nil {
		return nil, err
	}
	shared.stops = append(shared.stops, func() { _ = stop() })
	return sys, nil
}

// TestMain stops the shared systems when every test is done.
func TestMain(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	for i := len(shared.stops) - 1; i >= 0; i-- {
		shared.stops[i]()
	}
	shared.mu.Unlock()
	os.Exit(code)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func randomString() string { return hex.EncodeToString(randomBytes(12)) }

var phoneSeq atomic.Int64

// newPhone returns a mainland mobile number no other test uses.
func newPhone() string {
	return fmt.Sprintf("139%08d", (time.Now().UnixNano()/1000+phoneSeq.Add(7919))%100000000)
}

// person is an account the tests sign in with.
type person struct {
	ID, Phone, E164 string
}

// newAccount creates an active account.
func (s *system) newAccount(t testing.TB, edit ...func(*account.Account)) person {
	t.Helper()
	p := newPhone()
	acc := account.Account{Phone: "+86" + p, Name: "测试人员", Status: account.StatusActive, Role: account.RoleStaff}
	for _, e := range edit {
		e(&acc)
	}
	a, err := s.app.Accounts.Create(context.Background(), acc)
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	return person{ID: a.ID, Phone: p, E164: a.Phone}
}

// disable disables an account, as `xszz accounts disable` does.
func (s *system) disable(t testing.TB, p person) {
	t.Helper()
	_, err := s.app.Accounts.Update(context.Background(), p.ID, func(a *account.Account) error {
		a.Status = account.StatusDisabled
		return nil
	})
	if err != nil {
		t.Fatalf("disable: %v", err)
	}
}

const callbackURL = "https://rp.example.test/cb"

// newClient registers a client; by default a trusted confidential client
// with callbackURL as its redirect URI.
func (s *system) newClient(t testing.TB, edit ...func(*client.Spec)) (id, secret string) {
	t.Helper()
	spec := client.Spec{
		Name: "测试应用", RedirectURIs: []string{callbackURL},
		PostLogoutRedirectURIs: []string{"https://rp.example.test/bye"}, Trusted: true,
	}
	for _, e := range edit {
		e(&spec)
	}
	if err := spec.Validate(true); err != nil {
		t.Fatalf("client spec: %v", err)
	}
	cl, sec, err := s.app.Clients.Create(context.Background(), spec)
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	return cl.ID, sec
}

// reply is a response read to the end.
type reply struct {
	Status int
	Header http.Header
	Body   string
}

func (r reply) location() *url.URL {
	l := r.Header.Get("Location")
	if l == "" {
		return nil
	}
	u, err := url.Parse(l)
	if err != nil {
		return nil
	}
	return u
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("response is not JSON (status %d): %v\n%s", r.Status, err, r.Body)
	}
	return m
}

func (r reply) String() string {
	body := r.Body
	if len(body) > 400 {
		body = body[:400] + "…"
	}
	return fmt.Sprintf("%d Location=%q %s", r.Status, r.Header.Get("Location"), body)
}

// browser is one user agent: a cookie jar that follows nothing by itself.
type browser struct {
	t   testing.TB
	sys *system
	hc  *http.Client
}

func (s *system) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, sys: s, hc: &http.Client{
		Jar:           jar,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request; a relative URL is resolved against the issuer.
func (b *browser) do(method, u string, body io.Reader, header map[string]string) reply {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.sys.url + u
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatalf("new request: %v", err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return send(b.t, b.hc, req)
}

func send(t testing.TB, hc *http.Client, req *http.Request) reply {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", req.URL, err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func (b *browser) get(u string) reply { return b.do(http.MethodGet, u, nil, nil) }

func (b *browser) postForm(u string, form url.Values) reply {
	return b.do(http.MethodPost, u, strings.NewReader(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

func (b *browser) postJSON(u string, v any) reply {
	body, _ := json.Marshal(v)
	return b.do(http.MethodPost, u, bytes.NewReader(body), map[string]string{"Content-Type": "application/json"})
}

// visit loads u and follows the IdP's redirects to itself; it stops at a
// page, at a redirect to the login or consent page, or at a redirect that
// leaves the IdP (to a client).
func (b *browser) visit(u string) reply {
	b.t.Helper()
	for range 10 {
		r := b.get(u)
		loc := r.location()
		if r.Status < 300 || r.Status > 399 || loc == nil {
			return r
		}
		next := b.resolve(u, loc)
		if !strings.HasPrefix(next, b.sys.url+"/") || loc.Path == "/login" || loc.Path == "/consent" {
			return r
		}
		u = next
	}
	b.t.Fatalf("too many redirects from %s", u)
	return reply{}
}

func (b *browser) resolve(base string, loc *url.URL) string {
	if strings.HasPrefix(base, "/") {
		base = b.sys.url + base
	}
	bu, _ := url.Parse(base)
	return bu.ResolveReference(loc).String()
}

// sendCode asks for an SMS code through the JSON API and returns it.
func (b *browser) sendCode(p person) string {
	b.t.Helper()
	before := b.sys.sms.count(p.E164)
	r := b.postJSON("/api/v1/sms/send", map[string]string{"phone": p.Phone, "purpose": "login"})
	if r.Status != http.StatusOK {
		b.t.Fatalf("sms send: %s", r)
	}
	if b.sys.sms.count(p.E164) != before+1 {
		b.t.Fatalf("no SMS went to %s", p.E164)
	}
	return b.sys.sms.last(p.E164)
}

// signIn signs in through the JSON API, continuing flow when given, and
// returns where the API sends the browser next.
func (b *browser) signIn(p person, flow string) string {
	b.t.Helper()
	code := b.sendCode(p)
	r := b.postJSON("/api/v1/login", map[string]string{"phone": p.Phone, "code": code, "flow": flow})
	if r.Status != http.StatusOK {
		b.t.Fatalf("login: %s", r)
	}
	next, _ := r.json(b.t)["redirect_to"].(string)
	if next == "" {
		b.t.Fatalf("login answered no redirect_to: %s", r.Body)
	}
	return next
}

// flowOf returns the flow token when r sends the browser to the login or
// consent page, and which page.
func flowOf(r reply) (page, flow string) {
	loc := r.location()
	if loc == nil || (r.Status != http.StatusSeeOther && r.Status != http.StatusFound) {
		return "", ""
	}
	return loc.Path, loc.Query().Get("flow")
}

// authorize drives the browser from an authorization URL to the redirect
// back to the client, signing p in when asked and consenting when asked.
// It returns the redirect (status 303 or 302 with the Location outside the IdP).
func (b *browser) authorize(authURL string, p person) reply {
	b.t.Helper()
	r := b.visit(authURL)
	for range 4 {
		page, flow := flowOf(r)
		switch page {
		case "/login":
			if p.Phone == "" {
				b.t.Fatalf("authorize wants a sign-in, but no person was given")
			}
			r = b.visit(b.signIn(p, flow))
		case "/consent":
			r = b.postForm("/consent", url.Values{"flow": {flow}, "decision": {"allow"}})
			r = b.visit(b.resolve("/consent", r.location()))
		default:
			return r
		}
	}
	b.t.Fatalf("authorize did not finish: %s", r)
	return r
}

// callback checks that r redirects to the client and returns the query.
func callback(t testing.TB, r reply, redirectURI string) url.Values {
	t.Helper()
	loc := r.location()
	if loc == nil || r.Status != http.StatusSeeOther && r.Status != http.StatusFound {
		t.Fatalf("want a redirect to %s, got %s", redirectURI, r)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURI {
		t.Fatalf("redirected to %s, want %s", got, redirectURI)
	}
	return loc.Query()
}

// rp is a relying party built on go-oidc and x/oauth2.
type rp struct {
	t        testing.TB
	sys      *system
	id       string
	secret   string
	provider *oidc.Provider
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
	ctx      context.Context
}

// newRP registers a client (see newClient) and discovers the IdP.
func (s *system) newRP(t testing.TB, edit ...func(*client.Spec)) *rp {
	t.Helper()
	id, secret := s.newClient(t, edit...)
	return s.rpFor(t, id, secret)
}

func (s *system) rpFor(t testing.TB, id, secret string) *rp {
	t.Helper()
	ctx := oidc.ClientContext(context.Background(), &http.Client{Timeout: 15 * time.Second})
	p, err := oidc.NewProvider(ctx, s.url)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	if secret == "" {
		ep.AuthStyle = oauth2.AuthStyleInParams
	}
	return &rp{
		t: t, sys: s, id: id, secret: secret, provider: p, ctx: ctx,
		oauth: &oauth2.Config{
			ClientID: id, ClientSecret: secret, Endpoint: ep, RedirectURL: callbackURL,
			Scopes: []string{oidc.ScopeOpenID, "profile", "phone", "org", oidc.ScopeOfflineAccess},
		},
		verifier: p.Verifier(&oidc.Config{ClientID: id, Now: s.clock.Now}),
	}
}

// authRequest is one authorization request of an rp.
type authRequest struct {
	url, state, nonce, verifier string
}

// authURL builds an authorization request with state, nonce and PKCE S256.
func (c *rp) authURL(extra ...oauth2.AuthCodeOption) authRequest {
	a := authRequest{state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier)}, extra...)
	a.url = c.oauth.AuthCodeURL(a.state, opts...)
	return a
}

// code runs the authorization request in b and returns the code.
func (c *rp) code(b *browser, a authRequest, p person) string {
	c.t.Helper()
	q := callback(c.t, b.authorize(a.url, p), callbackURL)
	if q.Get("error") != "" {
		c.t.Fatalf("authorization failed: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != a.state {
		c.t.Fatalf("state %q, want %q", q.Get("state"), a.state)
	}
	if q.Get("iss") != c.sys.url {
		c.t.Fatalf("iss %q, want %q (RFC 9207)", q.Get("iss"), c.sys.url)
	}
	return q.Get("code")
}

// exchange redeems a code with the PKCE verifier.
func (c *rp) exchange(code string, a authRequest) (*oauth2.Token, error) {
	return c.oauth.Exchange(c.ctx, code, oauth2.VerifierOption(a.verifier))
}

// signIn runs a whole sign-in: authorize, exchange and ID token
// verification with the nonce.
func (c *rp) signIn(b *browser, p person, extra ...oauth2.AuthCodeOption) (*oauth2.Token, *oidc.IDToken) {
	c.t.Helper()
	a := c.authURL(extra...)
	tok, err := c.exchange(c.code(b, a, p), a)
	if err != nil {
		c.t.Fatalf("exchange: %v", err)
	}
	return tok, c.verify(tok, a.nonce)
}

func (c *rp) verify(tok *oauth2.Token, nonce string) *oidc.IDToken {
	c.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		c.t.Fatalf("token response has no id_token")
	}
	idt, err := c.verifier.Verify(c.ctx, raw)
	if err != nil {
		c.t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce {
		c.t.Fatalf("nonce %q, want %q", idt.Nonce, nonce)
	}
	return idt
}

// refresh uses a refresh token once.
func (c *rp) refresh(rt string) (*oauth2.Token, error) {
	return c.oauth.TokenSource(c.ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Unix(1, 0)}).Token()
}

// tokenEndpoint posts a form to the token endpoint as this client
// (client_secret_basic) and returns the reply.
func (c *rp) tokenEndpoint(form url.Values) reply {
	c.t.Helper()
	return c.sys.postAs(c.t, c.id, c.secret, "/oauth2/token", form)
}

// postAs posts a form with HTTP Basic client authentication (none when
// secret is empty: client_id goes in the form).
func (s *system) postAs(t testing.TB, id, secret, path string, form url.Values) reply {
	t.Helper()
	if secret == "" && id != "" {
		form.Set("client_id", id)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return send(t, http.DefaultClient, req)
}

// introspect asks whether a token is active, as client c.
func (c *rp) introspect(token string) map[string]any {
	c.t.Helper()
	r := c.sys.postAs(c.t, c.id, c.secret, "/oauth2/introspect", url.Values{"token": {token}})
	if r.Status != http.StatusOK {
		c.t.Fatalf("introspect: %s", r)
	}
	return r.json(c.t)
}

func (c *rp) active(token string) bool {
	c.t.Helper()
	a, _ := c.introspect(token)["active"].(bool)
	return a
}

// oauthError returns the error code of a failed x/oauth2 call.
func oauthError(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	if err == nil {
		return ""
	}
	return "not an OAuth error: " + err.Error()
}

// userinfo calls the userinfo endpoint with the token in the header.
func (s *system) userinfo(t testing.TB, method, token string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, s.url+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	return send(t, http.DefaultClient, req)
}

// jwtParts decodes a JWT's header and claims without checking anything.
func jwtParts(t testing.TB, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", raw)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("decode JWT part: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("decode JWT part: %v", err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func jsonBody(v any) io.Reader { return strings.NewReader(mustJSON(v)) }

func oauthVerifier(a authRequest) oauth2.AuthCodeOption { return oauth2.VerifierOption(a.verifier) }
