package idpweb

import (
	"errors"
	"net/http"

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
