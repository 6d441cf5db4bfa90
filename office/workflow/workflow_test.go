package workflow

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/xszz/xszz/internal/web"
)

var m = Machine{
	Names: map[string]string{"a": "甲", "b": "乙", "go": "前进", "stop": "停止"},
	Moves: map[string]map[string]string{"a": {"go": "b", "stop": "a"}, "b": {}},
}

func TestMachine(t *testing.T) {
	for _, c := range []struct {
		state, action, to string
		allowed           string // in the refusal
	}{
		{"a", "go", "b", ""},
		{"a", "fly", "", "go,stop"},
		{"b", "go", "", ""},
	} {
		to, err := m.Next(c.state, c.action)
		if c.to != "" {
			if err != nil || to != c.to {
				t.Errorf("%s --%s--> %s, %v; want %s", c.state, c.action, to, err, c.to)
			}
			continue
		}
		var we *web.Error
		if !errors.As(err, &we) || we.Status != http.StatusConflict || we.Code != "invalid_transition" || we.Header["X-Allowed-Transitions"] != c.allowed {
			t.Fatalf("%s --%s-->: %v", c.state, c.action, err)
		}
		for _, a := range strings.Split(c.allowed, ",") {
			if a != "" && !strings.Contains(we.Message, a) {
				t.Errorf("the refusal does not name %s: %s", a, we.Message)
			}
		}
		if c.allowed == "" && !strings.Contains(we.Message, "已办结") {
			t.Errorf("a final state's refusal: %s", we.Message)
		}
	}
}

func TestShiftRenumbersPlaceholders(t *testing.T) {
	if got := shift("a = $1, b = $2, c = $10", 9); got != "a = $10, b = $11, c = $19" {
		t.Fatal(got)
	}
}

func TestPlainTextStripsTags(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"  标题<script>alert(1)</script>  ", "标题", true},
		{"<b>粗体</b>标题", "粗体标题", true},
		{"<script>x</script>", "", false},
	} {
		got, err := PlainText(c.in, "标题", 1, 10)
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("%q: %q, %v", c.in, got, err)
		}
	}
}
