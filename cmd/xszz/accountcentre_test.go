package main

// The account centre (/account), driven over HTTP.

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/internal/sms"
)

func auditQuery(subject, typ string) audit.Query { return audit.Query{SubjectID: subject, Type: typ} }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// centre loads /account and returns the page and its CSRF token.
func (b *browser) centre() (reply, string) {
	b.t.Helper()
	r := b.get("/account")
	if r.Status != http.StatusOK {
		b.t.Fatalf("/account: %s", r)
	}
	m := csrfField.FindStringSubmatch(r.Body)
	if m == nil {
		b.t.Fatalf("/account has no CSRF token")
	}
	return r, m[1]
}

func (b *browser) centrePost(path string, form url.Values) reply {
	b.t.Helper()
	_, csrf := b.centre()
	form.Set("csrf", csrf)
	return b.postForm(path, form)
}

func TestAccountCentre(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		ctx := context.Background()

		t.Run("needs a session", func(t *testing.T) {
			b := sys.browser(t)
			if r := b.get("/account"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?return=%2Faccount" {
				t.Fatalf("/account signed out: %s", r)
			}
			if r := b.postForm("/account/sessions/end-all", url.Values{}); r.Status != http.StatusUnauthorized {
				t.Fatalf("POST signed out: %s", r)
			}
		})

		t.Run("profile and the CSRF and origin checks", func(t *testing.T) {
			p := sys.newAccount(t)
			b := sys.browser(t)
			b.smsLogin(p, "")
			page, _ := b.centre()
			for _, want := range []string{"测试人员", "工作人员", p.Phone[:3] + "****" + p.Phone[7:]} {
				if !strings.Contains(page.Body, want) {
					t.Fatalf("account page lacks %q", want)
				}
			}
			if strings.Contains(page.Body, p.Phone) {
				t.Fatal("account page shows the full phone number")
			}
			if r := b.postForm("/account/sessions/end-all", url.Values{"csrf": {"forged"}}); r.Status != http.StatusForbidden {
				t.Fatalf("forged CSRF token: %s", r)
			}
			_, csrf := b.centre()
			r := b.do(http.MethodPost, "/account/sessions/end-all", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()),
				map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"})
			if r.Status != http.StatusForbidden || !b.signedIn() {
				t.Fatalf("cross-origin POST: %s", r)
			}
		})

		t.Run("sign out everywhere revokes refresh tokens", func(t *testing.T) {
			p := sys.newAccount(t)
			rp := sys.newRP(t)
			b1, b2 := sys.browser(t), sys.browser(t)
			tok, _ := rp.signIn(b1, p)
			b2.smsLogin(p, "")
			if tok.RefreshToken == "" {
				t.Fatal("no refresh token")
			}
			page, _ := b1.centre()
			if n := strings.Count(page.Body, `action="/account/sessions/end"`); n != 2 {
				t.Fatalf("%d sessions listed, want 2", n)
			}
			r := b1.centrePost("/account/sessions/end-all", url.Values{})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
				t.Fatalf("end-all: %s", r)
			}
			if b1.signedIn() || b2.signedIn() {
				t.Fatal("a session survived sign-out everywhere")
			}
			if _, err := rp.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh after sign-out everywhere: %v, want invalid_grant", err)
			}
			if rp.active(tok.AccessToken) {
				t.Fatal("access token still active after sign-out everywhere")
			}
		})

		t.Run("sign out one other session", func(t *testing.T) {
			p := sys.newAccount(t)
			b1, b2 := sys.browser(t), sys.browser(t)
			b1.smsLogin(p, "")
			sys.clock.Advance(2 * time.Second)
			b2.smsLogin(p, "")
			sess, err := sys.app.Sessions.ListByAccount(ctx, p.ID)
			if err != nil || len(sess) != 2 {
				t.Fatalf("sessions: %v, %v", sess, err)
			}
			// ListByAccount is newest first: b2's session.
			r := b1.centrePost("/account/sessions/end", url.Values{"id": {sess[0].ID}})
			if r.Status != http.StatusSeeOther || !b1.signedIn() || b2.signedIn() {
				t.Fatalf("end one session: %s; b1 %v b2 %v", r, b1.signedIn(), b2.signedIn())
			}
			// Another account's session id is ignored.
			other := sys.newAccount(t)
			b3 := sys.browser(t)
			b3.smsLogin(other, "")
			os, _ := sys.app.Sessions.ListByAccount(ctx, other.ID)
			b1.centrePost("/account/sessions/end", url.Values{"id": {os[0].ID}})
			if !b3.signedIn() {
				t.Fatal("ended another account's session")
			}
		})

		t.Run("consented applications can be revoked", func(t *testing.T) {
			p := sys.newAccount(t)
			rp := sys.newRP(t, func(s *client.Spec) { s.Name = "第三方应用"; s.Trusted = false })
			b := sys.browser(t)
			tok, _ := rp.signIn(b, p)
			page, _ := b.centre()
			if !strings.Contains(page.Body, "第三方应用") {
				t.Fatal("consent not listed")
			}
			r := b.centrePost("/account/consents/revoke", url.Values{"client_id": {rp.id}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("revoke: %s", r)
			}
			if got, _ := sys.app.OAuth.Consent(ctx, p.ID, rp.id); got != "" {
				t.Fatalf("consent still stored: %q", got)
			}
			if _, err := rp.refresh(tok.RefreshToken); oauthError(err) != "invalid_grant" {
				t.Fatalf("refresh after revoking consent: %v", err)
			}
		})

		t.Run("changing the phone needs codes to both numbers", func(t *testing.T) {
			p := sys.newAccount(t)
			taken := sys.newAccount(t)
			b := sys.browser(t)
			b.smsLogin(p, "")
			newNumber := newPhone()
			send := func(ph string) {
				r := b.centrePost("/account/phone/send", url.Values{"phone": {ph}})
				if r.Status != http.StatusOK || !strings.Contains(r.Body, "old_code") {
					t.Fatalf("send: %s", r)
				}
			}
			send(newNumber)
			oldCode, newCode := sys.sms.last(p.E164), sys.sms.last("+86"+newNumber)
			if oldCode == "" || newCode == "" {
				t.Fatal("codes did not go to both numbers")
			}
			// The new number's code alone is not enough.
			r := b.centrePost("/account/phone", url.Values{"phone": {"+86" + newNumber}, "old_code": {"000000"}, "new_code": {newCode}})
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("wrong old code: %s", r)
			}
			if a, _ := sys.app.Accounts.Get(ctx, p.ID); a.Phone != p.E164 {
				t.Fatal("phone changed with one code")
			}
			// A number in use is refused without saying whose.
			sys.clock.Advance(2 * time.Minute)
			send(taken.Phone)
			r = b.centrePost("/account/phone", url.Values{"phone": {taken.E164}, "old_code": {sys.sms.last(p.E164)}, "new_code": {sys.sms.last(taken.E164)}})
			if r.Status != http.StatusConflict || strings.Contains(r.Body, taken.ID) {
				t.Fatalf("taken number: %s", r)
			}
			// Both codes: changed, signed out everywhere.
			sys.clock.Advance(2 * time.Minute)
			send(newNumber)
			r = b.centrePost("/account/phone", url.Values{"phone": {"+86" + newNumber}, "old_code": {sys.sms.last(p.E164)}, "new_code": {sys.sms.last("+86" + newNumber)}})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
				t.Fatalf("change: %s", r)
			}
			if a, _ := sys.app.Accounts.Get(ctx, p.ID); a.Phone != "+86"+newNumber {
				t.Fatalf("phone is %s", a.Phone)
			}
			if b.signedIn() {
				t.Fatal("still signed in after the phone change")
			}
			// The old number hears of it, once; the new one gets no notice.
			if got := sys.sms.noticesTo(p.E164); !slices.Equal(got, []string{sms.NoticePhoneChanged}) {
				t.Fatalf("notices to the old number: %v, want exactly one phone_changed", got)
			}
			if got := sys.sms.noticesTo("+86" + newNumber); len(got) != 0 {
				t.Fatalf("notices to the new number: %v", got)
			}
			entries, _ := sys.app.Audit.Search(ctx, auditQuery(p.ID, "account.phone_changed"))
			if len(entries) != 1 || strings.Contains(entries[0].Detail["new"], newNumber) {
				t.Fatalf("audit of the change: %+v", entries)
			}
		})

		t.Run("TOTP enrolment and recovery codes", func(t *testing.T) {
			p := sys.newAccount(t)
			b := sys.browser(t)
			b.smsLogin(p, "")
			r := b.get("/account/totp")
			token := regexp.MustCompile(`name="token" value="([^"]+)"`).FindStringSubmatch(r.Body)
			secret := regexp.MustCompile(`<code[^>]*>([A-Z2-7 ]+)</code>`).FindStringSubmatch(r.Body)
			if r.Status != http.StatusOK || token == nil || secret == nil || !strings.Contains(r.Body, "data:image/png;base64,") {
				t.Fatalf("enrolment page: %s", r)
			}
			code := totpAt(t, strings.ReplaceAll(secret[1], " ", ""), sys.clock.Now())
			r = b.centrePost("/account/totp", url.Values{"token": {token[1]}, "code": {code}})
			if r.Status != http.StatusOK || strings.Count(r.Body, "<li>") != 10 {
				t.Fatalf("confirm: %s", r)
			}
			// Replacing the factor needs a session that passed it.
			if r := b.get("/account/totp"); r.Status != http.StatusSeeOther && r.Status != http.StatusForbidden {
				t.Fatalf("re-enrol from a one-factor session: %s", r)
			}
		})
	})
}
