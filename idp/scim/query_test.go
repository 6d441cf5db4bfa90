package scim

import (
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// List parameters as RFC 7644 §3.4.2 has them, and the one filter the
// directory supports; everything else is refused, never ignored.
func TestParseQuery(t *testing.T) {
	mark := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		query    string
		want     query
		scimType string
	}{
		{"", query{since: -1, startIndex: 1, count: DefaultCount}, ""},
		{"startIndex=0&count=-5", query{since: -1, startIndex: 1, count: 0}, ""},
		{"startIndex=3&count=5000", query{since: -1, startIndex: 3, count: MaxCount}, ""},
		{"filter=" + url.QueryEscape(`meta.lastModified gt "2026-03-01T08:00:00Z"`), query{since: mark.Unix(), startIndex: 1, count: DefaultCount}, ""},
		{"filter=" + url.QueryEscape(`meta.lastModified ge "2026-03-01T08:00:00Z"`), query{since: mark.Unix() - 1, startIndex: 1, count: DefaultCount}, ""},
		{"filter=" + url.QueryEscape(`meta.lastModified GT "2026-03-01T16:00:00+08:00"`), query{since: mark.Unix(), startIndex: 1, count: DefaultCount}, ""},
		{"filter=" + url.QueryEscape(`meta.lastModified lt "2026-03-01T08:00:00Z"`), query{}, "invalidFilter"},
		{"filter=" + url.QueryEscape(`userName eq "13800138000"`), query{}, "invalidFilter"},
		{"filter=" + url.QueryEscape(`meta.lastModified gt "2026-03-01T08:00:00Z" and active eq true`), query{}, "invalidFilter"},
		{"filter=" + url.QueryEscape(`meta.lastModified gt 5`), query{}, "invalidFilter"},
		{"filter=" + url.QueryEscape(`meta.lastModified gt "soon"`), query{}, "invalidValue"},
		{"filter=" + url.QueryEscape(`(((`), query{}, "invalidFilter"},
		{"count=ten", query{}, "invalidValue"},
	} {
		c := c
		t.Run(c.query, func(t *testing.T) {
			ec := echo.New().NewContext(httptest.NewRequest("GET", "/scim/v2/Users?"+c.query, nil), httptest.NewRecorder())
			got, typ, _ := parseQuery(ec)
			if typ != c.scimType {
				t.Fatalf("scimType %q, want %q", typ, c.scimType)
			}
			if typ == "" && got != c.want {
				t.Errorf("query = %+v, want %+v", got, c.want)
			}
		})
	}
}
