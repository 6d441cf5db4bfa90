package main

import (
	"errors"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"
)

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
