package idpweb

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/xszz/xszz/idp/challenge"
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
	var req *challenge.Required
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ue):
		return ue.Code
	case errors.As(err, &req):
		return req.Code()
	case otp.ErrorCode(err) != "":
		return otp.ErrorCode(err)
	case errors.Is(err, phone.ErrInvalid):
		return "invalid_phone"
	}
	return "error"
}

// CodeError is the API error of a failed code check (otp.Service.Verify):
// 401 for a wrong or dead code, 429 with Retry-After when the source made
// too many attempts. It returns nil for any other error, which the caller
// treats as internal.
func CodeError(err error) *web.Error {
	var al *otp.AttemptLimitError
	switch {
	case errors.As(err, &al):
		return &web.Error{Status: http.StatusTooManyRequests, Code: al.Code(), Message: otp.UserMessage(err), Cause: err,
			Header: map[string]string{"Retry-After": strconv.Itoa(int((al.RetryAfter + time.Second - 1) / time.Second))}}
	case errors.Is(err, otp.ErrInvalidCode), errors.Is(err, otp.ErrCodeBurnt), errors.Is(err, otp.ErrCodeExpired):
		return &web.Error{Status: http.StatusUnauthorized, Code: otp.ErrorCode(err), Message: otp.UserMessage(err), Cause: err}
	}
	return nil
}

// SendErrorStatus is the status and Chinese message of a failed SMS send.
func SendErrorStatus(err error) (int, string) {
	var ue *web.Error
	var req *challenge.Required
	switch {
	case errors.As(err, &ue):
		return ue.Status, ue.Message
	case errors.As(err, &req):
		return http.StatusBadRequest, req.Message()
	case errors.Is(err, phone.ErrInvalid):
		return http.StatusBadRequest, phone.UserMessage
	case errors.Is(err, otp.ErrRateLimited):
		return http.StatusTooManyRequests, otp.UserMessage(err)
	}
	return http.StatusServiceUnavailable, otp.UserMessage(err)
}

// ChallengeView is the page data of the graphical challenge a failed
// send asks for ("Challenge" in the templates), or nil.
func ChallengeView(err error) map[string]any {
	var req *challenge.Required
	if !errors.As(err, &req) {
		return nil
	}
	// A data: URL the challenge package built from PNG bytes; html/template
	// would otherwise refuse the scheme.
	return map[string]any{"ID": req.ID, "Image": template.URL(req.Image)}
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
	if !errors.As(err, &rl) {
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
