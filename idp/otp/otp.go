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
// DefaultConfig. A negative limit (any of the Per… and Verify… budgets,
// GlobalPerMinute, ResendInterval) turns that limit off.
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

	// Codes asked for per client IP, per /24 (IPv4) or /64 (IPv6), and per
	// IPv6 /48. Offices behind one NAT share these, so size them for the
	// largest office.
	PerIPPerHour    int // 30
	PerNetPerHour   int // 100
	PerNet48PerHour int // 300

	// Code checks per client IP, /24 or /64, and IPv6 /48. They refuse the
	// source, never the number: wrong guesses are otherwise only counted
	// against the live code (MaxAttempts), so a stranger's guesses cannot
	// lock a number's owner out.
	VerifyPerIPPerHour    int // 60
	VerifyPerNetPerHour   int // 200
	VerifyPerNet48PerHour int // 600

	// GlobalPerMinute is the deployment-wide budget of delivered codes;
	// hitting it logs an alert at warn level. See Budget.
	GlobalPerMinute int // 1000
	// Budget, when set, is that budget, charged by the caller where codes
	// are delivered (idp.SMSGate) and only looked at by Send;
	// GlobalPerMinute is then ignored. When nil, the Service makes one of
	// GlobalPerMinute and charges it for every message it hands to its
	// sender.
	Budget *Budget
}

// DefaultConfig returns the limits from SECURITY.md and issues 2, 3 and 13.
func DefaultConfig() Config {
	return Config{
		CodeTTL:               5 * time.Minute,
		MaxAttempts:           5,
		ResendInterval:        60 * time.Second,
		PerHour:               5,
		PerDay:                10,
		PerIPPerHour:          30,
		PerNetPerHour:         100,
		PerNet48PerHour:       300,
		VerifyPerIPPerHour:    60,
		VerifyPerNetPerHour:   200,
		VerifyPerNet48PerHour: 600,
		GlobalPerMinute:       1000,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setI := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	if c.CodeTTL <= 0 {
		c.CodeTTL = d.CodeTTL
	}
	if c.ResendInterval == 0 {
		c.ResendInterval = d.ResendInterval
	}
	setI(&c.PerHour, d.PerHour)
	setI(&c.PerDay, d.PerDay)
	setI(&c.PerIPPerHour, d.PerIPPerHour)
	setI(&c.PerNetPerHour, d.PerNetPerHour)
	setI(&c.PerNet48PerHour, d.PerNet48PerHour)
	setI(&c.VerifyPerIPPerHour, d.VerifyPerIPPerHour)
	setI(&c.VerifyPerNetPerHour, d.VerifyPerNetPerHour)
	setI(&c.VerifyPerNet48PerHour, d.VerifyPerNet48PerHour)
	setI(&c.GlobalPerMinute, d.GlobalPerMinute)
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	return c
}

var (
	// ErrRateLimited matches every *RateLimitError (a refused Send).
	ErrRateLimited = errors.New("otp: rate limited")
	// ErrTooManyAttempts matches every *AttemptLimitError (a Verify
	// refused because of where it came from).
	ErrTooManyAttempts = errors.New("otp: too many attempts from this source")
	// ErrInvalidCode: a code is live for this number and purpose, and this
	// is not it; attempts remain.
	ErrInvalidCode = errors.New("otp: invalid code")
	// ErrCodeBurnt: the wrong guess was the code's last allowed attempt,
	// and the code is dead.
	ErrCodeBurnt = errors.New("otp: code burnt by wrong attempts")
	// ErrCodeExpired: no live code (never issued, used, expired or burnt
	// earlier). Codes are issued for every well-formed number, so this
	// says nothing about accounts.
	ErrCodeExpired = errors.New("otp: no live code")
	// ErrInvalidPhone: the number is not in the form phone.Normalize
	// returns. Callers normalise user input first; this is a guard.
	ErrInvalidPhone = errors.New("otp: phone number not normalised")
	// ErrInvalidPurpose: not one of the Purpose constants.
	ErrInvalidPurpose = errors.New("otp: unknown purpose")
)

// Scopes of a RateLimitError or AttemptLimitError, for logs and metrics.
// None of them depends on whether the phone has an account.
const (
	ScopePhone   = "phone"
	ScopeIP      = "ip"
	ScopeNetwork = "network"
	ScopeGlobal  = "global"
)

// Rules say which budget refused a Send; each has its own error code and
// wording.
const (
	RuleResend    = "resend"     // one code per ResendInterval per phone
	RulePhoneHour = "phone_hour" // PerHour
	RulePhoneDay  = "phone_day"  // PerDay
	RuleIP        = "ip"         // PerIPPerHour
	RuleNetwork   = "network"    // PerNetPerHour, PerNet48PerHour
	RuleGlobal    = "global"     // the Budget
)

// RateLimitError refuses a Send. RetryAfter says when a new request can
// succeed (as far as the limits that refused this one are concerned);
// Rule names the limit with the longest wait, the one worth telling.
type RateLimitError struct {
	RetryAfter time.Duration
	Scope      string
	Rule       string
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("otp: rate limited (%s), retry after %v", e.Rule, e.RetryAfter)
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// Code is the machine error code of the refusal ("rate_limited_…").
func (e *RateLimitError) Code() string { return "rate_limited_" + e.Rule }

// AttemptLimitError refuses a Verify because its source (address or
// network) has made too many attempts. The number is not involved.
type AttemptLimitError struct {
	RetryAfter time.Duration
	Scope      string // ScopeIP or ScopeNetwork
}

func (e *AttemptLimitError) Error() string {
	return fmt.Sprintf("otp: too many verification attempts from this %s, retry after %v", e.Scope, e.RetryAfter)
}

// Is makes errors.Is(err, ErrTooManyAttempts) true.
func (e *AttemptLimitError) Is(target error) bool { return target == ErrTooManyAttempts }

// Code is the machine error code of the refusal.
func (e *AttemptLimitError) Code() string { return "too_many_attempts_" + e.Scope }

// ErrorCode returns the machine error code of an error from Send or
// Verify, or "" when it is none of theirs.
func ErrorCode(err error) string {
	var rl *RateLimitError
	var al *AttemptLimitError
	switch {
	case errors.As(err, &rl):
		return rl.Code()
	case errors.As(err, &al):
		return al.Code()
	case errors.Is(err, ErrInvalidCode):
		return "invalid_code"
	case errors.Is(err, ErrCodeBurnt):
		return "code_burnt"
	case errors.Is(err, ErrCodeExpired):
		return "code_expired"
	case errors.Is(err, ErrInvalidPhone):
		return "invalid_phone"
	}
	return ""
}

func ceilSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }
func ceilMinutes(d time.Duration) int { return max(1, int((d+time.Minute-1)/time.Minute)) }
func ceilHours(d time.Duration) int   { return max(1, int((d+time.Hour-1)/time.Hour)) }

// UserMessage returns the Simplified Chinese text to show for an error
// returned by Send or Verify: each refusal says what refused it.
func UserMessage(err error) string {
	var rl *RateLimitError
	var al *AttemptLimitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &rl):
		switch rl.Rule {
		case RuleResend:
			return fmt.Sprintf("发送过于频繁，请 %d 秒后再试", ceilSeconds(rl.RetryAfter))
		case RulePhoneHour:
			return fmt.Sprintf("该手机号获取验证码次数过多，请 %d 分钟后再试", ceilMinutes(rl.RetryAfter))
		case RulePhoneDay:
			return fmt.Sprintf("今日发送次数已达上限，请 %d 小时后再试", ceilHours(rl.RetryAfter))
		case RuleIP:
			return fmt.Sprintf("获取验证码过于频繁，请 %d 分钟后再试（来自本机地址）", ceilMinutes(rl.RetryAfter))
		case RuleNetwork:
			return fmt.Sprintf("获取验证码过于频繁，请 %d 分钟后再试（来自本网络）", ceilMinutes(rl.RetryAfter))
		}
		return fmt.Sprintf("短信发送繁忙，请 %d 秒后再试", ceilSeconds(rl.RetryAfter))
	case errors.As(err, &al):
		from := "本网络"
		if al.Scope == ScopeIP {
			from = "本机地址"
		}
		return fmt.Sprintf("尝试次数过多，请 %d 分钟后再试（来自%s）", ceilMinutes(al.RetryAfter), from)
	case errors.Is(err, ErrInvalidCode):
		return "验证码错误"
	case errors.Is(err, ErrCodeBurnt):
		return "验证码错误次数过多，已失效，请重新获取"
	case errors.Is(err, ErrCodeExpired):
		return "验证码已失效，请重新获取"
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
	budget *Budget
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
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
	budget := cfg.Budget
	if budget == nil {
		budget = NewBudget(store, cfg.GlobalPerMinute, now, log)
		sender = budget.Sender(sender)
	}
	return &Service{store: store, sender: sender, budget: budget, cfg: cfg, now: now, log: log}
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

// Send issues a new code for phone and purpose and hands it to the sender.
// Any earlier code for the same phone and purpose dies. On success
// retryAfter is the time before another code may be requested; on refusal
// the error is a *RateLimitError carrying the same value.
func (s *Service) Send(ctx context.Context, phoneE164 string, purpose Purpose, ip string) (retryAfter time.Duration, err error) {
	if err := checkInput(phoneE164, purpose); err != nil {
		return 0, err
	}
	now := s.now()
	masked := phone.Mask(phoneE164)

	limits, rules := s.sendLimits(phoneE164, ipBuckets(ip))
	res, err := s.store.Take(ctx, now, limits)
	if err != nil {
		return 0, fmt.Errorf("otp: send: %w", err)
	}
	if !res.Allowed() {
		best := res.Blocked[0]
		for _, i := range res.Blocked {
			if rules[i] == RuleGlobal {
				s.budget.alert(ctx, now)
			}
			// The limit with the longest window has the longest wait.
			if limits[i].Window > limits[best].Window {
				best = i
			}
		}
		rule := rules[best]
		s.log.InfoContext(ctx, "otp: send refused", slog.String("phone", masked), slog.String("ip", ip),
			slog.String("rule", rule), slog.Duration("retry_after", res.RetryAfter))
		return res.RetryAfter, &RateLimitError{RetryAfter: res.RetryAfter, Scope: ruleScope(rule), Rule: rule}
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
		s.log.ErrorContext(ctx, "otp: code not sent", slog.String("phone", masked), slog.String("purpose", string(purpose)), slog.Any("err", err))
		return 0, fmt.Errorf("otp: send: %w", err)
	}
	// Issued, not necessarily delivered: the sender (idp.SMSGate) logs
	// whether the code went out.
	s.log.InfoContext(ctx, "otp: code issued", slog.String("phone", masked), slog.String("purpose", string(purpose)), slog.String("ip", ip))
	return max(s.cfg.ResendInterval, 0), nil
}

func ruleScope(rule string) string {
	switch rule {
	case RuleResend, RulePhoneHour, RulePhoneDay:
		return ScopePhone
	case RuleIP:
		return ScopeIP
	case RuleNetwork:
		return ScopeNetwork
	}
	return ScopeGlobal
}

// limitSet collects the limits of one Take with the rule of each.
type limitSet struct {
	s      *Service
	limits []Limit
	rules  []string
}

func (l *limitSet) add(rule string, max int, window time.Duration, kind, value string) {
	if max > 0 && window > 0 && value != "" {
		l.limits = append(l.limits, Limit{Key: l.s.key(kind, value), Window: window, Max: max})
		l.rules = append(l.rules, rule)
	}
}

// sendLimits lists the budgets one Send draws from, and the global budget
// it only looks at. The resend interval is a window of one: "1 per
// ResendInterval". Limits are per phone across purposes, as the gateways
// count them.
func (s *Service) sendLimits(phoneE164 string, b buckets) ([]Limit, []string) {
	c := s.cfg
	l := &limitSet{s: s}
	l.add(RuleResend, 1, c.ResendInterval, "p-resend", phoneE164)
	l.add(RulePhoneHour, c.PerHour, time.Hour, "p-hour", phoneE164)
	l.add(RulePhoneDay, c.PerDay, 24*time.Hour, "p-day", phoneE164)
	l.add(RuleIP, c.PerIPPerHour, time.Hour, "ip-hour", b.addr)
	l.add(RuleNetwork, c.PerNetPerHour, time.Hour, "net-hour", b.network)
	l.add(RuleNetwork, c.PerNet48PerHour, time.Hour, "net48-hour", b.site)
	if s.budget.max > 0 {
		l.limits = append(l.limits, s.budget.limit(true))
		l.rules = append(l.rules, RuleGlobal)
	}
	return l.limits, l.rules
}

// verifyLimits are the budgets of code checks per source.
func (s *Service) verifyLimits(b buckets) ([]Limit, []string) {
	c := s.cfg
	l := &limitSet{s: s}
	l.add(ScopeIP, c.VerifyPerIPPerHour, time.Hour, "v-ip-hour", b.addr)
	l.add(ScopeNetwork, c.VerifyPerNetPerHour, time.Hour, "v-net-hour", b.network)
	l.add(ScopeNetwork, c.VerifyPerNet48PerHour, time.Hour, "v-net48-hour", b.site)
	return l.limits, l.rules
}

// Pressure reports whether a request from ip comes near a limit: the
// source has used half its hourly budget of codes (per address or
// network), or the deployment has delivered half its budget this minute.
// A graphical challenge turns on then (idp/challenge), before the limits
// themselves start refusing people.
func (s *Service) Pressure(ctx context.Context, ip string) (bool, error) {
	c, b := s.cfg, ipBuckets(ip)
	half := func(n int) int { return (n + 1) / 2 }
	l := &limitSet{s: s}
	l.add(RuleIP, half(c.PerIPPerHour), time.Hour, "ip-hour", b.addr)
	l.add(RuleNetwork, half(c.PerNetPerHour), time.Hour, "net-hour", b.network)
	l.add(RuleNetwork, half(c.PerNet48PerHour), time.Hour, "net48-hour", b.site)
	if s.budget.max > 0 {
		g := s.budget.limit(true)
		g.Max = half(g.Max)
		l.limits = append(l.limits, g)
	}
	for i := range l.limits {
		l.limits[i].Peek = true
	}
	res, err := s.store.Take(ctx, s.now(), l.limits)
	if err != nil {
		return false, fmt.Errorf("otp: pressure: %w", err)
	}
	return !res.Allowed(), nil
}

// Verify checks a code sent to phone, from a client at ip. It returns nil
// exactly once per issued code. Wrong guesses count against the live code
// only (MaxAttempts burn it); a guess when no code is live costs the
// number nothing. Every attempt counts against its source's budgets,
// which refuse the source (a *AttemptLimitError), never the number.
func (s *Service) Verify(ctx context.Context, phoneE164 string, purpose Purpose, code, ip string) error {
	if err := checkInput(phoneE164, purpose); err != nil {
		return err
	}
	now := s.now()
	masked := phone.Mask(phoneE164)

	limits, scopes := s.verifyLimits(ipBuckets(ip))
	lim, err := s.store.Take(ctx, now, limits)
	if err != nil {
		return fmt.Errorf("otp: verify: %w", err)
	}
	if !lim.Allowed() {
		scope := scopes[lim.Blocked[0]]
		s.log.WarnContext(ctx, "otp: verification refused: too many attempts from this source", slog.String("phone", masked),
			slog.String("ip", ip), slog.String("scope", scope), slog.Duration("retry_after", lim.RetryAfter))
		return &AttemptLimitError{RetryAfter: lim.RetryAfter, Scope: scope}
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
	s.log.InfoContext(ctx, "otp: verification failed", slog.String("phone", masked), slog.String("purpose", string(purpose)),
		slog.String("ip", ip), slog.String("result", res.String()))
	switch res {
	case CheckMismatch:
		return ErrInvalidCode
	case CheckBurned:
		return ErrCodeBurnt
	}
	return ErrCodeExpired
}
