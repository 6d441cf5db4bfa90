package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"
)

// JSONBody says how DecodeJSON reads a request body.
type JSONBody struct {
	// Max bounds the body in bytes; a larger one is 413. Zero leaves the
	// bound to the route's LimitBody (still 413 when it is passed).
	Max int64
	// AnyType skips the Content-Type check, for endpoints whose callers
	// post JSON under another type (the IdP's sign-in pages post with
	// fetch and plain forms alike; cross-origin posts are refused before).
	AnyType bool
	// Strict refuses fields v does not have, so a misspelt field is an
	// error rather than a silently ignored value.
	Strict bool
	// Optional accepts an empty body, leaving v as it was.
	Optional bool
}

// DecodeJSON reads exactly one JSON value from the request into v. Its
// errors are *Error ready to answer: 415 for a body that is not
// application/json, 413 for one over Max, 400 for anything else that is
// not one well-formed value of v's shape.
func DecodeJSON(c echo.Context, v any, b JSONBody) error {
	r := c.Request()
	if b.Optional && r.ContentLength == 0 {
		return nil
	}
	if !b.AnyType {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			return Errorf(http.StatusUnsupportedMediaType, "invalid_request", "请求体必须为 application/json")
		}
	}
	body := r.Body
	if b.Max > 0 {
		body = http.MaxBytesReader(c.Response(), body, b.Max)
	}
	dec := json.NewDecoder(body)
	if b.Strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "请求过大", Cause: err}
		case b.Optional && errors.Is(err, io.EOF):
			return nil
		}
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "请求体不是有效的 JSON，或字段名称、类型不正确", Cause: err}
	}
	// A second value, or the rest of a body cut at Max, is not one value.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "请求过大", Cause: err}
		}
		return &Error{Status: http.StatusBadRequest, Code: "invalid_request", Message: "请求体只能有一个 JSON 值", Cause: err}
	}
	return nil
}
