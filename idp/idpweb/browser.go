package idpweb

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/identity"
	"github.com/xszz/xszz/idp/session"
)

// Cookie is the SSO session cookie.
type Cookie struct {
	Name string
	// Secure is set when the issuer is https.
	Secure bool
}

// Value returns the cookie's value in the request, or "".
func (k Cookie) Value(c echo.Context) string {
	ck, err := c.Cookie(k.Name)
	if err != nil {
		return ""
	}
	return ck.Value
}

// Set gives the browser a session.
func (k Cookie) Set(c echo.Context, token string, expires time.Time) {
	c.SetCookie(&http.Cookie{
		Name: k.Name, Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: k.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// Clear removes the session from the browser.
func (k Cookie) Clear(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: k.Name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: k.Secure, SameSite: http.SameSiteLaxMode})
}

// SessionLookup finds a live session by its cookie value; session.Store
// implements it.
type SessionLookup interface {
	Lookup(ctx context.Context, token string) (*session.Session, error)
}

// Identities resolves accounts into token claims; identity.Directory
// implements it.
type Identities interface {
	Identity(ctx context.Context, accountID string) (*identity.Identity, error)
}

// Browser finds the signed-in person of a request.
type Browser struct {
	Cookie     Cookie
	Sessions   SessionLookup
	Identities Identities
	Log        *slog.Logger
}

// Current returns the browser's live SSO session and identity, or nil
// when there is none or the account may no longer sign in.
func (b *Browser) Current(c echo.Context) (*session.Session, *identity.Identity) {
	token := b.Cookie.Value(c)
	if token == "" {
		return nil, nil
	}
	ctx := c.Request().Context()
	sso, err := b.Sessions.Lookup(ctx, token)
	if err != nil {
		if !errors.Is(err, session.ErrNoSession) {
			logOrDefault(b.Log).ErrorContext(ctx, "session lookup failed", "err", err)
		}
		return nil, nil
	}
	id, err := b.Identities.Identity(ctx, sso.AccountID)
	if err != nil || !id.Account.Active() {
		return nil, nil
	}
	return sso, id
}

func logOrDefault(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
