// Package sms delivers one-time codes by SMS.
//
// The OTP service only needs Sender; everything else here is an
// implementation: FileSender and LogSender for development and tests, the
// Alibaba Cloud and Tencent Cloud gateways for production, and Failover to
// put two gateways behind one Sender.
package sms

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message is one code to deliver. Phone is E.164 ("+8613800138000").
type Message struct {
	Phone   string
	Code    string
	Purpose string
	SentAt  time.Time
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
	Provider string // "aliyun", "tencent"
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
