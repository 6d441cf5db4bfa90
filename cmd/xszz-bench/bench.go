package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/xszz/xszz/cmd/internal/app"
	"github.com/xszz/xszz/cmd/internal/configfile"
	"github.com/xszz/xszz/cmd/internal/pgschema"
	"github.com/xszz/xszz/cmd/xszz-bench/loadgen"
	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/internal/sms"
)

// benchTargets are the IdP's throughput goals on SQLite, requests per second
// (docs/performance.md).
var benchTargets = map[string]float64{
	"client_credentials": 3500,
	"introspect":         4000,
	"jwks":               10000,
	"signin":             400,
}

var benchScenarios = []string{"client_credentials", "introspect", "jwks", "signin"}

type benchFlags struct {
	duration    time.Duration
	concurrency int
	requests    int64
	scenarios   string
	accounts    int
	postgres    string
	redis       string
	cpuprofile  string
	blockprof   string
	burst       burstFlags
}

func (c *cli) benchCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "xszz-bench",
		Short: "Measure the IdP: start it in-process and drive real HTTP on loopback",
		Long: `bench starts the identity provider on a loopback port with a fresh
database (a temporary SQLite file, or with --postgres a new schema that is
dropped afterwards), registers a client, signs accounts in through the JSON
API, and then drives each scenario with --concurrency workers for
--duration. The load generator shares the machine's CPUs with the server, so
figures compare builds and backends rather than measure absolute capacity.

The burst scenario (--scenarios burst, not run by default) is a launch
morning: --burst-phones accounts each request a code and sign
in within --burst-window, from many loopback source addresses so the real
per-address limits apply, while one number is hammered at --hammer-rate;
see docs/accounts.md.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.postgres == "" {
				f.postgres = os.Getenv("XSZZ_TEST_POSTGRES_URL")
			}
			if f.redis == "" {
				f.redis = os.Getenv("XSZZ_TEST_REDIS_URL")
			}
			return c.bench(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long each scenario runs")
	fl.IntVar(&f.concurrency, "concurrency", 32, "requests in flight at once")
	fl.Int64Var(&f.requests, "requests", 2_000_000, "at most this many requests per scenario")
	fl.StringVar(&f.scenarios, "scenarios", strings.Join(benchScenarios, ","), "comma-separated scenarios to run")
	fl.IntVar(&f.accounts, "accounts", 200, "accounts signed in for the signin scenario")
	fl.StringVar(&f.postgres, "postgres", "", "PostgreSQL URL (default $XSZZ_TEST_POSTGRES_URL; empty: SQLite)")
	fl.StringVar(&f.redis, "redis", "", "Redis URL for SMS codes and limits (default $XSZZ_TEST_REDIS_URL)")
	fl.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the scenarios (server and load generator) to this file")
	fl.StringVar(&f.blockprof, "blockprofile", "", "write a profile of where goroutines waited (locks, channels, the SQLite write gate) to this file")
	f.burst.register(fl)
	return cmd
}

func (c *cli) bench(ctx context.Context, f benchFlags) error {
	var run []string
	burst := false
	for _, s := range strings.Split(f.scenarios, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s == "burst" {
			burst = true
			continue
		}
		if _, ok := benchTargets[s]; !ok {
			return fmt.Errorf("--scenarios: unknown scenario %q (%s, burst)", s, strings.Join(benchScenarios, ", "))
		}
		run = append(run, s)
	}
	if f.concurrency < 1 || f.duration <= 0 || f.accounts < 1 {
		return errors.New("--concurrency, --duration and --accounts must be positive")
	}
	if burst {
		if err := f.burst.check(); err != nil {
			return err
		}
	}
	if len(run) > 0 {
		if err := c.benchThroughput(ctx, f, run); err != nil {
			return err
		}
	}
	if burst {
		return c.benchBurst(ctx, f)
	}
	return nil
}

// benchThroughput runs the throughput scenarios on one IdP with the
// address limits lifted.
func (c *cli) benchThroughput(ctx context.Context, f benchFlags, run []string) error {
	env, err := startBench(ctx, c.log, f, func(cfg *app.Config) {
		// Set-up signs many accounts in from one address; the limits that
		// would stop an SMS storm would stop the bench.
		cfg.SMS.PerIPPerHour, cfg.SMS.PerNetPerHour, cfg.SMS.GlobalPerMin = 1_000_000, 1_000_000, 1_000_000
		cfg.SMS.VerifyPerIPPerHour, cfg.SMS.VerifyPerNetPerHour, cfg.SMS.Challenge = 1_000_000, 1_000_000, "off"
	})
	if err != nil {
		return err
	}
	defer env.close()

	if f.cpuprofile != "" {
		pf, err := os.Create(f.cpuprofile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if f.blockprof != "" {
		runtime.SetBlockProfileRate(int(10 * time.Microsecond))
		defer func() {
			runtime.SetBlockProfileRate(0)
			if pf, err := os.Create(f.blockprof); err == nil {
				_ = pprof.Lookup("block").WriteTo(pf, 0)
				pf.Close()
			}
		}()
	}
	opts := loadgen.Options{Concurrency: f.concurrency, Duration: f.duration, MaxRequests: f.requests}
	var results []loadgen.Result
	stmts := map[string]int64{} // SQL statements run during each scenario (SQLite only)
	for _, name := range run {
		fn, err := env.scenario(ctx, name, f.concurrency)
		if err != nil {
			return fmt.Errorf("prepare %s: %w", name, err)
		}
		before, counted := env.app.DB.Statements()
		results = append(results, loadgen.Run(ctx, name, opts, fn))
		if after, _ := env.app.DB.Statements(); counted {
			stmts[name] = after - before
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintf(c.out, "machine:  %s\n", loadgen.ThisMachine())
	fmt.Fprintf(c.out, "backend:  %s; concurrency %d, %s per scenario, %d signed-in accounts\n\n", env.backend, f.concurrency, f.duration, len(env.cookies))
	var extra []loadgen.Column
	if len(stmts) > 0 {
		// Statements per request are the database round trips the same
		// code makes on PostgreSQL.
		extra = append(extra, loadgen.Column{Name: "SQL/req", Value: func(r loadgen.Result) string {
			if r.Requests == 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", float64(stmts[r.Name])/float64(r.Requests))
		}})
	}
	if err := loadgen.WriteTable(c.out, results, benchTargets, extra...); err != nil {
		return err
	}
	for _, r := range results {
		if r.FirstError != nil {
			fmt.Fprintf(c.out, "%s: first error: %v\n", r.Name, r.FirstError)
		}
	}
	return nil
}

// benchEnv is a running IdP and what the scenarios need to call it.
type benchEnv struct {
	app      *app.App
	srv      *http.Server
	base     string // the issuer: http://127.0.0.1:port
	backend  string
	http     *http.Client
	clientID string
	secret   string
	redirect string
	cookies  []string // SSO session cookies, name=value
	catcher  *codeCatcher
	cleanup  []func()
}

// codeCatcher is the SMS gateway of the bench: it keeps the last code per
// phone so the set-up can sign in.
type codeCatcher struct {
	mu    sync.Mutex
	codes map[string]string
}

func (k *codeCatcher) Send(_ context.Context, m sms.Message) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.codes[m.Phone] = m.Code
	return nil
}

func (k *codeCatcher) code(phone string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.codes[phone]
}

// startBench starts the IdP with the default configuration changed by
// edit, and signs f.accounts accounts in (none when f.accounts is 0).
func startBench(ctx context.Context, logw io.Writer, f benchFlags, edit func(*app.Config)) (_ *benchEnv, err error) {
	env := &benchEnv{}
	defer func() {
		if err != nil {
			env.close()
		}
	}()
	cfg, err := configfile.Load("")
	if err != nil {
		return nil, err
	}
	cfg.Log.Level = "warn"
	edit(cfg)
	cfg.Keys.RotateEvery = 0
	cfg.Redis.URL = f.redis

	dir, err := os.MkdirTemp("", "xszz-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	env.cleanup = append(env.cleanup, func() { os.RemoveAll(dir) })
	if f.postgres == "" {
		cfg.Database.URL = "sqlite://" + filepath.Join(dir, "xszz.db")
		env.backend = "SQLite (temporary file, WAL)"
	} else {
		u, drop, err := freshSchema(ctx, f.postgres)
		if err != nil {
			return nil, err
		}
		env.cleanup = append(env.cleanup, drop)
		cfg.Database.URL = u
		cfg.IdP.Secret = base64.StdEncoding.EncodeToString(app.Random(32))
		cfg.Keys.EncryptionKey = base64.StdEncoding.EncodeToString(app.Random(32))
		env.backend = "PostgreSQL (fresh schema)"
	}
	if f.redis != "" {
		env.backend += " + Redis"
	} else {
		env.backend += " + in-process SMS code store"
	}
	cfg.Database.Migrate = true

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	env.base = "http://" + ln.Addr().String()
	cfg.IdP.Issuer = env.base
	catcher := &codeCatcher{codes: map[string]string{}}
	env.catcher = catcher
	// A prefix of its own keeps the un-hashed global budget apart from
	// other runs on the same Redis.
	env.app, err = app.Build(ctx, cfg, app.NewLogger(cfg, logw), app.Options{Sender: catcher, OTPPrefix: "xszz-bench-" + hex.EncodeToString(app.Random(4)) + ":"})
	if err != nil {
		ln.Close()
		return nil, err
	}
	if err := env.app.Prepare(ctx); err != nil {
		ln.Close()
		return nil, err
	}
	env.srv = &http.Server{Handler: env.app.IdP.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go env.srv.Serve(ln)

	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * f.concurrency,
		MaxIdleConnsPerHost: 4 * f.concurrency,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	env.http = &http.Client{
		Transport: tr,
		Timeout:   30 * time.Second,
		// The authorization endpoint's 303 is the answer, not a hop.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	env.redirect = env.base + "/bench/callback"
	spec := client.Spec{
		Name: "bench", RedirectURIs: []string{env.redirect}, Trusted: true,
		GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"},
		Scopes:     []string{"openid", "profile", "phone", "org"},
		AuthMethod: client.AuthSecretBasic,
	}
	if err := spec.Validate(true); err != nil {
		return nil, err
	}
	cl, secret, err := env.app.Clients.Create(ctx, spec)
	if err != nil {
		return nil, err
	}
	env.clientID, env.secret = cl.ID, secret
	if f.accounts > 0 {
		if err := env.signIn(ctx, f.accounts, catcher); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// freshSchema gives the run a schema of its own on the server.
func freshSchema(ctx context.Context, base string) (string, func(), error) {
	u, drop, err := pgschema.Fresh(ctx, base, "bench_")
	if err != nil {
		return "", nil, fmt.Errorf("--postgres: %w", err)
	}
	return u, drop, nil
}

func (env *benchEnv) close() {
	if env.srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = env.srv.Shutdown(sctx)
		cancel()
	}
	if env.http != nil {
		env.http.CloseIdleConnections()
	}
	if env.app != nil {
		env.app.Close()
	}
	for i := len(env.cleanup) - 1; i >= 0; i-- {
		env.cleanup[i]()
	}
}

// signIn creates n accounts and signs each in through the JSON API, as the
// login page does, keeping the session cookies.
func (env *benchEnv) signIn(ctx context.Context, n int, catcher *codeCatcher) error {
	// Random numbers, so runs against one Redis do not meet each other's
	// per-phone limits.
	prefix := 13000000000 + int64(app.Random(1)[0]%90)*10_000_000
	start := int64(binaryUint32(app.Random(4)) % 9_000_000)
	phones := make([]string, n)
	for i := range phones {
		phones[i] = fmt.Sprintf("+86%d", prefix+(start+int64(i))%10_000_000)
		if _, err := env.app.Accounts.Create(ctx, account.Account{Phone: phones[i], Name: "压测用户", Role: account.RoleStaff, Status: account.StatusActive}); err != nil {
			return fmt.Errorf("bench account %d: %w", i, err)
		}
	}
	env.cookies = make([]string, n)
	var (
		next     atomic.Int64
		firstErr error
		mu       sync.Mutex
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				ck, err := env.login(ctx, phones[i], catcher)
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, fmt.Errorf("sign in bench account %d: %w", i, err))
					mu.Unlock()
					return
				}
				env.cookies[i] = ck
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func binaryUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func (env *benchEnv) login(ctx context.Context, phone string, catcher *codeCatcher) (string, error) {
	if _, err := env.postJSON(ctx, "/api/v1/sms/send", map[string]string{"phone": phone, "purpose": "login"}); err != nil {
		return "", err
	}
	code := catcher.code(phone)
	if code == "" {
		return "", errors.New("no SMS code was sent")
	}
	resp, err := env.postJSON(ctx, "/api/v1/login", map[string]string{"phone": phone, "code": code})
	if err != nil {
		return "", err
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == env.app.IdP.Config.CookieName && ck.Value != "" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", errors.New("login set no session cookie")
}

func (env *benchEnv) postJSON(ctx context.Context, path string, body any) (*http.Response, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := env.http.Do(req)
	if err != nil {
		return nil, err
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	return resp, nil
}

// do sends req and returns the body when the status is want.
func (env *benchEnv) do(req *http.Request, want int) (*http.Response, []byte, error) {
	resp, err := env.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: %s: %.200s", req.Method, req.URL.Path, resp.Status, body)
	}
	return resp, body, nil
}

func (env *benchEnv) tokenRequest(ctx context.Context, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(env.clientID), url.QueryEscape(env.secret))
	return req, nil
}

func (env *benchEnv) clientCredentials(ctx context.Context) (string, error) {
	req, err := env.tokenRequest(ctx, url.Values{"grant_type": {"client_credentials"}})
	if err != nil {
		return "", err
	}
	_, body, err := env.do(req, http.StatusOK)
	if err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token response without access_token: %.200s", body)
	}
	return tok.AccessToken, nil
}

// scenario returns one request of the named scenario.
func (env *benchEnv) scenario(ctx context.Context, name string, workers int) (func(context.Context, int) error, error) {
	switch name {
	case "client_credentials":
		return func(ctx context.Context, _ int) error {
			_, err := env.clientCredentials(ctx)
			return err
		}, nil
	case "introspect":
		// A few tokens, introspected over and over, as a resource server
		// without a cache would.
		toks := make([]string, 16)
		for i := range toks {
			t, err := env.clientCredentials(ctx)
			if err != nil {
				return nil, err
			}
			toks[i] = t
		}
		return func(ctx context.Context, w int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, env.base+"/oauth2/introspect",
				strings.NewReader(url.Values{"token": {toks[w%len(toks)]}}.Encode()))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(env.clientID), url.QueryEscape(env.secret))
			_, body, err := env.do(req, http.StatusOK)
			if err != nil {
				return err
			}
			if !bytes.Contains(body, []byte(`"active":true`)) {
				return fmt.Errorf("introspection: token inactive: %.200s", body)
			}
			return nil
		}, nil
	case "jwks":
		return func(ctx context.Context, _ int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.base+"/.well-known/jwks.json", nil)
			if err != nil {
				return err
			}
			_, body, err := env.do(req, http.StatusOK)
			if err == nil && !bytes.Contains(body, []byte(`"keys"`)) {
				err = fmt.Errorf("jwks: no keys: %.200s", body)
			}
			return err
		}, nil
	case "signin":
		var turn atomic.Int64
		return func(ctx context.Context, _ int) error {
			ck := env.cookies[int(turn.Add(1))%len(env.cookies)]
			return env.signInOnce(ctx, ck)
		}, nil
	}
	return nil, fmt.Errorf("unknown scenario %q", name)
}

// signInOnce is a relying party's sign-in with an existing SSO session:
// the authorization request (PKCE, nonce) answered by a redirect with a
// code, then the code exchange returning an ID token.
func (env *benchEnv) signInOnce(ctx context.Context, cookie string) error {
	verifier := base64.RawURLEncoding.EncodeToString(app.Random(32))
	sum := sha256.Sum256([]byte(verifier))
	state := base64.RawURLEncoding.EncodeToString(app.Random(12))
	q := url.Values{
		"response_type": {"code"}, "client_id": {env.clientID}, "redirect_uri": {env.redirect},
		"scope": {"openid profile"}, "state": {state}, "nonce": {base64.RawURLEncoding.EncodeToString(app.Random(12))},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, env.base+"/oauth2/auth?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Cookie", cookie)
	resp, _, err := env.do(req, http.StatusSeeOther)
	if err != nil {
		return err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return fmt.Errorf("authorize: bad Location: %w", err)
	}
	code := loc.Query().Get("code")
	if code == "" || loc.Query().Get("state") != state {
		return fmt.Errorf("authorize: redirect without code or with the wrong state: %s", loc.Redacted())
	}
	treq, err := env.tokenRequest(ctx, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {env.redirect}, "code_verifier": {verifier},
	})
	if err != nil {
		return err
	}
	_, body, err := env.do(treq, http.StatusOK)
	if err != nil {
		return err
	}
	if !bytes.Contains(body, []byte(`"id_token"`)) {
		return fmt.Errorf("code exchange returned no ID token: %.200s", body)
	}
	return nil
}
