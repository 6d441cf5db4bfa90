package idpweb

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/web"
)

// Result is an audit event's result for err.
func Result(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

// Reason is the machine reason of a failed SMS send or code check.
func Reason(err error) string {
	var ue *web.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ue):
		return ue.Code
	case errors.Is(err, otp.ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, otp.ErrLocked):
		return "locked"
	case errors.Is(err, otp.ErrInvalidCode):
		return "invalid_code"
	case errors.Is(err, phone.ErrInvalid):
		return "invalid_phone"
	}
	return "error"
}

// SendErrorStatus is the status and Chinese message of a failed SMS send.
func SendErrorStatus(err error) (int, string) {
	var ue *web.Error
	switch {
	case errors.As(err, &ue):
		return ue.Status, ue.Message
	case errors.Is(err, phone.ErrInvalid):
		return http.StatusBadRequest, phone.UserMessage
	case errors.Is(err, otp.ErrRateLimited):
		return http.StatusTooManyRequests, otp.UserMessage(err)
	}
	return http.StatusServiceUnavailable, otp.UserMessage(err)
}

// BoolText is an audit detail for whether something was given.
func BoolText(b bool) string {
	if b {
		return "given"
	}
	return "none"
}

// ResendWait says whether a refused send should keep the code field: the
// number's own resend interval (a code was just sent to it) or any limit
// hit while a code is already on its way (sent). wait is in whole seconds,
// for the countdown on the button.
func ResendWait(err error, sent bool) (wait int, ok bool) {
	var rl *otp.RateLimitError
	if !errors.As(err, &rl) || rl.Scope == otp.ScopeLocked {
		return 0, false
	}
	if rl.Scope != otp.ScopePhone && !sent {
		return 0, false
	}
	return Seconds(rl.RetryAfter), true
}

// Seconds rounds d up to whole seconds.
func Seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// WaitText says a wait in words: seconds up to two minutes, then minutes.
func WaitText(secs int) string {
	if secs <= 120 {
		return strconv.Itoa(secs) + " 秒"
	}
	return "约 " + strconv.Itoa((secs+59)/60) + " 分钟"
}
