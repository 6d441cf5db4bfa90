package sdk

import (
	"go/build"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestCoreImports keeps the core package light: relying parties that import
// it pull go-jose and x/oauth2 besides the standard library, never a web
// framework.
func TestCoreImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{"github.com/go-jose/go-jose/v4", "golang.org/x/oauth2"}
	for _, imp := range pkg.Imports {
		if strings.Contains(strings.Split(imp, "/")[0], ".") && !slices.Contains(allowed, imp) {
			t.Errorf("core package imports %s", imp)
		}
	}
}

// TestModuleGraph keeps the SDK module's graph small: what a relying party
// downloads to use it. Adapters with heavy dependencies (echo) live in
// their own nested modules, such as sdk/echomw.
func TestModuleGraph(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "list", "-mod=readonly", "-m", "all").Output()
	if err != nil {
		t.Fatalf("go list -m all: %v", err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		names = append(names, strings.Fields(line)[0])
	}
	if len(names) > 8 {
		t.Errorf("go list -m all lists %d modules, want at most 8:\n%s", len(names), out)
	}
	for _, n := range names {
		if strings.Contains(n, "echo") {
			t.Errorf("module graph contains %s", n)
		}
	}
}
