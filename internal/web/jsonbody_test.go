package web_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/web"
)

func TestDecodeJSONAnswersEachBadBodyInItsOwnWay(t *testing.T) {
	type person struct {
		Name string `json:"name"`
	}
	json := "application/json"
	cases := []struct {
		name, body, contentType string
		opts                    web.JSONBody
		wantStatus              int // 0: decoded
		wantName                string
	}{
		{name: "one object", body: `{"name":"张三"}`, contentType: json, wantName: "张三"},
		{name: "with charset", body: `{"name":"张三"}`, contentType: "application/json; charset=utf-8", wantName: "张三"},
		{name: "trailing space", body: `{"name":"张三"}` + "\n ", contentType: json, wantName: "张三"},
		{name: "form body", body: `name=x`, contentType: "application/x-www-form-urlencoded", wantStatus: 415},
		{name: "no type", body: `{"name":"x"}`, wantStatus: 415},
		{name: "no type, any allowed", body: `{"name":"x"}`, opts: web.JSONBody{AnyType: true}, wantName: "x"},
		{name: "not JSON", body: `name=x`, contentType: json, wantStatus: 400},
		{name: "wrong type of field", body: `{"name":1}`, contentType: json, wantStatus: 400},
		{name: "two values", body: `{"name":"a"}{"name":"b"}`, contentType: json, wantStatus: 400},
		{name: "trailing garbage", body: `{"name":"a"} x`, contentType: json, wantStatus: 400},
		{name: "unknown field, lenient", body: `{"nmae":"a"}`, contentType: json},
		{name: "unknown field, strict", body: `{"nmae":"a"}`, contentType: json, opts: web.JSONBody{Strict: true}, wantStatus: 400},
		{name: "too large", body: `{"name":"` + strings.Repeat("x", 100) + `"}`, contentType: json, wantStatus: 413},
		{name: "too large after a value", body: `{"name":"a"}` + strings.Repeat(" ", 100) + `{}`, contentType: json, wantStatus: 413},
		{name: "empty, required", contentType: json, wantStatus: 400},
		{name: "empty, optional", opts: web.JSONBody{Optional: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/api/v1/x", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			c := echo.New().NewContext(req, httptest.NewRecorder())
			opts := tc.opts
			opts.Max = 64
			var p person
			err := web.DecodeJSON(c, &p, opts)
			var we *web.Error
			switch {
			case tc.wantStatus == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantStatus == 0 && p.Name != tc.wantName:
				t.Fatalf("decoded %+v, want name %q", p, tc.wantName)
			case tc.wantStatus != 0 && !errors.As(err, &we):
				t.Fatalf("error %v, want a *web.Error with status %d", err, tc.wantStatus)
			case tc.wantStatus != 0 && (we.Status != tc.wantStatus || we.Message == ""):
				t.Fatalf("error %d %q, want %d with a message", we.Status, we.Message, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusRequestEntityTooLarge && we.Code != "too_large" {
				t.Fatalf("413 code %q", we.Code)
			}
		})
	}
}

// With no Max of its own, the route's LimitBody bounds the body, and
// passing it is still 413, not a malformed body.
func TestDecodeJSONLeavesTheBoundToTheRoute(t *testing.T) {
	e := echo.New()
	for body, want := range map[string]int{
		`{"a":"b"}`: http.StatusOK,
		`{"a":"` + strings.Repeat("b", 64) + `"}`: http.StatusRequestEntityTooLarge,
	} {
		req := httptest.NewRequest("POST", "/api/v1/x", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		// A chunked body: the limit is met while reading, not from the header.
		req.ContentLength = -1
		c := e.NewContext(req, httptest.NewRecorder())
		var we *web.Error
		err := web.LimitBody(32)(func(c echo.Context) error {
			var v map[string]string
			return web.DecodeJSON(c, &v, web.JSONBody{})
		})(c)
		switch {
		case want == http.StatusOK && err != nil:
			t.Errorf("%d-byte body refused: %v", len(body), err)
		case want != http.StatusOK && (!errors.As(err, &we) || we.Status != want):
			t.Errorf("%d-byte body: %v, want %d", len(body), err, want)
		}
	}
}
