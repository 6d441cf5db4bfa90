package main

// Second factor (TOTP) at sign-in, driven over HTTP: SECURITY.md #51 and
// issue 3's "Second factor for admins".

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	pq "github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/xszz/xszz/idp"
	"github.com/xszz/xszz/idp/account"
)

func asAdmin(a *account.Account) { a.Role = account.RoleAdmin }

// totpAt is the authenticator app's code at t.
func totpAt(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := ptotp.GenerateCodeCustom(secret, at, ptotp.ValidateOpts{Period: 30, Digits: pq.DigitsSix, Algorithm: pq.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// smsLogin does the SMS step through the JSON API and returns its answer.
func (b *browser) smsLogin(p person, flow string) map[string]any {
	b.t.Helper()
	code := b.sendCode(p)
	r := b.postJSON("/api/v1/login", map[string]string{"phone": p.Phone, "code": code, "flow": flow})
	if r.Status != http.StatusOK {
		b.t.Fatalf("login: %s", r)
	}
	return r.json(b.t)
}

func (b *browser) signedIn() bool {
	b.t.Helper()
	r := b.get("/api/v1/session")
	ok, _ := r.json(b.t)["authenticated"].(bool)
	return ok
}

// enrolAtLogin enrols the authenticator of a parked sign-in and returns
// the secret, the recovery codes and where the browser goes next.
func (b *browser) enrolAtLogin(clock *testClock) (secret string, recovery []string, next string) {
	b.t.Helper()
	r := b.postJSON("/api/v1/login/totp/enrol", map[string]string{})
	if r.Status != http.StatusOK {
		b.t.Fatalf("enrol: %s", r)
	}
	m := r.json(b.t)
	secret, _ = m["secret"].(string)
	if qr, _ := m["qr_png"].(string); !strings.HasPrefix(qr, "data:image/png;base64,") || secret == "" {
		b.t.Fatalf("enrol answer lacks QR code or secret: %s", r)
	}
	r = b.postJSON("/api/v1/login/totp/enrol/confirm", map[string]string{"enrol_token": m["enrol_token"].(string), "code": totpAt(b.t, secret, clock.Now())})
	if r.Status != http.StatusOK {
		b.t.Fatalf("enrol confirm: %s", r)
	}
	m = r.json(b.t)
	for _, c := range m["recovery_codes"].([]any) {
		recovery = append(recovery, c.(string))
	}
	next, _ = m["redirect_to"].(string)
	return secret, recovery, next
}

// authorizeMFA is browser.authorize for accounts with a second factor:
// secret is the authenticator's, or "" to enrol (returned).
func (b *browser) authorizeMFA(authURL string, p person, secret *string) reply {
	b.t.Helper()
	r := b.visit(authURL)
	for range 4 {
		page, flow := flowOf(r)
		switch page {
		case "/login":
			m := b.smsLogin(p, flow)
			next, _ := m["redirect_to"].(string)
			if m["mfa_required"] == true {
				if *secret == "" {
					*secret, _, next = b.enrolAtLogin(b.sys.clock)
				} else {
					b.sys.clock.Advance(30 * time.Second) // a fresh step
					rr := b.postJSON("/api/v1/login/totp", map[string]string{"code": totpAt(b.t, *secret, b.sys.clock.Now())})
					if rr.Status != http.StatusOK {
						b.t.Fatalf("totp: %s", rr)
					}
					next, _ = rr.json(b.t)["redirect_to"].(string)
				}
			}
			r = b.visit(next)
		case "/consent":
			r = b.postForm("/consent", url.Values{"flow": {flow}, "decision": {"allow"}})
			r = b.visit(b.resolve("/consent", r.location()))
		default:
			return r
		}
	}
	b.t.Fatalf("authorize did not finish: %s", r)
	return r
}

func (c *rp) signInMFA(b *browser, p person, secret *string, extra ...oauth2.AuthCodeOption) *oidc.IDToken {
	c.t.Helper()
	a := c.authURL(extra...)
	q := callback(c.t, b.authorizeMFA(a.url, p, secret), callbackURL)
	if q.Get("error") != "" {
		c.t.Fatalf("authorization failed: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	tok, err := c.exchange(q.Get("code"), a)
	if err != nil {
		c.t.Fatalf("exchange: %v", err)
	}
	return c.verify(tok, a.nonce)
}

type acrClaims struct {
	AMR []string `json:"amr"`
	ACR string   `json:"acr"`
}

func claimsOf(t testing.TB, idt *oidc.IDToken) acrClaims {
	t.Helper()
	var c acrClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAdminSignInNeedsSecondFactor(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		admin := sys.newAccount(t, asAdmin)
		rp := sys.newRP(t)

		t.Run("without TOTP: mfa_required, no session, no skipping to the post-login URL", func(t *testing.T) {
			b := sys.browser(t)
			a := rp.authURL()
			_, flow := flowOf(b.visit(a.url))
			m := b.smsLogin(admin, flow)
			if m["mfa_required"] != true || m["enrolment_required"] != true || m["mfa_token"] == "" {
				t.Fatalf("SMS step answered %v, want mfa_required with enrolment", m)
			}
			if b.signedIn() {
				t.Fatal("a session exists after the SMS step alone")
			}
			// Straight to the post-login URL: back to the login page, no code.
			r := b.get("/oauth2/auth/resume?flow=" + url.QueryEscape(flow))
			if page, _ := flowOf(r); page != "/login" {
				t.Fatalf("resume without the second step: %s, want a redirect to /login", r)
			}
			if r := b.get("/account"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login?return=%2Faccount" {
				t.Fatalf("/account without the second step: %s", r)
			}
			// The second-step API without enrolling is refused.
			if r := b.postJSON("/api/v1/login/totp", map[string]string{"code": "123456"}); r.Status != http.StatusForbidden {
				t.Fatalf("totp step before enrolment: %s", r)
			}
			secret, recovery, next := b.enrolAtLogin(sys.clock)
			if len(recovery) != 10 || !strings.HasPrefix(next, "/oauth2/auth/resume") {
				t.Fatalf("enrolment gave %d recovery codes and next %q", len(recovery), next)
			}
			q := callback(t, b.visit(next), callbackURL)
			tok, err := rp.exchange(q.Get("code"), a)
			if err != nil {
				t.Fatal(err)
			}
			c := claimsOf(t, rp.verify(tok, a.nonce))
			if !slices.Equal(c.AMR, []string{"sms", "otp"}) || c.ACR != idp.ACRTwoFactor {
				t.Fatalf("ID token amr %v acr %q, want [sms otp] %q", c.AMR, c.ACR, idp.ACRTwoFactor)
			}

			t.Run("next sign-in: code step, wrong codes burn the state, replay refused", func(t *testing.T) {
				b := sys.browser(t)
				m := b.smsLogin(admin, "")
				if m["mfa_required"] != true || m["enrolment_required"] != false {
					t.Fatalf("SMS step answered %v", m)
				}
				// The code that confirmed the enrolment was used: replay refused.
				used := totpAt(t, secret, sys.clock.Now())
				if r := b.postJSON("/api/v1/login/totp", map[string]string{"code": used}); r.Status != http.StatusUnauthorized {
					t.Fatalf("replayed code: %s", r)
				}
				for i := range 4 {
					r := b.postJSON("/api/v1/login/totp", map[string]string{"code": "000000"})
					want := "invalid_code"
					if i == 3 {
						want = "mfa_expired"
					}
					if got := r.json(t)["error"]; r.Status != http.StatusUnauthorized || got != want {
						t.Fatalf("wrong code %d: %s, want 401 %s", i+2, r, want)
					}
				}
				sys.clock.Advance(30 * time.Second)
				if r := b.postJSON("/api/v1/login/totp", map[string]string{"code": totpAt(t, secret, sys.clock.Now())}); r.Status != http.StatusUnauthorized {
					t.Fatalf("right code on a burnt state: %s", r)
				}
				if b.signedIn() {
					t.Fatal("signed in on a burnt state")
				}
				// A new SMS sign-in and a recovery code work; the recovery code once.
				sys.clock.Advance(time.Minute)
				b.smsLogin(admin, "")
				if r := b.postJSON("/api/v1/login/totp", map[string]string{"code": recovery[0]}); r.Status != http.StatusOK {
					t.Fatalf("recovery code: %s", r)
				}
				if !b.signedIn() {
					t.Fatal("not signed in after the recovery code")
				}
				b2 := sys.browser(t)
				sys.clock.Advance(time.Minute)
				b2.smsLogin(admin, "")
				if r := b2.postJSON("/api/v1/login/totp", map[string]string{"code": recovery[0]}); r.Status != http.StatusUnauthorized {
					t.Fatalf("recovery code used twice: %s", r)
				}
			})

			t.Run("HTML pages: the same second step", func(t *testing.T) {
				b := sys.browser(t)
				sys.clock.Advance(time.Minute)
				code := b.sendCode(admin)
				r := b.postForm("/login", url.Values{"phone": {admin.Phone}, "code": {code}})
				if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login/totp" {
					t.Fatalf("login form: %s, want 303 to /login/totp", r)
				}
				if b.signedIn() {
					t.Fatal("session after the SMS step of the form")
				}
				if r := b.get("/login/totp"); r.Status != http.StatusOK || !strings.Contains(r.Body, "动态口令") {
					t.Fatalf("totp page: %s", r)
				}
				if r := b.postForm("/login/totp", url.Values{"code": {"000000"}}); r.Status != http.StatusUnauthorized {
					t.Fatalf("wrong code in the form: %s", r)
				}
				sys.clock.Advance(30 * time.Second)
				r = b.postForm("/login/totp", url.Values{"code": {totpAt(t, secret, sys.clock.Now())}})
				if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
					t.Fatalf("right code in the form: %s", r)
				}
				if !b.signedIn() {
					t.Fatal("not signed in after the form's second step")
				}
			})
		})

		t.Run("another browser's pending state does not work without its cookie or token", func(t *testing.T) {
			b := sys.browser(t)
			if r := b.postJSON("/api/v1/login/totp", map[string]string{"code": "123456"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("second step with no pending state: %s", r)
			}
			if r := b.postJSON("/api/v1/login/totp", map[string]string{"code": "123456", "mfa_token": "eyJhIjoieCJ9.forged"}); r.Status != http.StatusUnauthorized {
				t.Fatalf("forged pending state: %s", r)
			}
		})

		t.Run("pending state expires after 5 minutes", func(t *testing.T) {
			p := sys.newAccount(t, asAdmin)
			b := sys.browser(t)
			b.smsLogin(p, "")
			sys.clock.Advance(5*time.Minute + time.Second)
			if r := b.postJSON("/api/v1/login/totp/enrol", map[string]string{}); r.Status != http.StatusUnauthorized {
				t.Fatalf("enrol after 5 min: %s", r)
			}
		})
	})
}

func TestACRValuesStepUp(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		staff := sys.newAccount(t)
		rp := sys.newRP(t)
		b := sys.browser(t)

		_, idt := rp.signIn(b, staff)
		if c := claimsOf(t, idt); !slices.Equal(c.AMR, []string{"sms"}) || c.ACR != idp.ACROneFactor {
			t.Fatalf("one-factor ID token amr %v acr %q", c.AMR, c.ACR)
		}
		// The same session satisfies a request that accepts one factor.
		r := b.visit(rp.authURL(oauth2.SetAuthURLParam("acr_values", idp.ACROneFactor+" "+idp.ACRTwoFactor)).url)
		callback(t, r, callbackURL)

		// A client requiring two factors sends the one-factor session to sign in again.
		a := rp.authURL(oauth2.SetAuthURLParam("acr_values", idp.ACRTwoFactor))
		if page, _ := flowOf(b.visit(a.url)); page != "/login" {
			t.Fatalf("two factors required: went to %q, want /login", page)
		}
		// prompt=none cannot step up.
		q := callback(t, b.visit(rp.authURL(oauth2.SetAuthURLParam("acr_values", idp.ACRTwoFactor), oauth2.SetAuthURLParam("prompt", "none")).url), callbackURL)
		if q.Get("error") != "login_required" {
			t.Fatalf("prompt=none with a one-factor session: error %q, want login_required", q.Get("error"))
		}
		var secret string
		idt = rp.signInMFA(b, staff, &secret, oauth2.SetAuthURLParam("acr_values", idp.ACRTwoFactor))
		if c := claimsOf(t, idt); !slices.Equal(c.AMR, []string{"sms", "otp"}) || c.ACR != idp.ACRTwoFactor {
			t.Fatalf("stepped-up ID token amr %v acr %q", c.AMR, c.ACR)
		}
		// Once enrolled, the staff member is asked for the code at every sign-in.
		b2 := sys.browser(t)
		if m := b2.smsLogin(staff, ""); m["mfa_required"] != true {
			t.Fatalf("enrolled staff sign-in answered %v, want mfa_required", m)
		}
	})
}

func TestTOTPPolicyNone(t *testing.T) {
	sys := startSystem(t, sqliteBackend, func(c *Config) { c.IdP.TOTPRequiredFor = "none" })
	admin := sys.newAccount(t, asAdmin)
	b := sys.browser(t)
	if m := b.smsLogin(admin, ""); m["mfa_required"] == true {
		t.Fatalf("policy none: %v", m)
	}
	if !b.signedIn() {
		t.Fatal("policy none: not signed in")
	}
}
