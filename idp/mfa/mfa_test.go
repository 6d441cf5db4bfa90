package mfa_test

import (
	"context"
	"testing"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/session"
)

// enrolments is the set of accounts with an authenticator app.
type enrolments map[string]bool

func (e enrolments) Enrolled(_ context.Context, id string) (bool, error) { return e[id], nil }

func TestNeeded(t *testing.T) {
	staff := &account.Account{ID: "staff", Role: account.RoleStaff}
	admin := &account.Account{ID: "admin", Role: account.RoleAdmin}
	enrolledStaff := &account.Account{ID: "enrolled", Role: account.RoleStaff}
	on := enrolments{"enrolled": true}
	cases := []struct {
		name        string
		policy      mfa.Policy
		acc         *account.Account
		acr         string
		need, enrol bool
	}{
		{"off", mfa.Policy{}, admin, mfa.ACRTwoFactor, false, false},
		{"admin by default", mfa.Policy{TOTP: on}, admin, "", true, false},
		{"staff by default", mfa.Policy{TOTP: on}, staff, "", false, false},
		{"staff when the client asks", mfa.Policy{TOTP: on}, staff, mfa.ACRTwoFactor, true, false},
		{"staff when the client also accepts one factor", mfa.Policy{TOTP: on}, staff, mfa.ACROneFactor + " " + mfa.ACRTwoFactor, false, false},
		{"everyone under all", mfa.Policy{TOTP: on, RequiredFor: mfa.ForAll}, staff, "", true, false},
		{"nobody under none", mfa.Policy{TOTP: on, RequiredFor: mfa.ForNone}, admin, "", false, false},
		{"an enrolled account always", mfa.Policy{TOTP: on, RequiredFor: mfa.ForNone}, enrolledStaff, "", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			need, enrolled, err := tc.policy.Needed(context.Background(), tc.acc, tc.acr)
			if err != nil || need != tc.need || enrolled != tc.enrol {
				t.Fatalf("Needed = %v, %v, %v; want %v, %v", need, enrolled, err, tc.need, tc.enrol)
			}
		})
	}
}

// A one-factor session of an admin must step up; a two-factor session
// satisfies anything.
func TestSatisfied(t *testing.T) {
	p := mfa.Policy{TOTP: enrolments{}}
	admin := &account.Account{ID: "admin", Role: account.RoleAdmin}
	staff := &account.Account{ID: "staff", Role: account.RoleStaff}
	one := &session.Session{AMR: []string{mfa.AMRSMS}}
	two := &session.Session{AMR: []string{mfa.AMRSMS, mfa.AMROTP}}
	cases := []struct {
		name string
		sso  *session.Session
		acc  *account.Account
		acr  string
		want bool
	}{
		{"staff, one factor", one, staff, "", true},
		{"staff, one factor, client wants two", one, staff, mfa.ACRTwoFactor, false},
		{"admin, one factor", one, admin, "", false},
		{"admin, two factors", two, admin, mfa.ACRTwoFactor, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := p.Satisfied(context.Background(), tc.sso, tc.acc, tc.acr); err != nil || got != tc.want {
				t.Fatalf("Satisfied = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if got := mfa.ACROf(two.AMR); got != mfa.ACRTwoFactor {
		t.Fatalf("ACROf(sms otp) = %q", got)
	}
}
