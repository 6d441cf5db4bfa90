// Package sms delivers one-time codes by SMS.
//
// The OTP service only needs Sender; everything else here is an
// implementation: FileSender and LogSender for development and tests, the
// Alibaba Cloud and Tencent Cloud gateways and a generic signed webhook
// for production, and Failover to put two gateways behind one Sender.
package sms

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message is one SMS to deliver. Phone is E.164 ("+8613800138000").
// Purpose picks the gateway's template. Code is empty for notices that
// carry no code; Params are further template variables, and must hold only
// what the template shows (no names, no ID numbers).
type Message struct {
	Phone   string
	Code    string
	Purpose string
	Params  map[string]string
	SentAt  time.Time
}

// Purposes of notices: messages to an account holder that carry no code.
const (
	// NoticeApproved tells an applicant the registration was approved.
	NoticeApproved = "approved"
	// NoticeRejected tells an applicant the registration was rejected.
	NoticeRejected = "rejected"
	// NoticePhoneChanged goes to the OLD number after the account moved
	// to another one, so a hijacked account does not go unnoticed
	// (SECURITY.md #49).
	NoticePhoneChanged = "phone_changed"
	// NoticeOfficeReminder reminds a recipient of an unread notice in the
	// office system; its template shows Params["title"].
	NoticeOfficeReminder = "office_reminder"
)

// TemplateParams are the variables a template receives: Params, plus
// Code under "code" when there is one.
func (m Message) TemplateParams() map[string]string {
	p := make(map[string]string, len(m.Params)+1)
	for k, v := range m.Params {
		p[k] = v
	}
	if m.Code != "" {
		p["code"] = m.Code
	}
	return p
}

// Templates maps a message's Purpose to the gateway's template id: each
// purpose needs its own template approved by the operator.
type Templates map[string]string

// ErrNoTemplate: the gateway has no template for the message's purpose.
var ErrNoTemplate = errors.New("sms: no template configured for this purpose")

// For returns the template of purpose.
func (t Templates) For(purpose string) (string, error) {
	if id := t[purpose]; id != "" {
		return id, nil
	}
	return "", fmt.Errorf("%w: %q", ErrNoTemplate, purpose)
}

// Sender delivers a message. Implementations must be safe for concurrent
// use and must not log Code (except the dev-only LogSender, whose job is
// exactly that).
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrRateLimited matches errors from gateways that refused a message
// because of their own flow control (for example Alibaba's
// isv.BUSINESS_LIMIT_CONTROL). Failover does not retry those on the other
// gateway for the same number: the operator's limits exist for a reason,
// and doubling them would double the SMS bombing an attacker can do.
var ErrRateLimited = errors.New("sms: gateway rate limit")

// ProviderError is a refusal reported by a gateway in its response body.
type ProviderError struct {
	Provider string // "aliyun", "tencent", "webhook"
	Code     string // the gateway's error code, e.g. "isv.MOBILE_NUMBER_ILLEGAL"
	Message  string // the gateway's message, for logs
	// RateLimited is true for the gateway's flow-control codes.
	RateLimited bool
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("sms: %s refused the message: %s: %s", e.Provider, e.Code, e.Message)
}

// Is makes errors.Is(err, ErrRateLimited) true for flow-control refusals.
func (e *ProviderError) Is(target error) bool {
	return target == ErrRateLimited && e.RateLimited
}
