package protocol

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/xszz/xszz/idp/oauth"
	"github.com/xszz/xszz/internal/web"
)

// maxProtocolBody bounds a protocol request's body. Every OAuth parameter
// set, even a private_key_jwt assertion, fits in a few KiB; the 1 MiB
// default of internal/web, and fosite's own 1 MiB multipart parse (which
// spools files to disk), are far more than any client needs.
const maxProtocolBody = 64 << 10

// readForm reads a protocol request's parameters: the body must be small
// and form-urlencoded (RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1, RFC
// 6750 §2.2), never multipart, and no parameter may be given twice (RFC
// 6749 §3.1, §3.2: "Request and response parameters MUST NOT be included
// more than once"). A body over the limit is refused by its declared
// length before a byte is read. Query parameters count too: a parameter
// in both the query and the body is given twice.
func readForm(r *http.Request, w http.ResponseWriter, rejectRepeated bool) (status int, err error) {
	if r.ContentLength > maxProtocolBody {
		return http.StatusRequestEntityTooLarge, errors.New("the request body is too large")
	}
	hasBody := r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
	if hasBody || r.Header.Get("Content-Type") != "" {
		mt, _, perr := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if perr != nil || mt != "application/x-www-form-urlencoded" {
			return http.StatusBadRequest, errors.New("the body must be application/x-www-form-urlencoded")
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, maxProtocolBody)
	}
	if perr := r.ParseForm(); perr != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(perr, &mbe) {
			return http.StatusRequestEntityTooLarge, errors.New("the request body is too large")
		}
		return http.StatusBadRequest, errors.New("the request body is not a valid form")
	}
	if k := repeated(r.Form); rejectRepeated && k != "" {
		return http.StatusBadRequest, errors.New("the parameter '" + k + "' was given more than once")
	}
	return 0, nil
}

// repeated returns a parameter given more than once, or "".
func repeated(form url.Values) string {
	for k, v := range form {
		if len(v) > 1 {
			return k
		}
	}
	return ""
}

// clientForm guards the endpoints clients call directly (token,
// introspection, revocation, userinfo): refusals answer in RFC 6749 §5.2's
// JSON form.
func clientForm(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		status, err := readForm(c.Request(), c.Response(), true)
		if err == nil {
			return next(c)
		}
		code := fosite.ErrInvalidRequest.ErrorField
		if status == http.StatusRequestEntityTooLarge {
			c.Response().Header().Set("Connection", "close")
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(status, map[string]string{"error": code, "error_description": err.Error()})
	}
}

// browserForm guards the endpoints a browser is sent to (authorization,
// logout, consent): refusals are pages, since there is no verified redirect yet.
// The authorization endpoint checks repeated parameters itself, so that
// once client_id and redirect_uri are known to be single and registered,
// the client hears of the others by redirect (RFC 6749 §4.1.2.1).
func browserForm(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		status, err := readForm(c.Request(), c.Response(), !strings.HasPrefix(c.Path(), oauth.PathAuthorize))
		if err == nil {
			return next(c)
		}
		msg := "请求格式错误或参数重复"
		if status == http.StatusRequestEntityTooLarge {
			msg = "请求过大"
		}
		return &web.Error{Status: status, Code: "invalid_request", Message: msg, Cause: err}
	}
}
