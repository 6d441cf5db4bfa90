package sms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// WebhookSignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
// request body under the shared secret.
const WebhookSignatureHeader = "X-Xszz-Signature"

// WebhookConfig configures the generic HTTP gateway: a service of the
// operator's own (a provincial SMS platform, a message bus) that accepts
// signed JSON.
type WebhookConfig struct {
	URL string
	// Secret keys the body signature; the receiver must check it, since
	// whoever can post to the receiver can send SMS at the operator's cost.
	Secret []byte
	// Templates maps purposes to the receiver's template names; a purpose
	// it does not name is sent under its own name ("login", "approved"…).
	Templates Templates
	// HTTPClient defaults to a client with a 5 s timeout.
	HTTPClient *http.Client
	// Now is for tests; defaults to time.Now.
	Now func() time.Time
}

// Webhook posts each message as JSON
//
//	{"phone":"+8613800138000","template":"login","params":{"code":"012345"},"sent_at":1700000000}
//
// with the header X-Xszz-Signature: sha256=HEX(HMAC-SHA256(secret, body)).
// sent_at (Unix seconds) lets the receiver refuse replayed requests. Any
// 2xx answer means sent; 429 is the receiver's flow control
// (ErrRateLimited); anything else is a failure, which Failover moves to
// the other gateway.
type Webhook struct {
	cfg WebhookConfig
}

// NewWebhook returns the webhook sender.
func NewWebhook(cfg WebhookConfig) *Webhook {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Webhook{cfg: cfg}
}

// WebhookBody is what the webhook posts.
type WebhookBody struct {
	Phone    string            `json:"phone"`
	Template string            `json:"template"`
	Params   map[string]string `json:"params"`
	SentAt   int64             `json:"sent_at"`
}

// SignWebhook returns the signature header value for body.
func SignWebhook(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Send implements Sender.
func (w *Webhook) Send(ctx context.Context, m Message) error {
	tmpl := w.cfg.Templates[m.Purpose]
	if tmpl == "" {
		tmpl = m.Purpose
	}
	body, err := json.Marshal(WebhookBody{Phone: m.Phone, Template: tmpl, Params: m.TemplateParams(), SentAt: w.cfg.Now().Unix()})
	if err != nil {
		return fmt.Errorf("webhook sms: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook sms: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(WebhookSignatureHeader, SignWebhook(w.cfg.Secret, body))
	resp, err := w.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("webhook sms: %w", err)
	}
	defer resp.Body.Close()
	// The answer is for logs only; keep it short, it may echo the code.
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return &ProviderError{Provider: "webhook", Code: "429", Message: "rate limited", RateLimited: true}
	}
	return &ProviderError{Provider: "webhook", Code: fmt.Sprint(resp.StatusCode), Message: redact(string(msg), m.Code)}
}

// redact keeps a receiver's echo of the code out of the logs.
func redact(s, code string) string {
	if code == "" {
		return s
	}
	return string(bytes.ReplaceAll([]byte(s), []byte(code), []byte("******")))
}
