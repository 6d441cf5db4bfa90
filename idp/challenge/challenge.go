// Package challenge is the graphical challenge asked before an SMS code is
// sent: an image of distorted digits (github.com/dchest/captcha) whose
// answer only the server knows. It turns on by itself when a sending limit
// is near (otp.Service.Pressure), so that an SMS-bombing storm meets it
// before the limits start refusing everyone, and people see it only then.
//
// Answers are kept in the SMS-code store (otp.Store: Redis when
// configured, else in-process) as keyed hashes bound to the challenge id
// and the client address; each is good for one check within TTL, right or
// wrong.
package challenge

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dchest/captcha"
	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/internal/web"
)

// Mode says when a challenge is asked.
type Mode string

const (
	// Auto asks when a limit is near (Pressure).
	Auto Mode = "auto"
	// Always asks before every code.
	Always Mode = "always"
	// Off never asks.
	Off Mode = "off"
)

// Pressure tells whether a client address is near a sending limit;
// otp.Service implements it.
type Pressure interface {
	Pressure(ctx context.Context, ip string) (bool, error)
}

// Config tunes the challenge. Zero fields take defaults.
type Config struct {
	Mode Mode // Auto
	// Secret keys the answer hashes; nodes sharing a store share it.
	Secret []byte
	TTL    time.Duration // 2m
	Digits int           // 5
	// Answers, when set, gives the digits to draw instead of random ones:
	// for tests, which cannot read the image.
	Answers func() string
	// ImagesPerMinute caps the images drawn for one source (an IPv4
	// address, an IPv6 /64); default 60. Drawing one costs ~1.6 ms of
	// CPU, so a single source asking in a loop would otherwise buy CPU
	// time for nothing; people behind one carrier-grade NAT share it.
	ImagesPerMinute int
}

// Image size: legible on a 390px phone, small as a data URL (~3 KB).
const width, height = 200, 70

// Service asks and checks challenges; it implements signin.Challenger.
type Service struct {
	store    otp.Store
	pressure Pressure
	cfg      Config
	now      func() time.Time
	log      *slog.Logger
}

// New returns a Service keeping answers in store.
func New(store otp.Store, pressure Pressure, cfg Config, now func() time.Time, log *slog.Logger) *Service {
	if cfg.Mode == "" {
		cfg.Mode = Auto
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 2 * time.Minute
	}
	if cfg.Digits <= 0 {
		cfg.Digits = 5
	}
	if cfg.ImagesPerMinute <= 0 {
		cfg.ImagesPerMinute = 60
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, pressure: pressure, cfg: cfg, now: now, log: log}
}

// Required refuses a send until the challenge it carries is answered.
type Required struct {
	ID string
	// Image is the PNG as a data: URL, ready for <img src>.
	Image string
	// Wrong: an answer was given, and it was wrong, expired, used or from
	// another address.
	Wrong bool
}

func (r *Required) Error() string {
	if r.Wrong {
		return "challenge: wrong answer"
	}
	return "challenge: required"
}

// Code is the machine error code of the refusal.
func (r *Required) Code() string {
	if r.Wrong {
		return "challenge_failed"
	}
	return "challenge_required"
}

// Message is the Chinese text to show beside the image.
func (r *Required) Message() string {
	if r.Wrong {
		return "图形验证码错误或已过期，请输入新图片中的数字"
	}
	return "请先输入图片中的数字，再获取短信验证码"
}

type given struct{ id, answer string }

const answerKey = "xszz.challenge.answer"

// SetAnswer hands the answer of a JSON request to Check (a form post's
// challenge_id and challenge_answer fields are read directly).
func SetAnswer(c echo.Context, id, answer string) {
	c.Set(answerKey, given{id, answer})
}

func answerOf(c echo.Context) given {
	if g, ok := c.Get(answerKey).(given); ok {
		return g
	}
	return given{c.FormValue("challenge_id"), c.FormValue("challenge_answer")}
}

// Check lets the request through when no challenge is needed or it
// carries the right answer to a live one; otherwise it returns a
// *Required with a fresh challenge. Store failures are returned as they
// are, as internal errors.
func (s *Service) Check(c echo.Context) error {
	ctx := c.Request().Context()
	ip := c.RealIP()
	need, err := s.needed(ctx, ip)
	if err != nil || !need {
		return err
	}
	// No answer (the person could not read the image and asks again, or
	// this is the first request) brings a fresh image, not a "wrong".
	g := answerOf(c)
	if normalize(g.answer) == "" {
		return s.issue(ctx, ip, false)
	}
	ok, err := s.verify(ctx, ip, g)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	s.log.InfoContext(ctx, "challenge: wrong answer", slog.String("ip", ip))
	return s.issue(ctx, ip, true)
}

func (s *Service) needed(ctx context.Context, ip string) (bool, error) {
	switch s.cfg.Mode {
	case Off:
		return false, nil
	case Always:
		return true, nil
	}
	near, err := s.pressure.Pressure(ctx, ip)
	if err != nil {
		return false, web.Internal(fmt.Errorf("challenge: %w", err))
	}
	return near, nil
}

func (s *Service) key(id string) string { return "challenge:" + id }

func (s *Service) hash(id, ip, answer string) []byte {
	m := hmac.New(sha256.New, s.cfg.Secret)
	m.Write([]byte("xszz-challenge\x00" + id + "\x00" + ip + "\x00" + answer))
	return m.Sum(nil)
}

// verify checks the answer; the challenge dies with this one check.
func (s *Service) verify(ctx context.Context, ip string, g given) (bool, error) {
	if _, err := hex.DecodeString(g.id); err != nil || len(g.id) != 32 {
		return false, nil
	}
	res, err := s.store.CheckCode(ctx, s.key(g.id), s.hash(g.id, ip, normalize(g.answer)), s.now(), 1)
	if err != nil {
		return false, web.Internal(fmt.Errorf("challenge: check: %w", err))
	}
	return res == otp.CheckOK, nil
}

// normalize accepts what people type: spaces, full-width digits (a
// Chinese input method's default).
func normalize(answer string) string {
	var b strings.Builder
	for _, r := range answer {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + (r - '０'))
		case r == ' ' || r == '\u3000' || r == '\t':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// issue draws a new challenge, stores its answer and returns it as the
// refusal; past the source's image budget, it refuses with 429 instead.
func (s *Service) issue(ctx context.Context, ip string, wrong bool) error {
	res, err := s.store.Take(ctx, s.now(), []otp.Limit{{Key: "challenge-images:" + otp.Source(ip), Window: time.Minute, Max: s.cfg.ImagesPerMinute}})
	if err != nil {
		return web.Internal(fmt.Errorf("challenge: image budget: %w", err))
	}
	if !res.Allowed() {
		wait := int((res.RetryAfter + time.Second - 1) / time.Second)
		s.log.WarnContext(ctx, "challenge: image budget spent", slog.String("source", otp.Source(ip)))
		return &web.Error{Status: http.StatusTooManyRequests, Code: "rate_limited_challenge",
			Message: "获取图形验证码过于频繁，请 " + strconv.Itoa(max(wait, 1)) + " 秒后再试",
			Header:  map[string]string{"Retry-After": strconv.Itoa(max(wait, 1))}}
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("challenge: id: %w", err)
	}
	id := hex.EncodeToString(raw[:])
	var digits []byte
	if s.cfg.Answers != nil {
		for _, r := range s.cfg.Answers() {
			digits = append(digits, byte(r-'0'))
		}
	} else {
		digits = captcha.RandomDigits(s.cfg.Digits)
	}
	answer := make([]byte, len(digits))
	for i, d := range digits {
		if d > 9 {
			return errors.New("challenge: answers must be digits")
		}
		answer[i] = '0' + d
	}
	var png bytes.Buffer
	if _, err := captcha.NewImage(id, digits, width, height).WriteTo(&png); err != nil {
		return fmt.Errorf("challenge: image: %w", err)
	}
	if err := s.store.PutCode(ctx, s.key(id), s.hash(id, ip, string(answer)), s.now(), s.cfg.TTL); err != nil {
		return web.Internal(fmt.Errorf("challenge: store: %w", err))
	}
	return &Required{ID: id, Image: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png.Bytes()), Wrong: wrong}
}
