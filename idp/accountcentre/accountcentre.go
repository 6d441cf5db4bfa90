// Package accountcentre is the account centre (/account): what a person
// can see and do about their own account — profile, devices, application
// consents, second factor, phone number. Every change is a POST carrying a
// CSRF token bound to the session, behind the same-origin check, and
// answered with 303.
package accountcentre

import (
	"context"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/client"
	"github.com/xszz/xszz/idp/identity"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/oauthstore"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/profile"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/idp/totp"
	"github.com/xszz/xszz/internal/sms"
)

// Browser finds the signed-in person; idpweb.Browser implements it.
type Browser interface {
	Current(c echo.Context) (*session.Session, *identity.Identity)
}

// Sessions lists a person's devices; session.Store implements it.
type Sessions interface {
	Get(ctx context.Context, id string) (*session.Session, error)
	ListByAccount(ctx context.Context, accountID string) ([]*session.Session, error)
}

// SessionEnder ends one SSO session and the grants made in it;
// signin.SignIn implements it.
type SessionEnder interface {
	EndSession(ctx context.Context, sid, accountID string) error
}

// SignOuter ends every session and refresh token of an account and tells
// the relying parties; admin.Service implements it.
type SignOuter interface {
	SignOutEverywhere(ctx context.Context, accountID string) error
}

// Consents lists and withdraws the person's consents; oauthstore.Store
// implements it.
type Consents interface {
	Consents(ctx context.Context, accountID string) ([]oauthstore.ConsentEntry, error)
	RevokeConsent(ctx context.Context, accountID, clientID string) error
}

// Clients names the applications.
type Clients interface {
	Get(ctx context.Context, id string) (*client.Client, error)
}

// Orgs names the person's unit.
type Orgs interface {
	Get(ctx context.Context, id string) (*org.Org, error)
}

// Profiles shows the position and masked ID number.
type Profiles interface {
	Get(ctx context.Context, accountID string) (*profile.Profile, error)
}

// SecondFactor is the authenticator app; totp.Service implements it.
type SecondFactor interface {
	Enrolled(ctx context.Context, accountID string) (bool, error)
	Begin(accountID, label string) (*totp.Enrolment, error)
	Confirm(ctx context.Context, accountID, token, code string) ([]string, error)
	Reset(ctx context.Context, accountID, token, code string) ([]string, error)
	NewRecoveryCodes(ctx context.Context, accountID string) ([]string, error)
	RecoveryCodesLeft(ctx context.Context, accountID string) (int, error)
}

// Verifier checks SMS codes; otp.Service implements it.
type Verifier interface {
	Verify(ctx context.Context, phoneE164 string, purpose otp.Purpose, code, ip string) error
}

// CodeSender sends an SMS code with the sign-in's checks and limits;
// signin.SignIn implements it.
type CodeSender interface {
	SendCode(c echo.Context, raw string, purpose otp.Purpose) (string, time.Duration, error)
}

// Accounts changes the phone number; account.Store implements it.
type Accounts interface {
	Update(ctx context.Context, id string, fn func(a *account.Account) error) (*account.Account, error)
}

// Notifier queues back-channel logout notifications.
type Notifier interface {
	Notify(ctx context.Context, clientIDs []string, sub, sid string)
}

// Deps are what the account centre is built from.
type Deps struct {
	// Origin is the issuer's scheme://host, the only origin allowed to post.
	Origin  string
	Browser Browser
	// Cookie is cleared when the person ends their own session.
	Cookie idpweb.Cookie
	// Flows keys the CSRF tokens.
	Flows     *idpweb.Sealer
	MFA       mfa.Policy
	Sessions  Sessions
	Ender     SessionEnder
	SignOuter SignOuter
	Consents  Consents
	Clients   Clients
	// Orgs, Profiles, TOTP, Notifier and SMS may be nil.
	Orgs     Orgs
	Profiles Profiles
	TOTP     SecondFactor
	OTP      Verifier
	Codes    CodeSender
	Accounts Accounts
	Notifier Notifier
	// SMS tells the old number after a phone change.
	SMS    sms.Sender
	Events *idpweb.Events
	Log    *slog.Logger
	Now    func() time.Time
}

// Centre serves the account centre.
type Centre struct {
	Deps
}

// New returns the account centre.
func New(d Deps) *Centre {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Centre{Deps: d}
}

// Register mounts the account centre's routes.
func (s *Centre) Register(e *echo.Echo) {
	same := idpweb.SameOrigin(s.Origin)
	e.GET("/account", s.accountPage)
	e.POST("/account/sessions/end", s.accountEndSession, same)
	e.POST("/account/sessions/end-all", s.accountEndAll, same)
	e.POST("/account/consents/revoke", s.accountRevokeConsent, same)
	e.GET("/account/totp", s.accountTOTPPage)
	e.POST("/account/totp", s.accountTOTPSubmit, same)
	e.POST("/account/totp/recovery", s.accountRecoveryCodes, same)
	e.POST("/account/phone/send", s.accountPhoneSend, same)
	e.POST("/account/phone", s.accountPhoneChange, same)
}
