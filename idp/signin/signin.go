// Package signin is the IdP's sign-in: the login pages and the JSON API
// (SMS code, sign-in, sign-out, session), the second factor and its
// enrolment during sign-in, and the SSO session it starts and ends.
package signin

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/idp/totp"
)

// Accounts finds and marks the accounts that sign in; account.Store
// implements it.
type Accounts interface {
	Get(ctx context.Context, id string) (*account.Account, error)
	ByPhone(ctx context.Context, phone string) (*account.Account, error)
	MarkSignedIn(ctx context.Context, id string) error
}

// Sessions starts and ends SSO sessions; session.Store implements it.
type Sessions interface {
	Create(ctx context.Context, accountID string, amr []string, ip, ua string) (string, *session.Session, error)
	Lookup(ctx context.Context, token string) (*session.Session, error)
	Delete(ctx context.Context, id string) error
}

// Codes sends and checks SMS codes; otp.Service implements it.
type Codes interface {
	Send(ctx context.Context, phoneE164 string, purpose otp.Purpose, ip string) (time.Duration, error)
	Verify(ctx context.Context, phoneE164 string, purpose otp.Purpose, code, ip string) error
	CodeTTL() time.Duration
}

// SecondFactor is the authenticator app; totp.Service implements it.
type SecondFactor interface {
	Begin(accountID, label string) (*totp.Enrolment, error)
	Confirm(ctx context.Context, accountID, token, code string) ([]string, error)
	Check(ctx context.Context, accountID, nonce string, expires time.Time, code string) (string, error)
	RecoveryCodesLeft(ctx context.Context, accountID string) (int, error)
}

// Clients names the application a person signs in to.
type Clients interface {
	Get(ctx context.Context, id string) (*client.Client, error)
}

// Grants lists and ends the OAuth grants made in a session;
// oauthstore.Store implements it.
type Grants interface {
	ClientsOfSession(ctx context.Context, sid string) ([]string, error)
	RevokeSession(ctx context.Context, sid string) error
}

// Notifier queues back-channel logout notifications.
type Notifier interface {
	Notify(ctx context.Context, clientIDs []string, sub, sid string)
}

// Challenger checks a human-verification answer (a graphical captcha, a
// slider) before an SMS code is sent, the one place an SMS-bombing storm
// can be stopped before it costs money. Implementations read their answer
// from the request and return an error to refuse.
type Challenger interface {
	Check(c echo.Context) error
}

// Deps are what sign-in is built from.
type Deps struct {
	// Origin is the issuer's scheme://host, the only origin allowed to post.
	Origin string
	Flows  *idpweb.Sealer
	// Browser finds the current session; its Cookie is the one set here.
	Browser  *idpweb.Browser
	MFA      mfa.Policy
	Accounts Accounts
	Sessions Sessions
	OTP      Codes
	// TOTP is nil when second factors are off.
	TOTP    SecondFactor
	Clients Clients
	Grants  Grants
	// Notifier and Challenge may be nil.
	Notifier  Notifier
	Challenge Challenger
	Events    *idpweb.Events
	Metrics   *idpweb.Metrics
	Log       *slog.Logger
	Now       func() time.Time
}

// SignIn serves the sign-in.
type SignIn struct {
	Deps
	cookie idpweb.Cookie
}

// New returns the sign-in part.
func New(d Deps) *SignIn {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Metrics == nil {
		d.Metrics = idpweb.NewMetrics(prometheus.NewRegistry())
	}
	return &SignIn{Deps: d, cookie: d.Browser.Cookie}
}

// Register mounts the sign-in routes.
func (s *SignIn) Register(e *echo.Echo) {
	same := idpweb.SameOrigin(s.Origin)
	e.GET("/", s.home)
	e.GET("/login", s.loginPage)
	e.POST("/login/send", s.loginSendForm, same)
	e.POST("/login", s.loginVerifyForm, same)
	e.GET("/login/totp", s.totpPage)
	e.POST("/login/totp", s.totpSubmit, same)
	e.GET("/login/totp/enrol", s.totpEnrolPage)
	e.POST("/login/totp/enrol", s.totpEnrolSubmit, same)

	api := e.Group("/api/v1", idpweb.JSONOnly, same)
	api.POST("/sms/send", s.apiSMSSend)
	api.POST("/login", s.apiLogin)
	api.POST("/logout", s.apiLogout)
	api.GET("/session", s.apiSession)
	api.POST("/login/totp", s.apiLoginTOTP)
	api.POST("/login/totp/enrol", s.apiLoginEnrol)
	api.POST("/login/totp/enrol/confirm", s.apiLoginEnrolConfirm)
}

func (s *SignIn) home(c echo.Context) error {
	if sess, id := s.Browser.Current(c); sess != nil {
		links := []idpweb.Link{{Href: "/account", Text: "进入账号中心", Primary: true}}
		if id.Account.Role == account.RoleAdmin {
			links = append(links, idpweb.Link{Href: "/admin", Text: "进入管理控制台"})
		}
		links = append(links, idpweb.Link{Href: "/oauth2/logout", Text: "退出登录"})
		return idpweb.Render(c, http.StatusOK, "done.html", map[string]any{"Title": "已登录", "Name": id.Account.Name, "Links": links})
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}
