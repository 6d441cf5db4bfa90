package registration_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/idcard"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/profile"
	"github.com/xszz/xszz/idp/registration"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/internal/web"
)

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

// sender sends registration codes straight through the OTP service, as
// the sign-in part does without its challenge and metrics.
type sender struct{ otp *otp.Service }

func (s sender) SendCode(c echo.Context, raw string, purpose otp.Purpose) (string, time.Duration, error) {
	e164, err := phone.Normalize(raw)
	if err != nil {
		return "", 0, err
	}
	retry, err := s.otp.Send(c.Request().Context(), e164, purpose, c.RealIP())
	return e164, retry, err
}

type env struct {
	srv      *httptest.Server
	sms      *inbox
	otp      *otp.Service
	accounts *account.Store
	clock    *clock
}

// clock is the tests' time, moved on past the resend interval between
// codes.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// start runs just the registration part on httptest over real stores;
// off leaves Orgs and Profiles out, which turns registration off.
func start(t *testing.T, db *sqldb.DB, off bool) *env {
	t.Helper()
	ctx := context.Background()
	clock := &clock{t: time.Unix(1_800_000_000, 0)}
	now := clock.now
	orgs := org.NewStore(db, org.WithClock(now))
	if err := orgs.Seed(ctx); err != nil {
		t.Fatal(err)
	}
	sealer, err := idcard.NewSealer("test", []byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210"), nil)
	if err != nil {
		t.Fatal(err)
	}
	box := &inbox{codes: map[string]string{}}
	codes := otp.New(otp.NewMemoryStore(now), box, otp.Config{Secret: []byte("test-secret")}, now, nil)
	accounts := account.NewStore(db, now)
	d := registration.Deps{Accounts: accounts, OTP: codes, Codes: sender{codes}, Now: now}
	if !off {
		d.Orgs, d.Profiles = orgs, profile.NewStore(db, sealer, now)
	}
	e := web.New(web.Site{Name: "test", Pages: idpweb.Pages()})
	registration.New(d).Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &env{srv: srv, sms: box, otp: codes, accounts: accounts, clock: clock}
}

func (e *env) post(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(e.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return resp.StatusCode, out
}

// code sends a registration code to a number and returns it.
func (e *env) code(t *testing.T, ph string) string {
	t.Helper()
	e164, err := phone.Normalize(ph)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.advance(2 * time.Minute)
	if _, err := e.otp.Send(context.Background(), e164, otp.PurposeRegister, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	e.sms.mu.Lock()
	defer e.sms.mu.Unlock()
	return e.sms.codes[e164]
}

// An application files a pending account in the chosen unit; applying
// again with a number that has an account gets the same answer and
// files nothing (SECURITY.md #46).
func TestRegisterFilesPendingAccount(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, false)
		body := func(code string) string {
			return `{"phone":"13900000001","code":"` + code + `","name":"李四","org_id":"320000","position":"科员"}`
		}
		status, out := e.post(t, "/api/v1/register", body(e.code(t, "13900000001")))
		if status != http.StatusAccepted || out["status"] != "submitted" {
			t.Fatalf("register: %d %v", status, out)
		}
		acc, err := e.accounts.ByPhone(context.Background(), "+8613900000001")
		if err != nil {
			t.Fatalf("no account filed: %v", err)
		}
		if acc.Status != account.StatusPending || acc.OrgID != "320000" || acc.Role != account.RoleStaff || acc.Name != "李四" {
			t.Fatalf("filed %+v, want a pending staff account in 320000", acc)
		}
		again, out2 := e.post(t, "/api/v1/register", body(e.code(t, "13900000001")))
		if again != status || out2["message"] != out["message"] {
			t.Fatalf("second application: %d %v, want the same answer as the first", again, out2)
		}
	})
}

// Every refusal names the field in a machine code and a Chinese message.
func TestRegisterValidation(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, false)
		good := e.code(t, "13900000002")
		cases := []struct {
			name, body string
			status     int
			error      string
		}{
			{"bad phone", `{"phone":"123","code":"` + good + `","name":"王五","org_id":"320000"}`, http.StatusBadRequest, "invalid_phone"},
			{"no name", `{"phone":"13900000002","code":"` + good + `","name":"","org_id":"320000"}`, http.StatusBadRequest, "invalid_name"},
			{"markup in position", `{"phone":"13900000002","code":"` + good + `","name":"王五","org_id":"320000","position":"<b>"}`, http.StatusBadRequest, "invalid_position"},
			{"bad ID number", `{"phone":"13900000002","code":"` + good + `","name":"王五","org_id":"320000","id_number":"123"}`, http.StatusBadRequest, "invalid_id_number"},
			{"unknown unit", `{"phone":"13900000002","code":"` + good + `","name":"王五","org_id":"999999"}`, http.StatusBadRequest, "invalid_org"},
			{"wrong code", `{"phone":"13900000002","code":"000000","name":"王五","org_id":"320000"}`, http.StatusUnauthorized, "invalid_code"},
			{"trailing data", `{"phone":"13900000002"} {}`, http.StatusBadRequest, "invalid_request"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				status, out := e.post(t, "/api/v1/register", tc.body)
				if status != tc.status || out["error"] != tc.error || out["error_description"] == "" {
					t.Fatalf("got %d %v, want %d %s", status, out, tc.status, tc.error)
				}
			})
		}
		if _, err := e.accounts.ByPhone(context.Background(), "+8613900000002"); err == nil {
			t.Fatal("a refused application filed an account")
		}
	})
}

func TestRegisterWhenOff(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		e := start(t, db, true)
		status, out := e.post(t, "/api/v1/register", `{"phone":"13900000003","code":"123456","name":"赵六","org_id":"320000"}`)
		if status != http.StatusNotFound || out["error"] != "not_found" {
			t.Fatalf("registration off: %d %v, want 404 not_found", status, out)
		}
	})
}
