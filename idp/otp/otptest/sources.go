package otptest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/internal/sms"
)

// Issue 13 #7: wrong codes for a number, with no code ever sent to it,
// used to lock its sending and sign-in for 15 minutes, renewably, from
// anywhere.
func runNoLockout(newStore func(t *testing.T) otp.Store) func(t *testing.T) {
	return func(t *testing.T) {
		const attacker, owner = "198.51.100.66", "203.0.113.7"
		login := otp.PurposeLogin

		t.Run("fifty numbers guessed at from one address: the owner signs in from elsewhere", func(t *testing.T) {
			e := newEnv(t, newStore, otp.Config{})
			refused := 0
			for n := 0; n < 50; n++ {
				for i := 0; i < 10; i++ {
					err := e.svc.Verify(ctx, Phone(n), login, otherCode("000000", i), attacker)
					switch {
					case errors.Is(err, otp.ErrCodeExpired):
					case errors.Is(err, otp.ErrTooManyAttempts):
						refused++
					default:
						t.Fatalf("guess %d at number %d: %v", i, n, err)
					}
				}
			}
			// The address's own budget (60 an hour) stopped the flood.
			if refused != 500-60 {
				t.Fatalf("%d of 500 guesses refused, want 440", refused)
			}
			for _, n := range []int{0, 17, 49} {
				p := Phone(n)
				if _, err := e.svc.Send(ctx, p, login, owner); err != nil {
					t.Fatalf("owner of number %d cannot get a code: %v", n, err)
				}
				wantErr(t, e.svc.Verify(ctx, p, login, e.box.Last(t, p), owner), nil)
			}
		})

		t.Run("guesses count against the live code only", func(t *testing.T) {
			e := newEnv(t, newStore, otp.Config{})
			p := Phone(1)
			// Guesses before any code exists cost the number nothing...
			for i := 0; i < 20; i++ {
				wantErr(t, e.svc.Verify(ctx, p, login, otherCode("000000", i), attacker), otp.ErrCodeExpired)
			}
			code := e.send(t, p, login)
			// ...and against a live code, four stranger's guesses leave
			// the owner's last try.
			for i := 0; i < 4; i++ {
				wantErr(t, e.svc.Verify(ctx, p, login, otherCode(code, i), attacker), otp.ErrInvalidCode)
			}
			wantErr(t, e.svc.Verify(ctx, p, login, code, owner), nil)
			// A burnt code is the worst a stranger can do: the owner asks
			// for a new one after the resend interval, not 15 minutes.
			e.clock.Advance(time.Minute)
			code = e.send(t, p, login)
			for i := 0; i < 5; i++ {
				_ = e.svc.Verify(ctx, p, login, otherCode(code, i), attacker)
			}
			wantErr(t, e.svc.Verify(ctx, p, login, code, owner), otp.ErrCodeExpired)
			e.clock.Advance(time.Minute)
			wantErr(t, e.svc.Verify(ctx, p, login, e.send(t, p, login), owner), nil)
		})
	}
}

// Verification attempts are limited per source as sending is, and the
// refusal is the source's alone.
func runVerifyLimits(newStore func(t *testing.T) otp.Store) func(t *testing.T) {
	return func(t *testing.T) {
		cfg := otp.Config{VerifyPerIPPerHour: 2, VerifyPerNetPerHour: 3, VerifyPerNet48PerHour: 4}
		type req struct {
			ip    string
			scope string // "" means the code is checked
		}
		for _, tt := range []struct {
			name string
			reqs []req
		}{
			{"per IPv4 address", []req{{"198.51.100.1", ""}, {"198.51.100.1", ""}, {"198.51.100.1", otp.ScopeIP}, {"198.51.100.2", ""}}},
			{"per IPv4 /24", []req{{"198.51.100.1", ""}, {"198.51.100.2", ""}, {"198.51.100.3", ""}, {"198.51.100.4", otp.ScopeNetwork}, {"198.51.101.1", ""}}},
			{"per IPv6 /64", []req{{"2001:db8:1:2::1", ""}, {"2001:db8:1:2::2", ""}, {"2001:db8:1:2::3", ""}, {"2001:db8:1:2::4", otp.ScopeNetwork}, {"2001:db8:1:3::1", ""}}},
			{"per IPv6 /48", []req{{"2001:db8:7:1::1", ""}, {"2001:db8:7:2::1", ""}, {"2001:db8:7:3::1", ""}, {"2001:db8:7:4::1", ""}, {"2001:db8:7:5::1", otp.ScopeNetwork}, {"2001:db8:8:1::1", ""}}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				e := newEnv(t, newStore, cfg)
				for i, r := range tt.reqs {
					err := e.svc.Verify(ctx, Phone(i), otp.PurposeLogin, "000000", r.ip)
					if r.scope == "" {
						wantErr(t, err, otp.ErrCodeExpired)
						continue
					}
					wantSourceRefused(t, err, r.scope, time.Hour)
				}
			})
		}

		t.Run("a refused source does not refuse the number", func(t *testing.T) {
			e := newEnv(t, newStore, cfg)
			p := Phone(1)
			code := e.send(t, p, otp.PurposeLogin)
			for i := 0; i < 2; i++ {
				wantErr(t, e.svc.Verify(ctx, p, otp.PurposeLogin, otherCode(code, i), "198.51.100.9"), otp.ErrInvalidCode)
			}
			// Refused before the code is looked at: no attempt is spent.
			wantSourceRefused(t, e.svc.Verify(ctx, p, otp.PurposeLogin, code, "198.51.100.9"), otp.ScopeIP, time.Hour)
			wantErr(t, e.svc.Verify(ctx, p, otp.PurposeLogin, code, "203.0.113.50"), nil)
		})

		t.Run("window slides", func(t *testing.T) {
			e := newEnv(t, newStore, cfg)
			for i := 0; i < 2; i++ {
				wantErr(t, e.svc.Verify(ctx, Phone(i), otp.PurposeLogin, "000000", "198.51.100.1"), otp.ErrCodeExpired)
				e.clock.Advance(20 * time.Minute)
			}
			wantSourceRefused(t, e.svc.Verify(ctx, Phone(5), otp.PurposeLogin, "000000", "198.51.100.1"), otp.ScopeIP, 20*time.Minute)
			e.clock.Advance(20 * time.Minute)
			wantErr(t, e.svc.Verify(ctx, Phone(5), otp.PurposeLogin, "000000", "198.51.100.1"), otp.ErrCodeExpired)
		})

		t.Run("wording names the source", func(t *testing.T) {
			for _, tt := range []struct {
				err  error
				code string
				msg  string
			}{
				{&otp.AttemptLimitError{RetryAfter: 30 * time.Minute, Scope: otp.ScopeNetwork}, "too_many_attempts_network", "尝试次数过多，请 30 分钟后再试（来自本网络）"},
				{&otp.AttemptLimitError{RetryAfter: 90 * time.Second, Scope: otp.ScopeIP}, "too_many_attempts_ip", "尝试次数过多，请 2 分钟后再试（来自本机地址）"},
				{&otp.RateLimitError{RetryAfter: 50 * time.Second, Scope: otp.ScopePhone, Rule: otp.RuleResend}, "rate_limited_resend", "发送过于频繁，请 50 秒后再试"},
				{&otp.RateLimitError{RetryAfter: 55 * time.Minute, Scope: otp.ScopePhone, Rule: otp.RulePhoneHour}, "rate_limited_phone_hour", "该手机号获取验证码次数过多，请 55 分钟后再试"},
				{&otp.RateLimitError{RetryAfter: 22 * time.Hour, Scope: otp.ScopePhone, Rule: otp.RulePhoneDay}, "rate_limited_phone_day", "今日发送次数已达上限，请 22 小时后再试"},
				{&otp.RateLimitError{RetryAfter: time.Hour, Scope: otp.ScopeIP, Rule: otp.RuleIP}, "rate_limited_ip", "获取验证码过于频繁，请 60 分钟后再试（来自本机地址）"},
				{&otp.RateLimitError{RetryAfter: time.Hour, Scope: otp.ScopeNetwork, Rule: otp.RuleNetwork}, "rate_limited_network", "获取验证码过于频繁，请 60 分钟后再试（来自本网络）"},
				{&otp.RateLimitError{RetryAfter: 40 * time.Second, Scope: otp.ScopeGlobal, Rule: otp.RuleGlobal}, "rate_limited_global", "短信发送繁忙，请 40 秒后再试"},
				{otp.ErrInvalidCode, "invalid_code", "验证码错误"},
				{otp.ErrCodeExpired, "code_expired", "验证码已失效，请重新获取"},
			} {
				if got := otp.ErrorCode(tt.err); got != tt.code {
					t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.code)
				}
				if got := otp.UserMessage(tt.err); got != tt.msg {
					t.Errorf("UserMessage(%v) = %q, want %q", tt.err, got, tt.msg)
				}
			}
		})
	}
}

// gate delivers only to known numbers, charging the budget for what it
// delivers, as idp.SMSGate does.
type gate struct {
	known map[string]bool
	next  sms.Sender
}

func (g gate) Send(ctx context.Context, m sms.Message) error {
	if !g.known[m.Phone] {
		return nil
	}
	return g.next.Send(ctx, m)
}

// Issue 13 #8: codes for numbers without an account, never delivered,
// used to spend the deployment-wide budget.
func runDeliveredBudget(newStore func(t *testing.T) otp.Store) func(t *testing.T) {
	return func(t *testing.T) {
		clock, box, logs := NewClock(), &Outbox{}, &LogBuffer{}
		st := newStore(t)
		budget := otp.NewBudget(st, 3, clock.Now, logs.Logger())
		known := map[string]bool{Phone(1): true, Phone(2): true, Phone(3): true, Phone(4): true}
		svc := otp.New(st, gate{known: known, next: budget.Sender(box)}, otp.Config{Secret: []byte("s"), Budget: budget}, clock.Now, logs.Logger())
		send := func(p string, i int) error {
			_, err := svc.Send(ctx, p, otp.PurposeLogin, "10."+itoa(i/250)+"."+itoa(i%250)+".1")
			return err
		}
		// A burst for unknown numbers from many networks: every answer is
		// "sent", nothing is delivered, nothing is spent.
		for i := 0; i < 300; i++ {
			if err := send(Phone(1000+i), i); err != nil {
				t.Fatalf("unknown number %d: %v", i, err)
			}
		}
		if n := len(box.Messages()); n != 0 {
			t.Fatalf("%d codes delivered to unknown numbers", n)
		}
		for i := 1; i <= 3; i++ {
			if err := send(Phone(i), 400+i); err != nil {
				t.Fatalf("known number %d refused after the burst: %v", i, err)
			}
		}
		if n := len(box.Messages()); n != 3 {
			t.Fatalf("%d codes delivered, want 3", n)
		}
		// Spent by deliveries: now every request is refused alike, known
		// number or not, so the refusal tells nothing about accounts.
		clock.Advance(20 * time.Second)
		for _, p := range []string{Phone(4), Phone(2000)} {
			err := send(p, 500)
			var rl *otp.RateLimitError
			if !errors.As(err, &rl) || rl.Rule != otp.RuleGlobal || rl.RetryAfter != 40*time.Second {
				t.Fatalf("%s: %v, want the global budget's refusal for 40s", p, err)
			}
		}
		if !strings.Contains(logs.String(), "ALERT otp: global SMS budget exhausted") {
			t.Fatal("no alert")
		}
		clock.Advance(40 * time.Second)
		if err := send(Phone(4), 501); err != nil {
			t.Fatalf("budget should be back: %v", err)
		}
	}
}

// Pressure turns the graphical challenge on before the limits refuse.
func runPressure(newStore func(t *testing.T) otp.Store) func(t *testing.T) {
	return func(t *testing.T) {
		pressure := func(t *testing.T, svc *otp.Service, ip string, want bool) {
			t.Helper()
			got, err := svc.Pressure(ctx, ip)
			if err != nil || got != want {
				t.Fatalf("Pressure(%s) = %v, %v; want %v", ip, got, err, want)
			}
		}
		t.Run("source past half its hourly budget", func(t *testing.T) {
			e := newEnv(t, newStore, otp.Config{PerIPPerHour: 4, PerNetPerHour: 10, PerNet48PerHour: 20})
			pressure(t, e.svc, "198.51.100.1", false)
			e.send(t, Phone(1), otp.PurposeLogin)
			pressure(t, e.svc, "203.0.113.7", false)
			e.send(t, Phone(2), otp.PurposeLogin)
			pressure(t, e.svc, "203.0.113.7", true)
			pressure(t, e.svc, "203.0.113.8", false) // same /24, 2 of 10
			pressure(t, e.svc, "198.51.100.1", false)
			e.clock.Advance(time.Hour)
			pressure(t, e.svc, "203.0.113.7", false)
		})
		t.Run("IPv6 /48 past half", func(t *testing.T) {
			e := newEnv(t, newStore, otp.Config{PerNet48PerHour: 4})
			for i := 1; i <= 2; i++ {
				if _, err := e.svc.Send(ctx, Phone(i), otp.PurposeLogin, "2001:db8:9:"+itoa(i)+"::1"); err != nil {
					t.Fatal(err)
				}
			}
			pressure(t, e.svc, "2001:db8:9:77::1", true)
			pressure(t, e.svc, "2001:db8:a::1", false)
		})
		t.Run("deployment past half its minute", func(t *testing.T) {
			e := newEnv(t, newStore, otp.Config{GlobalPerMinute: 6})
			for i := 0; i < 3; i++ {
				if _, err := e.svc.Send(ctx, Phone(i), otp.PurposeLogin, "198.51.10"+itoa(i)+".1"); err != nil {
					t.Fatal(err)
				}
			}
			pressure(t, e.svc, "192.0.2.1", true)
			e.clock.Advance(time.Minute)
			pressure(t, e.svc, "192.0.2.1", false)
		})
	}
}
