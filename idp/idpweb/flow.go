package idpweb

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Flow is an authorization request parked while the person signs in or
// consents. It travels through the pages signed, not stored, so any replica
// can resume it and nothing needs cleaning up.
type Flow struct {
	Query       string `json:"q"`  // the authorization request's parameters
	RequestedAt int64  `json:"at"` // when the request first arrived
	// Stale is the SSO session the request found and refused (prompt=login,
	// max_age): it cannot satisfy the request when it comes back.
	Stale string `json:"stale,omitempty"`
}

// FlowTTL bounds how long a person may take on the login page.
const FlowTTL = 30 * time.Minute

// MaxFlowSize keeps hostile requests from inflating the pages.
const MaxFlowSize = 8 << 10

// ErrBadFlow is returned for a flow token that is forged, malformed or old.
var ErrBadFlow = errors.New("flow state invalid or expired")

// Sealer signs the state that travels through the pages with the flow key
// (shared by every replica).
type Sealer struct {
	Key []byte
	Now func() time.Time
}

// Sum is the MAC of data under a label; each use has its own label.
func (s *Sealer) Sum(label, data string) string {
	m := hmac.New(sha256.New, s.Key)
	m.Write([]byte(label))
	m.Write([]byte(data))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Sealer) flowMAC(payload string) string { return s.Sum("xszz-flow:", payload) }

// Seal returns the flow as a token for a URL or form.
func (s *Sealer) Seal(f Flow) string {
	b, _ := json.Marshal(f)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + s.flowMAC(payload)
}

// Open checks a token from Seal and that it has not outlived FlowTTL.
func (s *Sealer) Open(token string) (Flow, error) {
	var f Flow
	if token == "" || len(token) > MaxFlowSize {
		return f, ErrBadFlow
	}
	payload, mac, ok := strings.Cut(token, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.flowMAC(payload))) {
		return f, ErrBadFlow
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(b, &f) != nil {
		return f, ErrBadFlow
	}
	if s.Now().Sub(time.Unix(f.RequestedAt, 0)) > FlowTTL {
		return f, ErrBadFlow
	}
	return f, nil
}

// LogoutMAC binds a logout confirmation to a session cookie value.
func (s *Sealer) LogoutMAC(cookie string) string { return s.flowMAC("logout:" + cookie) }
