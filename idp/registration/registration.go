// Package registration is self-registration (手机号注册，实名制): the
// register page and API. An application proven by an SMS code files a
// pending account that an admin of the unit approves.
package registration

import (
	"context"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/profile"
)

// Orgs finds the unit a person applies to, by code or by name or region
// code; org.Store implements it.
type Orgs interface {
	Get(ctx context.Context, id string) (*org.Org, error)
	Search(ctx context.Context, under, query string, limit int) ([]org.Org, error)
}

// Profiles keeps the position and ID number; profile.Store implements it.
type Profiles interface {
	IDNumberTaken(ctx context.Context, number string) (bool, error)
	Put(ctx context.Context, p profile.Profile) error
	Delete(ctx context.Context, accountID string) error
}

// Accounts files the pending account; account.Store implements it.
type Accounts interface {
	ByPhone(ctx context.Context, phone string) (*account.Account, error)
	Create(ctx context.Context, a account.Account) (*account.Account, error)
}

// PhoneClaims files a proved claim on a number another account holds,
// for the admins above both units; admin.Service implements it.
type PhoneClaims interface {
	ClaimPhone(ctx context.Context, holder *account.Account, name, orgID string, ip, ua string) error
}

// Verifier checks the SMS code; otp.Service implements it.
type Verifier interface {
	Verify(ctx context.Context, phoneE164 string, purpose otp.Purpose, code, ip string) error
}

// CodeSender sends an SMS code with the sign-in's checks and limits;
// signin.SignIn implements it.
type CodeSender interface {
	SendCode(c echo.Context, raw string, purpose otp.Purpose) (string, time.Duration, error)
}

// Deps are what registration is built from.
type Deps struct {
	// Origin is the issuer's scheme://host, the only origin allowed to post.
	Origin string
	// Orgs and Profiles are nil when registration is off: the pages say
	// so.
	Orgs     Orgs
	Profiles Profiles
	Accounts Accounts
	OTP      Verifier
	Codes    CodeSender
	// Claims may be nil: a held number is then only refused.
	Claims PhoneClaims
	Events *idpweb.Events
	Log    *slog.Logger
	Now    func() time.Time
}

// Registration serves self-registration.
type Registration struct {
	Deps
}

// New returns the registration part.
func New(d Deps) *Registration {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Registration{Deps: d}
}

// Register mounts the registration routes.
func (s *Registration) Register(e *echo.Echo) {
	same := idpweb.SameOrigin(s.Origin)
	e.GET("/register", s.registerPage)
	e.POST("/register/send", s.registerSendForm, same)
	e.POST("/register", s.registerForm, same)
	api := e.Group("/api/v1", idpweb.JSONOnly, same)
	api.POST("/register", s.apiRegister)
	api.GET("/orgs/search", s.apiOrgSearch)
}
