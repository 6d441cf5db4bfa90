package idp

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// userError is an error whose message may be shown: a machine code for the
// JSON API and a Chinese sentence for people.
type userError struct {
	status int
	code   string
	msg    string
	cause  error // logged, never shown
	header map[string]string
}

func (e *userError) Error() string {
	if e.cause != nil {
		return e.code + ": " + e.cause.Error()
	}
	return e.code
}

func (e *userError) Unwrap() error { return e.cause }

var errInternal = &userError{status: http.StatusInternalServerError, code: "server_error", msg: "服务暂时不可用，请稍后再试"}

// internal wraps a cause the user must not see.
func internal(cause error) error {
	return &userError{status: errInternal.status, code: errInternal.code, msg: errInternal.msg, cause: cause}
}

// handleError is echo's error handler: JSON for the API, a Chinese page
// for browsers; the cause goes to the log only.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ue := &userError{}
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ue):
	case errors.As(err, &he):
		ue = &userError{status: he.Code, code: "invalid_request", msg: "请求无效"}
		switch he.Code {
		case http.StatusNotFound:
			ue.code, ue.msg = "not_found", "页面不存在"
		case http.StatusMethodNotAllowed:
			ue.code, ue.msg = "method_not_allowed", "请求方法不被允许"
		case http.StatusRequestEntityTooLarge:
			ue.code, ue.msg = "too_large", "请求过大"
		}
	default:
		ue = &userError{status: errInternal.status, code: errInternal.code, msg: errInternal.msg, cause: err}
	}
	ctx := c.Request().Context()
	if ue.status >= 500 {
		s.Log.ErrorContext(ctx, "request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
	} else if ue.cause != nil {
		s.Log.InfoContext(ctx, "request refused", "path", c.Path(), "code", ue.code, "err", ue.cause)
	}
	for k, v := range ue.header {
		c.Response().Header().Set(k, v)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ue.status)
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") || strings.Contains(c.Request().Header.Get("Accept"), "application/json") {
		_ = c.JSON(ue.status, map[string]string{"error": ue.code, "error_description": ue.msg})
		return
	}
	_ = s.render(c, ue.status, "error.html", map[string]any{"Title": "出错了", "Message": ue.msg})
}
