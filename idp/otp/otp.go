// Package otp issues and checks the SMS one-time codes staff sign in with.
//
// The service knows nothing about accounts, on purpose: Send and Verify
// behave the same for every well-formed mainland number, so neither their
// answers nor their timing can tell an attacker which numbers have
// accounts (SECURITY.md #46). Callers must therefore call Send for unknown
// numbers too, and decide about the account only after Verify succeeds.
package otp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sms"
)

// Purpose binds a code to what it was requested for: a login code cannot
// change a phone number (SECURITY.md #43).
type Purpose string

const (
	PurposeLogin       Purpose = "login"
	PurposeRegister    Purpose = "register"
	PurposeChangePhone Purpose = "change_phone"
)

// Valid reports whether p is one of the known purposes.
func (p Purpose) Valid() bool {
	switch p {
	case PurposeLogin, PurposeRegister, PurposeChangePhone:
		return true
	}
	return false
}

// MaxCodeTTL is the hard ceiling on a code's life (NIST 800-63B, ASVS
// 2.7.2); a longer Config.CodeTTL is cut down to it.
const MaxCodeTTL = 10 * time.Minute

// Config tunes the service. Zero fields take the defaults of
// DefaultConfig. A negative limit (PerHour, PerDay, PerIPPerHour,
// PerNetPerHour, GlobalPerMinute, ResendInterval, FailLockThreshold)
// turns that limit off.
type Config struct {
	// Secret keys the HMAC that hashes codes and store keys. Every node
	// sharing a store needs the same secret. Without one, codes are still
	// bound to phone and purpose, but anyone who can read the store can
	// recover a code by trying all 10^6.
	Secret []byte

	CodeTTL        time.Duration // 5m
	MaxAttempts    int           // 5 wrong tries burn a code
	ResendInterval time.Duration // 60s between codes to one phone
	PerHour        int           // 5 codes per phone per hour
	PerDay         int           // 10 codes per phone per day

	// Per client IP and per /24 (IPv4) or /64 (IPv6). Offices behind one
	// NAT share these, so size them for the largest office.
	PerIPPerHour  int // 30
	PerNetPerHour int // 100

	// GlobalPerMinute bounds what an SMS-bombing storm can cost. Hitting
	// it logs an alert at warn level.
	GlobalPerMinute int // 1000

	FailLockThreshold int           // 10 failed verifications of one phone...
	FailLockWindow    time.Duration // ...within 15m...
	FailLockDuration  time.Duration // ...lock it for 15m
}

// DefaultConfig returns the limits from SECURITY.md and issues 2 and 3.
func DefaultConfig() Config {
	return Config{
		CodeTTL:           5 * time.Minute,
		MaxAttempts:       5,
		ResendInterval:    60 * time.Second,
		PerHour:           5,
		PerDay:            10,
		PerIPPerHour:      30,
		PerNetPerHour:     100,
		GlobalPerMinute:   1000,
		FailLockThreshold: 10,
		FailLockWindow:    15 * time.Minute,
		FailLockDuration:  15 * time.Minute,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setD := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setI := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setD(&c.CodeTTL, d.CodeTTL)
	setD(&c.ResendInterval, d.ResendInterval)
	setD(&c.FailLockWindow, d.FailLockWindow)
	setD(&c.FailLockDuration, d.FailLockDuration)
	setI(&c.PerHour, d.PerHour)
	setI(&c.PerDay, d.PerDay)
	setI(&c.PerIPPerHour, d.PerIPPerHour)
	setI(&c.PerNetPerHour, d.PerNetPerHour)
	setI(&c.GlobalPerMinute, d.GlobalPerMinute)
	setI(&c.FailLockThreshold, d.FailLockThreshold)
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	if c.CodeTTL < 0 {
		c.CodeTTL = d.CodeTTL
	}
	if c.FailLockWindow < 0 {
		c.FailLockWindow = d.FailLockWindow
	}
	if c.FailLockDuration < 0 {
		c.FailLockDuration = d.FailLockDuration
	}
	return c
}

var (
	// ErrRateLimited matches every *RateLimitError.
	ErrRateLimited = errors.New("otp: rate limited")
	// ErrInvalidCode is the one answer for a wrong, used, burnt, expired
	// or never-issued code: the caller must not learn which.
	ErrInvalidCode = errors.New("otp: invalid code")
	// ErrLocked matches every *LockedError.
	ErrLocked = errors.New("otp: phone locked")
	// ErrInvalidPhone: the number is not in the form phone.Normalize
	// returns. Callers normalise user input first; this is a guard.
	ErrInvalidPhone = errors.New("otp: phone number not normalised")
	// ErrInvalidPurpose: not one of the Purpose constants.
	ErrInvalidPurpose = errors.New("otp: unknown purpose")
)

// Scopes of a RateLimitError, for logs and metrics. None of them depends
// on whether the phone has an account.
const (
	ScopePhone   = "phone"
	ScopeIP      = "ip"
	ScopeNetwork = "network"
	ScopeGlobal  = "global"
	ScopeLocked  = "locked"
)

// RateLimitError refuses a Send. RetryAfter says when a new request can
// succeed (as far as the limits that refused this one are concerned).
type RateLimitError struct {
	RetryAfter time.Duration
	Scope      string
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("otp: rate limited (%s), retry after %v", e.Scope, e.RetryAfter)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// LockedError refuses a Verify while the phone is locked after too many
// failures. Locks are always timed (SECURITY.md #50).
type LockedError struct {
	Until time.Time
}

func (e *LockedError) Error() string {
	return "otp: phone locked after repeated failures until " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

var chinaTime = time.FixedZone("CST", 8*3600)

// UserMessage returns the Simplified Chinese text to show for an error
// returned by Send or Verify.
func UserMessage(err error) string {
	var rl *RateLimitError
	var le *LockedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &rl):
		secs := int((rl.RetryAfter + time.Second - 1) / time.Second)
		return fmt.Sprintf("验证码发送过于频繁，请 %d 秒后再试", secs)
	case errors.As(err, &le):
		return fmt.Sprintf("验证失败次数过多，请于 %s 后再试", le.Until.In(chinaTime).Format("15:04"))
	case errors.Is(err, ErrInvalidCode):
		return "验证码错误或已失效，请重新获取"
	case errors.Is(err, ErrInvalidPhone):
		return phone.UserMessage
	}
	return "服务暂时不可用，请稍后再试"
}

// Service issues and checks codes. It is safe for concurrent use; several
// processes may share one Store.
type Service struct {
	store  Store
	sender sms.Sender
	cfg    Config
	now    func() time.Time
	log    *slog.Logger

	alertMu   sync.Mutex
	lastAlert time.Time
}

// New returns a Service. now is the clock (time.Now in production);
// log receives audit lines (nil means slog.Default()).
func New(store Store, sender sms.Sender, cfg Config, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	if cfg.CodeTTL > MaxCodeTTL {
		log.Warn("otp: CodeTTL above the 10 minute ceiling, using 10 minutes", slog.Duration("configured", cfg.CodeTTL))
		cfg.CodeTTL = MaxCodeTTL
	}
	if len(cfg.Secret) == 0 {
		log.Warn("otp: no Config.Secret; codes are hashed without a key")
	}
	return &Service{store: store, sender: sender, cfg: cfg, now: now, log: log}
}

// CodeTTL is how long a code lives, as configured (after the ceiling).
func (s *Service) CodeTTL() time.Duration { return s.cfg.CodeTTL }

// key derives a store key. Phones and IPs are personal data (PIPL), so the
// store only sees keyed hashes of them.
func (s *Service) key(kind string, parts ...string) string {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte("xszz-otp-key\x00" + kind))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return kind + ":" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// codeHash binds the code to phone and purpose, so a hash copied from one
// entry to another is worthless.
func (s *Service) codeHash(phoneE164 string, purpose Purpose, code string) []byte {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte("xszz-otp-code\x00" + string(purpose) + "\x00" + phoneE164 + "\x00" + code))
	return m.Sum(nil)
}

func checkInput(phoneE164 string, purpose Purpose) error {
	if !purpose.Valid() {
		return ErrInvalidPurpose
	}
	if n, err := phone.Normalize(phoneE164); err != nil || n != phoneE164 {
		return ErrInvalidPhone
	}
	return nil
}

// Send issues a new code for phone and purpose and sends it by SMS. Any
// earlier code for the same phone and purpose dies. On success retryAfter
// is the time before another code may be requested; on refusal the error
// is a *RateLimitError carrying the same value.
func (s *Service) Send(ctx context.Context, phoneE164 string, purpose Purpose, ip string) (retryAfter time.Duration, err error) {
	if err := checkInput(phoneE164, purpose); err != nil {
		return 0, err
	}
	now := s.now()
	masked := phone.Mask(phoneE164)

	// A locked phone cannot use a code, so sending one would only cost
	// money and annoy its owner.
	until, err := s.store.LockedUntil(ctx, s.key("lock", phoneE164), now)
	if err != nil {
		return 0, fmt.Errorf("otp: send: %w", err)
	}
	if !until.IsZero() {
		wait := until.Sub(now)
		s.log.InfoContext(ctx, "otp: send refused", slog.String("phone", masked), slog.String("scope", ScopeLocked), slog.Duration("retry_after", wait))
		return wait, &RateLimitError{RetryAfter: wait, Scope: ScopeLocked}
	}

	addr, network := ipBuckets(ip)
	limits, scopes := s.sendLimits(phoneE164, addr, network)
	res, err := s.store.Take(ctx, now, limits)
	if err != nil {
		return 0, fmt.Errorf("otp: send: %w", err)
	}
	if !res.Allowed() {
		scope := scopes[res.Blocked[0]]
		for _, i := range res.Blocked {
			if scopes[i] == ScopeGlobal {
				s.alertGlobal(ctx, now)
				scope = ScopeGlobal
			}
		}
		s.log.InfoContext(ctx, "otp: send refused", slog.String("phone", masked), slog.String("ip", ip),
			slog.String("scope", scope), slog.Duration("retry_after", res.RetryAfter))
		return res.RetryAfter, &RateLimitError{RetryAfter: res.RetryAfter, Scope: scope}
	}

	code, err := newCode()
	if err != nil {
		return 0, err
	}
	// Store before sending: a delivered code must always be checkable.
	if err := s.store.PutCode(ctx, s.key("code", string(purpose), phoneE164), s.codeHash(phoneE164, purpose, code), now, s.cfg.CodeTTL); err != nil {
		return 0, fmt.Errorf("otp: send: %w", err)
	}
	// The quota stays consumed when the gateway fails: otherwise a failing
	// gateway would turn into unlimited retries against it.
	if err := s.sender.Send(ctx, sms.Message{Phone: phoneE164, Code: code, Purpose: string(purpose), SentAt: now}); err != nil {
		s.log.ErrorContext(ctx, "otp: sms gateway failed", slog.String("phone", masked), slog.String("purpose", string(purpose)), slog.Any("err", err))
		return 0, fmt.Errorf("otp: send: %w", err)
	}
	s.log.InfoContext(ctx, "otp: code sent", slog.String("phone", masked), slog.String("purpose", string(purpose)), slog.String("ip", ip))
	return max(s.cfg.ResendInterval, 0), nil
}

// sendLimits lists the budgets one Send draws from. The resend interval is
// a window of one: "1 per ResendInterval". Limits are per phone across
// purposes, as the gateways count them.
func (s *Service) sendLimits(phoneE164, addr, network string) ([]Limit, []string) {
	c := s.cfg
	var limits []Limit
	var scopes []string
	add := func(scope string, max int, window time.Duration, kind, value string) {
		if max > 0 && window > 0 {
			limits = append(limits, Limit{Key: s.key(kind, value), Window: window, Max: max})
			scopes = append(scopes, scope)
		}
	}
	add(ScopePhone, 1, c.ResendInterval, "p-resend", phoneE164)
	add(ScopePhone, c.PerHour, time.Hour, "p-hour", phoneE164)
	add(ScopePhone, c.PerDay, 24*time.Hour, "p-day", phoneE164)
	add(ScopeIP, c.PerIPPerHour, time.Hour, "ip-hour", addr)
	add(ScopeNetwork, c.PerNetPerHour, time.Hour, "net-hour", network)
	if c.GlobalPerMinute > 0 {
		limits = append(limits, Limit{Key: "global-minute", Window: time.Minute, Max: c.GlobalPerMinute})
		scopes = append(scopes, ScopeGlobal)
	}
	return limits, scopes
}

// alertGlobal raises the budget alarm, at most once a minute per process
// so that a storm does not also flood the logs.
func (s *Service) alertGlobal(ctx context.Context, now time.Time) {
	s.alertMu.Lock()
	due := s.lastAlert.IsZero() || now.Sub(s.lastAlert) >= time.Minute
	if due {
		s.lastAlert = now
	}
	s.alertMu.Unlock()
	if due {
		s.log.WarnContext(ctx, "ALERT otp: global SMS budget exhausted, refusing sends", slog.Int("per_minute", s.cfg.GlobalPerMinute))
	}
}

// Verify checks a code. It returns nil exactly once per issued code; a
// wrong, used, burnt, expired or unknown code gives ErrInvalidCode, and a
// phone with too many recent failures gives a *LockedError.
func (s *Service) Verify(ctx context.Context, phoneE164 string, purpose Purpose, code string) error {
	if err := checkInput(phoneE164, purpose); err != nil {
		return err
	}
	now := s.now()
	masked := phone.Mask(phoneE164)
	lockKey := s.key("lock", phoneE164)

	until, err := s.store.LockedUntil(ctx, lockKey, now)
	if err != nil {
		return fmt.Errorf("otp: verify: %w", err)
	}
	if !until.IsZero() {
		return &LockedError{Until: until}
	}

	// Malformed codes go through the same path as wrong ones: they count
	// as an attempt and take the same time.
	res, err := s.store.CheckCode(ctx, s.key("code", string(purpose), phoneE164), s.codeHash(phoneE164, purpose, code), now, s.cfg.MaxAttempts)
	if err != nil {
		return fmt.Errorf("otp: verify: %w", err)
	}
	if res == CheckOK {
		s.log.InfoContext(ctx, "otp: code verified", slog.String("phone", masked), slog.String("purpose", string(purpose)))
		return nil
	}
	s.log.InfoContext(ctx, "otp: verification failed", slog.String("phone", masked), slog.String("purpose", string(purpose)), slog.String("result", res.String()))
	if s.cfg.FailLockThreshold <= 0 {
		return ErrInvalidCode
	}
	until, err = s.store.Fail(ctx, lockKey, now, s.cfg.FailLockWindow, s.cfg.FailLockThreshold, s.cfg.FailLockDuration)
	if err != nil {
		return fmt.Errorf("otp: verify: %w", err)
	}
	if !until.IsZero() {
		s.log.WarnContext(ctx, "otp: phone locked after repeated failures", slog.String("phone", masked), slog.Time("until", until))
		return &LockedError{Until: until}
	}
	return ErrInvalidCode
}
