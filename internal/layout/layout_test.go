package layout_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/xszz/xszz/internal/layout"
)

// deps lists, for every package under pattern (tests included), the
// packages it depends on, as go list -deps -test sees them.
func deps(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-test", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, pattern)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pattern, err, stderr.String())
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

func TestPartsImportOnlyWhatTheArchitectureAllows(t *testing.T) {
	for _, r := range layout.Rules {
		pkgs := deps(t, "./"+strings.TrimPrefix(r.From, layout.Module+"/")+"/...")
		checked := 0
		for pkg, ds := range pkgs {
			// go list -deps also lists the dependencies themselves; only
			// the packages of the part (and their test variants) are held
			// to the rule.
			name := strings.Fields(strings.ReplaceAll(pkg, "[", " "))[0]
			name = strings.TrimSuffix(name, ".test")
			if !layout.Under(name, r.From) {
				continue
			}
			checked++
			for _, d := range ds {
				for _, not := range r.Not {
					if layout.Under(d, not) {
						t.Errorf("%s depends on %s: packages under %s may not use %s", pkg, d, r.From, not)
					}
				}
			}
		}
		if checked == 0 {
			t.Errorf("no package found under %s: the rule checks nothing", r.From)
		}
	}
}

func TestUnder(t *testing.T) {
	for _, tc := range []struct {
		pkg, path string
		want      bool
	}{
		{"github.com/xszz/xszz/idp", "github.com/xszz/xszz/idp", true},
		{"github.com/xszz/xszz/idp/oauth", "github.com/xszz/xszz/idp", true},
		{"github.com/xszz/xszz/idpx", "github.com/xszz/xszz/idp", false},
		{"github.com/xszz/xszz/internal/sqldb", "github.com/xszz/xszz/idp", false},
	} {
		if got := layout.Under(tc.pkg, tc.path); got != tc.want {
			t.Errorf("Under(%q, %q) = %v, want %v", tc.pkg, tc.path, got, tc.want)
		}
	}
}
