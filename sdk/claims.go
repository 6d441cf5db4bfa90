package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Level is an organisation's place in the six-level hierarchy, from the
// ministry (highest) down to a university department or rural central school.
type Level string

// The six levels, highest first.
const (
	LevelMinistry   Level = "ministry"
	LevelProvince   Level = "province"
	LevelCity       Level = "city"
	LevelCounty     Level = "county"
	LevelSchool     Level = "school"
	LevelDepartment Level = "department"
)

// rank returns 0 for the ministry, 5 for a department, -1 if unknown.
func (l Level) rank() int {
	switch l {
	case LevelMinistry:
		return 0
	case LevelProvince:
		return 1
	case LevelCity:
		return 2
	case LevelCounty:
		return 3
	case LevelSchool:
		return 4
	case LevelDepartment:
		return 5
	}
	return -1
}

// Org is the xszz "org" claim: the organisation the account belongs to.
type Org struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Level      Level  `json:"level"`
	RegionCode string `json:"region_code"`
	// Path lists organisation IDs from the root down to and including ID.
	Path []string `json:"path"`
	// Kind is "regular", "planned-city", "corps" or "central-university".
	Kind string `json:"kind"`
}

// Within reports whether the organisation is unitID or lies below it, that is
// whether unitID appears on its path. A nil Org is within nothing.
func (o *Org) Within(unitID string) bool {
	if o == nil || unitID == "" {
		return false
	}
	return o.ID == unitID || slices.Contains(o.Path, unitID)
}

// AtLeast reports whether the organisation's level is l or higher (the
// ministry is highest). The five cities with separate planning status
// (kind "planned-city", level "city") report like provinces, so they rank
// as provinces here. Unknown levels, on either side, give false.
func (o *Org) AtLeast(l Level) bool {
	if o == nil {
		return false
	}
	have, want := o.Level.rank(), l.rank()
	if o.Kind == "planned-city" {
		have = LevelProvince.rank()
	}
	return have >= 0 && want >= 0 && have <= want
}

// Claims are the verified claims of an access token, ID token or logout
// token. Fields absent from the token are zero.
type Claims struct {
	Issuer   string
	Subject  string // account ID (opaque); the client ID for client-credentials tokens
	Audience []string
	// ClientID is the "client_id" claim of access tokens (RFC 9068 §2.2).
	ClientID string
	// AuthorizedParty is the "azp" claim of ID tokens.
	AuthorizedParty string
	// Scopes is the space-separated "scope" claim, split (RFC 9068 §2.2.3);
	// if there is none, the "scp" array some issuers (fosite) use instead.
	Scopes    []string
	ID        string // "jti"
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	AuthTime  time.Time
	Nonce     string
	// SessionID is the "sid" claim (OpenID Connect Front/Back-Channel Logout).
	SessionID           string
	AMR                 []string
	ACR                 string
	Name                string
	Phone               string // E.164, for example +8613800138000
	PhoneVerified       bool
	Org                 *Org // nil for client-credentials tokens
	Roles               []string
	Grants              []string
	raw                 []byte
	hasNonce            bool
	hasLogoutEvent      bool
	logoutEventIsObject bool
}

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool { return c != nil && slices.Contains(c.Scopes, s) }

// HasGrant reports whether the account holds grant g, for example "cockpit".
func (c *Claims) HasGrant(g string) bool { return c != nil && slices.Contains(c.Grants, g) }

// HasRole reports whether the account has role r, for example "admin".
func (c *Claims) HasRole(r string) bool { return c != nil && slices.Contains(c.Roles, r) }

// Decode unmarshals the token's full JSON payload into v, for claims that
// Claims has no field for.
func (c *Claims) Decode(v any) error {
	if c == nil || c.raw == nil {
		return errors.New("sdk: no claims")
	}
	return json.Unmarshal(c.raw, v)
}

// audience is "aud": a string or an array of strings (RFC 7519 §4.1.3).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*a = ss
	return nil
}

// claimSet is the wire form, decoded once per token.
type claimSet struct {
	Iss           string                     `json:"iss"`
	Sub           string                     `json:"sub"`
	Aud           audience                   `json:"aud"`
	ClientID      string                     `json:"client_id"`
	Azp           string                     `json:"azp"`
	Scope         string                     `json:"scope"`
	Scp           []string                   `json:"scp"`
	Jti           string                     `json:"jti"`
	Exp           *float64                   `json:"exp"`
	Iat           *float64                   `json:"iat"`
	Nbf           *float64                   `json:"nbf"`
	AuthTime      *float64                   `json:"auth_time"`
	Nonce         *string                    `json:"nonce"`
	Sid           string                     `json:"sid"`
	Amr           []string                   `json:"amr"`
	Acr           string                     `json:"acr"`
	Name          string                     `json:"name"`
	Phone         string                     `json:"phone_number"`
	PhoneVerified bool                       `json:"phone_number_verified"`
	Org           *Org                       `json:"org"`
	Roles         []string                   `json:"roles"`
	Grants        []string                   `json:"grants"`
	Events        map[string]json.RawMessage `json:"events"`
}

const backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// numericDate converts a NumericDate (RFC 7519 §2); ok is false if absent or
// out of range.
func numericDate(f *float64) (time.Time, bool) {
	if f == nil || math.IsNaN(*f) || math.IsInf(*f, 0) || *f < 0 || *f > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(*f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

func (cs *claimSet) toClaims(raw []byte) (*Claims, error) {
	c := &Claims{
		Issuer:          cs.Iss,
		Subject:         cs.Sub,
		Audience:        cs.Aud,
		ClientID:        cs.ClientID,
		AuthorizedParty: cs.Azp,
		ID:              cs.Jti,
		SessionID:       cs.Sid,
		AMR:             cs.Amr,
		ACR:             cs.Acr,
		Name:            cs.Name,
		Phone:           cs.Phone,
		PhoneVerified:   cs.PhoneVerified,
		Org:             cs.Org,
		Roles:           cs.Roles,
		Grants:          cs.Grants,
		raw:             raw,
	}
	if cs.Scope != "" {
		c.Scopes = strings.Fields(cs.Scope)
	} else if len(cs.Scp) > 0 {
		// fosite's default: a "scp" array instead of RFC 9068's "scope".
		c.Scopes = cs.Scp
	}
	if cs.Nonce != nil {
		c.Nonce, c.hasNonce = *cs.Nonce, true
	}
	var err error
	if c.Expiry, err = dateClaim(cs.Exp, "exp"); err != nil {
		return nil, err
	}
	if c.IssuedAt, err = dateClaim(cs.Iat, "iat"); err != nil {
		return nil, err
	}
	if c.NotBefore, err = dateClaim(cs.Nbf, "nbf"); err != nil {
		return nil, err
	}
	if c.AuthTime, err = dateClaim(cs.AuthTime, "auth_time"); err != nil {
		return nil, err
	}
	if ev, ok := cs.Events[backChannelLogoutEvent]; ok {
		c.hasLogoutEvent = true
		c.logoutEventIsObject = len(ev) > 0 && ev[0] == '{'
	}
	return c, nil
}

func dateClaim(f *float64, name string) (time.Time, error) {
	if f == nil {
		return time.Time{}, nil
	}
	t, ok := numericDate(f)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: bad NumericDate in %s", ErrMalformedToken, name)
	}
	return t, nil
}

// HasAudience reports whether "aud" contains a.
func (c *Claims) HasAudience(a string) bool { return c != nil && slices.Contains(c.Audience, a) }
