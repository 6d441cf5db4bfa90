// Package mfa is the IdP's second-factor policy: who must pass the
// authenticator app after the SMS code, and the acr/amr values that say
// which factors a session passed.
package mfa

import (
	"context"
	"slices"
	"strings"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/session"
)

// Who must pass a second factor after the SMS code (idp.totp_required_for).
// An account that enrolled is always asked, whatever the policy.
const (
	ForAdmin = "admin"
	ForAll   = "all"
	ForNone  = "none"
)

// Authentication context classes in the ID token's acr claim. A client
// that lists only ACRTwoFactor in acr_values gets a two-factor sign-in or
// none: a one-factor session has to sign in again.
const (
	ACROneFactor = "urn:xszz:acr:sms"
	ACRTwoFactor = "urn:xszz:acr:sms+otp"
)

// AMR values (RFC 8176): "sms" for the SMS code, "otp" for the app code
// or a recovery code.
const (
	AMRSMS = "sms"
	AMROTP = "otp"
)

// ACROf names the class a session's factors reach.
func ACROf(amr []string) string {
	if slices.Contains(amr, AMROTP) {
		return ACRTwoFactor
	}
	return ACROneFactor
}

// WantsTwoFactors reads acr_values (OIDC Core §3.1.2.1, a list in order of
// preference): two factors are required when the request names our
// two-factor class and not the one-factor one. Unknown values are ignored,
// as the conformance suite expects.
func WantsTwoFactors(acrValues string) bool {
	vals := strings.Fields(acrValues)
	return slices.Contains(vals, ACRTwoFactor) && !slices.Contains(vals, ACROneFactor)
}

// Enrolments says whether an account has a second factor; totp.Service
// implements it.
type Enrolments interface {
	Enrolled(ctx context.Context, accountID string) (bool, error)
}

// Policy decides who needs a second factor.
type Policy struct {
	// TOTP is nil when second factors are off.
	TOTP Enrolments
	// RequiredFor is ForAdmin (the default when empty), ForAll or ForNone.
	RequiredFor string
}

// Needed says whether acc must pass a second factor in this sign-in, and
// whether it has one to pass; acrValues are those of the authorization
// request being signed in for, if any.
func (p Policy) Needed(ctx context.Context, acc *account.Account, acrValues string) (need, enrolled bool, err error) {
	if p.TOTP == nil {
		return false, false, nil
	}
	enrolled, err = p.TOTP.Enrolled(ctx, acc.ID)
	if err != nil {
		return false, false, err
	}
	switch {
	case enrolled:
		need = true
	case p.RequiredFor == ForAll:
		need = true
	case p.RequiredFor == ForNone:
	default: // ForAdmin, the default
		need = acc.Role == account.RoleAdmin
	}
	if !need && acrValues != "" {
		need = WantsTwoFactors(acrValues)
	}
	return need, enrolled, nil
}

// Satisfied says whether a live session is strong enough for a request
// with these acr_values and for the account's own policy (an admin
// session made before the role change, or before the policy was
// tightened, must step up). On error the answer is false.
func (p Policy) Satisfied(ctx context.Context, sso *session.Session, acc *account.Account, acrValues string) (bool, error) {
	if slices.Contains(sso.AMR, AMROTP) {
		return true, nil
	}
	if WantsTwoFactors(acrValues) {
		return false, nil
	}
	if p.TOTP == nil {
		return true, nil
	}
	need, _, err := p.Needed(ctx, acc, "")
	if err != nil {
		return false, err
	}
	return !need, nil
}
