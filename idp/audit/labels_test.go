package audit_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/audit"
)

// eventLiteral matches string literals shaped like event types in the
// namespaces the IdP records under.
var eventLiteral = regexp.MustCompile(`"((?:account|login|logout|consent|grant|key|session|sms|totp|client|org|audit)(?:\.[a-z_]+)?)"`)

// Every event type the code records has a Chinese label in the console.
// The code is read, not a list kept by hand: a new event type without a
// label fails here.
func TestEveryRecordedEventTypeHasALabel(t *testing.T) {
	seen := map[string]string{}
	for _, root := range []string{"../../idp", "../../cmd/xszz"} {
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(b), "\n") {
				l := strings.TrimSpace(line)
				if strings.HasPrefix(l, "//") {
					continue
				}
				// Only lines that record something: a Type field, an
				// event variable or a recording helper.
				if !regexp.MustCompile(`Type:|[eE]vent|record|audit\(|update(Then)?\(|decide\(`).MatchString(l) {
					continue
				}
				for _, m := range eventLiteral.FindAllStringSubmatch(l, -1) {
					if !strings.Contains(m[1], ".") && m[1] != "logout" {
						continue
					}
					seen[m[1]] = path
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, must := range []string{"login.success", "totp.enrolled", "account.registered", "grant.added", "org.imported"} {
		if _, ok := seen[must]; !ok {
			t.Fatalf("the scan missed %q: it no longer reads the code (found %d types)", must, len(seen))
		}
	}
	var missing []string
	for typ, path := range seen {
		if !audit.HasLabel(typ) {
			missing = append(missing, typ+" ("+path+")")
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("event types without a Chinese label in idp/audit/labels.go:\n%s", strings.Join(missing, "\n"))
	}
}

func TestDetailsReadInChinese(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]string
		want []string
	}{
		{map[string]string{"id_number": "given"}, []string{"身份证号：已填写"}},
		{map[string]string{"amr": "sms otp"}, []string{"登录方式：短信验证码、动态口令"}},
		{map[string]string{"app": "cockpit", "level": "school"}, []string{"应用：数字驾驶舱", "单位级别：学校"}},
		{map[string]string{"own": "given"}, []string{"本设备：是"}},
		{map[string]string{"old": "139****0001"}, []string{"原手机号：139****0001"}},
		{map[string]string{"mystery": "x"}, []string{"mystery=x"}},
	} {
		if got := audit.DetailText(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("DetailText(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if audit.EventLabel("totp.enrolled") != "绑定身份验证器" || audit.EventLabel("x.unknown") != "x.unknown" {
		t.Errorf("EventLabel")
	}
}
