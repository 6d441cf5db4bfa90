package idp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// flow is an authorization request parked while the person signs in or
// consents. It travels through the pages signed, not stored, so any replica
// can resume it and nothing needs cleaning up.
type flow struct {
	Query       string `json:"q"`  // the authorization request's parameters
	RequestedAt int64  `json:"at"` // when the request first arrived
	// Stale is the SSO session the request found and refused (prompt=login,
	// max_age): it cannot satisfy the request when it comes back.
	Stale string `json:"stale,omitempty"`
}

// flowTTL bounds how long a person may take on the login page.
const flowTTL = 30 * time.Minute

// maxFlowSize keeps hostile requests from inflating the pages.
const maxFlowSize = 8 << 10

var errBadFlow = errors.New("flow state invalid or expired")

func (s *Server) sealFlow(f flow) string {
	b, _ := json.Marshal(f)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + s.flowMAC(payload)
}

func (s *Server) flowMAC(payload string) string {
	m := hmac.New(sha256.New, s.Config.FlowKey)
	m.Write([]byte("xszz-flow:"))
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) openFlow(token string) (flow, error) {
	var f flow
	if token == "" || len(token) > maxFlowSize {
		return f, errBadFlow
	}
	payload, mac, ok := strings.Cut(token, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.flowMAC(payload))) {
		return f, errBadFlow
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(b, &f) != nil {
		return f, errBadFlow
	}
	if s.Now().Sub(time.Unix(f.RequestedAt, 0)) > flowTTL {
		return f, errBadFlow
	}
	return f, nil
}
