package sms

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// AliyunConfig configures the Alibaba Cloud SMS gateway (dysmsapi SendSms,
// API version 2017-05-25, signed with ACS3-HMAC-SHA256).
type AliyunConfig struct {
	// Endpoint defaults to https://dysmsapi.aliyuncs.com.
	Endpoint        string
	AccessKeyID     string
	AccessKeySecret string
	SignName        string // approved signature, e.g. 学生资助
	// Templates maps each purpose to an approved template code, e.g.
	// SMS_15305xxxx. Templates receive their variables by name: the code
	// as ${code}, and Message.Params under their own names.
	Templates Templates
	// HTTPClient defaults to a client with a 5 s timeout.
	HTTPClient *http.Client
	// Now and Nonce are for tests; they default to time.Now and a random
	// 128-bit hex string.
	Now   func() time.Time
	Nonce func() string
}

// Aliyun sends codes through Alibaba Cloud SMS.
type Aliyun struct {
	cfg AliyunConfig
}

// NewAliyun returns the Alibaba Cloud sender.
func NewAliyun(cfg AliyunConfig) *Aliyun {
	if cfg.Endpoint == "" {
		cfg.Endpoint = "https://dysmsapi.aliyuncs.com"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Nonce == nil {
		cfg.Nonce = randomHex
	}
	return &Aliyun{cfg: cfg}
}

// aliyunFlowControl are the per-number flow-control codes; see
// sms_api_notes.md A.3.
var aliyunFlowControl = map[string]bool{
	"isv.BUSINESS_LIMIT_CONTROL": true,
}

// Send implements Sender.
func (a *Aliyun) Send(ctx context.Context, m Message) error {
	tmpl, err := a.cfg.Templates.For(m.Purpose)
	if err != nil {
		return fmt.Errorf("aliyun sms: %w", err)
	}
	u, err := url.Parse(a.cfg.Endpoint)
	if err != nil {
		return fmt.Errorf("aliyun sms: endpoint: %w", err)
	}
	query := map[string]string{
		"PhoneNumbers": m.Phone,
		"SignName":     a.cfg.SignName,
		"TemplateCode": tmpl,
	}
	// A template without variables is sent without TemplateParam.
	if p := m.TemplateParams(); len(p) > 0 {
		param, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("aliyun sms: %w", err)
		}
		query["TemplateParam"] = string(param)
	}
	cq := acs3Query(query)
	u.Path = "/"
	u.RawQuery = cq

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return fmt.Errorf("aliyun sms: %w", err)
	}
	headers := map[string]string{
		"host":                  u.Host,
		"x-acs-action":          "SendSms",
		"x-acs-version":         "2017-05-25",
		"x-acs-date":            a.cfg.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"x-acs-signature-nonce": a.cfg.Nonce(),
		"x-acs-content-sha256":  sha256Hex(nil),
	}
	auth, _ := SignACS3(a.cfg.AccessKeyID, a.cfg.AccessKeySecret, http.MethodPost, "/", cq, headers, nil)
	for k, v := range headers {
		if k != "host" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Authorization", auth)

	resp, err := a.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("aliyun sms: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("aliyun sms: read response: %w", err)
	}
	var r struct {
		Code      string
		Message   string
		RequestID string `json:"RequestId"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("aliyun sms: HTTP %d, unreadable response: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || r.Code != "OK" {
		return &ProviderError{Provider: "aliyun", Code: r.Code, Message: r.Message, RateLimited: aliyunFlowControl[r.Code]}
	}
	return nil
}

// SignACS3 signs a request with ACS3-HMAC-SHA256 and returns the
// Authorization header value and the canonical request (for debugging).
// canonicalQuery must already be in canonical form (acs3Query);
// headers must have lower-case names and include host and every x-acs-*
// header sent.
func SignACS3(keyID, secret, method, uri, canonicalQuery string, headers map[string]string, body []byte) (authorization, canonicalRequest string) {
	names := make([]string, 0, len(headers))
	for k := range headers {
		if k == "host" || k == "content-type" || strings.HasPrefix(k, "x-acs-") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var ch strings.Builder
	for _, k := range names {
		ch.WriteString(k + ":" + strings.TrimSpace(headers[k]) + "\n")
	}
	signed := strings.Join(names, ";")
	canonicalRequest = strings.Join([]string{method, uri, canonicalQuery, ch.String(), signed, sha256Hex(body)}, "\n")
	stringToSign := "ACS3-HMAC-SHA256\n" + sha256Hex([]byte(canonicalRequest))
	sig := hex.EncodeToString(hmacSHA256([]byte(secret), stringToSign))
	return "ACS3-HMAC-SHA256 Credential=" + keyID + ",SignedHeaders=" + signed + ",Signature=" + sig, canonicalRequest
}

// acs3Query renders parameters sorted by name and percent-encoded per RFC
// 3986 (space as %20, "*" as %2A, "~" kept), as Alibaba signs them.
func acs3Query(params map[string]string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = percentEncode(k) + "=" + percentEncode(params[k])
	}
	return strings.Join(parts, "&")
}

func percentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func randomHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
