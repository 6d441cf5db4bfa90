package idpweb

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
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
	// Return is where a sign-in started from one of the IdP's own pages
	// (/admin, /account) goes afterwards: a same-origin path, checked by
	// SafeReturn before it is sealed. Query is empty in such a flow.
	Return string `json:"r,omitempty"`
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

// SafeReturn accepts only a path on the IdP itself ("/admin/accounts?q=1"):
// no scheme, no host, no "//" or backslash that a browser would read as
// another host, no control characters. It is what keeps the return path
// from becoming an open redirect.
func SafeReturn(p string) (string, bool) {
	if p == "" || len(p) > 1024 || p[0] != '/' || strings.HasPrefix(p, "//") {
		return "", false
	}
	if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return "", false
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "", false
	}
	// The login pages themselves are no place to return to.
	if u.Path == "/login" || strings.HasPrefix(u.Path, "/login/") {
		return "", false
	}
	return u.RequestURI(), true
}

// LoginPath is the login page that, after sign-in, returns to returnTo
// (a path of the IdP); an unsafe returnTo gives the plain login page.
func LoginPath(returnTo string) string {
	if p, ok := SafeReturn(returnTo); ok && p != "/" {
		return "/login?return=" + url.QueryEscape(p)
	}
	return "/login"
}

// ReturnFlow seals a flow that carries only a return path, for a sign-in
// that did not come from an authorization request.
func (s *Sealer) ReturnFlow(returnTo string) (string, bool) {
	p, ok := SafeReturn(returnTo)
	if !ok {
		return "", false
	}
	return s.Seal(Flow{Return: p, RequestedAt: s.Now().Unix()}), true
}
