package oauth

import (
	"encoding/json"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Session is what fosite stores with every code and token: the ID-token
// claims, the extra access-token claims and the SSO session it came from.
type Session struct {
	*openid.DefaultSession
	// SID is the SSO session id, the OIDC "sid" used by back-channel logout.
	SID string `json:"sid,omitempty"`
	// Access holds claims added to access tokens only (org, roles, grants).
	Access map[string]any `json:"access,omitempty"`
	// AuthTime of the sign-in behind this grant; zero for client_credentials.
	AuthTime time.Time `json:"auth_time,omitzero"`
	// ClockSkew is the injected clock minus the wall clock when the code
	// was issued: fosite stamps expiries from the wall clock (zero in
	// production, where the two are one).
	ClockSkew time.Duration `json:"clock_skew,omitempty"`
}

var (
	_ fosite.Session = (*Session)(nil)
	_ openid.Session = (*Session)(nil)
)

// NewSession returns an empty session, the prototype fosite fills.
func NewSession() *Session {
	return &Session{DefaultSession: &openid.DefaultSession{
		Claims:  &jwt.IDTokenClaims{},
		Headers: &jwt.Headers{},
	}}
}

// SSOSessionID implements oauthstore.SessionIDer.
func (s *Session) SSOSessionID() string { return s.SID }

// Clone implements fosite.Session with a deep copy, so a refresh never
// writes into the stored original.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil
	}
	c := NewSession()
	if err := json.Unmarshal(b, c); err != nil {
		return nil
	}
	return c
}

// GetExtraClaims implements fosite.ExtraClaimsSession: introspection
// answers carry the same org, roles and grants as the access token.
func (s *Session) GetExtraClaims() map[string]any {
	if s.Access == nil {
		s.Access = map[string]any{}
	}
	return s.Access
}
