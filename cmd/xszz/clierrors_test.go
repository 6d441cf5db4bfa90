package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/account"
)

var hanLiteral = regexp.MustCompile(`"([^"\n]*\p{Han}[^"\n]*)"`)
var han = regexp.MustCompile(`\p{Han}`)

// Every Chinese message the admin service and account.ValidateName can
// return has English words for the command line. The code is read, so a
// new message without a translation fails here.
func TestEveryServiceMessageHasEnglishForTheCLI(t *testing.T) {
	files, err := filepath.Glob("../../idp/admin/*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../idp/account/account.go")
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			for _, m := range hanLiteral.FindAllStringSubmatch(line, -1) {
				n++
				if _, ok := englishMessages[m[1]]; !ok {
					t.Errorf("%s: %q has no English for the command line (cmd/xszz/clierrors.go)", filepath.Base(f), m[1])
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("found only %d messages: the scan no longer reads the code", n)
	}
	for zh, en := range englishMessages {
		if han.MatchString(en) {
			t.Errorf("the English for %q is not English: %q", zh, en)
		}
	}
}

// The commands refuse in English, naming what was wrong.
func TestCommandsRefuseInEnglish(t *testing.T) {
	env := newSharedEnv(t, sqliteBackend)
	sys := startNode(t, env)
	_, _, school := jiangsuTree(t, sys)
	teacher := sys.newAccount(t, func(a *account.Account) { a.OrgID = school })
	for _, tc := range []struct {
		name string
		run  func() (string, error)
		want string
	}{
		{"a cockpit grant for a school account", func() (string, error) {
			return runCLI(t, env, (*cli).grantsCmd, "add", "--phone", teacher.Phone)
		}, "only for accounts at ministry, province, city or county level"},
		{"a name with a leading space", func() (string, error) {
			return runCLI(t, env, (*cli).accountsCmd, "create", "--phone", newPhone(), "--name", " 王五")
		}, "--name: must not start or end with a space"},
		{"an unknown application", func() (string, error) {
			return runCLI(t, env, (*cli).grantsCmd, "add", "--phone", teacher.Phone, "--app", "mail")
		}, "unknown application grant: mail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.run()
			if err == nil {
				t.Fatal("the command succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || han.MatchString(err.Error()) {
				t.Errorf("the command says %q, want English with %q", err, tc.want)
			}
		})
	}
}
