package cursor_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/xszz/xszz/internal/cursor"
)

type pos struct {
	Key string `json:"k"`
	ID  string `json:"i"`
}

func codec(t *testing.T, secret, list string) *cursor.Codec {
	t.Helper()
	c, err := cursor.New([]byte(secret), list)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const secret = "0123456789abcdef0123456789abcdef"

// A cursor comes back as the position it was made from, for the same
// list and scope only; anything else is ErrInvalid.
func TestCursorOpensOnlyForItsListAndScope(t *testing.T) {
	c := codec(t, secret, "contacts")
	want := pos{Key: "/000000/320000/", ID: "张三"}
	s, err := c.Encode(want, "viewer-1", "王")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(s, "+/=.") {
		t.Errorf("cursor %q is not URL-safe as it is", s)
	}
	var got pos
	if err := c.Decode(s, &got, "viewer-1", "王"); err != nil || got != want {
		t.Fatalf("decode = %+v, %v; want %+v", got, err, want)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(s)
	flipped := bytes.Clone(raw)
	flipped[3] ^= 1
	forged := base64.RawURLEncoding.EncodeToString(append([]byte(`{"k":"/","i":""}`), raw[len(raw)-16:]...))
	for _, tc := range []struct {
		name   string
		codec  *cursor.Codec
		cursor string
		scope  []string
	}{
		{"another viewer", c, s, []string{"viewer-2", "王"}},
		{"another query", c, s, []string{"viewer-1", "李"}},
		{"the scope split differently", c, s, []string{"viewer-1王"}},
		{"a scope part added", c, s, []string{"viewer-1", "王", ""}},
		{"another list", codec(t, secret, "phone conflicts"), s, []string{"viewer-1", "王"}},
		{"another secret", codec(t, strings.ToUpper(secret), "contacts"), s, []string{"viewer-1", "王"}},
		{"a flipped bit", c, base64.RawURLEncoding.EncodeToString(flipped), []string{"viewer-1", "王"}},
		{"a made-up position under a real tag", c, forged, []string{"viewer-1", "王"}},
		{"not base64", c, "!!!", []string{"viewer-1", "王"}},
		{"padded base64", c, s + "==", []string{"viewer-1", "王"}},
		{"too short for a tag", c, "AAAA", []string{"viewer-1", "王"}},
		{"empty", c, "", []string{"viewer-1", "王"}},
		{"too long", c, strings.Repeat("A", cursor.MaxLen+1), []string{"viewer-1", "王"}},
	} {
		var p pos
		if err := tc.codec.Decode(tc.cursor, &p, tc.scope...); !errors.Is(err, cursor.ErrInvalid) {
			t.Errorf("%s: %v (%+v), want ErrInvalid", tc.name, err, p)
		}
	}
}

// A genuine cursor whose body does not fit the position asked for (an
// unknown field, another type) is refused rather than half read.
func TestCursorRefusesABodyOfAnotherShape(t *testing.T) {
	c := codec(t, secret, "contacts")
	for _, body := range []any{
		map[string]any{"k": "x", "i": "y", "extra": 1},
		map[string]any{"k": 5},
		[]string{"x", "y"},
	} {
		s, err := c.Encode(body)
		if err != nil {
			t.Fatal(err)
		}
		var p pos
		if err := c.Decode(s, &p); !errors.Is(err, cursor.ErrInvalid) {
			t.Errorf("%v: %v (%+v), want ErrInvalid", body, err, p)
		}
	}
}

func TestCursorNeedsASecretAndAName(t *testing.T) {
	if _, err := cursor.New([]byte("short"), "contacts"); err == nil {
		t.Error("a short secret was accepted")
	}
	if _, err := cursor.New([]byte(secret), ""); err == nil {
		t.Error("an unnamed list was accepted")
	}
}
