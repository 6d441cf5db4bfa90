package oauth

import (
	"encoding/json"
	"reflect"
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

// sessionJSON is Session's stored form. Empty members are left out: the
// session of a client_credentials token has no ID-token claims, and
// writing their zero values (fourteen members, four zero times) tripled the
// size of every token row. Absent members decode to what NewSession gives.
type sessionJSON struct {
	Claims    *jwt.IDTokenClaims             `json:"id_token_claims,omitempty"`
	Headers   *jwt.Headers                   `json:"headers,omitempty"`
	ExpiresAt map[fosite.TokenType]time.Time `json:"expires_at,omitempty"`
	Username  string                         `json:"username,omitempty"`
	Subject   string                         `json:"subject,omitempty"`
	SID       string                         `json:"sid,omitempty"`
	Access    map[string]any                 `json:"access,omitempty"`
	AuthTime  time.Time                      `json:"auth_time,omitzero"`
	ClockSkew time.Duration                  `json:"clock_skew,omitempty"`
}

// MarshalJSON writes the session without its empty members.
func (s *Session) MarshalJSON() ([]byte, error) {
	out := sessionJSON{SID: s.SID, Access: s.Access, AuthTime: s.AuthTime, ClockSkew: s.ClockSkew}
	if d := s.DefaultSession; d != nil {
		out.ExpiresAt, out.Username, out.Subject = d.ExpiresAt, d.Username, d.Subject
		if d.Claims != nil && !reflect.ValueOf(*d.Claims).IsZero() {
			out.Claims = d.Claims
		}
		if d.Headers != nil && len(d.Headers.Extra) > 0 {
			out.Headers = d.Headers
		}
	}
	return json.Marshal(out)
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
