package challenge_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/xszz/xszz/idp/challenge"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/otp/otptest"
	"github.com/xszz/xszz/idp/otp/redisstore"
	"github.com/xszz/xszz/internal/testenv"
	"github.com/xszz/xszz/internal/web"
)

// backends runs fn on the in-process store and on Redis.
func backends(t *testing.T, fn func(t *testing.T, st otp.Store)) {
	t.Run("memory", func(t *testing.T) { fn(t, otp.NewMemoryStore(nil)) })
	t.Run("redis", func(t *testing.T) {
		testenv.Redis(t)
		opt, err := redis.ParseURL(os.Getenv("XSZZ_TEST_REDIS_URL"))
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(opt)
		var b [8]byte
		_, _ = rand.Read(b[:])
		prefix := "xszz-test:" + hex.EncodeToString(b[:]) + ":"
		t.Cleanup(func() {
			ctx := context.Background()
			iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
			rdb.Close()
		})
		fn(t, redisstore.New(rdb, prefix))
	})
}

type pressure struct {
	near bool
	err  error
}

func (p *pressure) Pressure(context.Context, string) (bool, error) { return p.near, p.err }

var e = func() *echo.Echo {
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect()
	return e
}()

// check runs Check on a form post from ip carrying id and answer.
func check(s *challenge.Service, ip, id, answer string) error {
	form := url.Values{}
	if id != "" || answer != "" {
		form.Set("challenge_id", id)
		form.Set("challenge_answer", answer)
	}
	req := httptest.NewRequest(http.MethodPost, "/login/send", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = ip + ":40000"
	return s.Check(e.NewContext(req, httptest.NewRecorder()))
}

func required(t *testing.T, err error, wrong bool) *challenge.Required {
	t.Helper()
	var r *challenge.Required
	if !errors.As(err, &r) || r.Wrong != wrong {
		t.Fatalf("got %v, want a challenge (wrong answer: %v)", err, wrong)
	}
	return r
}

const answer = "27182"

func TestChallenge(t *testing.T) {
	backends(t, func(t *testing.T, st otp.Store) {
		clock := otptest.NewClock()
		p := &pressure{}
		newService := func(mode challenge.Mode) *challenge.Service {
			return challenge.New(st, p, challenge.Config{Mode: mode, Secret: []byte("k"), Answers: func() string { return answer }}, clock.Now, nil)
		}
		const ip = "198.51.100.7"

		t.Run("the image is a PNG data URL with a fresh id", func(t *testing.T) {
			s := challenge.New(st, p, challenge.Config{Mode: challenge.Always}, clock.Now, nil)
			a, b := required(t, check(s, ip, "", ""), false), required(t, check(s, ip, "", ""), false)
			if len(a.ID) != 32 || a.ID == b.ID || a.Code() != "challenge_required" || a.Message() == "" {
				t.Fatalf("challenges %q and %q", a.ID, b.ID)
			}
			raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a.Image, "data:image/png;base64,"))
			if err != nil || !strings.HasPrefix(a.Image, "data:image/png;base64,") {
				t.Fatalf("image %.40q: %v", a.Image, err)
			}
			img, err := png.Decode(bytes.NewReader(raw))
			if err != nil || img.Bounds().Dx() != 200 || img.Bounds().Dy() != 70 {
				t.Fatalf("image: %v", err)
			}
		})

		t.Run("right answer once, on this address, in time", func(t *testing.T) {
			s := newService(challenge.Always)
			for _, tt := range []struct {
				name    string
				ip, ans string
				advance time.Duration
				ok      bool
			}{
				{"right", ip, answer, 0, true},
				{"right, spaced and full-width", ip, " ２７１ ８２ ", 0, true},
				{"wrong", ip, "27183", 0, false},
				{"from another address", "198.51.100.8", answer, 0, false},
				{"just in time", ip, answer, 2*time.Minute - time.Millisecond, true},
				{"expired", ip, answer, 2 * time.Minute, false},
			} {
				t.Run(tt.name, func(t *testing.T) {
					id := required(t, check(s, ip, "", ""), false).ID
					clock.Advance(tt.advance)
					err := check(s, tt.ip, id, tt.ans)
					if tt.ok {
						if err != nil {
							t.Fatalf("right answer refused: %v", err)
						}
						// Single use: the same answer again is refused.
						if r := required(t, check(s, tt.ip, id, tt.ans), true); r.ID == id || r.Code() != "challenge_failed" {
							t.Fatalf("reuse answered %+v", r)
						}
						return
					}
					required(t, err, true)
					// A wrong try kills the challenge: the right answer
					// afterwards is refused too.
					required(t, check(s, ip, id, answer), true)
				})
			}
			required(t, check(s, ip, "not-an-id", answer), true)
			// Sending again without an answer brings a new image, and is
			// not called wrong.
			id := required(t, check(s, ip, "", ""), false).ID
			if r := required(t, check(s, ip, id, " "), false); r.ID == id {
				t.Fatal("no new image")
			}
		})

		t.Run("one source draws a bounded number of images a minute", func(t *testing.T) {
			s := challenge.New(st, p, challenge.Config{Mode: challenge.Always, Secret: []byte("k"), ImagesPerMinute: 3}, clock.Now, nil)
			for _, src := range []struct{ name, first, same, other string }{
				{"IPv4 address", "192.0.2.10", "192.0.2.10", "192.0.2.11"},
				// An IPv6 customer holds the /64: rotating inside it is one source.
				{"IPv6 /64", "[2001:db8:0:7::1]", "[2001:db8:0:7::ffff]", "[2001:db8:0:8::1]"},
			} {
				t.Run(src.name, func(t *testing.T) {
					for range 3 {
						required(t, check(s, src.first, "", ""), false)
					}
					var ue *web.Error
					err := check(s, src.same, "", "")
					if !errors.As(err, &ue) || ue.Status != http.StatusTooManyRequests || ue.Header["Retry-After"] == "" || !strings.Contains(ue.Message, "秒后再试") || !strings.HasPrefix(ue.Code, "rate_limited_") {
						t.Fatalf("fourth image in a minute: %v", err)
					}
					// A wrong answer draws a new image too, and is held the same.
					if err := check(s, src.same, strings.Repeat("ab", 16), "1"); !errors.As(err, &ue) || ue.Status != http.StatusTooManyRequests {
						t.Fatalf("wrong answer past the budget: %v", err)
					}
					required(t, check(s, src.other, "", ""), false)
				})
			}
			clock.Advance(time.Minute)
			required(t, check(s, "192.0.2.10", "", ""), false)
		})

		t.Run("JSON answers are handed over by SetAnswer", func(t *testing.T) {
			s := newService(challenge.Always)
			id := required(t, check(s, ip, "", ""), false).ID
			req := httptest.NewRequest(http.MethodPost, "/api/v1/sms/send", strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			req.RemoteAddr = ip + ":40000"
			c := e.NewContext(req, httptest.NewRecorder())
			challenge.SetAnswer(c, id, answer)
			if err := s.Check(c); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("modes", func(t *testing.T) {
			for _, tt := range []struct {
				mode challenge.Mode
				near bool
				asks bool
			}{
				{challenge.Off, true, false},
				{challenge.Always, false, true},
				{challenge.Auto, false, false},
				{challenge.Auto, true, true},
			} {
				p.near = tt.near
				err := check(newService(tt.mode), ip, "", "")
				if tt.asks {
					required(t, err, false)
				} else if err != nil {
					t.Errorf("%s with pressure %v: %v", tt.mode, tt.near, err)
				}
			}
			p.near = false
		})

		t.Run("a failing pressure check is an internal error", func(t *testing.T) {
			p.err = errors.New("store down")
			defer func() { p.err = nil }()
			var ue *web.Error
			if err := check(newService(challenge.Auto), ip, "", ""); !errors.As(err, &ue) || ue.Status != http.StatusInternalServerError {
				t.Fatalf("got %v, want a 500", err)
			}
		})
	})
}

// What one challenge costs the server: drawing the image and storing the
// answer.
func BenchmarkIssue(b *testing.B) {
	s := challenge.New(otp.NewMemoryStore(nil), &pressure{}, challenge.Config{Mode: challenge.Always}, nil, nil)
	for b.Loop() {
		if err := check(s, "198.51.100.7", "", ""); err == nil {
			b.Fatal("no challenge")
		}
	}
}
