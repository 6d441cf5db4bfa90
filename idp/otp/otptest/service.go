package otptest

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/otp"
)

// env is one service under test with its fake clock, outbox and log.
type env struct {
	svc   *otp.Service
	clock *Clock
	box   *Outbox
	logs  *LogBuffer
}

func newEnv(t *testing.T, newStore func(t *testing.T) otp.Store, cfg otp.Config) *env {
	e := &env{clock: NewClock(), box: &Outbox{}, logs: &LogBuffer{}}
	if cfg.Secret == nil {
		cfg.Secret = []byte("test-secret-test-secret-test-sec")
	}
	e.svc = otp.New(newStore(t), e.box, cfg, e.clock.Now, e.logs.Logger())
	return e
}

const ip = "203.0.113.7"

// send requests a code and fails the test unless it is sent.
func (e *env) send(t *testing.T, phone string, p otp.Purpose) string {
	t.Helper()
	if _, err := e.svc.Send(ctx, phone, p, ip); err != nil {
		t.Fatalf("Send(%s, %s): %v", phone, p, err)
	}
	return e.box.Last(t, phone)
}

func wantErr(t *testing.T, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// wantRefused checks that err is a *RateLimitError with the given scope
// and wait, and that Send's first result agrees with it.
func wantRefused(t *testing.T, retry time.Duration, err error, scope string, wait time.Duration) {
	t.Helper()
	var rl *otp.RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, otp.ErrRateLimited) {
		t.Fatalf("got %v, want a rate limit (%s)", err, scope)
	}
	if rl.Scope != scope || rl.RetryAfter != wait || retry != wait {
		t.Fatalf("got %+v (retry %v), want scope %s retry after %v", rl, retry, scope, wait)
	}
}

// wantSourceRefused checks that err refuses the source (scope) of a
// verification for wait.
func wantSourceRefused(t *testing.T, err error, scope string, wait time.Duration) {
	t.Helper()
	var al *otp.AttemptLimitError
	if !errors.As(err, &al) || !errors.Is(err, otp.ErrTooManyAttempts) || al.Scope != scope || al.RetryAfter != wait {
		t.Fatalf("got %v, want too many attempts from this %s, retry after %v", err, scope, wait)
	}
}

func runService(t *testing.T, newStore func(t *testing.T) otp.Store) {
	p1 := Phone(1)
	login, reg, change := otp.PurposeLogin, otp.PurposeRegister, otp.PurposeChangePhone

	t.Run("CodeIsSixDigitsAndVerifiesOnce", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{})
		retry, err := e.svc.Send(ctx, p1, login, ip)
		if err != nil || retry != 60*time.Second {
			t.Fatalf("Send = %v, %v; want 60s, nil", retry, err)
		}
		code := e.box.Last(t, p1)
		if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(code) {
			t.Fatalf("code %q is not 6 digits", code)
		}
		if m := e.box.Messages()[0]; m.Purpose != "login" || !m.SentAt.Equal(e.clock.Now()) {
			t.Fatalf("message %+v", m)
		}
		wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), nil)
		// SECURITY.md #41: a used code is dead.
		wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), otp.ErrCodeExpired)
	})

	t.Run("CodeExpiresAfterTTL", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			after time.Duration
			want  error
		}{
			{"just before 5 minutes", 5*time.Minute - time.Second, nil},
			{"at 5 minutes", 5 * time.Minute, otp.ErrCodeExpired},
			{"an hour later", time.Hour, otp.ErrCodeExpired},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnv(t, newStore, otp.Config{})
				code := e.send(t, p1, login)
				e.clock.Advance(tt.after)
				wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), tt.want)
			})
		}
	})

	t.Run("CodeTTLIsCappedAtTenMinutes", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{CodeTTL: time.Hour})
		code := e.send(t, p1, login)
		e.clock.Advance(10 * time.Minute)
		wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), otp.ErrCodeExpired)
	})

	t.Run("WrongGuesses", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			wrong  int
			result error
		}{
			{"4 wrong, then right: accepted", 4, nil},
			{"5 wrong burn the code: the right one then fails", 5, otp.ErrCodeExpired},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnv(t, newStore, otp.Config{})
				code := e.send(t, p1, login)
				for i := 0; i < tt.wrong; i++ {
					want := otp.ErrInvalidCode
					if i == 4 {
						want = otp.ErrCodeBurnt // the fifth says so
					}
					wantErr(t, e.svc.Verify(ctx, p1, login, otherCode(code, i), ip), want)
				}
				wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), tt.result)
			})
		}
	})

	t.Run("MalformedCodesAreWrongGuesses", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{})
		code := e.send(t, p1, login)
		for i, bad := range []string{"", "12345", "1234567", "abcdef", " " + code} {
			want := otp.ErrInvalidCode
			if i == 4 {
				want = otp.ErrCodeBurnt
			}
			wantErr(t, e.svc.Verify(ctx, p1, login, bad, ip), want)
		}
		wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), otp.ErrCodeExpired) // burnt by the 5th
	})

	t.Run("FiftyParallelGuessesSucceedAtMostOnce", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{})
		code := e.send(t, p1, login)
		counts := parallel(t, 50, func(i int) bool {
			guess := otherCode(code, i)
			if i == 3 {
				guess = code // one right guess, early among wrong ones
			}
			return e.svc.Verify(ctx, p1, login, guess, ip) == nil
		})
		if counts[true] > 1 {
			t.Fatalf("%d verifications succeeded", counts[true])
		}
		// Whatever happened, the code is gone now.
		wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), otp.ErrCodeExpired)
	})

	t.Run("FiftyParallelRightCodesSucceedOnce", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{})
		code := e.send(t, p1, login)
		counts := parallel(t, 50, func(int) bool { return e.svc.Verify(ctx, p1, login, code, ip) == nil })
		if counts[true] != 1 {
			t.Fatalf("%d verifications succeeded, want 1", counts[true])
		}
	})

	t.Run("CodeIsBoundToPurpose", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{})
		code := e.send(t, p1, login)
		wantErr(t, e.svc.Verify(ctx, p1, change, code, ip), otp.ErrCodeExpired)
		wantErr(t, e.svc.Verify(ctx, p1, reg, code, ip), otp.ErrCodeExpired)
		wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), nil)
	})

	t.Run("CodeIsBoundToPhone", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{})
		code := e.send(t, p1, login)
		e.send(t, Phone(2), login)
		wantErr(t, e.svc.Verify(ctx, Phone(2), login, code, ip), otp.ErrInvalidCode)
	})

	t.Run("ResendKillsOldCode", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{})
		old := e.send(t, p1, login)
		e.clock.Advance(time.Minute)
		fresh := e.send(t, p1, login)
		if old != fresh {
			wantErr(t, e.svc.Verify(ctx, p1, login, old, ip), otp.ErrInvalidCode) // a guess at the fresh one
		}
		wantErr(t, e.svc.Verify(ctx, p1, login, fresh, ip), nil)
	})

	t.Run("EachFailureSaysWhatHappened", func(t *testing.T) {
		// Codes are issued for every well-formed number, account or not,
		// so telling "wrong" from "no live code" reveals no account.
		e := newEnv(t, newStore, otp.Config{})
		wantErr(t, e.svc.Verify(ctx, p1, login, "123456", ip), otp.ErrCodeExpired) // never issued
		code := e.send(t, p1, login)
		wantErr(t, e.svc.Verify(ctx, p1, login, otherCode(code, 0), ip), otp.ErrInvalidCode)
		wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), nil)
		wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), otp.ErrCodeExpired) // used
		e.clock.Advance(time.Minute)
		code = e.send(t, p1, login)
		e.clock.Advance(5 * time.Minute)
		wantErr(t, e.svc.Verify(ctx, p1, login, code, ip), otp.ErrCodeExpired) // expired
		for err, want := range map[error]string{
			otp.ErrInvalidCode: "验证码错误", otp.ErrCodeExpired: "验证码已失效，请重新获取",
			otp.ErrCodeBurnt: "验证码错误次数过多，已失效，请重新获取",
		} {
			if got := otp.UserMessage(err); got != want {
				t.Errorf("UserMessage(%v) = %q, want %q", err, got, want)
			}
		}
	})

	t.Run("PerPhoneLimits", runPhoneLimits(newStore))
	t.Run("PerClientLimits", runClientLimits(newStore))

	t.Run("GlobalBudgetRefusesAndAlerts", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{GlobalPerMinute: 3})
		for i := 0; i < 3; i++ {
			if _, err := e.svc.Send(ctx, Phone(i), login, "198.51.100."+itoa(i)); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Advance(20 * time.Second)
		retry, err := e.svc.Send(ctx, Phone(9), login, "192.0.2.1")
		wantRefused(t, retry, err, otp.ScopeGlobal, 40*time.Second)
		if !strings.Contains(e.logs.String(), `"level":"WARN","msg":"ALERT otp: global SMS budget exhausted`) {
			t.Fatalf("no alert logged:\n%s", e.logs.String())
		}
		e.clock.Advance(40 * time.Second)
		if _, err := e.svc.Send(ctx, Phone(9), login, "192.0.2.1"); err != nil {
			t.Fatalf("budget should be back: %v", err)
		}
	})

	t.Run("StrangersCannotLockANumberOut", runNoLockout(newStore))
	t.Run("VerificationLimitsPerSource", runVerifyLimits(newStore))
	t.Run("GlobalBudgetCountsDeliveriesOnly", runDeliveredBudget(newStore))
	t.Run("PressureNearALimit", runPressure(newStore))

	t.Run("InputIsChecked", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{})
		for _, bad := range []string{"13800138000", "+8613800138000\n", "+12025550123", "+8615412345678", ""} {
			_, err := e.svc.Send(ctx, bad, login, ip)
			wantErr(t, err, otp.ErrInvalidPhone)
			wantErr(t, e.svc.Verify(ctx, bad, login, "123456", ip), otp.ErrInvalidPhone)
		}
		_, err := e.svc.Send(ctx, p1, "admin", ip)
		wantErr(t, err, otp.ErrInvalidPurpose)
		wantErr(t, e.svc.Verify(ctx, p1, "", "123456", ip), otp.ErrInvalidPurpose)
		if n := len(e.box.Messages()); n != 0 {
			t.Fatalf("%d SMS sent for bad input", n)
		}
	})

	t.Run("GatewayFailureIsReported", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{})
		e.box.Err = errors.New("gateway down")
		if _, err := e.svc.Send(ctx, p1, login, ip); err == nil || errors.Is(err, otp.ErrRateLimited) {
			t.Fatalf("got %v, want the gateway error", err)
		}
	})

	t.Run("LogsNeverHoldCodesOrFullNumbers", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{GlobalPerMinute: 2})
		code := e.send(t, p1, login)
		_ = e.svc.Verify(ctx, p1, login, otherCode(code, 0), ip)
		_ = e.svc.Verify(ctx, p1, login, code, ip)
		e.send(t, Phone(2), login)
		_, _ = e.svc.Send(ctx, Phone(3), login, ip)
		out := e.logs.String()
		for _, secret := range []string{code, "13800000001", "13800000002", "13800000003"} {
			if strings.Contains(out, secret) {
				t.Fatalf("log contains %q:\n%s", secret, out)
			}
		}
		if !strings.Contains(out, "138****0001") {
			t.Fatalf("log lacks the masked phone:\n%s", out)
		}
	})

	t.Run("ServesManyPhonesConcurrently", func(t *testing.T) {
		e := newEnv(t, newStore, otp.Config{PerIPPerHour: -1, PerNetPerHour: -1, VerifyPerIPPerHour: -1, VerifyPerNetPerHour: -1})
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := Phone(100 + i)
				if _, err := e.svc.Send(ctx, p, login, ip); err != nil {
					t.Error(err)
					return
				}
				if err := e.svc.Verify(ctx, p, login, e.box.Last(t, p), ip); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	})
}

func runPhoneLimits(newStore func(t *testing.T) otp.Store) func(t *testing.T) {
	return func(t *testing.T) {
		p := Phone(1)
		type step struct {
			advance time.Duration
			scope   string // "" means the send goes through
			wait    time.Duration
		}
		for _, tt := range []struct {
			name  string
			rule  string
			steps []step
		}{
			{"one per 60 seconds", otp.RuleResend, []step{
				{0, "", 0},
				{10 * time.Second, otp.ScopePhone, 50 * time.Second},
				{49 * time.Second, otp.ScopePhone, time.Second},
				{time.Second, "", 0},
			}},
			{"five per hour", otp.RulePhoneHour, []step{
				{0, "", 0}, {time.Minute, "", 0}, {time.Minute, "", 0}, {time.Minute, "", 0}, {time.Minute, "", 0},
				{time.Minute, otp.ScopePhone, 55 * time.Minute},
				{55*time.Minute - time.Second, otp.ScopePhone, time.Second},
				{time.Second, "", 0},
			}},
			{"ten per day", otp.RulePhoneDay, append(append(
				repeat(5, step{time.Minute, "", 0}),
				append([]step{{time.Hour, "", 0}}, repeat(4, step{time.Minute, "", 0})...)...),
				// 10 sent between 0:01 and 1:09; the first leaves the day at 24:01.
				step{time.Hour, otp.ScopePhone, 24*time.Hour + time.Minute - (2*time.Hour + 9*time.Minute)},
				step{24*time.Hour + time.Minute - (2*time.Hour + 9*time.Minute), "", 0},
			)},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnv(t, newStore, otp.Config{})
				for i, s := range tt.steps {
					e.clock.Advance(s.advance)
					retry, err := e.svc.Send(ctx, p, otp.PurposeLogin, ip)
					if s.scope == "" {
						if err != nil {
							t.Fatalf("step %d: %v", i, err)
						}
						continue
					}
					wantRefused(t, retry, err, s.scope, s.wait)
					if rl := err.(*otp.RateLimitError); rl.Rule != tt.rule {
						t.Fatalf("step %d: refused by rule %q, want %q", i, rl.Rule, tt.rule)
					}
				}
			})
		}

		t.Run("limits are shared across purposes", func(t *testing.T) {
			e := newEnv(t, newStore, otp.Config{})
			e.send(t, p, otp.PurposeLogin)
			retry, err := e.svc.Send(ctx, p, otp.PurposeRegister, ip)
			wantRefused(t, retry, err, otp.ScopePhone, time.Minute)
		})
		t.Run("a refused send keeps the earlier code alive", func(t *testing.T) {
			e := newEnv(t, newStore, otp.Config{})
			code := e.send(t, p, otp.PurposeLogin)
			_, err := e.svc.Send(ctx, p, otp.PurposeLogin, ip)
			wantErr(t, err, otp.ErrRateLimited)
			wantErr(t, e.svc.Verify(ctx, p, otp.PurposeLogin, code, ip), nil)
		})
	}
}

func runClientLimits(newStore func(t *testing.T) otp.Store) func(t *testing.T) {
	return func(t *testing.T) {
		cfg := otp.Config{PerIPPerHour: 2, PerNetPerHour: 3, PerNet48PerHour: 4}
		type req struct {
			ip    string
			scope string
		}
		for _, tt := range []struct {
			name string
			reqs []req
		}{
			{"per IPv4 address", []req{{"198.51.100.1", ""}, {"198.51.100.1", ""}, {"198.51.100.1", otp.ScopeIP}, {"198.51.100.2", ""}}},
			{"per IPv4 /24", []req{{"198.51.100.1", ""}, {"198.51.100.2", ""}, {"198.51.100.250", ""}, {"198.51.100.3", otp.ScopeNetwork}, {"198.51.101.1", ""}}},
			{"IPv4-mapped IPv6 is the IPv4 address", []req{{"198.51.100.1", ""}, {"::ffff:198.51.100.1", ""}, {"::ffff:c633:6401", otp.ScopeIP}}},
			{"address with port", []req{{"198.51.100.1:1234", ""}, {"198.51.100.1:5678", ""}, {"198.51.100.1", otp.ScopeIP}}},
			{"per IPv6 /64", []req{{"2001:db8:1:2::1", ""}, {"2001:db8:1:2::2", ""}, {"2001:db8:1:2:ffff::9", ""}, {"2001:db8:1:2::3", otp.ScopeNetwork}, {"2001:db8:1:3::1", ""}}},
			{"per IPv6 /48", []req{{"2001:db8:7:1::1", ""}, {"2001:db8:7:2::1", ""}, {"2001:db8:7:3::1", ""}, {"2001:db8:7:ffff::1", ""}, {"2001:db8:7:5::1", otp.ScopeNetwork}, {"2001:db8:8:1::1", ""}}},
			{"IPv4 has no /48", []req{{"198.51.100.1", ""}, {"198.51.101.1", ""}, {"198.51.102.1", ""}, {"198.51.103.1", ""}, {"198.51.104.1", ""}}},
			{"IPv6 zone ignored", []req{{"fe80::1%eth0", ""}, {"fe80::1%eth1", ""}, {"fe80::1", otp.ScopeIP}}},
			{"unparsable addresses share one bucket", []req{{"", ""}, {"garbage", ""}, {"unknown", otp.ScopeIP}}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnv(t, newStore, cfg)
				for i, r := range tt.reqs {
					retry, err := e.svc.Send(ctx, Phone(i), otp.PurposeLogin, r.ip)
					if r.scope == "" {
						if err != nil {
							t.Fatalf("request %d from %q: %v", i, r.ip, err)
						}
						continue
					}
					wantRefused(t, retry, err, r.scope, time.Hour)
				}
			})
		}
		t.Run("window slides", func(t *testing.T) {
			e := newEnv(t, newStore, cfg)
			for i := 0; i < 2; i++ {
				if _, err := e.svc.Send(ctx, Phone(i), otp.PurposeLogin, "198.51.100.1"); err != nil {
					t.Fatal(err)
				}
				e.clock.Advance(10 * time.Minute)
			}
			retry, err := e.svc.Send(ctx, Phone(5), otp.PurposeLogin, "198.51.100.1")
			wantRefused(t, retry, err, otp.ScopeIP, 40*time.Minute)
			e.clock.Advance(40 * time.Minute)
			if _, err := e.svc.Send(ctx, Phone(5), otp.PurposeLogin, "198.51.100.1"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func repeat[T any](n int, v T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// otherCode returns a 6-digit code different from code, distinct for
// each i below 10^6-1.
func otherCode(code string, i int) string {
	n := 0
	for _, c := range code {
		n = n*10 + int(c-'0')
	}
	n = (n + 1 + i) % 1000000
	s := itoa(n)
	return strings.Repeat("0", 6-len(s)) + s
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
