package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/testenv"
)

// challengeAnswer is the digits every graphical challenge of the test
// systems shows (the harness sets app.Options.ChallengeAnswers).
const challengeAnswer = "31415"

type headerChallenge struct{}

func (headerChallenge) Check(c echo.Context) error {
	if c.Request().Header.Get("X-Xszz-Challenge") != "solved" {
		return errors.New("no answer")
	}
	return nil
}

// A challenge (captcha) hook runs before any SMS code is sent: without its
// answer nothing is sent and the API says why.
func TestChallengeBeforeSending(t *testing.T) {
	sys := startSystem(t, sqliteBackend)
	sys.app.IdP.Challenge = headerChallenge{}
	p := sys.newAccount(t)
	b := sys.browser(t)

	r := b.postJSON("/api/v1/sms/send", map[string]string{"phone": p.Phone, "purpose": "login"})
	if r.Status != http.StatusBadRequest || r.json(t)["error"] != "challenge_failed" {
		t.Fatalf("send without the challenge: %s", r)
	}
	if n := sys.sms.count(p.E164); n != 0 {
		t.Fatalf("%d codes sent without the challenge", n)
	}
	r = b.do(http.MethodPost, "/api/v1/sms/send", jsonBody(map[string]string{"phone": p.Phone, "purpose": "login"}),
		map[string]string{"Content-Type": "application/json", "X-Xszz-Challenge": "solved"})
	if r.Status != http.StatusOK || sys.sms.count(p.E164) != 1 {
		t.Fatalf("send with the challenge: %s (codes sent: %d)", r, sys.sms.count(p.E164))
	}
}

// browserFrom is a browser whose requests come from another loopback
// address, i.e. another client as far as the IdP's limits go.
func (s *system) browserFrom(t testing.TB, ip string) *browser {
	b := s.browser(t)
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	jar, _ := cookiejar.New(nil)
	b.hc = &http.Client{Jar: jar, Transport: tr, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return b
}

// Issue 13 #7: wrong codes for fifty numbers from one address used to lock
// each of them for 15 minutes. Now the address is refused, and the owners
// get codes and sign in from elsewhere.
func TestWrongCodesDoNotLockOwnersOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be, func(c *Config) { c.SMS.VerifyPerIPPerHour, c.SMS.VerifyPerNetPerHour = 60, 200 })
		owners := []person{sys.newAccount(t), sys.newAccount(t), sys.newAccount(t)}
		numbers := []string{owners[0].Phone, owners[1].Phone, owners[2].Phone}
		for len(numbers) < 50 {
			numbers = append(numbers, newPhone())
		}
		attacker := sys.browserFrom(t, "127.0.0.66")
		answers := map[string]int{}
		for _, n := range numbers {
			for i := 0; i < 10; i++ {
				r := attacker.postJSON("/api/v1/login", map[string]string{"phone": n, "code": "00000" + string(rune('0'+i))})
				answers[r.json(t)["error"].(string)]++
				if r.Status == http.StatusTooManyRequests && (r.Header.Get("Retry-After") == "" ||
					!strings.HasSuffix(r.json(t)["error_description"].(string), "（来自本机地址）")) {
					t.Fatalf("refusal of the source: %s", r)
				}
			}
		}
		if answers["code_expired"] != 60 || answers["too_many_attempts_ip"] != 440 {
			t.Fatalf("answers %v, want 60 code_expired then 440 too_many_attempts_ip", answers)
		}
		owner := sys.browser(t)
		for _, p := range owners {
			if next := owner.signIn(p, ""); next != "/" {
				t.Fatalf("owner's sign-in went to %s", next)
			}
		}
	})
}

// Issue 13 #8: codes for numbers without an account are never delivered
// and no longer spend the deployment-wide budget.
func TestGlobalBudgetSpentByDeliveriesOnly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be, func(c *Config) { c.SMS.GlobalPerMin, c.SMS.Challenge = 5, "off" })
		b := sys.browser(t)
		for i := 0; i < 30; i++ {
			if r := b.postJSON("/api/v1/sms/send", map[string]string{"phone": newPhone()}); r.Status != http.StatusOK {
				t.Fatalf("send %d to a number without an account: %s", i, r)
			}
		}
		p := sys.newAccount(t)
		b.signIn(p, "")
	})
}

var challengeIDField = regexp.MustCompile(`name="challenge_id" value="([0-9a-f]{32})"`)

// The graphical challenge turns on when the source has used half its
// hourly budget; its answer is checked on the server, once.
func TestChallengeWhenALimitIsNear(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be, func(c *Config) { c.SMS.PerIPPerHour, c.SMS.Challenge = 6, "auto" })
		p := sys.newAccount(t)
		b := sys.browserFrom(t, "127.0.0.77")
		send := func(extra map[string]string) reply {
			body := map[string]string{"phone": p.Phone, "purpose": "login"}
			for k, v := range extra {
				body[k] = v
			}
			return b.postJSON("/api/v1/sms/send", body)
		}
		for i := 0; i < 3; i++ {
			if r := send(nil); r.Status != http.StatusOK {
				t.Fatalf("send %d, before half the budget: %s", i, r)
			}
		}
		r := send(nil)
		out := r.json(t)
		id, _ := out["challenge_id"].(string)
		if r.Status != http.StatusBadRequest || out["error"] != "challenge_required" || len(id) != 32 ||
			!strings.HasPrefix(out["image"].(string), "data:image/png;base64,") || out["error_description"] == "" {
			t.Fatalf("send past half the budget: %s", r)
		}
		sent := sys.sms.count(p.E164)
		r = send(map[string]string{"challenge_id": id, "challenge_answer": "00000"})
		out = r.json(t)
		if r.Status != http.StatusBadRequest || out["error"] != "challenge_failed" || out["challenge_id"] == id || sys.sms.count(p.E164) != sent {
			t.Fatalf("wrong answer: %s", r)
		}
		// The wrong answer killed the first challenge; the new one is
		// answered right, with full-width digits as an input method types.
		id = out["challenge_id"].(string)
		if r = send(map[string]string{"challenge_id": id, "challenge_answer": "３１４１５"}); r.Status != http.StatusOK || sys.sms.count(p.E164) != sent+1 {
			t.Fatalf("right answer: %s", r)
		}
		if r = send(map[string]string{"challenge_id": id, "challenge_answer": challengeAnswer}); r.Status != http.StatusBadRequest || r.json(t)["error"] != "challenge_failed" {
			t.Fatalf("the answer used again: %s", r)
		}
		// Another address is not near its limit.
		if r := sys.browserFrom(t, "127.0.0.78").postJSON("/api/v1/sms/send", map[string]string{"phone": p.Phone}); r.Status != http.StatusOK {
			t.Fatalf("send from another address: %s", r)
		}

		// The login page shows the image and an answer field, without
		// JavaScript, and takes the answer with the number.
		page := b.postForm("/login/send", url.Values{"phone": {p.Phone}})
		m := challengeIDField.FindStringSubmatch(page.Body)
		if page.Status != http.StatusBadRequest || m == nil || !strings.Contains(page.Body, `<img src="data:image/png;base64,`) ||
			!strings.Contains(page.Body, `name="challenge_answer"`) || !strings.Contains(page.Body, "请先输入图片中的数字") {
			t.Fatalf("login page asking for the challenge: %d\n%s", page.Status, page.Body)
		}
		page = b.postForm("/login/send", url.Values{"phone": {p.Phone}, "challenge_id": {m[1]}, "challenge_answer": {challengeAnswer}})
		if page.Status != http.StatusOK || !strings.Contains(page.Body, `name="code"`) {
			t.Fatalf("login page after the answer: %d\n%s", page.Status, page.Body)
		}
		code := sys.sms.last(p.E164)
		if r := b.postJSON("/api/v1/login", map[string]string{"phone": p.Phone, "code": code}); r.Status != http.StatusOK {
			t.Fatalf("sign-in: %s", r)
		}
		// The sixth code from this address is the last; then the limit
		// itself refuses, and says it is this address.
		for _, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
			id := send(nil).json(t)["challenge_id"].(string)
			r = send(map[string]string{"challenge_id": id, "challenge_answer": challengeAnswer})
			if r.Status != want {
				t.Fatalf("send with the answer: %s, want %d", r, want)
			}
		}
		if r.json(t)["error"] != "rate_limited_ip" || !strings.Contains(r.json(t)["error_description"].(string), "来自本机地址") {
			t.Fatalf("send past the limit: %s", r)
		}
	})
}

// The registration page asks for the challenge as the login page does.
func TestChallengeOnRegistration(t *testing.T) {
	sys := startSystem(t, sqliteBackend, func(c *Config) { c.SMS.Challenge = "always" })
	b := sys.browser(t)
	phone := newPhone()
	page := b.postForm("/register/send", url.Values{"phone": {phone}})
	m := challengeIDField.FindStringSubmatch(page.Body)
	if page.Status != http.StatusBadRequest || m == nil || !strings.Contains(page.Body, `<img src="data:image/png;base64,`) {
		t.Fatalf("registration page asking for the challenge: %d\n%s", page.Status, page.Body)
	}
	page = b.postForm("/register/send", url.Values{"phone": {phone}, "challenge_id": {m[1]}, "challenge_answer": {challengeAnswer}})
	if page.Status != http.StatusOK || sys.sms.count("+86"+phone) != 1 {
		t.Fatalf("registration page after the answer: %d\n%s", page.Status, page.Body)
	}
}

// A person meets the challenge in a browser, at phone and laptop width:
// the image, the answer field, then the code field; no JavaScript needed.
func TestChallengeInBrowser(t *testing.T) {
	sys := startSystem(t, sqliteBackend, func(c *Config) { c.SMS.Challenge = "always" })
	p := sys.newAccount(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	for _, w := range []struct {
		name          string
		width, height int64
	}{{"phone", 390, 844}, {"laptop", 1280, 800}} {
		ctx, cancel := context.WithTimeout(testenv.Browser(t), 30*time.Second)
		defer cancel()
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(w.width, w.height),
			chromedp.Navigate(sys.url+"/login"),
			chromedp.WaitVisible(css(`#phone`)),
			chromedp.SendKeys(css(`#phone`), p.Phone),
			chromedp.Click(css(`form[action="/login/send"] button`)),
			chromedp.WaitVisible(css(`#challenge_answer`)),
		)
		if err != nil {
			t.Fatalf("%s: the challenge: %v", w.name, err)
		}
		natural, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelector('form[action="/login/send"] img').naturalWidth`))
		if err != nil || natural != 200 {
			t.Fatalf("%s: the challenge image did not load (natural width %d): %v", w.name, natural, err)
		}
		saveScreenshot(t, "idp-challenge-"+w.name, fullPage(t, ctx, w.width, w.height))
		err = chromedp.Do(ctx,
			chromedp.SendKeys(css(`#challenge_answer`), challengeAnswer),
			chromedp.Click(css(`form[action="/login/send"] button`)),
			chromedp.WaitVisible(css(`#code`)),
		)
		if err != nil {
			t.Fatalf("%s: after the answer: %v", w.name, err)
		}
		err = chromedp.Do(ctx,
			chromedp.SendKeys(css(`#code`), sys.sms.last(p.E164)),
			chromedp.Submit(css(`#code`)),
			chromedp.WaitNotPresent(css(`#code`)),
		)
		text, _ := chromedp.Run(ctx, chromedp.Text(css(`body`)))
		if err != nil || !strings.Contains(text, "已登录") {
			t.Fatalf("%s: sign-in after the challenge: %v\n%s", w.name, err, text)
		}
	}
}
